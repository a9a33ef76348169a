"""Elementwise activations: ReLU, LeakyReLU, Sigmoid, Tanh (any input shape).

Each caches the cheapest thing its derivative needs:
    ReLU       y = max(x, 0)                 dx = dy * [x > 0]          caches the mask [x > 0]
               (one byte per value: a quarter of y, which the next layer usually keeps as well)
    LeakyReLU  y = x if x > 0 else a x        dx = dy * (1 or a)         caches the slopes
    Sigmoid    y = 1 / (1 + exp(-x))          dx = dy * y (1 - y)        caches y
               computed as (1 + tanh(x / 2)) / 2, which never overflows
    Tanh       y = tanh(x)                    dx = dy * (1 - y^2)        caches y
"""
from minigrad.backend import get_array_module
from minigrad.grad_mode import grad_enabled
from minigrad.module import Module

from .checks import check_float, check_same_shape


class ReLU(Module):
    def forward(self, x):
        check_float(self, x)
        self._mask = x > 0 if grad_enabled() else None
        return get_array_module(x).maximum(x, 0)

    def backward(self, dy):
        mask = self._saved("_mask")
        check_same_shape(self, dy, mask.shape)
        return dy * mask


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        self.negative_slope = negative_slope

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"

    def forward(self, x):
        check_float(self, x)
        a = self.negative_slope
        slope = ((x > 0) * (1 - a) + a).astype(x.dtype, copy=False)   # 1 where x > 0, a elsewhere
        self._slope = slope if grad_enabled() else None
        return x * slope

    def backward(self, dy):
        slope = self._saved("_slope")
        check_same_shape(self, dy, slope.shape)
        return dy * slope


class Sigmoid(Module):
    def forward(self, x):
        check_float(self, x)
        y = get_array_module(x).tanh(x / 2)
        y += 1
        y /= 2
        self._y = y if grad_enabled() else None
        return y

    def backward(self, dy):
        y = self._saved("_y")
        check_same_shape(self, dy, y.shape)
        return dy * y * (1 - y)


class Tanh(Module):
    def forward(self, x):
        check_float(self, x)
        y = get_array_module(x).tanh(x)
        self._y = y if grad_enabled() else None
        return y

    def backward(self, dy):
        y = self._saved("_y")
        check_same_shape(self, dy, y.shape)
        return dy * (1 - y * y)
