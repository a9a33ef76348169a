"""Losses: MSELoss and L1Loss, both the mean over every element (PyTorch's reduction="mean").

    loss = crit.forward(pred, target)    # a 0-d array
    dpred = crit.backward()              # dL/dpred for upstream gradient 1 (or backward(g))

    MSE:  L = mean((pred - target)^2)    dL/dpred = 2 (pred - target) / n
    L1:   L = mean(|pred - target|)      dL/dpred = sign(pred - target) / n
"""
from minigrad.backend import get_array_module
from minigrad.module import Module

from .checks import check_float


class _Loss(Module):
    def forward(self, pred, target):
        check_float(self, pred)
        check_float(self, target, pred.dtype)
        if tuple(pred.shape) != tuple(target.shape):
            raise ValueError(f"{type(self).__name__}: prediction has shape {tuple(pred.shape)} but "
                             f"target has shape {tuple(target.shape)}; they must match")
        self._diff = pred - target
        return self._value(self._diff)

    def backward(self, dloss=1.0):
        return self._gradient(self._diff) * (dloss / self._diff.size)


class MSELoss(_Loss):
    def _value(self, diff):
        return (diff * diff).mean()

    def _gradient(self, diff):
        return 2 * diff


class L1Loss(_Loss):
    def _value(self, diff):
        return get_array_module(diff).abs(diff).mean()

    def _gradient(self, diff):
        return get_array_module(diff).sign(diff)
