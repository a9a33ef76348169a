import numpy as np
import pytest

from minigrad import Module, gradcheck
from n3net.knn import HardKNN, NeuralNearestNeighbors, hard_knn_weights, knn_weights


def problem(rng, B=2, N=3, M=6, F=2, with_inf=True):
    x = rng.standard_normal((B, M, F))
    D = rng.uniform(0, 3, (B, N, M))
    if with_inf:
        D[:, 0, 1] = np.inf                        # not a candidate of query 0
        D[1, 2, 4] = np.inf
    t = rng.uniform(0.5, 2, (B, N))
    return x, D, t


class FiniteOnly(Module):
    """Gradcheck perturbs every entry: keep infinite distances fixed, check the finite ones."""

    def __init__(self, knn, D):
        self.knn, self.mask = knn, np.isfinite(D)

    def forward(self, x, D, t):
        return self.knn.forward(x, np.where(self.mask, D, np.inf), t)

    def backward(self, dZ):
        return self.knn.backward(dZ)


@pytest.mark.parametrize("variant", ["paper", "reference"])
@pytest.mark.parametrize("k", [1, 2, 4, 5])
@pytest.mark.parametrize("scale", [1.0, 0.3, 0.1])
def test_gradcheck(rng, variant, k, scale):
    # Small temperatures with distances on the same scale.  (With O(1) distances and t << 1 the
    # weights are one-hot to within 1e-5 and the loss bends on a scale of t (1 - w), too steep for
    # finite differences in float64; test_matches_torch_autograd covers that regime.)
    x, D, t = problem(rng)
    gradcheck(FiniteOnly(NeuralNearestNeighbors(k, variant), D), (x, D * scale, t * scale))


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_gradcheck_k7(rng, variant):
    x, D, t = problem(rng, M=10, with_inf=False)
    gradcheck(NeuralNearestNeighbors(7, variant), (x, D, t))


def test_infinite_distances_get_zero_weight_and_zero_gradient(rng):
    x, D, t = problem(rng)
    knn = NeuralNearestNeighbors(4)
    Z = knn.forward(x, D, t)
    assert np.isfinite(Z).all()
    assert (knn.weights[0, 0, :, 1] == 0).all() and (knn.weights[1, 2, :, 4] == 0).all()
    dx, dD, dt = knn.backward(rng.standard_normal(Z.shape))
    assert np.isfinite(dx).all() and np.isfinite(dD).all() and np.isfinite(dt).all()
    assert dD[0, 0, 1] == 0 and dD[1, 2, 4] == 0


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_weights_sum_to_one_and_dD_sums_to_zero(rng, variant):
    x, D, t = problem(rng)
    knn = NeuralNearestNeighbors(5, variant)
    Z = knn.forward(x, D, t)
    np.testing.assert_allclose(knn.weights.sum(axis=-1), 1, rtol=1e-12)
    _, dD, _ = knn.backward(rng.standard_normal(Z.shape))
    np.testing.assert_allclose(np.where(np.isfinite(D), dD, 0).sum(axis=-1), 0, atol=1e-12)


def test_k1_is_a_softmax_average(rng):
    x, D, t = problem(rng, with_inf=False)
    Z = NeuralNearestNeighbors(1).forward(x, D, t)
    w = np.exp(-D / t[..., None])
    w /= w.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(Z[:, :, 0], np.einsum("bnm,bmf->bnf", w, x), rtol=1e-12)


def test_paper_variant_becomes_hard_knn_and_reference_does_not():
    D = np.arange(6.0)[None, None]                 # (1, 1, 6): distances 0..5
    t = np.full((1, 1), 0.1)
    W, _ = knn_weights(D, t, 3, "paper")
    np.testing.assert_allclose(W[0, 0], np.eye(6)[:3], atol=1e-4)
    W, _ = knn_weights(D, t, 3, "reference")
    np.testing.assert_allclose(W[0, 0], [np.eye(6)[0], [0.5, 0.5, 0, 0, 0, 0], [0.5, 0.5, 0, 0, 0, 0]],
                               atol=1e-4)
    np.testing.assert_array_equal(hard_knn_weights(D, 3)[0, 0], np.eye(6)[:3])


def test_weights_that_round_to_one_remove_the_item_cleanly(rng):
    D = np.array([[[0.0, 1.0, 2.0, 3.0]]])
    t = np.full((1, 1), 1e-3)                      # exp(-1000): weights are exactly one-hot
    knn = NeuralNearestNeighbors(3)
    x = rng.standard_normal((1, 4, 2))
    Z = knn.forward(x, D, t)
    np.testing.assert_array_equal(knn.weights[0, 0], np.eye(4)[:3])
    grads = knn.backward(np.ones_like(Z))
    assert all(np.isfinite(g).all() for g in grads)


def test_shifting_distances_changes_nothing(rng):
    x, D, t = problem(rng, with_inf=False)
    a = NeuralNearestNeighbors(3).forward(x, D, t)
    b = NeuralNearestNeighbors(3).forward(x, D + 7.5, t)
    np.testing.assert_allclose(a, b, rtol=1e-10)


def test_bad_inputs(rng):
    x, D, t = problem(rng, with_inf=False)
    knn = NeuralNearestNeighbors(3)
    with pytest.raises(ValueError, match="positive"):
        knn.forward(x, D, -t)
    with pytest.raises(ValueError, match="shapes do not agree"):
        knn.forward(x[:, :4], D, t)
    D2 = D.copy()
    D2[0, 0, :4] = np.inf
    with pytest.raises(ValueError, match="at least 3 finite distances"):
        knn.forward(x, D2, t)
    with pytest.raises(ValueError, match="unknown variant"):
        NeuralNearestNeighbors(3, "softer")


def test_hard_knn_selects_and_routes_gradients(rng):
    x, D, t = problem(rng, with_inf=False)
    knn = HardKNN(2)
    Z = knn.forward(x, D)
    order = np.argsort(D, axis=-1)
    np.testing.assert_array_equal(Z[1, 2, 1], x[1, order[1, 2, 1]])
    gradcheck(knn, (x, D), wrt=(0,))
    _, dD = knn.backward(np.ones_like(Z))
    assert (dD == 0).all()


@pytest.mark.torch
@pytest.mark.parametrize("variant", ["paper", "reference"])
@pytest.mark.parametrize("t_scale", [1.0, 0.3])
def test_matches_torch_autograd(torch, rng, variant, t_scale):
    x, D, t = problem(rng)
    t = t * t_scale
    k = 4
    knn = NeuralNearestNeighbors(k, variant)
    Z = knn.forward(x, D, t)
    # autograd's 0 * inf is NaN: give torch a distance so large that its weight is exactly 0
    D_far = np.where(np.isfinite(D), D, 1e4)
    xt, Dt, tt = (torch.tensor(a, requires_grad=True) for a in (x, D_far, t))
    alpha = -Dt if variant == "paper" else -Dt / tt[..., None]
    Zs = []
    for _ in range(k):
        logits = alpha / tt[..., None] if variant == "paper" else alpha
        w = torch.softmax(logits, dim=-1)
        Zs.append(w @ xt)
        alpha = alpha + torch.log1p(-w)
    Zt = torch.stack(Zs, dim=2)
    np.testing.assert_allclose(Z, Zt.detach().numpy(), rtol=1e-10, atol=1e-14)
    dZ = rng.standard_normal(Z.shape)
    Zt.backward(torch.tensor(dZ))
    dx, dD, dt = knn.backward(dZ)
    finite = np.isfinite(D)
    # (At smaller t, weights within 1e-5 of 1 make the plain log1p(-w) above lose digits that ours,
    # log1m_exp from log w, keeps; at t -> 0 it even gives NaN where ours stays exact.)
    rtol = 1e-9
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=rtol, atol=1e-13)
    np.testing.assert_allclose(dD[finite], Dt.grad.numpy()[finite], rtol=rtol, atol=1e-13)
    np.testing.assert_allclose(dt, tt.grad.numpy(), rtol=rtol, atol=1e-13)


def test_weights_that_would_be_subnormal_are_exactly_zero():
    """A selective block's logits spread over more than 87: the weights below float32's smallest
    normal number are 0 (they would make the aggregation products 35x slower), the others are the
    softmax's; in float64 the same logits give the exact softmax."""
    from n3net.knn import log_softmax
    logits = np.array([[0.0, -10.0, -86.0, -88.0, -100.0, -np.inf]])
    for dtype in (np.float32, np.float64):
        w = np.exp(log_softmax(logits.astype(dtype)))
        exact = np.exp(logits - np.log(np.exp(logits).sum()))
        tiny = np.finfo(dtype).tiny
        assert not ((w != 0) & (w < tiny)).any()
        np.testing.assert_allclose(w[exact >= tiny], exact[exact >= tiny].astype(dtype), rtol=1e-6)
        assert (w[exact < tiny] == 0).all() if dtype == np.float32 else (w[:, :5] > 0).all()
