"""Conv2d: 2-D convolution (cross-correlation, as in PyTorch) by unfold + matrix product.

Shape legend
    N batch, C in_channels, O out_channels, H x W input, kH x kW kernel,
    oH x oW output, L = oH * oW, K = C * kH * kW.

Forward:   cols = unfold(x)            (N, K, L)
           y    = W2 @ cols + b        (N, O, L),  W2 = weight.reshape(O, K)
Backward:  dW2 += sum_n dy_n @ cols_n^T        (O, K)
           db  += sum over n, L of dy          (O,)
           dx   = fold(W2^T @ dy)              (N, C, H, W)
"""
import math

import numpy as np

from minigrad import init
from minigrad.backend import get_array_module
from minigrad.fold import _pair, conv_output_size, fold, unfold
from minigrad.module import Module, Parameter

from ._checks import as_batch, check_same_shape


class Conv2d(Module):
    """2-D convolution with PyTorch's arguments, weight layout (O, C, kH, kW) and initialisation.

    Caches the unfolded input (N, K, L) for the weight gradient.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True, rng=None, dtype=np.float32):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding = _pair(stride, "stride"), _pair(padding, "padding")
        self.dilation = _pair(dilation, "dilation")
        shape = (out_channels, in_channels) + self.kernel_size
        # PyTorch's default: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(K), 1/sqrt(K)), same for the bias.
        self.weight = Parameter(init.kaiming_uniform(shape, a=math.sqrt(5), rng=rng, dtype=dtype))
        if bias:
            bound = 1 / math.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
            self.bias = Parameter(init.uniform((out_channels,), -bound, bound, rng, dtype))
        else:
            self.bias = None

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"bias={self.bias is not None}")

    def _geometry(self):
        return dict(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                    dilation=self.dilation)

    def forward(self, x):
        x, self._single = as_batch(self, x, self.in_channels, self.weight.data.dtype)
        xp = get_array_module(x)
        N, C, H, W = x.shape
        oH, oW = conv_output_size((H, W), **self._geometry())
        if oH < 1 or oW < 1:
            raise ValueError(f"Conv2d: input of size {H}x{W} is too small for kernel {self.kernel_size} "
                             f"with padding {self.padding} and dilation {self.dilation}")
        self._x_size, self._out_shape = (H, W), (N, self.out_channels, oH, oW)
        self._cols = unfold(x, **self._geometry())                     # (N, K, L)
        W2 = self.weight.data.reshape(self.out_channels, -1)            # (O, K)
        y = xp.matmul(W2, self._cols)                                   # (N, O, L)
        if self.bias is not None:
            y += self.bias.data[:, None]
        y = y.reshape(self._out_shape)                                  # (N, O, oH, oW)
        return y[0] if self._single else y

    def backward(self, dy):
        xp = get_array_module(dy)
        if self._single:
            dy = dy[None]
        check_same_shape(self, dy, self._out_shape)
        N, O = self._out_shape[:2]
        dy = dy.reshape(N, O, -1)                                       # (N, O, L)
        W2 = self.weight.data.reshape(O, -1)                            # (O, K)
        dW2 = xp.matmul(dy, self._cols.transpose(0, 2, 1)).sum(axis=0)  # (O, K)
        self.weight.grad += dW2.reshape(self.weight.data.shape)
        if self.bias is not None:
            self.bias.grad += dy.sum(axis=(0, 2))
        dcols = xp.matmul(W2.T, dy)                                     # (N, K, L)
        dx = fold(dcols, self._x_size, **self._geometry())              # (N, C, H, W)
        return dx[0] if self._single else dx
