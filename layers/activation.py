"""Elementwise activations: ReLU, LeakyReLU, Sigmoid, Tanh (any input shape).

Each caches the cheapest thing its derivative needs:
    ReLU       y = max(x, 0)                 dx = dy * [x > 0]          caches the mask
    LeakyReLU  y = x if x > 0 else a x        dx = dy * (1 or a)         caches the mask
    Sigmoid    y = 1 / (1 + exp(-x))          dx = dy * y (1 - y)        caches y
    Tanh       y = tanh(x)                    dx = dy * (1 - y^2)        caches y
"""
from minigrad.backend import get_array_module
from minigrad.module import Module

from ._checks import check_float, check_same_shape


class ReLU(Module):
    def forward(self, x):
        check_float(self, x)
        self._mask = x > 0
        return x * self._mask

    def backward(self, dy):
        check_same_shape(self, dy, self._mask.shape)
        return dy * self._mask


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        self.negative_slope = negative_slope

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"

    def forward(self, x):
        check_float(self, x)
        xp = get_array_module(x)
        self._mask = x > 0
        return xp.where(self._mask, x, x * self.negative_slope)

    def backward(self, dy):
        check_same_shape(self, dy, self._mask.shape)
        xp = get_array_module(dy)
        return xp.where(self._mask, dy, dy * self.negative_slope)


class Sigmoid(Module):
    def forward(self, x):
        check_float(self, x)
        xp = get_array_module(x)
        # Two branches so that exp never overflows: for x < 0, 1/(1+e^-x) = e^x/(1+e^x).
        e = xp.exp(-xp.abs(x))
        self._y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self._y

    def backward(self, dy):
        check_same_shape(self, dy, self._y.shape)
        return dy * self._y * (1 - self._y)


class Tanh(Module):
    def forward(self, x):
        check_float(self, x)
        self._y = get_array_module(x).tanh(x)
        return self._y

    def backward(self, dy):
        check_same_shape(self, dy, self._y.shape)
        return dy * (1 - self._y * self._y)
