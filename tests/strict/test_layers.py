"""Every layer's backward gradchecked in float64 on the strict device, and equal to the CPU's."""
import numpy as np
import pytest

from layers import (BatchNorm2d, Concat, Conv2d, Dropout, L1Loss, LeakyReLU, Linear, MSELoss, ReLU,
                    Sigmoid, Tanh, Upsampling, UpsamplingNearest2d)
from minigrad import gradcheck, init, to_device, to_numpy

pytestmark = pytest.mark.strict_device

LAYERS = {
    "conv same": (lambda: Conv2d(3, 4, 3, padding=1), (2, 3, 7, 6)),
    "conv thin in": (lambda: Conv2d(1, 4, 3, padding=1, bias=False), (2, 1, 6, 5)),
    "conv strided dilated": (lambda: Conv2d(2, 3, 3, stride=2, dilation=2, padding=1), (1, 2, 9, 8)),
    "conv 1x1": (lambda: Conv2d(4, 2, 1), (2, 4, 5, 5)),
    "batchnorm train": (lambda: BatchNorm2d(3), (4, 3, 5, 4)),
    "batchnorm eval": (lambda: BatchNorm2d(3).eval(), (4, 3, 5, 4)),
    "relu": (ReLU, (2, 3, 4, 4)),
    "leaky relu": (lambda: LeakyReLU(0.1), (2, 3, 4, 4)),
    "sigmoid": (Sigmoid, (2, 3, 4, 4)),
    "tanh": (Tanh, (2, 3, 4, 4)),
    "linear": (lambda: Linear(5, 3), (4, 5)),
    "upsampling nearest": (lambda: UpsamplingNearest2d(2), (2, 3, 3, 4)),
    "upsampling": (lambda: Upsampling(3, 2), (1, 3, 3, 3)),
    "dropout": (lambda: Dropout(0.0), (2, 3, 4, 4)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layer_gradcheck_and_cpu_parity(name, rng, strict):
    make, shape = LAYERS[name]
    init.manual_seed(0)
    cpu = make().double()
    device = make().double()
    device.load_state_dict(cpu.state_dict())
    if not cpu.training:
        device.eval()
    device.to("gpu")
    assert all(type(p.data) is strict.ndarray for p in device.parameters())
    x = rng.standard_normal(shape) + 0.1                       # away from ReLU's kink at 0
    gradcheck(device, to_device(x, "gpu"), max_entries=25)
    dy = rng.standard_normal(cpu.forward(x).shape)
    dx = cpu.backward(dy)
    y_device = device.forward(to_device(x, "gpu"))
    assert type(y_device) is strict.ndarray
    np.testing.assert_allclose(to_numpy(y_device), cpu.forward(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_numpy(device.backward(to_device(dy, "gpu"))), dx, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("loss", [MSELoss, L1Loss])
def test_losses_and_concat(loss, rng):
    a, b = (to_device(rng.standard_normal((2, 3, 4, 4)), "gpu") for _ in range(2))
    fn = loss()
    value = fn.forward(a, b)
    assert value.shape == () and np.isfinite(float(value))
    assert fn.backward().shape == (2, 3, 4, 4)
    both = Concat().forward(a, b)
    assert both.shape == (2, 6, 4, 4)
