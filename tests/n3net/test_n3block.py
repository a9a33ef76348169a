import numpy as np
import pytest

from minigrad import gradcheck, no_grad
from n3net.knn import hard_knn_weights, knn_weights
from n3net.n3block import (KNNBlock, N3Block, candidate_mask, pad_amounts, query_tiles,
                           window_start)

SMALL = dict(k=2, patch_size=3, stride=2, match_window=3, features=4)


def small_block(rng, C=2, **kw):
    block = N3Block(C, **{**SMALL, **kw}).double()
    for p in block.parameters():                       # non-trivial BN scales and biases
        if p.data.ndim == 1:
            p.data[...] = rng.uniform(0.5, 1.5, p.data.shape)
    return block


def test_pad_amounts():
    assert pad_amounts(80, 10, 5) == (0, 0)
    assert pad_amounts(81, 10, 5) == (2, 2)            # 81 + 4 = 85 = 10 + 15 * 5
    assert pad_amounts(82, 10, 5) == (1, 2)
    for size in range(10, 40):
        top, bottom = pad_amounts(size, 10, 5)
        assert (size + top + bottom - 10) % 5 == 0 and 0 <= bottom - top <= 1


def test_window_indices_match_a_slow_loop():
    n, w = 20, 15
    for i in range(n):
        start = i - 7                                  # centred, then moved inward
        while start < 0:
            start += 1
        while start + w > n:
            start -= 1
        assert window_start(i, n, w) == start
    # every query's window lies inside its tile's union, and the mask marks exactly it
    for tile in (1, 4, 8):
        covered = set()
        for q0, q1, u0, u1 in query_tiles(n, tile, w):
            covered |= set(range(q0, q1))
            for i in range(q0, q1):
                assert u0 <= window_start(i, n, w) and window_start(i, n, w) + w <= u1
        assert covered == set(range(n))
    rows, cols = (3, 5, 0, 7), (0, 2, 0, 6)
    mask = candidate_mask(rows, cols, 9, 8, 5).reshape(2, 2, 7, 6)
    for qi in range(3, 5):
        for qj in range(0, 2):
            for ui in range(0, 7):
                for uj in range(0, 6):
                    inside = (window_start(qi, 9, 5) <= ui < window_start(qi, 9, 5) + 5
                              and window_start(qj, 8, 5) <= uj < window_start(qj, 8, 5) + 5)
                    assert mask[qi - 3, qj, ui, uj] == (inside and (qi, qj) != (ui, uj))


def brute_force(block, Y, guide=None):
    """Per-query loops straight from the definition (docs/n3net.md section 3), for a small image."""
    B, C, H, W = Y.shape
    p, s, w, k = block.patch_size, block.stride, block.match_window, block.k
    with no_grad():
        E = block.embedding.forward(Y) if isinstance(block, N3Block) else Y if guide is None else guide
        logT = block.temperature.forward(Y) if isinstance(block, N3Block) else None
    (top, bottom), (left, right) = pad_amounts(H, p, s), pad_amounts(W, p, s)
    pad = lambda a: np.pad(a, ((0, 0), (0, 0), (top, bottom), (left, right)))
    Yp, Ep = pad(Y), pad(E)
    n1, n2 = (Yp.shape[2] - p) // s + 1, (Yp.shape[3] - p) // s + 1
    patch = lambda a, i, j: a[:, i * s:i * s + p, j * s:j * s + p].reshape(-1)
    out = np.zeros((B, k, C) + Yp.shape[2:])
    count = np.zeros(Yp.shape[2:])
    queries = []                       # (b, i, j, candidates, distances), every query of the batch
    for b in range(B):
        for i in range(n1):
            for j in range(n2):
                cands = [(a, c) for a in range(window_start(i, n1, w), window_start(i, n1, w) + w)
                         for c in range(window_start(j, n2, w), window_start(j, n2, w) + w) if (a, c) != (i, j)]
                q = patch(Ep[b], i, j)
                queries.append((b, i, j, cands, np.array([((q - patch(Ep[b], a, c)) ** 2).sum() for a, c in cands])))
    bn = getattr(block, "distance_bn", None)
    if bn is not None:                 # training mode: statistics of -D over every query's candidates
        a = -np.concatenate([D for *_, D in queries])
        mean, var = a.mean(), a.var()
        gamma, beta = bn.weight.data[0], bn.bias.data[0]
        queries = [(b, i, j, cands, -(gamma * (-D - mean) / np.sqrt(var + bn.eps) + beta))
                   for b, i, j, cands, D in queries]
    for b, i, j, cands, D in queries:
        D = D[None]
        x = np.stack([patch(Yp[b], a, c) for a, c in cands])
        if logT is None:
            weights = hard_knn_weights(D[None], k)[0, 0]
        else:
            t = 0.1 * np.exp(patch(pad(logT)[b], i, j).mean())
            weights = knn_weights(D[None], np.array([[t]]), k, block.variant)[0][0, 0]
        for jj in range(k):
            out[b, jj, :, i * s:i * s + p, j * s:j * s + p] += (weights[jj] @ x).reshape(C, p, p)
        if b == 0:
            count[i * s:i * s + p, j * s:j * s + p] += 1
    neighbours = (out / count)[..., top:top + H, left:left + W]
    return np.concatenate([Y[:, None], neighbours - Y[:, None]], axis=1).reshape(B, -1, H, W)


@pytest.mark.parametrize("H, W", [(9, 9), (10, 12), (13, 11)])
@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_equals_brute_force(rng, H, W, variant):
    block = small_block(rng, variant=variant, match_window=4, query_tile=2)
    # temperatures near 1: with t << 1 the weights are nearly one-hot and the two ways of writing
    # the distance (|q|^2 + |x|^2 - 2<q, x> in the block, |q - x|^2 in the loop) differ in the last
    # digits, which the reference form amplifies by up to 1 / (1 - w); an indexing error would
    # show as an O(1) difference
    block.temperature[-1].bias.data[...] = 2.5
    Y = rng.standard_normal((2, 2, H, W))
    tol = 1e-10 if variant == "paper" else 1e-8
    np.testing.assert_allclose(block.forward(Y), brute_force(block, Y), rtol=tol, atol=tol)


def test_knn_block_equals_brute_force(rng):
    block = KNNBlock(2, k=3, patch_size=3, stride=2, match_window=4, query_tile=3).double()
    Y = rng.standard_normal((1, 2, 11, 9))
    np.testing.assert_allclose(block.forward(Y), brute_force(block, Y), rtol=1e-12, atol=1e-12)


def test_knn_block_matches_on_the_guide_image(rng):
    # the paper's KNN block: neighbours chosen on the noisy input image, features of Y averaged
    block = KNNBlock(2, k=3, patch_size=3, stride=2, match_window=4, query_tile=2).double()
    Y, guide = rng.standard_normal((2, 2, 11, 9)), rng.standard_normal((2, 1, 11, 9))
    out = block.forward(Y, guide)
    np.testing.assert_allclose(out, brute_force(block, Y, guide), rtol=1e-12, atol=1e-12)
    assert np.abs(out - block.forward(Y)).max() > 0.1          # not the neighbours of Y itself
    with pytest.raises(ValueError, match="guide image"):
        block.forward(Y, guide[:, :, :10])


def test_gradcheck_knn_block_with_guide(rng):
    block = KNNBlock(2, k=2, patch_size=3, stride=2, match_window=3).double()
    gradcheck(block, (rng.standard_normal((1, 2, 7, 8)), rng.standard_normal((1, 1, 7, 8))), wrt=(0,))


@pytest.mark.parametrize("tile", [1, 2, 16])
def test_distance_bn_statistics_do_not_depend_on_the_tiling(rng, tile):
    # a training batch's distance statistics are those of all its finite distances, in any tiling
    Y = rng.standard_normal((2, 2, 13, 13))
    reference = small_block(rng, match_window=3, query_tile=16)
    block = small_block(rng, match_window=3, query_tile=tile)
    block.load_state_dict(reference.state_dict())
    np.testing.assert_allclose(block.forward(Y), reference.forward(Y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(block.distance_bn.running_mean, reference.distance_bn.running_mean, rtol=1e-12)
    np.testing.assert_allclose(block.distance_bn.running_var, reference.distance_bn.running_var, rtol=1e-12)
    dout = rng.standard_normal(Y.shape[:1] + (block.out_channels,) + Y.shape[2:])
    np.testing.assert_allclose(block.backward(dout), reference.backward(dout), rtol=1e-10, atol=1e-12)


def test_evaluation_streams_the_tiles_and_equals_the_training_path(rng):
    # in evaluation mode without gradients the tiles are normalised one at a time (nothing kept)
    Y = rng.standard_normal((1, 2, 13, 13))
    block = small_block(rng, match_window=3, query_tile=2).eval()
    block.distance_bn.running_mean[...], block.distance_bn.running_var[...] = -3.0, 4.0
    with_grad = block.forward(Y)
    with no_grad():
        streamed = block.forward(Y)
    np.testing.assert_allclose(streamed, with_grad, rtol=1e-12, atol=1e-12)


def test_temperature_floor(rng):
    # a temperature CNN that drives t towards 0 is held at min_temperature: finite outputs and
    # gradients, and no gradient to the temperature CNN through the held temperatures
    block = small_block(rng, min_temperature=1e-3)
    block.temperature[-1].bias.data[...] = -200.0
    Y = rng.standard_normal((1, 2, 9, 9))
    out = block.forward(Y)
    np.testing.assert_allclose(block.temperatures(), 1e-3)
    dY = block.backward(rng.standard_normal(out.shape))
    assert np.isfinite(out).all() and np.isfinite(dY).all()
    assert not block.temperature[-1].bias.grad.any()
    Y32 = Y.astype(np.float32)
    assert small_block(rng).float().forward(Y32).dtype == np.float32


def test_temperature_ceiling(rng):
    # a temperature CNN that drives t up (exp overflows float32 beyond ~88) is held at
    # max_temperature: finite outputs, nearly uniform weights, no gradient to the temperature CNN
    block = small_block(rng, max_temperature=1e3)
    block.temperature[-1].bias.data[...] = 200.0
    Y = rng.standard_normal((1, 2, 9, 9))
    out = block.forward(Y)
    np.testing.assert_allclose(block.temperatures(), 1e3)
    dY = block.backward(rng.standard_normal(out.shape))
    assert np.isfinite(out).all() and np.isfinite(dY).all()
    assert not block.temperature[-1].bias.grad.any()
    W = block.last_selection().tiles[0].selected.weights                       # (B, nq, k, nu)
    candidates = np.isfinite(block.last_selection().tiles[0].D_hat)[:, :, None, :]
    np.testing.assert_allclose(W[np.broadcast_to(candidates, W.shape)], 1 / 8, rtol=0.02)   # 3x3 - 1
    block32 = small_block(rng).float()
    block32.temperature[-1].bias.data[...] = 200.0
    assert np.isfinite(block32.forward(Y.astype(np.float32))).all()
    with pytest.raises(ValueError, match="min_temperature"):
        N3Block(2, min_temperature=0.5)


def test_tiling_does_not_change_the_result(rng):
    Y = rng.standard_normal((1, 2, 13, 13))
    a = small_block(rng, match_window=3, query_tile=1)
    b = small_block(rng, match_window=3, query_tile=16)
    b.load_state_dict(a.state_dict())
    np.testing.assert_allclose(a.forward(Y), b.forward(Y), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("H, W, tile", [(7, 7, 8), (8, 9, 2)])
def test_gradcheck(rng, H, W, tile):
    block = small_block(rng, query_tile=tile)
    gradcheck(block, rng.standard_normal((2, 2, H, W)), max_entries=40)


def test_gradcheck_knn_block(rng):
    block = KNNBlock(2, k=2, patch_size=3, stride=2, match_window=3).double()
    gradcheck(block, rng.standard_normal((1, 2, 7, 8)))


def test_output_layout_and_too_small_images(rng):
    block = N3Block(8)
    assert block.out_channels == 64 and block.min_size() == 80
    Y = rng.standard_normal((8, 80, 80)).astype(np.float32)
    with no_grad():
        out = block.forward(Y)
    assert out.shape == (64, 80, 80) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:8], Y)
    with pytest.raises(ValueError, match=r"74x90 pixels is too small.*at least 80x80"):
        block.forward(np.zeros((1, 8, 74, 90), np.float32))
    with pytest.raises(ValueError, match="N3Block expects 8 input channels"):
        block.forward(np.zeros((1, 3, 80, 80), np.float32))
