"""The N3 block by its definition, without tiles: documentation that runs (docs/n3net.md, section 3).

Shape legend: B batch, C channels of Y, H x W image, p patch size, s stride, w match window,
k neighbours, n1 x n2 the grid of patches, L = n1 n2 patches, F = C p p, F_e = C_e p p.

Every query patch is matched against every patch of the image, and the candidates outside its
w x w window (and the query itself) get the distance +inf, so weight and gradient 0.  That is
O(L^2) time and memory: fine for the small images of the tests, where the tiled N3Block
(n3block.py, linear in the image) is checked against it, forward and backward
(tests/n3net/test_reference.py).  It uses the block's own embedding and temperature CNNs,
distance normalisation and continuous KNN, and adds the parameter gradients as N3Block.backward does:

    out, cache = reference_forward(block, Y)      # Y (B, C, H, W) -> out (B, C (k + 1), H, W)
    dY = reference_backward(block, cache, dout)   # dout (B, C (k + 1), H, W) -> dY (B, C, H, W)
"""
import numpy as np

from minigrad.fold import fold, unfold

from .knn import NeuralNearestNeighbors, squared_distances, squared_distances_backward
from .n3block import TEMPERATURE_SCALE
from .patch_grid import pad_amounts, window_start


def window_mask(n1, n2, w):
    """(L, L) booleans: patch m = (a, c) is a candidate of query l = (i, j), i.e. lies in l's
    window (w x w patches starting at window_start) and is not l itself."""
    def axis(n):                                                       # (n, n): query row -> candidate row
        start = np.array([window_start(i, n, w) for i in range(n)])[:, None]
        u = np.arange(n)[None, :]
        return (u >= start) & (u < start + w)
    inside = axis(n1)[:, None, :, None] & axis(n2)[None, :, None, :]   # (i, j, a, c)
    return inside.reshape(n1 * n2, n1 * n2) & ~np.eye(n1 * n2, dtype=bool)


def reference_forward(block, Y):
    B, C, H, W = Y.shape
    p, s, w, k = block.patch_size, block.stride, block.match_window, block.k
    pads = ((0, 0), (0, 0), pad_amounts(H, p, s), pad_amounts(W, p, s))
    padded = (H + sum(pads[2]), W + sum(pads[3]))
    n1, n2 = ((size - p) // s + 1 for size in padded)

    def patches(a):                                                    # (B, c, H, W) -> (B, L, c p p)
        return unfold(np.pad(a, pads), p, s).transpose(0, 2, 1)

    E, logT = block.embedding.forward(Y), block.temperature.forward(Y)
    y, e = patches(Y), patches(E)                                      # (B, L, F), (B, L, F_e)
    mean_logT = patches(logT).mean(axis=-1)                           # (B, L)
    floor = np.log(block.min_temperature / TEMPERATURE_SCALE)
    ceiling = np.log(block.max_temperature / TEMPERATURE_SCALE)
    t = TEMPERATURE_SCALE * np.exp(np.clip(mean_logT, floor, ceiling))   # (B, L)
    mask = window_mask(n1, n2, w)                                      # (L, L)
    D = np.where(mask, squared_distances(e, e), np.inf)                # (B, L, L)
    D_hat = D if block.normaliser is None else block.normaliser.forward(D)
    knn = NeuralNearestNeighbors(k, block.variant)
    Z = knn.forward(y, D_hat, t)                                       # (B, L, k, F)
    count = fold(np.ones((1, p * p, n1 * n2)), padded, p, s)          # (1, 1, Hp, Wp): patches per pixel
    N = fold(Z.transpose(0, 2, 3, 1).reshape(B * k, -1, n1 * n2), padded, p, s) / count   # (B k, C, Hp, Wp)
    crop = (slice(None), slice(None), slice(pads[2][0], pads[2][0] + H), slice(pads[3][0], pads[3][0] + W))
    N = N[crop].reshape(B, k, C, H, W)
    out = np.concatenate([Y[:, None], N - Y[:, None]], axis=1).reshape(B, (k + 1) * C, H, W)
    cache = dict(knn=knn, e=e, t=t, free=(mean_logT > floor) & (mean_logT < ceiling), count=count, pads=pads, padded=padded, crop=crop)
    return out, cache


def reference_backward(block, cache, dout):
    B, _, H, W = dout.shape
    C, k, p, s = block.in_channels, block.k, block.patch_size, block.stride
    dout = dout.reshape(B, k + 1, C, H, W)
    dY = dout[:, 0] - dout[:, 1:].sum(axis=1)                          # out = [Y, N^j - Y]
    dN = np.zeros((B * k, C) + cache["padded"])
    dN[cache["crop"]] = (dout[:, 1:] / cache["count"][cache["crop"]]).reshape(B * k, C, H, W)
    L = cache["e"].shape[1]
    dZ = unfold(dN, p, s).reshape(B, k, -1, L).transpose(0, 3, 1, 2)   # (B, L, k, F)
    dy, dD_hat, dt = cache["knn"].backward(dZ)                         # (B, L, F), (B, L, L), (B, L)
    dD = dD_hat if block.normaliser is None else block.normaliser.backward(dD_hat)
    de_query, de_candidate = squared_distances_backward(dD, cache["e"], cache["e"])

    def unpatch(a):                                                    # (B, L, f) -> (B, f / (p p), H, W)
        return fold(a.transpose(0, 2, 1), cache["padded"], p, s)[cache["crop"]]

    # t = 0.1 exp(mean of logT over the patch): d mean = dt t (0 where held), spread over p p pixels
    dmean = (dt * cache["t"] * cache["free"])[..., None] / (p * p)   # (B, L, 1)
    dlogT = unpatch(np.broadcast_to(dmean, (B, L, p * p)))
    dE = unpatch(de_query + de_candidate)
    return dY + unpatch(dy) + block.embedding.backward(dE) + block.temperature.backward(dlogT)
