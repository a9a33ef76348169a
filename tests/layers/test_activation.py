import numpy as np
import pytest

from layers import LeakyReLU, ReLU, Sigmoid, Tanh
from minigrad import gradcheck
from tests.helpers import away_from_zero

LAYERS = [ReLU, lambda: LeakyReLU(0.1), Sigmoid, Tanh]


@pytest.mark.parametrize("make", LAYERS)
@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (5,), (3, 2)])
def test_gradcheck(rng, make, shape):
    gradcheck(make(), away_from_zero(rng, shape))


def test_known_values():
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_array_equal(ReLU().forward(x), [0, 0, 0.5, 2])
    np.testing.assert_allclose(LeakyReLU(0.1).forward(x), [-0.2, -0.05, 0.5, 2])
    np.testing.assert_allclose(Sigmoid().forward(np.array([0.0])), [0.5])
    np.testing.assert_allclose(Tanh().forward(x), np.tanh(x))


def test_sigmoid_saturates_without_overflow():
    with np.errstate(over="raise"):
        y = Sigmoid().forward(np.array([-1000.0, 1000.0]))
    np.testing.assert_array_equal(y, [0.0, 1.0])


@pytest.mark.parametrize("make", LAYERS)
def test_float32_and_bad_dtype(make):
    y = make().forward(np.ones((2, 2), np.float32))
    assert y.dtype == np.float32
    with pytest.raises(TypeError, match="float32 or float64"):
        make().forward(np.ones(3, np.int32))


@pytest.mark.torch
def test_match_torch(torch, rng):
    x = away_from_zero(rng, (2, 3, 4))
    pairs = [(ReLU(), torch.nn.ReLU()), (LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
             (Sigmoid(), torch.nn.Sigmoid()), (Tanh(), torch.nn.Tanh())]
    for ours, ref in pairs:
        xt = torch.tensor(x, requires_grad=True)
        yt = ref(xt)
        dy = rng.standard_normal(x.shape)
        yt.backward(torch.tensor(dy))
        np.testing.assert_allclose(ours.forward(x), yt.detach().numpy(), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(ours.backward(dy), xt.grad.numpy(), rtol=1e-14, atol=1e-15)
