"""Nearest-neighbour upsampling, and "Upsampling": nearest neighbour followed by a convolution.

Shape legend: N batch, C channels, H x W input, s scale factor.

    UpsamplingNearest2d:  y[n, c, s*i + a, s*j + b] = x[n, c, i, j]      (N, C, sH, sW)
    backward:             dx[n, c, i, j] = sum over a, b < s of dy[n, c, s*i + a, s*j + b]
"""
from minigrad.backend import get_array_module
from minigrad.module import Module

from .checks import check_images, check_same_shape, single_image_as_batch
from .conv import Conv2d


class UpsamplingNearest2d(Module):
    """Repeat every pixel scale_factor times along H and W (PyTorch's nn.UpsamplingNearest2d)."""

    def __init__(self, scale_factor=2):
        if int(scale_factor) != scale_factor or scale_factor < 1:
            raise ValueError(f"scale_factor must be a positive integer, got {scale_factor}")
        self.scale_factor = int(scale_factor)

    def extra_repr(self):
        return f"scale_factor={self.scale_factor}"

    @single_image_as_batch
    def forward(self, x):
        check_images(self, x)
        xp = get_array_module(x)
        N, C, H, W = self._in_shape = x.shape
        s = self.scale_factor
        y = xp.broadcast_to(x[:, :, :, None, :, None], (N, C, H, s, W, s))   # (N, C, H, s, W, s)
        y = y.reshape(N, C, H * s, W * s)                                     # a copy
        return y

    @single_image_as_batch
    def backward(self, dy):
        N, C, H, W = self._in_shape
        s = self.scale_factor
        check_same_shape(self, dy, (N, C, H * s, W * s))
        dx = dy.reshape(N, C, H, s, W, s).sum(axis=(3, 5))                   # (N, C, H, W)
        return dx


class Upsampling(Module):
    """Nearest-neighbour upsampling by scale_factor, then Conv2d (a checkerboard-free transposed conv)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, scale_factor=2, padding=None,
                 bias=True, rng=None):
        if padding is None:
            padding = kernel_size // 2
        self.upsample = UpsamplingNearest2d(scale_factor)
        self.conv = Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=bias, rng=rng)

    def forward(self, x):
        return self.conv.forward(self.upsample.forward(x))

    def backward(self, dy):
        return self.upsample.backward(self.conv.backward(dy))
