import numpy as np
import pytest

from layers import BatchNorm2d
from minigrad import gradcheck
from tests.helpers import assert_matches_torch, copy_to_torch


def make(rng, C=3, affine=True):
    bn = BatchNorm2d(C, affine=affine).double()
    if affine:
        bn.weight.data[...] = rng.uniform(0.5, 2, C)
        bn.bias.data[...] = rng.standard_normal(C)
    return bn


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 3, 3, 3), (5, 3, 1, 2)])
def test_gradcheck_training(rng, shape):
    gradcheck(make(rng), rng.standard_normal(shape) * 2 + 1)


def test_gradcheck_without_affine_and_in_evaluation(rng):
    gradcheck(make(rng, affine=False), rng.standard_normal((2, 3, 4, 4)))
    bn = make(rng)
    bn.running_mean[...] = rng.standard_normal(3)
    bn.running_var[...] = rng.uniform(0.5, 2, 3)
    gradcheck(bn.eval(), rng.standard_normal((2, 3, 4, 4)))


def test_normalises_and_updates_running_statistics(rng):
    bn = BatchNorm2d(3, momentum=0.1).double()
    x = rng.standard_normal((4, 3, 5, 5)) * np.array([1, 2, 3])[:, None, None] + 5
    y = bn.forward(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-3)   # eps = 1e-5
    n = 4 * 5 * 5
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * n / (n - 1))


def test_evaluation_uses_running_statistics(rng):
    bn = BatchNorm2d(2).double().eval()
    bn.running_mean[...] = [1.0, -1.0]
    bn.running_var[...] = [4.0, 0.25]
    x = rng.standard_normal((1, 2, 3, 3))
    expected = (x - np.array([1, -1])[:, None, None]) / np.sqrt(np.array([4, 0.25]) + 1e-5)[:, None, None]
    np.testing.assert_allclose(bn.forward(x), expected)
    assert bn.running_mean.tolist() == [1.0, -1.0]      # untouched in evaluation


def test_errors(rng):
    bn = BatchNorm2d(3)
    with pytest.raises(ValueError, match="BatchNorm2d expects 3 input channels"):
        bn.forward(np.zeros((2, 4, 3, 3), np.float32))
    with pytest.raises(ValueError, match="more than one value per channel"):
        bn.forward(np.zeros((1, 3, 1, 1), np.float32))


@pytest.mark.torch
@pytest.mark.parametrize("training", [True, False])
def test_matches_torch(torch, rng, training):
    bn = make(rng)
    bn.running_mean[...] = rng.standard_normal(3)
    bn.running_var[...] = rng.uniform(0.5, 2, 3)
    ref = torch.nn.BatchNorm2d(3)
    copy_to_torch(bn, ref, torch)
    bn.train(training)
    ref.train(training)
    assert_matches_torch(bn, ref, rng.standard_normal((2, 3, 4, 5)), rng, torch, rtol=1e-10)
    np.testing.assert_allclose(bn.running_mean, ref.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, ref.running_var.numpy(), rtol=1e-12)
