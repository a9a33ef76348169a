"""BatchNorm2d: per-channel normalisation over the batch and the image (Ioffe and Szegedy, 2015).

Shape legend: N batch, C channels, H x W image, n = N * H * W values per channel.

Training:  mu = mean(x), var = mean((x - mu)^2)      per channel, over (N, H, W)
           x_hat = (x - mu) / sqrt(var + eps),  y = gamma * x_hat + beta
           running_mean <- (1 - momentum) running_mean + momentum mu
           running_var  <- (1 - momentum) running_var  + momentum var * n / (n - 1)
Backward (training), in one expression:
           dx = gamma / sqrt(var + eps) * (dy - mean(dy) - x_hat * mean(dy * x_hat))
Evaluation uses the running statistics, so y is affine in x and dx = gamma / sqrt(rv + eps) * dy.
The statistics and the backward are those of layers/batch_statistics.py (shared with the N3
block's distance batch-norm).
"""
import numpy as np

from minigrad.backend import get_array_module
from minigrad.grad_mode import grad_enabled
from minigrad.module import Module, Parameter

from .batch_statistics import batch_moments, batch_norm_backward
from .checks import check_images, check_same_shape, single_image_as_batch

AXES = (0, 2, 3)   # the axes every per-channel statistic reduces over


class BatchNorm2d(Module):
    """PyTorch's BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True).

    Caches x_hat and inv_std.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, dtype=np.float32):
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype))
            self.bias = Parameter(np.zeros(num_features, dtype))
        else:
            self.weight = self.bias = None
        self.register_buffer("running_mean", np.zeros(num_features, dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype))

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

    def _per_channel(self, v):
        return v.reshape(1, -1, 1, 1)                                 # (C,) -> (1, C, 1, 1)

    @single_image_as_batch
    def forward(self, x):
        check_images(self, x, self.num_features, self.running_mean.dtype)
        xp = get_array_module(x)
        N, C, H, W = x.shape
        n = N * H * W
        gamma = xp.ones(C, x.dtype) if self.weight is None else self.weight.data     # (C,)
        beta = xp.zeros(C, x.dtype) if self.weight is None else self.bias.data     # (C,)
        if self.training:
            if n < 2:
                raise ValueError(f"BatchNorm2d in training mode needs more than one value per channel, "
                                 f"got input of shape {tuple(x.shape)}")
            mean, var, _, (x_hat,) = batch_moments([x], AXES)         # (C,), (C,) biased, x - mean
            self._inv_std = 1 / xp.sqrt(var + self.eps)               # (C,)
            x_hat *= self._per_channel(self._inv_std)                 # now normalised
            m = self.momentum
            self.running_mean[...] = (1 - m) * self.running_mean + m * mean
            self.running_var[...] = (1 - m) * self.running_var + m * var * (n / (n - 1))
            y = x_hat * self._per_channel(gamma)
            y += self._per_channel(beta)
            self._x_hat = x_hat if grad_enabled() else None
        else:
            self._inv_std = 1 / xp.sqrt(self.running_var + self.eps)
            # y = x scale + shift: two passes; x_hat is computed only when backward will need it
            scale = gamma * self._inv_std
            y = x * self._per_channel(scale)
            y += self._per_channel(beta - self.running_mean * scale)
            self._x_hat = ((x - self._per_channel(self.running_mean)) * self._per_channel(self._inv_std)
                           if grad_enabled() else None)
        self._shape = x.shape
        self._training = self.training          # the backward follows the mode this forward ran in
        return y

    @single_image_as_batch
    def backward(self, dy):
        check_same_shape(self, dy, self._shape)
        gamma = 1 if self.weight is None else self.weight.data
        scale = gamma * self._inv_std                                  # (C,)
        x_hat = self._saved("_x_hat")
        n = dy.size // dy.shape[1]
        (dx,), dgamma, dbeta = batch_norm_backward([dy], [x_hat], scale, n, AXES, self._training)
        if self.weight is not None:
            self.weight.grad += dgamma
            self.bias.grad += dbeta
        return dx

