"""The tiled N3 block (n3block.py) equals the untiled reference (reference.py), forward and
backward: outputs, input gradients, every parameter gradient, in float64."""
import numpy as np
import pytest

from minigrad import init
from n3net.n3block import N3Block, candidate_mask, query_tiles
from n3net.reference import reference_backward, reference_forward, window_mask


def small_block(rng, seed=0, **options):
    init.manual_seed(seed)
    block = N3Block(2, k=3, patch_size=3, stride=2, match_window=4, features=4, **options).double()
    for p in block.parameters():                       # non-trivial batch-norm scales and biases
        if p.data.ndim == 1:
            p.data[...] = rng.uniform(0.5, 1.5, p.data.shape)
    # temperatures near 1: with t << 1 (and distances not normalised) the weights are nearly
    # one-hot, and the last-digit differences of the distances (the tiles group the products
    # differently) are amplified by up to 1 / (1 - w); an indexing error would be O(1)
    block.temperature[-1].bias.data[...] = 2.5
    return block


def assert_close(ours, reference, name, tol=1e-8):
    """Equal up to tol times the largest entry of the reference (round-off of that size)."""
    error = np.abs(ours - reference).max() / max(np.abs(reference).max(), 1e-300)
    assert error < tol, f"{name}: {error:.2e}"


def gradients(block):
    return {name: p.grad.copy() for name, p in block.named_parameters()}


@pytest.mark.parametrize("variant", ["paper", "reference"])
@pytest.mark.parametrize("distance_bn", [True, False])
@pytest.mark.parametrize("shape, tile", [((2, 2, 13, 11), 2), ((1, 2, 12, 16), 3), ((2, 2, 9, 9), 8)])
def test_tiled_block_equals_the_reference(rng, variant, distance_bn, shape, tile):
    block = small_block(rng, variant=variant, distance_bn=distance_bn, query_tile=tile)
    # without the distance batch-norm the distances are O(100) and the weights nearly one-hot;
    # the reference form then amplifies last-digit differences by 1 / (1 - w) (seen: 1e-7):
    # smaller inputs keep the comparison well-conditioned
    Y = rng.standard_normal(shape) * (1.0 if distance_bn else 0.2)
    dout = rng.standard_normal((shape[0], 2 * 4) + shape[2:])
    block.zero_grad()
    out = block.forward(Y)
    dY = block.backward(dout)
    tiled = gradients(block)
    block.zero_grad()
    out_ref, cache = reference_forward(block, Y)
    dY_ref = reference_backward(block, cache, dout)
    assert_close(out, out_ref, "output")
    assert_close(dY, dY_ref, "input gradient")
    reference = gradients(block)
    largest = max(np.abs(g).max() for g in reference.values())
    for name, grad in reference.items():     # the distance-BN bias's is 0 up to round-off
        error = np.abs(tiled[name] - grad).max() / max(np.abs(grad).max(), 1e-3 * largest)
        assert error < 1e-8, f"{name}: {error:.2e}"


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


def test_nan_in_the_input_is_refused_once_with_a_clear_message(rng):
    block = small_block(rng)
    Y = rng.standard_normal((1, 2, 9, 9))
    Y[0, 1, 4, 4] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        block.forward(Y)
