"""Batch normalisation of the N3 block's distances (the released N3Net code; docs/n3net.md, section 4).

Shape legend: B batch, nq queries and nu candidates of one tile; one batch's distances may come
in several tiles D_1, D_2, ... (B, nq_i, nu_i), with +inf where a candidate is not in a query's
window.  n is the number of finite entries over all the tiles.

The block's first logits are alpha^1 = BN(-D) instead of -D (Eq. 8), where BN is a one-channel
batch norm over every finite entry of the batch (PyTorch's BatchNorm1d(1) on the B * queries *
candidates values of -D):

    a     = -D                                  the logits before normalisation
    mu    = mean(a),  var = mean((a - mu)^2)    over the n finite entries (biased variance)
    a_hat = (a - mu) / sqrt(var + eps)
    alpha = gamma a_hat + beta
    running_mean <- (1 - momentum) running_mean + momentum mu
    running_var  <- (1 - momentum) running_var  + momentum var n / (n - 1)

In evaluation mode mu and var are the running statistics.  This module returns the normalised
distances D_hat = -alpha, so that the continuous KNN (knn.py) takes them in place of D unchanged;
infinite distances are left out of the statistics and stay +inf.

Why it matters: the softmax of Eq. 8 is invariant to the shift (mu, beta), but not to the scale.
Squared distances between 800-dimensional embedded patches are O(100) at initialisation, so
-D / t would make the first weight vector one-hot (a hard KNN passing no gradient to D and t);
dividing by the batch's spread of D keeps the logits O(1) while training.

Backward (training), with dalpha = -dD_hat and sums over the n finite entries of all tiles:

    dbeta  = sum dalpha,   dgamma = sum dalpha a_hat
    da     = gamma / sqrt(var + eps) (dalpha - dbeta / n - a_hat dgamma / n)
    dD     = -da           (0 on the infinite entries)

In evaluation mode da = gamma / sqrt(running_var + eps) dalpha.  The statistics and this
backward are BatchNorm2d's (layers/batch_statistics.py), with the finite entries as the mask.
"""
import numpy as np

from layers.batch_statistics import batch_moments, batch_norm_backward
from minigrad.backend import get_array_module
from minigrad.grad_mode import grad_enabled
from minigrad.module import Module, Parameter


class DistanceBatchNorm(Module):
    """forward(D_1, D_2, ...) -> D_hat_1, D_hat_2, ... (one array for one tile); the statistics of
    a training batch are those of all the tiles' finite entries together.

    Parameters and buffers are named as PyTorch's BatchNorm1d(1): weight (gamma), bias (beta),
    running_mean and running_var (of -D), each of shape (1,).
    """

    def __init__(self, eps=1e-5, momentum=0.1, dtype=np.float32):
        self.eps, self.momentum = eps, momentum
        self.weight = Parameter(np.ones(1, dtype))
        self.bias = Parameter(np.zeros(1, dtype))
        self.register_buffer("running_mean", np.zeros(1, dtype))
        self.register_buffer("running_var", np.ones(1, dtype))

    def extra_repr(self):
        return f"eps={self.eps}, momentum={self.momentum}"

    @property
    def couples_tiles(self):
        """A training batch's statistics are those of all its tiles: the block computes them all first."""
        return self.training

    def _statistics(self, tiles, finite):
        """Mean and biased variance of a = -D over the finite entries of all tiles, and their count."""
        axes = tuple(range(tiles[0].ndim))                          # one statistic over everything
        mean, var, n, _ = batch_moments([-D for D in tiles], axes, finite)
        if n < 2:
            raise ValueError(f"DistanceBatchNorm in training mode needs at least two finite distances, got {n}")
        return mean, var, n

    def forward(self, *tiles):
        xp = get_array_module(tiles[0])
        finite = [xp.isfinite(D) for D in tiles]
        training, n = self.training, None
        if training:
            mean, var, n = self._statistics(tiles, finite)
            m = self.momentum
            self.running_mean[...] = (1 - m) * self.running_mean + m * mean
            self.running_var[...] = (1 - m) * self.running_var + m * var * (n / (n - 1))
        else:
            mean, var = self.running_mean[0], self.running_var[0]
        inv_std = 1 / xp.sqrt(var + self.eps)
        gamma, beta = self.weight.data[0], self.bias.data[0]
        a_hats, outputs = [], []
        for D, f in zip(tiles, finite):
            a_hat = xp.where(f, (-D - mean) * inv_std, 0)                   # 0 where D = +inf
            outputs.append(xp.where(f, -(gamma * a_hat + beta), xp.inf).astype(D.dtype, copy=False))
            a_hats.append(a_hat.astype(D.dtype, copy=False))
        # the backward follows the mode this forward ran in (batch or running statistics)
        self._cache = (a_hats, finite, inv_std, training, n) if grad_enabled() else None
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def backward(self, *dtiles):
        a_hats, finite, inv_std, training, n = self._saved("_cache")
        axes = tuple(range(dtiles[0].ndim))
        scale = self.weight.data[0] * inv_std
        # dalpha = -dD_hat; da (0 on the +inf entries) -> dD = -da
        das, dgamma, dbeta = batch_norm_backward([-dD for dD in dtiles], a_hats, scale, n, axes, training, finite)
        grads = [(-da).astype(dD.dtype, copy=False) for da, dD in zip(das, dtiles)]
        self.weight.grad += dgamma
        self.bias.grad += dbeta
        return grads[0] if len(grads) == 1 else tuple(grads)
