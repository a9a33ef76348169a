"""A tiny network really learns: the engine's pieces work together."""
import numpy as np

from layers import BatchNorm2d, Conv2d, MSELoss, ReLU
from minigrad import Sequential
from minigrad.optim import Adam


def test_small_cnn_learns_a_blur(rng):
    # target: a fixed 3x3 box blur of the input; a conv-bn-relu-conv net must fit it
    net = Sequential(Conv2d(1, 8, 3, padding=1, rng=rng), BatchNorm2d(8), ReLU(),
                     Conv2d(8, 1, 3, padding=1, rng=rng)).double()
    blur = Conv2d(1, 1, 3, padding=1, bias=False).double()
    blur.weight.data[...] = 1 / 9
    loss_fn, opt = MSELoss(), Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(150):
        x = rng.standard_normal((8, 1, 8, 8))
        loss = loss_fn.forward(net.forward(x), blur.forward(x))
        net.zero_grad()
        net.backward(loss_fn.backward())
        opt.step()
        losses.append(float(loss))
    assert np.mean(losses[-10:]) < 0.05 * np.mean(losses[:10])
