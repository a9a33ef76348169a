import numpy as np
import pytest

from layers import Upsampling, UpsamplingNearest2d
from minigrad import gradcheck
from tests.helpers import assert_matches_torch, copy_to_torch


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_gradcheck_nearest(rng, scale):
    gradcheck(UpsamplingNearest2d(scale), rng.standard_normal((2, 3, 3, 4)))


def test_gradcheck_upsampling_conv(rng):
    gradcheck(Upsampling(2, 3, kernel_size=3, scale_factor=2, rng=rng).double(),
              rng.standard_normal((2, 2, 3, 3)))


def test_known_values():
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    y = UpsamplingNearest2d(2).forward(x)
    np.testing.assert_array_equal(y[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    up = Upsampling(1, 1, scale_factor=2)
    assert up.forward(x.astype(np.float32)).shape == (1, 1, 4, 4)
    assert UpsamplingNearest2d(3).forward(np.ones((2, 5, 5))).shape == (2, 15, 15)


def test_bad_scale():
    with pytest.raises(ValueError, match="positive integer"):
        UpsamplingNearest2d(1.5)


@pytest.mark.torch
def test_matches_torch(torch, rng):
    up = Upsampling(2, 3, scale_factor=2, rng=rng).double()

    class Reference(torch.nn.Module):            # same attribute names as ours: conv.weight, ...
        def __init__(self):
            super().__init__()
            self.upsample = torch.nn.UpsamplingNearest2d(scale_factor=2)
            self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)

        def forward(self, x):
            return self.conv(self.upsample(x))

    ref = Reference()
    copy_to_torch(up, ref, torch)
    assert_matches_torch(up, ref, rng.standard_normal((2, 2, 3, 4)), rng, torch)
