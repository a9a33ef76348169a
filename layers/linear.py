"""Linear: y = x W^T + b over the last axis (PyTorch's nn.Linear, weight (out, in)).

Shape legend: (..., I) input, (..., O) output, I in_features, O out_features.

    forward:  y = x @ W^T + b
    backward: dW += dy^T x (summed over all leading axes), db += sum dy, dx = dy @ W
"""
import math

import numpy as np

from minigrad import init
from minigrad.grad_mode import grad_enabled
from minigrad.module import Module, Parameter

from .checks import check_float, check_same_shape


class Linear(Module):
    """Caches the input (viewed as a matrix)."""

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float32):
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)   # PyTorch's default: U(-1/sqrt(I), 1/sqrt(I))
        self.weight = Parameter(init.uniform((out_features, in_features), -bound, bound, rng, dtype))
        self.bias = Parameter(init.uniform((out_features,), -bound, bound, rng, dtype)) if bias else None

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def forward(self, x):
        check_float(self, x, self.weight.data.dtype)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear expects input of shape (..., {self.in_features}), got {tuple(x.shape)}")
        x2 = x.reshape(-1, self.in_features)                            # (rows, I)
        self._x2 = x2 if grad_enabled() else None
        self._shape = x.shape
        y = x2 @ self.weight.data.T                                     # (rows, O)
        if self.bias is not None:
            y += self.bias.data
        return y.reshape(x.shape[:-1] + (self.out_features,))

    def backward(self, dy):
        x2 = self._saved("_x2")
        check_same_shape(self, dy, self._shape[:-1] + (self.out_features,))
        dy2 = dy.reshape(-1, self.out_features)                          # (rows, O)
        self.weight.grad += dy2.T @ x2                                   # (O, I)
        if self.bias is not None:
            self.bias.grad += dy2.sum(axis=0)
        return (dy2 @ self.weight.data).reshape(self._shape)             # (..., I)
