import numpy as np
import pytest

from minigrad import gradcheck, no_grad
from n3net.query_norm import DistanceQueryNorm

from .test_distance_bn import FiniteOutputs, distances


def qn64(gamma=1.7, beta=-0.4):
    qn = DistanceQueryNorm().double()
    qn.weight.data[...], qn.bias.data[...] = gamma, beta
    return qn


def test_each_query_standardised_over_its_candidates(rng):
    qn = qn64()
    D = distances(rng, (2, 5, 7))
    D[0, 0, :2] = [3.0, 5.0]                            # at least two candidates per query
    D[np.isfinite(D).sum(axis=-1) < 2] = rng.uniform(1, 2, 7)
    out = qn.forward(D)
    for b, q in np.ndindex(D.shape[:2]):
        finite = np.isfinite(D[b, q])
        a = -D[b, q, finite]
        expected = -(1.7 * (a - a.mean()) / np.sqrt(a.var() + qn.eps) - 0.4)
        np.testing.assert_allclose(out[b, q, finite], expected, rtol=1e-12)
        assert np.isposinf(out[b, q, ~finite]).all()
        # the spread over the candidates is |gamma| whatever the distances' scale
        np.testing.assert_allclose(out[b, q, finite].std(), 1.7 * np.sqrt(a.var() / (a.var() + qn.eps)))


def test_scale_of_the_embedding_does_not_matter_until_eps(rng):
    D = distances(rng, (1, 4, 9), holes=False)
    qn = qn64()
    np.testing.assert_allclose(qn.forward(0.1 * D), qn.forward(D), rtol=1e-4)   # eps / var ~ 1e-5
    assert np.abs(qn.forward(1e-9 * D) - 0.4).max() < 1e-3        # var << eps: every D_hat at -beta


def test_tiles_are_independent_and_modes_agree(rng):
    D = distances(rng, (2, 6, 9), holes=False)
    qn = qn64()
    whole = qn.forward(D)
    np.testing.assert_allclose(np.concatenate(qn.forward(D[:, :2], D[:, 2:]), axis=1), whole, rtol=1e-14)
    qn.eval()                                           # no running statistics: the same in evaluation
    with no_grad():
        np.testing.assert_array_equal(qn.forward(D), whole)
    assert qn._cache is None and DistanceQueryNorm.couples_tiles is False


def test_gradcheck(rng):
    qn = qn64()
    tiles = (distances(rng, (2, 3, 6)), distances(rng, (2, 4, 6)))
    for D in tiles:                                     # every query keeps at least two candidates
        D[..., :2] = rng.uniform(0.5, 30, D[..., :2].shape)
    gradcheck(FiniteOutputs(qn), tiles, atol=1e-7)


def test_gradient_on_infinite_entries_is_zero_and_sums_to_zero_per_query(rng):
    qn = qn64()
    D = distances(rng, (2, 4, 6))
    D[..., :2] = 5.0 + rng.random(D[..., :2].shape)
    qn.forward(D)
    dD = qn.backward(rng.standard_normal(D.shape))
    assert (dD[~np.isfinite(D)] == 0).all() and np.isfinite(dD).all()
    np.testing.assert_allclose(dD.sum(axis=-1), 0, atol=1e-12)   # a shift of a query's distances changes nothing


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_block_with_query_norm_equals_the_reference_and_gradchecks(rng, variant):
    from .test_reference import assert_close, gradients, small_block
    from n3net.reference import reference_backward, reference_forward
    block = small_block(rng, variant=variant, distance_norm="query", query_tile=2)
    assert block.distance_bn is None and block.normaliser is block.distance_qn
    Y = rng.standard_normal((2, 2, 13, 11))
    dout = rng.standard_normal((2, 8, 13, 11))
    block.zero_grad()
    out, dY = block.forward(Y), block.backward(dout)
    tiled = gradients(block)
    block.zero_grad()
    out_ref, cache = reference_forward(block, Y)
    assert_close(out, out_ref, "output")
    assert_close(dY, reference_backward(block, cache, dout), "input gradient")
    reference = gradients(block)
    largest = max(np.abs(g).max() for g in reference.values())
    for name, grad in reference.items():    # some are 0 up to round-off (beta, the last embedding bias)
        error = np.abs(tiled[name] - grad).max() / max(np.abs(grad).max(), 1e-3 * largest)
        assert error < 1e-8, f"{name}: {error:.2e}"
    gradcheck(block, (Y,), atol=1e-6)
