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

In code: paper_weights and paper_weights_backward, reference_weights and
reference_weights_backward (one function per form and direction, sharing the step
softmax_step_backward); ContinuousSelection and HardSelection select and aggregate without
keeping anything (forward(x, D, t) -> (Z, cache), backward(dZ, cache) -> (dx, dD, dt); the
N3 block keeps the caches); NeuralNearestNeighbors and HardKNN are the same as modules.

An infinite distance means "not a candidate": its weight is exactly 0 and its gradient exactly
0 (0 * inf is taken as 0 throughout).  A weight that rounds to exactly 1 makes log(1 - w) = -inf,
which removes that item from the later steps just as cleanly.
"""
from typing import NamedTuple

import numpy as np

from minigrad.backend import get_array_module
from minigrad.module import Module


def log_softmax(logits):
    """Stable log-softmax over the last axis; entries of -inf stay -inf (weight 0).

    A weight below the dtype's smallest normal number (log w < log 2^-126, about -87.3, in
    float32) is taken as exactly 0 (log w = -inf): it would be subnormal, and a selective block
    (a low temperature: first logits spread over more than 87) has many of them, which turn the
    aggregation products W x and W^T dZ into the CPU's microcode, 35 times slower (minigrad/
    subnormal.py; docs/performance.md).  Such a weight changes no sum it enters by more than
    1e-38, and the entry behaves as a non-candidate of this step only (alpha is unchanged)."""
    xp = get_array_module(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_w = shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))
    log_tiny = float(np.log(np.finfo(logits.dtype).tiny))
    return xp.where(log_w >= log_tiny, log_w, -xp.inf)


def log1m_exp(log_w, w=None):
    """log(1 - w) from log w (and w = exp(log w), if the caller has it): log1p(-w) where w < 0.5,
    log(-expm1(log w)) for the few entries at or above 0.5 (accurate near 1); w = 1 gives -inf."""
    xp = get_array_module(log_w)
    w = xp.exp(log_w) if w is None else w
    out = xp.log1p(-xp.minimum(w, 0.5))            # entries >= 0.5 are replaced below
    near_one = w >= 0.5
    tiny = np.finfo(log_w.dtype).tiny
    if xp is np:
        # on the CPU only the few entries at or above 0.5 take the second branch
        if near_one.any():
            one_minus_w = -np.expm1(log_w[near_one])   # >= 0; exactly 0 where w rounds to 1
            out[near_one] = np.where(one_minus_w > 0, np.log(np.maximum(one_minus_w, tiny)), -np.inf)
        return out
    # on a device, every entry, without asking the host whether any is near 1 (a synchronisation
    # per call) or how many (boolean indexing): the tile loop never waits for the GPU
    one_minus_w = -xp.expm1(xp.minimum(log_w, 0))
    accurate = xp.where(one_minus_w > 0, xp.log(xp.maximum(one_minus_w, tiny)), -xp.inf)
    return xp.where(near_one, accurate, out)


def _finite(a):
    """a with its infinite entries (the non-candidates, whose gradients are exactly 0) set to 0,
    so that 0 * a is 0, not NaN."""
    xp = get_array_module(a)
    return xp.where(xp.isfinite(a), a, 0)


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


# ---- the two relaxations: the k weight vectors of every query, and their backward ----------------
def paper_weights(D, t, k):
    """Eqs. 8-10: W (B, N, k, M) and the alphas alpha^1..alpha^k (each (B, N, M)) that dL/dt needs.

        alpha^1   = -D
        w^j       = softmax(alpha^j / t)
        alpha^j+1 = alpha^j + log(1 - w^j)
    """
    xp = get_array_module(D)
    t = t[..., None]                                                  # (B, N, 1)
    alpha = -D                                                        # alpha^1 (B, N, M)
    weights, alphas = [], []
    for _ in range(k):
        log_w = log_softmax(alpha / t)                                # log w^j
        weights.append(xp.exp(log_w))
        alphas.append(alpha)
        alpha = alpha + log1m_exp(log_w, weights[-1])                 # alpha^j+1
    return xp.stack(weights, axis=2), alphas                          # (B, N, k, M)


def paper_weights_backward(dW, W, alphas, t):
    """(dD (B, N, M), dt (B, N)) from dW = dL/dW (B, N, k, M), walking the steps backwards
    (docs/n3_backward.md, section 4) with gamma = dL/dalpha^j+1:

        s       = dL/d(alpha^j / t)        (softmax_step_backward)
        dL/dt  += -sum_m s_m alpha^j_m / t^2
        gamma  += s / t                    now dL/dalpha^j
        dL/dD   = -gamma                   after the first step, as alpha^1 = -D
    """
    xp = get_array_module(dW)
    t1 = t[..., None]                                                 # (B, N, 1)
    gamma = xp.zeros_like(alphas[0])                                  # dL/dalpha^k+1 = 0
    dt = xp.zeros_like(t)
    for j in reversed(range(W.shape[2])):
        s = softmax_step_backward(W[:, :, j], dW[:, :, j], gamma)     # (B, N, M)
        dt -= (s * _finite(alphas[j])).sum(axis=-1) / (t * t)
        gamma = gamma + s / t1
    return -gamma, dt


def reference_weights(D, t, k):
    """The released code's form: W (B, N, k, M), and no alphas (an empty list).

        l^1   = -D / t
        w^j   = softmax(l^j)
        l^j+1 = l^j + log(1 - w^j)          (the penalty is not divided by t)
    """
    xp = get_array_module(D)
    logits = -D / t[..., None]                                        # l^1 (B, N, M)
    weights = []
    for _ in range(k):
        log_w = log_softmax(logits)                                   # log w^j
        weights.append(xp.exp(log_w))
        logits = logits + log1m_exp(log_w, weights[-1])               # l^j+1
    return xp.stack(weights, axis=2), []                              # (B, N, k, M)


def reference_weights_backward(dW, W, D, t):
    """(dD (B, N, M), dt (B, N)) from dW (B, N, k, M), with gamma = dL/dl^j+1:

        gamma  += softmax_step_backward(w^j, dW^j, gamma)    now dL/dl^j
        dL/dD   = -gamma / t,   dL/dt = sum_m gamma_m D_m / t^2       as l^1 = -D / t
    """
    xp = get_array_module(dW)
    gamma = xp.zeros_like(D)                                          # dL/dl^k+1 = 0
    for j in reversed(range(W.shape[2])):
        gamma = gamma + softmax_step_backward(W[:, :, j], dW[:, :, j], gamma)
    return -gamma / t[..., None], (gamma * _finite(D)).sum(axis=-1) / (t * t)


def softmax_step_backward(w, dw, gamma):
    """dL/dl of one step w = softmax(l), l_next = l + log(1 - w) (B, N, M), from the direct
    gradient dw = dL/dw and gamma = dL/dl_next (docs/n3_backward.md, section 4 (b)-(d)):

        v = w dw - gamma w / (1 - w)        dL/dlog w
        s = v - w sum_m v_m                 through the log-softmax
    """
    xp = get_array_module(w)
    # w / (1 - w) is finite even where w == 1: there gamma == 0 exactly, and 0 * it is 0
    v = w * dw - gamma * (w / xp.maximum(1 - w, np.finfo(w.dtype).tiny))
    return v - w * v.sum(axis=-1, keepdims=True)


RELAXATIONS = {"paper": paper_weights, "reference": reference_weights}


def knn_weights(D, t, k, variant="paper"):
    """The k weight vectors of every query by the given relaxation: (W (B, N, k, M), alphas)."""
    if variant not in RELAXATIONS:
        raise ValueError(f"unknown variant {variant!r}: use 'paper' or 'reference'")
    return RELAXATIONS[variant](D, t, k)


def knn_weights_backward(dW, W, alphas, D, t, variant="paper"):
    """Gradients wrt D (B, N, M) and t (B, N) from dL/dW (B, N, k, M) by the given relaxation."""
    if variant == "paper":
        return paper_weights_backward(dW, W, alphas, t)
    return reference_weights_backward(dW, W, D, t)


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
    """The k neighbour volumes Z = W x: W (B, N, k, M), x (B, M, F) -> Z (B, N, k, F).

    Z is a view of a (B, k, F, N) array, the layout in which the N3 block folds the neighbours
    back into images (n3block.fold_tile): per batch item and neighbour, Z^j^T = x^T W^j^T, so no
    transposing copy is ever made (the products read the transposed views, as BLAS can)."""
    Zt = get_array_module(x).matmul(x.transpose(0, 2, 1)[:, None], W.transpose(0, 2, 3, 1))   # (B, k, F, N)
    return Zt.transpose(0, 3, 1, 2)                                    # (B, N, k, F) view


def aggregate_backward_x(W, dZ):
    """dL/dx = sum over queries and neighbours of w dZ: (B, M, F), a view of a (B, F, M) array;
    dZ (B, N, k, F) is read as (B, k, F, N) (aggregate's layout: no copy when it is stored so)."""
    xp = get_array_module(dZ)
    dZt = dZ.transpose(0, 2, 3, 1)                                     # (B, k, F, N)
    dxt = xp.matmul(dZt[:, 0], W[:, :, 0])                             # (B, F, M)
    partial = xp.empty_like(dxt)
    for j in range(1, W.shape[2]):
        dxt += xp.matmul(dZt[:, j], W[:, :, j], out=partial)
    return dxt.transpose(0, 2, 1)                                      # (B, M, F) view


def aggregate_backward_weights(dZ, x):
    """dL/dW (B, N, k, M) = dZ x^T per neighbour, a view of a (B, k, N, M) array."""
    dZt = dZ.transpose(0, 2, 3, 1)                                     # (B, k, F, N)
    dWt = get_array_module(dZ).matmul(dZt.transpose(0, 1, 3, 2), x.transpose(0, 2, 1)[:, None])  # (B, k, N, M)
    return dWt.transpose(0, 2, 1, 3)                                   # (B, N, k, M) view


# ---- the selections: forward(x, D, t) -> (Z, cache), backward(dZ, cache) -> (dx, dD, dt) --------------
class ContinuousSelection:
    """The continuous KNN (Eqs. 8-11) as a pure selection: it keeps nothing between calls, the
    caller keeps the cache.  cache.weights is W (B, N, k, M)."""

    class Cache(NamedTuple):
        x: object           # (B, M, F) the items
        weights: object     # (B, N, k, M)
        alphas: list        # paper form: alpha^1..alpha^k (B, N, M); reference form: []
        D: object           # (B, N, M)
        t: object           # (B, N)

    def __init__(self, k, variant="paper"):
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if variant not in RELAXATIONS:
            raise ValueError(f"unknown variant {variant!r}: use 'paper' or 'reference'")
        self.k, self.variant = k, variant

    def forward(self, x, D, t):
        W, alphas = RELAXATIONS[self.variant](D, t, self.k)              # (B, N, k, M)
        return aggregate(W, x), self.Cache(x, W, alphas, D, t)           # Z (B, N, k, F)

    def backward(self, dZ, cache):
        x, W = cache.x, cache.weights
        dx = aggregate_backward_x(W, dZ)                                     # (B, M, F)
        dW = aggregate_backward_weights(dZ, x)                               # (B, N, k, M)
        dD, dt = knn_weights_backward(dW, W, cache.alphas, cache.D, cache.t, self.variant)
        return dx, dD, dt


class HardSelection:
    """Hard k nearest neighbours with the same signature: t is ignored, and no gradient flows
    to D or t (dD = dt = None): the choice is piecewise constant in D."""

    class Cache(NamedTuple):
        weights: object     # (B, N, k, M) one-hot

    def __init__(self, k):
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.k = k

    def forward(self, x, D, t=None):
        W = hard_knn_weights(D, self.k)                                  # (B, N, k, M)
        return aggregate(W, x), self.Cache(W)                            # Z (B, N, k, F)

    def backward(self, dZ, cache):
        return aggregate_backward_x(cache.weights, dZ), None, None     # dx (B, M, F)


def hard_knn_weights(D, k):
    """One-hot weights (B, N, k, M) of the k nearest items in order: the t -> 0 limit."""
    xp = get_array_module(D)
    nearest = xp.argsort(D, axis=-1)[..., :k]                          # (B, N, k)
    return (xp.arange(D.shape[-1]) == nearest[..., None]).astype(D.dtype)


# ---- the same as modules (forward caches on self) ---------------------------------------------------
class NeuralNearestNeighbors(Module):
    """The continuous KNN as a module: forward(x, D, t) -> Z (B, N, k, F); backward -> (dx, dD, dt).

    Keeps the weights W (B, N, k, M) of the last forward as `self.weights` for inspection.
    """

    def __init__(self, k, variant="paper"):
        self.select = ContinuousSelection(k, variant)
        self.k, self.variant = k, variant

    def extra_repr(self):
        return f"k={self.k}, variant={self.variant!r}"

    def forward(self, x, D, t, check_values=True):
        check_knn_inputs(x, D, t, self.k, check_values)
        Z, self._cache = self.select.forward(x, D, t)                       # (B, N, k, F)
        self.weights = self._cache.weights                                  # (B, N, k, M)
        return Z

    def backward(self, dZ):
        return self.select.backward(dZ, self._saved("_cache"))             # dx, dD, dt


class HardKNN(Module):
    """Hard k-nearest-neighbour selection (the paper's KNN-block baseline).

    forward(x, D) -> Z (B, N, k, F); backward(dZ) -> (dx, dD) with dD = 0: the choice of the
    neighbours is piecewise constant in D, so no gradient flows to the distances.
    """

    def __init__(self, k):
        self.select = HardSelection(k)
        self.k = k

    def forward(self, x, D):
        Z, self._cache = self.select.forward(x, D)                         # (B, N, k, F)
        self.weights = self._cache.weights                                 # (B, N, k, M)
        return Z

    def backward(self, dZ):
        dx, _, _ = self.select.backward(dZ, self._saved("_cache"))
        B, N, _, M = self.weights.shape
        return dx, get_array_module(dZ).zeros((B, N, M), dZ.dtype)         # dD: no gradient
