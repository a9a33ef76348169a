"""Continuous k-nearest-neighbour selection (Plötz and Roth 2018, Eqs. 8-11), forward and backward.

Shape legend: B batch, N queries, M database items (candidates), F features, k neighbours.

    x (B, M, F) database items, D (B, N, M) distances query -> item, t (B, N) temperatures > 0.

Paper form (variant="paper", the default; converges to hard KNN as t -> 0):

    alpha^1   = -D
    w^j       = softmax(alpha^j / t)      over the M items: Eq. 8 (j = 1), Eq. 10 (j > 1)
    alpha^j+1 = alpha^j + log(1 - w^j)    an item already taken is pushed away (Eq. 9)
    Z^j       = sum_i w^j_i x_i           the j-th continuous neighbour (Eq. 11)

(The N3 block passes batch-normalised distances, so that its alpha^1 = BN(-D): distance_bn.py.)

Released-code form (variant="reference"): logits l^1 = -D / t, w^j = softmax(l^j),
l^j+1 = l^j + log(1 - w^j): the penalty is added after dividing by t, so it does not become
hard KNN as t -> 0.

Backward (paper form), with G^j = dL/dZ^j and gamma = dL/dalpha^j+1 (docs/n3_backward.md):

    dL/dx_i = sum_j w^j_i G^j
    for j = k..1:
        a_i    = <G^j, x_i>                                  direct gradient wrt w^j_i
        v_i    = w^j_i a_i - gamma_i w^j_i / (1 - w^j_i)     dL/d(log w^j_i)
        s_i    = v_i - w^j_i sum_i' v_i'                     dL/d(logit_i), log-softmax backward
        dL/dt += -sum_i s_i alpha^j_i / t^2
        gamma += s / t
    dL/dD = -gamma

An infinite distance means "not a candidate": its weight is exactly 0 and its gradient exactly
0 (0 * inf is taken as 0 throughout).  A weight that rounds to exactly 1 makes log(1 - w) = -inf,
which removes that item from the later steps just as cleanly.
"""
import numpy as np

from minigrad.backend import get_array_module
from minigrad.module import Module

VARIANTS = ("paper", "reference")


def log_softmax(logits):
    """Stable log-softmax over the last axis; entries of -inf stay -inf (weight 0)."""
    xp = get_array_module(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def log1m_exp(log_w, w=None):
    """log(1 - w) from log w (and w = exp(log w), if the caller has it): log1p(-w) where w < 0.5,
    log(-expm1(log w)) for the few entries at or above 0.5 (accurate near 1; w = 1 gives -inf)."""
    xp = get_array_module(log_w)
    w = xp.exp(log_w) if w is None else w
    out = xp.log1p(-xp.minimum(w, 0.5))            # entries >= 0.5 are replaced below
    near_one = w >= 0.5
    if near_one.any():
        with np.errstate(divide="ignore"):         # w == 1 exactly: log(0) = -inf, which is wanted
            out[near_one] = xp.log(-xp.expm1(log_w[near_one]))
    return out


def _finite(a):
    """a with -inf replaced by the most negative float, so that 0 * a is 0, not NaN."""
    xp = get_array_module(a)
    return xp.maximum(a, np.finfo(a.dtype).min)


def check_knn_inputs(x, D, t, k, values=True):
    """Shapes always; with values=True also the values (every t positive, at least k finite
    distances per query, no NaN), which on a GPU costs three synchronisations: a caller that
    guarantees them (the N3 block, which checks its embedding once per call) passes False."""
    if x.ndim != 3 or D.ndim != 3 or t.ndim != 2:
        raise ValueError(f"continuous KNN expects x (B, M, F), D (B, N, M), t (B, N); got x "
                         f"{tuple(x.shape)}, D {tuple(D.shape)}, t {tuple(t.shape)}")
    B, M, _ = x.shape
    if D.shape[0] != B or D.shape[2] != M or t.shape != D.shape[:2]:
        raise ValueError(f"continuous KNN: shapes do not agree: x {tuple(x.shape)} (B, M, F), "
                         f"D {tuple(D.shape)} (B, N, M), t {tuple(t.shape)} (B, N)")
    if not values:
        return
    xp = get_array_module(D)
    if not bool((t > 0).all()):
        raise ValueError("continuous KNN: every temperature t must be positive")
    candidates = int(xp.isfinite(D).sum(axis=-1).min()) if D.size else M
    if candidates < k:
        raise ValueError(f"continuous KNN with k={k} needs at least {k} finite distances per query; "
                         f"some query has only {candidates}")
    if bool(xp.isnan(D).any()):
        raise ValueError("continuous KNN: the distances D contain NaN")


def knn_weights(D, t, k, variant="paper"):
    """The k weight vectors of every query: W (B, N, k, M), and what backward needs besides.

    Returns (W, alphas) where, for the paper form, alphas[j] is alpha^j+1's predecessor alpha^j
    (B, N, M), needed for dL/dt; the reference form needs none (an empty list).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: use 'paper' or 'reference'")
    xp = get_array_module(D)
    t = t[..., None]                                                  # (B, N, 1)
    alpha = -D if variant == "paper" else -D / t                      # (B, N, M)
    weights, alphas = [], []
    for _ in range(k):
        log_w = log_softmax(alpha / t if variant == "paper" else alpha)   # (B, N, M)
        weights.append(xp.exp(log_w))
        if variant == "paper":
            alphas.append(alpha)
        alpha = alpha + log1m_exp(log_w, weights[-1])
    return xp.stack(weights, axis=2), alphas                          # (B, N, k, M)


def knn_weights_backward(dW, W, alphas, D, t, variant="paper"):
    """Gradients wrt D (B, N, M) and t (B, N) from dL/dW (B, N, k, M), by the recurrence above."""
    xp = get_array_module(dW)
    k = W.shape[2]
    t1 = t[..., None]                                                 # (B, N, 1)
    gamma = xp.zeros_like(D)                                          # dL/dalpha^j+1
    dt = xp.zeros_like(t)
    tiny = np.finfo(W.dtype).tiny
    for j in reversed(range(k)):
        w, a = W[:, :, j], dW[:, :, j]                                # (B, N, M)
        # w / (1 - w) is finite even where w == 1: there gamma == 0 exactly, and 0 * it is 0
        v = w * a - gamma * (w / xp.maximum(1 - w, tiny))             # dL/dlog w^j
        s = v - w * v.sum(axis=-1, keepdims=True)                     # dL/dlogit^j
        if variant == "paper":
            dt -= (s * _finite(alphas[j])).sum(axis=-1) / (t * t)
            gamma = gamma + s / t1
        else:
            gamma = gamma + s
    if variant == "paper":
        return -gamma, dt
    # reference: l^1 = -D / t, so dD = -gamma / t and dt = sum gamma D / t^2
    dt = -(gamma * _finite(-D)).sum(axis=-1) / (t * t)
    return -gamma / t1, dt


def squared_distances(Q, X):
    """D[b, n, m] = ||Q[b, n] - X[b, m]||^2 as |q|^2 + |x|^2 - 2 <q, x>: Q (B, N, F), X (B, M, F)."""
    xp = get_array_module(Q)
    return ((Q * Q).sum(-1)[:, :, None] + (X * X).sum(-1)[:, None, :]
            - 2 * xp.matmul(Q, X.transpose(0, 2, 1)))                 # (B, N, M)


def squared_distances_backward(dD, Q, X):
    """(dQ, dX) from dL/dD: dQ = 2 (rowsum(dD) Q - dD X), dX = 2 (colsum(dD) X - dD^T Q).

    Entries with dD = 0 (infinite distances) contribute nothing."""
    xp = get_array_module(dD)
    dQ = 2 * (dD.sum(-1)[:, :, None] * Q - xp.matmul(dD, X))            # (B, N, F)
    dX = 2 * (dD.sum(-2)[:, :, None] * X - xp.matmul(dD.transpose(0, 2, 1), Q))   # (B, M, F)
    return dQ, dX


def aggregate(W, x):
    """The k neighbour volumes Z = W x: W (B, N, k, M), x (B, M, F) -> Z (B, N, k, F)."""
    B, N, k, M = W.shape
    Z = get_array_module(x).matmul(W.reshape(B, N * k, M), x)          # (B, N*k, F)
    return Z.reshape(B, N, k, x.shape[2])


def aggregate_backward_x(W, dZ):
    """dL/dx = sum over queries and neighbours of w dZ: (B, M, F)."""
    B, N, k, M = W.shape
    return get_array_module(dZ).matmul(W.reshape(B, N * k, M).transpose(0, 2, 1),
                                       dZ.reshape(B, N * k, -1))       # (B, M, F)


class NeuralNearestNeighbors(Module):
    """The continuous KNN as a module: forward(x, D, t) -> Z (B, N, k, F); backward -> (dx, dD, dt).

    Keeps the weights W (B, N, k, M) of the last forward as `self.weights` for inspection.
    """

    def __init__(self, k, variant="paper"):
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}: use 'paper' or 'reference'")
        self.k, self.variant = k, variant

    def extra_repr(self):
        return f"k={self.k}, variant={self.variant!r}"

    def forward(self, x, D, t, check_values=True):
        check_knn_inputs(x, D, t, self.k, check_values)
        self.weights, self._alphas = knn_weights(D, t, self.k, self.variant)   # (B, N, k, M)
        self._x, self._D, self._t = x, D, t
        return aggregate(self.weights, x)                                     # (B, N, k, F)

    def backward(self, dZ):
        xp = get_array_module(dZ)
        B, N, M = self._D.shape
        dZ = dZ.reshape(B, N * self.k, -1)             # (B, N*k, F): one copy, if dZ is a view
        dx = aggregate_backward_x(self.weights, dZ)                           # (B, M, F)
        dW = xp.matmul(dZ, self._x.transpose(0, 2, 1)).reshape(B, N, self.k, M)  # (B, N, k, M)
        dD, dt = knn_weights_backward(dW, self.weights, self._alphas, self._D, self._t, self.variant)
        return dx, dD, dt


def hard_knn_weights(D, k):
    """One-hot weights (B, N, k, M) of the k nearest items in order: the t -> 0 limit."""
    xp = get_array_module(D)
    nearest = xp.argsort(D, axis=-1)[..., :k]                          # (B, N, k)
    return (xp.arange(D.shape[-1]) == nearest[..., None]).astype(D.dtype)


class HardKNN(Module):
    """Hard k-nearest-neighbour selection (the paper's KNN-block baseline).

    forward(x, D) -> Z (B, N, k, F); backward(dZ) -> (dx, dD) with dD = 0: the choice of the
    neighbours is piecewise constant in D, so no gradient flows to the distances.
    """

    def __init__(self, k):
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.k = k

    def forward(self, x, D):
        self.weights = hard_knn_weights(D, self.k)                     # (B, N, k, M)
        return aggregate(self.weights, x)                              # (B, N, k, F)

    def backward(self, dZ):
        B, N, _, M = self.weights.shape
        dx = aggregate_backward_x(self.weights, dZ)                    # (B, M, F)
        return dx, get_array_module(dZ).zeros((B, N, M), dZ.dtype)     # dD: no gradient
