"""Dropout (inverted): in training, zero each value with probability p and scale the rest by 1/(1-p).

In evaluation mode it is the identity.  Caches the scaled mask.  The mask is drawn
on the host from a seeded numpy Generator (CuPy's Generator has no `random` for all
dtypes on every version) and moved to the input's device.
"""
import numpy as np

from minigrad.backend import get_array_module
from minigrad.module import Module

from .checks import check_float, check_same_shape


class Dropout(Module):
    def __init__(self, p=0.5, rng=None):
        if not 0 <= p < 1:
            raise ValueError(f"Dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.rng = rng if rng is not None else np.random.default_rng()

    def extra_repr(self):
        return f"p={self.p}"

    def forward(self, x):
        check_float(self, x)
        if not self.training or self.p == 0:
            self._mask = None
            return x
        xp = get_array_module(x)
        keep = self.rng.random(x.shape) >= self.p
        self._mask = xp.asarray(keep.astype(x.dtype) / (1 - self.p))
        return x * self._mask

    def backward(self, dy):
        if self._mask is None:
            return dy
        check_same_shape(self, dy, self._mask.shape)
        return dy * self._mask
