import numpy as np
import pytest

from minigrad import gradcheck, no_grad
from minigrad.module import Module
from n3net.distance_bn import DistanceBatchNorm


def distances(rng, shape, holes=True):
    """Positive distances with some +inf entries (candidates outside a query's window)."""
    D = rng.uniform(0.5, 30, shape)
    if holes:
        D[rng.random(shape) < 0.3] = np.inf
    return D


def bn64(rng, **kw):
    bn = DistanceBatchNorm(**kw).double()
    bn.weight.data[...], bn.bias.data[...] = 1.7, -0.4
    return bn


def test_training_statistics_and_output(rng):
    bn = bn64(rng)
    D = distances(rng, (2, 5, 7))
    out = bn.forward(D)
    finite = np.isfinite(D)
    a = -D[finite]
    expected = -(1.7 * (a - a.mean()) / np.sqrt(a.var() + bn.eps) - 0.4)
    np.testing.assert_allclose(out[finite], expected, rtol=1e-13)
    assert np.isposinf(out[~finite]).all()                    # +inf stays +inf
    n = finite.sum()
    np.testing.assert_allclose(bn.running_mean, 0.1 * a.mean(), rtol=1e-13)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * a.var() * n / (n - 1), rtol=1e-13)


def test_tiles_share_one_set_of_statistics(rng):
    # however the queries are split into tiles, the statistics are those of all finite entries
    D = distances(rng, (2, 6, 9))
    whole = bn64(rng).forward(D)
    tiles = bn64(rng).forward(D[:, :2], D[:, 2:3], D[:, 3:])
    np.testing.assert_allclose(np.concatenate(tiles, axis=1), whole, rtol=1e-13)


def test_inf_entries_with_a_negative_scale_stay_inf(rng):
    bn = bn64(rng)
    bn.weight.data[...] = -2.0
    D = distances(rng, (1, 4, 6))
    out = bn.forward(D)
    assert np.isposinf(out[~np.isfinite(D)]).all()
    assert np.isfinite(out[np.isfinite(D)]).all()


def test_evaluation_uses_running_statistics(rng):
    bn = bn64(rng)
    bn.running_mean[...], bn.running_var[...] = -12.0, 40.0
    bn.eval()
    D = distances(rng, (1, 3, 4))
    out = bn.forward(D)
    finite = np.isfinite(D)
    np.testing.assert_allclose(out[finite], -(1.7 * (-D[finite] + 12) / np.sqrt(40 + bn.eps) - 0.4),
                               rtol=1e-13)
    np.testing.assert_array_equal(bn.running_mean, [-12.0])


class FiniteOutputs(Module):
    """The batch norm with its +inf outputs set to 0, so that <g, outputs> is finite for gradcheck
    (the KNN gives those entries weight and gradient 0 the same way)."""

    def __init__(self, bn):
        self.bn = bn

    def forward(self, *D):
        self._outs = self.bn.forward(*D)
        return tuple(np.where(np.isfinite(o), o, 0) for o in self._outs)

    def backward(self, *g):
        return self.bn.backward(*(np.where(np.isfinite(o), d, 0) for o, d in zip(self._outs, g)))


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradcheck(rng, mode):
    bn = bn64(rng)
    bn.running_mean[...], bn.running_var[...] = -10.0, 50.0
    bn.train(mode == "train")
    gradcheck(FiniteOutputs(bn), (distances(rng, (2, 3, 5)), distances(rng, (2, 4, 5))), atol=1e-7)


def test_gradient_on_infinite_entries_is_zero(rng):
    bn = bn64(rng)
    D = distances(rng, (2, 4, 6))
    bn.forward(D)
    dD = bn.backward(rng.standard_normal(D.shape))
    assert (dD[~np.isfinite(D)] == 0).all() and np.isfinite(dD).all()


def test_too_few_finite_distances_is_an_error():
    with pytest.raises(ValueError, match="at least two finite distances"):
        DistanceBatchNorm().forward(np.array([[[1.0, np.inf]]], np.float32))


def test_no_grad_keeps_nothing(rng):
    bn = bn64(rng)
    with no_grad():
        bn.forward(distances(rng, (1, 2, 3)))
    with pytest.raises(RuntimeError, match="no_grad"):
        bn.backward(np.zeros((1, 2, 3)))


@pytest.mark.torch
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_matches_torch_batchnorm1d(torch, rng, mode):
    # the released code: BatchNorm1d(1) over the B * queries * candidates values of -D
    D = distances(rng, (3, 5, 8), holes=False)
    ours = bn64(rng)
    theirs = torch.nn.BatchNorm1d(1).double()
    with torch.no_grad():
        theirs.weight[...], theirs.bias[...] = 1.7, -0.4
        theirs.running_mean[...], theirs.running_var[...] = -9.0, 30.0
    ours.running_mean[...], ours.running_var[...] = -9.0, 30.0
    ours.train(mode == "train"), theirs.train(mode == "train")
    Dt = torch.tensor(D, requires_grad=True)
    out_t = -theirs(-Dt.reshape(-1, 1)).reshape(D.shape)
    out = ours.forward(D)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-12)
    g = rng.standard_normal(D.shape)
    out_t.backward(torch.tensor(g))
    dD = ours.backward(g)
    np.testing.assert_allclose(dD, Dt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-10)


def test_backward_follows_the_mode_of_its_forward(rng):
    # a forward in training mode, then model.eval() before the backward (as a diagnostic might):
    # the gradient is still the one of the batch statistics
    D = distances(rng, (2, 4, 6))
    dD = rng.standard_normal(D.shape)
    bn = bn64(rng)
    bn.forward(D)
    expected = bn.backward(dD)
    bn.forward(D)
    bn.eval()
    np.testing.assert_array_equal(bn.backward(dD), expected)
