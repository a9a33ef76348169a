"""Concat: join several tensors along the channel axis; backward splits the gradient again.

    y = concatenate([x_1, ..., x_n], axis=1)      (N, C_1 + ... + C_n, H, W)
    backward(dy) -> (dx_1, ..., dx_n), dx_i = dy[:, channels of x_i]
"""
from minigrad.backend import get_array_module
from minigrad.module import Module

from .checks import check_float, check_same_shape


class Concat(Module):
    def __init__(self, axis=1):
        self.axis = axis

    def forward(self, *xs):
        if not xs:
            raise ValueError("Concat needs at least one input")
        for x in xs:
            check_float(self, x, xs[0].dtype)
        shapes = [tuple(x.shape) for x in xs]
        rest = {s[:self.axis] + s[self.axis + 1:] for s in shapes}
        if len(rest) != 1:
            raise ValueError(f"Concat along axis {self.axis}: inputs must agree on every other axis, "
                             f"got shapes {shapes}")
        self._sizes = [s[self.axis] for s in shapes]
        y = get_array_module(xs[0]).concatenate(xs, axis=self.axis)
        self._shape = y.shape
        return y

    def backward(self, dy):
        check_same_shape(self, dy, self._shape)
        grads, start = [], 0
        index = [slice(None)] * dy.ndim
        for size in self._sizes:
            index[self.axis] = slice(start, start + size)
            grads.append(dy[tuple(index)])
            start += size
        return tuple(grads)
