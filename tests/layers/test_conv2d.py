import numpy as np
import pytest

from layers import Conv2d
from minigrad import gradcheck
from tests.helpers import assert_matches_torch, copy_to_torch

CASES = [  # (C, O, H, W, kernel, stride, padding, dilation, bias)
    (1, 2, 5, 5, 3, 1, 0, 1, True),
    (2, 3, 6, 5, 3, 1, 1, 1, False),
    (3, 2, 7, 6, 3, 2, 1, 1, True),
    (2, 2, 6, 6, 1, 1, 0, 1, True),
    (2, 3, 7, 7, (3, 2), (2, 1), (0, 1), 1, True),
    (2, 2, 8, 7, 3, 1, 2, 2, True),
    (1, 2, 9, 9, 5, 2, 2, 1, False),
]


@pytest.mark.parametrize("C, O, H, W, k, s, p, d, bias", CASES)
def test_gradcheck(rng, C, O, H, W, k, s, p, d, bias):
    conv = Conv2d(C, O, k, s, p, d, bias=bias, rng=rng).double()
    gradcheck(conv, rng.standard_normal((2, C, H, W)))


def test_hand_computed_convolution():
    conv = Conv2d(1, 1, 2, bias=True).double()
    conv.weight.data[...] = [[[[1, 2], [3, 4]]]]
    conv.bias.data[...] = 10
    x = np.arange(9.0).reshape(1, 1, 3, 3)           # [[0,1,2],[3,4,5],[6,7,8]]
    y = conv.forward(x)
    # top-left: 0*1 + 1*2 + 3*3 + 4*4 = 27, then + 10
    np.testing.assert_array_equal(y[0, 0], [[37, 47], [67, 77]])


def test_single_image_and_output_shape(rng):
    conv = Conv2d(3, 4, 3, stride=2, padding=1, rng=rng).double()
    x = rng.standard_normal((3, 9, 8))
    y = conv.forward(x)
    assert y.shape == (4, 5, 4)
    np.testing.assert_allclose(y, conv.forward(x[None])[0])
    conv.forward(x)
    assert conv.backward(np.ones_like(y)).shape == x.shape


def test_gradients_accumulate(rng):
    conv = Conv2d(2, 2, 3, rng=rng).double()
    x = rng.standard_normal((1, 2, 5, 5))
    y = conv.forward(x)
    conv.backward(np.ones_like(y))
    once = conv.weight.grad.copy()
    conv.forward(x)
    conv.backward(np.ones_like(y))
    np.testing.assert_allclose(conv.weight.grad, 2 * once)


def test_float32_stays_float32(rng):
    conv = Conv2d(2, 3, 3, padding=1, rng=rng)
    y = conv.forward(rng.standard_normal((1, 2, 4, 4)).astype(np.float32))
    assert y.dtype == np.float32
    assert conv.backward(np.ones_like(y)).dtype == np.float32


def test_bad_inputs_name_the_layer_and_shapes(rng):
    conv = Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2d expects 3 input channels.*got \(1, 2, 5, 5\)"):
        conv.forward(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"Conv2d expects input of shape \(N, 3, H, W\)"):
        conv.forward(np.zeros((5, 5), np.float32))
    with pytest.raises(TypeError, match="float32 or float64"):
        conv.forward(np.zeros((1, 3, 5, 5), np.int64))
    with pytest.raises(TypeError, match="float32 parameters but the input is float64"):
        conv.forward(np.zeros((1, 3, 5, 5)))
    with pytest.raises(ValueError, match="too small"):
        conv.forward(np.zeros((1, 3, 2, 2), np.float32))


def test_default_init_matches_pytorch_bounds(rng):
    conv = Conv2d(16, 8, 3, rng=rng)
    bound = 1 / np.sqrt(16 * 9)
    assert np.abs(conv.weight.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.9 * bound
    assert np.abs(conv.bias.data).max() <= bound


@pytest.mark.torch
@pytest.mark.parametrize("C, O, H, W, k, s, p, d, bias", CASES)
def test_matches_torch(torch, rng, C, O, H, W, k, s, p, d, bias):
    conv = Conv2d(C, O, k, s, p, d, bias=bias, rng=rng).double()
    ref = torch.nn.Conv2d(C, O, k, s, p, d, bias=bias)
    copy_to_torch(conv, ref, torch)
    assert_matches_torch(conv, ref, rng.standard_normal((2, C, H, W)), rng, torch)


def test_layers_of_different_geometry_do_not_disturb_each_other(rng):
    # same convolutions share scratch grids; interleaving them must not change any result
    a = Conv2d(2, 3, 3, padding=1, rng=rng).double()
    b = Conv2d(3, 2, 5, padding=2, rng=rng).double()
    xa, xb = rng.standard_normal((2, 2, 7, 6)), rng.standard_normal((1, 3, 5, 9))
    ya = a.forward(xa)
    first = a.backward(np.ones_like(ya))
    b.backward(np.ones_like(b.forward(xb)))
    a.forward(xa)
    np.testing.assert_array_equal(a.backward(np.ones_like(ya)), first)


@pytest.mark.parametrize("k, p, d", [((3, 5), (1, 2), 1), (3, 2, 2), (1, 0, 1)])
def test_same_convolutions_match_the_general_path(rng, k, p, d):
    conv = Conv2d(2, 3, k, padding=p, dilation=d, rng=rng).double()
    assert conv.same
    x, dy = rng.standard_normal((2, 2, 6, 7)), rng.standard_normal((2, 3, 6, 7))
    y, dx = conv.forward(x), conv.backward(dy)
    dW = conv.weight.grad.copy()
    conv.same = False                                 # force the unfold/fold path
    conv.zero_grad()
    np.testing.assert_allclose(conv.forward(x), y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv.backward(dy), dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv.weight.grad, dW, rtol=1e-12, atol=1e-12)
