"""The N3 block for sets: every item is a candidate neighbour of every other item.

Shape legend: B batch (sets), M items per set, F features of an item, F_e embedding features,
k neighbours.  As the paper uses it for correspondence classification, the embedding is an MLP.

    E    = f_E(X)                         Linear(F -> hidden) + ReLU + Linear(hidden -> F_e)  (B, M, F_e)
    logT = f_T(X)                         Linear(F -> hidden) + ReLU + Linear(hidden -> 1)    (B, M, 1)
    D_qm = ||e_q - e_m||^2, D_qq = +inf   the item itself is not its own candidate            (B, M, M)
    t_q  = 0.1 exp(logT_q)
    Z    = continuous KNN of X with D, t  (Eqs. 8-11)                                          (B, M, k, F)
    out  = [X, Z^1 - X, ..., Z^k - X]     concatenated along the features                     (B, M, F (k+1))
"""
from layers import Linear, ReLU
from layers.checks import check_float, check_same_shape
from minigrad.backend import get_array_module
from minigrad.module import Module, Sequential

from .knn import NeuralNearestNeighbors, squared_distances, squared_distances_backward


def mlp(in_features, hidden, out_features):
    return Sequential(Linear(in_features, hidden), ReLU(), Linear(hidden, out_features))


class N3SetBlock(Module):
    """N3SetBlock(in_features, k=7, embedding_features=None, hidden=64): (B, M, F) -> (B, M, F (k+1))."""

    def __init__(self, in_features, k=7, embedding_features=None, hidden=64, variant="paper"):
        self.in_features, self.k = in_features, k
        self.out_features = in_features * (k + 1)
        self.embedding = mlp(in_features, hidden, embedding_features or in_features)
        self.temperature = mlp(in_features, hidden, 1)
        self.knn = NeuralNearestNeighbors(k, variant)

    def extra_repr(self):
        return f"{self.in_features}, k={self.k}"

    def forward(self, X):
        check_float(self, X)
        if X.ndim != 3 or X.shape[2] != self.in_features:
            raise ValueError(f"N3SetBlock expects sets of shape (B, M, {self.in_features}), got {tuple(X.shape)}")
        xp = get_array_module(X)
        B, M, F = X.shape
        if M <= self.k:
            raise ValueError(f"N3SetBlock with k={self.k} needs sets of more than {self.k} items, got {M}")
        E = self.embedding.forward(X)                                   # (B, M, F_e)
        t = 0.1 * xp.exp(self.temperature.forward(X)[..., 0])           # (B, M)
        D = xp.where(xp.eye(M, dtype=bool), xp.inf, squared_distances(E, E))   # (B, M, M); not itself
        Z = self.knn.forward(X, D, t)                                   # (B, M, k, F)
        self._E, self._t = E, t
        out = xp.concatenate([X[:, :, None], Z - X[:, :, None]], axis=2)   # (B, M, k+1, F)
        return out.reshape(B, M, self.out_features)

    def backward(self, dout):
        B, M, _ = self._E.shape
        F, k = self.in_features, self.k
        check_same_shape(self, dout, (B, M, self.out_features))
        dout = dout.reshape(B, M, k + 1, F)
        dZ = dout[:, :, 1:]                                             # (B, M, k, F)
        dX = dout[:, :, 0] - dZ.sum(axis=2)                             # (B, M, F)
        dX_knn, dD, dt = self.knn.backward(dZ)
        dX = dX + dX_knn
        dE_query, dE_item = squared_distances_backward(dD, self._E, self._E)   # E plays both roles
        dE = dE_query + dE_item                                         # (B, M, F_e)
        dlogT = (dt * self._t)[..., None]                               # (B, M, 1)
        return dX + self.embedding.backward(dE) + self.temperature.backward(dlogT)
