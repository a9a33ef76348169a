"""The tiled N3 block (n3block.py) equals the untiled reference (reference.py), forward and
backward: outputs, input gradients, every parameter gradient, in float64."""
import numpy as np
import pytest

from n3net.n3block import N3Block, candidate_mask, query_tiles
from n3net.reference import reference_backward, reference_forward, window_mask


def small_block(rng, **options):
    block = N3Block(2, k=3, patch_size=3, stride=2, match_window=4, features=4, **options).double()
    for p in block.parameters():                       # non-trivial batch-norm scales and biases
        if p.data.ndim == 1:
            p.data[...] = rng.uniform(0.5, 1.5, p.data.shape)
    # temperatures near 1: with t << 1 (and distances not normalised) the weights are nearly
    # one-hot, and the last-digit differences of the distances (the tiles group the products
    # differently) are amplified by up to 1 / (1 - w); an indexing error would be O(1)
    block.temperature[-1].bias.data[...] = 2.5
    return block


def gradients(block):
    return {name: p.grad.copy() for name, p in block.named_parameters()}


@pytest.mark.parametrize("variant", ["paper", "reference"])
@pytest.mark.parametrize("distance_bn", [True, False])
@pytest.mark.parametrize("shape, tile", [((2, 2, 13, 11), 2), ((1, 2, 12, 16), 3), ((2, 2, 9, 9), 8)])
def test_tiled_block_equals_the_reference(rng, variant, distance_bn, shape, tile):
    block = small_block(rng, variant=variant, distance_bn=distance_bn, query_tile=tile)
    Y = rng.standard_normal(shape)
    dout = rng.standard_normal((shape[0], 2 * 4) + shape[2:])
    block.zero_grad()
    out = block.forward(Y)
    dY = block.backward(dout)
    tiled = gradients(block)
    block.zero_grad()
    out_ref, cache = reference_forward(block, Y)
    dY_ref = reference_backward(block, cache, dout)
    np.testing.assert_allclose(out, out_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dY, dY_ref, rtol=1e-9, atol=1e-11)
    for name, grad in gradients(block).items():
        scale = max(np.abs(grad).max(), 1e-3)
        np.testing.assert_allclose(tiled[name], grad, rtol=0, atol=1e-9 * scale, err_msg=name)


def test_window_mask_is_the_union_of_the_tile_masks():
    n1, n2, w = 7, 6, 4
    mask = window_mask(n1, n2, w).reshape(n1, n2, n1, n2)
    for rows in query_tiles(n1, 2, w):
        for cols in query_tiles(n2, 3, w):
            (q0, q1, u0, u1), (c0, c1, v0, v1) = rows, cols
            tile = candidate_mask(rows, cols, n1, n2, w).reshape(q1 - q0, c1 - c0, u1 - u0, v1 - v0)
            np.testing.assert_array_equal(tile, mask[q0:q1, c0:c1, u0:u1, v0:v1])
            assert not mask[q0:q1, c0:c1].sum() - tile.sum()       # no candidate outside the tile's span
    assert (mask.reshape(n1 * n2, -1).sum(axis=1) == w * w - 1).all()
