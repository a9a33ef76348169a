"""On a GPU (CuPy), every layer gives the CPU's outputs and gradients (skipped without one)."""
import numpy as np
import pytest

from layers import BatchNorm2d, Concat, Conv2d, Dropout, LeakyReLU, MSELoss, ReLU, Sigmoid, Tanh
from layers import Upsampling
from minigrad import Sequential, to_device, to_numpy
from minigrad.optim import Adam

pytestmark = pytest.mark.gpu


def net():
    return Sequential(Conv2d(2, 4, 3, padding=1), BatchNorm2d(4), ReLU(), Conv2d(4, 4, 3, stride=2),
                      LeakyReLU(0.1), Upsampling(4, 3), Sigmoid(), Tanh(), Dropout(0.0))


def test_network_matches_cpu(rng):
    cpu = net().double()
    gpu = net().double()
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("gpu")
    x = rng.standard_normal((2, 2, 9, 9))
    y = cpu.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = cpu.backward(dy)
    y_gpu = gpu.forward(to_device(x, "gpu"))
    dx_gpu = gpu.backward(to_device(dy, "gpu"))
    np.testing.assert_allclose(to_numpy(y_gpu), y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_numpy(dx_gpu), dx, rtol=1e-10, atol=1e-12)
    for (name, p), (_, q) in zip(cpu.named_parameters(), gpu.named_parameters()):
        np.testing.assert_allclose(to_numpy(q.grad), p.grad, rtol=1e-10, atol=1e-12, err_msg=name)


def test_training_step_on_gpu(rng):
    model = Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), Conv2d(4, 1, 3, padding=1)).to("gpu")
    loss_fn, opt = MSELoss(), Adam(model.parameters(), lr=1e-2)
    x = to_device(rng.standard_normal((4, 1, 8, 8)).astype(np.float32), "gpu")
    losses = []
    for _ in range(30):
        loss = loss_fn.forward(model.forward(x), x)
        model.zero_grad()
        model.backward(loss_fn.backward())
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    c = Concat()
    assert c.forward(x, x).shape == (4, 2, 8, 8)
