"""Per-query normalisation of the N3 block's distances: the alternative to the distance batch-norm.

Shape legend: B batch, nq queries and nu candidates of one tile; +inf where a candidate is not
in a query's window.  n_q is the number of finite entries of query q (its candidates).

The distance batch-norm (distance_bn.py) divides every distance of a batch by one spread, that of
the whole batch, and in evaluation by a running estimate of it.  Here each query's distances are
standardised over its own candidates, as a layer norm over the candidate axis, before one learned
scale and shift:

    a       = -D                                        the logits before normalisation
    mu_q    = mean_m a_qm,  var_q = mean_m (a_qm - mu_q)^2    over the query's finite entries
    a_hat   = (a - mu_q) / sqrt(var_q + eps)
    alpha   = gamma a_hat + beta,   D_hat = -alpha     (+inf stays +inf)

So every query's first logits alpha / t have a spread of |gamma| / t whatever the scale of its
embedding: the temperature alone decides how peaked w^1 is, training and evaluation compute the
same thing (no running statistics), and a shrinking embedding cannot make a query uniform until
var_q falls to eps.  beta cancels in the softmax (its gradient is 0 up to round-off).

Backward, per query with dalpha = -dD_hat and means over its n_q finite entries:

    dbeta  = sum dalpha,   dgamma = sum dalpha a_hat              (over every entry)
    da     = gamma / sqrt(var_q + eps) (dalpha - mean_q dalpha - a_hat mean_q(dalpha a_hat))
    dD     = -da            (0 on the infinite entries)
"""
import numpy as np

from minigrad.backend import get_array_module
from minigrad.grad_mode import grad_enabled
from minigrad.module import Module, Parameter


class DistanceQueryNorm(Module):
    """forward(D_1, D_2, ...) -> D_hat_1, D_hat_2, ... (one array for one tile); each query on its
    own, so the tiles are independent.  Parameters weight (gamma) and bias (beta), shape (1,)."""

    couples_tiles = False        # the block may stream the tiles of an inference pass

    def __init__(self, eps=1e-5, dtype=np.float32):
        self.eps = eps
        self.weight = Parameter(np.ones(1, dtype))
        self.bias = Parameter(np.zeros(1, dtype))

    def extra_repr(self):
        return f"eps={self.eps}"

    def _normalise(self, D):
        """a_hat (B, nq, nu), 0 on the infinite entries; 1 / sqrt(var_q + eps) (B, nq, 1); finite mask."""
        xp = get_array_module(D)
        finite = xp.isfinite(D)
        n = finite.sum(axis=-1, keepdims=True)                           # (B, nq, 1) candidates
        a = xp.where(finite, -D, 0)
        centred = xp.where(finite, a - a.sum(axis=-1, keepdims=True) / n, 0)
        inv_std = 1 / xp.sqrt((centred * centred).sum(axis=-1, keepdims=True) / n + self.eps)
        return centred * inv_std, inv_std, finite

    def forward(self, *tiles):
        xp = get_array_module(tiles[0])
        gamma, beta = self.weight.data[0], self.bias.data[0]
        outputs, cache = [], []
        for D in tiles:
            a_hat, inv_std, finite = self._normalise(D)
            outputs.append(xp.where(finite, -(gamma * a_hat + beta), xp.inf).astype(D.dtype, copy=False))
            cache.append((a_hat, inv_std, finite))
        self._cache = cache if grad_enabled() else None
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def backward(self, *dtiles):
        cache = self._saved("_cache")
        xp = get_array_module(dtiles[0])
        gamma = self.weight.data[0]
        grads = []
        for dD, (a_hat, inv_std, finite) in zip(dtiles, cache):
            dalpha = xp.where(finite, -dD, 0)                            # (B, nq, nu), 0 on +inf
            n = finite.sum(axis=-1, keepdims=True)
            self.bias.grad += dalpha.sum()
            self.weight.grad += (dalpha * a_hat).sum()
            da = gamma * inv_std * (dalpha - dalpha.sum(axis=-1, keepdims=True) / n
                                    - a_hat * (dalpha * a_hat).sum(axis=-1, keepdims=True) / n)
            grads.append(xp.where(finite, -da, 0).astype(dD.dtype, copy=False))
        return grads[0] if len(grads) == 1 else tuple(grads)
