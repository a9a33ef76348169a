"""The N3 block for images (Plötz and Roth 2018, section 4; docs/n3net.md, section 3).

Shape legend: B batch, C channels of Y, H x W image, p patch size, s stride, w match window,
k neighbours, n1 x n2 the grid of patches, L = n1 * n2 patches, F = C * p * p features of a
patch, Hp x Wp the padded image.

    E    = f_E(Y)                       embedding CNN                 (B, C, H, W)
    logT = f_T(Y)                       temperature CNN               (B, 1, H, W)
    pad Y, E, logT with zeros so that (Hp - p) and (Wp - p) are multiples of s
    y_l, e_l = the p x p patches at stride s of Y and E               (B, n1, n2, F)
    t_l  = 0.1 exp(mean of logT over patch l), at least min_temperature   (B, n1, n2)
    candidates of query (i, j): the w x w patches whose rows start at clamp(i - w//2, 0, n1 - w)
        (columns likewise): the window is shifted inward at the border, never cut; the query
        itself is excluded, leaving w*w - 1 candidates
    D_lm = ||e_l - e_m||^2              squared distances             (queries, candidates)
    D_hat = -BN(-D)                     distance batch-norm over the batch's finite distances
                                        (distance_bn.py), so that alpha^1 = BN(-D)
    Z^j_l = sum_m w^j_lm y_m            continuous KNN on D_hat, Eqs. 8-11   (B, nq, k, F) per tile
    N^j  = fold(Z^j) / (number of patches covering each pixel), padding cropped  (B, C, H, W)
    out  = [Y, N^1 - Y, ..., N^k - Y]                                 (B, C (k+1), H, W)

Cost is linear in the image area: queries are processed in tiles of `query_tile` x `query_tile`
patches; each tile is matched against the union of its queries' windows only, with the
distances outside a query's own window set to +inf (weight and gradient exactly 0).  In
training the distance batch-norm needs the statistics of all tiles first, so the block computes
every tile's distances, normalises them together, then selects (two passes over the tiles).  A training
crop of 80 x 80 has a 15 x 15 patch grid, one window, and so one tile: a dense 225 x 225 problem.
Images smaller than one window (80 x 80 pixels with the defaults, after padding) are refused.
"""
import numpy as np

from layers import BatchNorm2d, Conv2d, ReLU
from layers.checks import as_batch, check_same_shape
from minigrad.backend import get_array_module
from minigrad.fold import fold, unfold
from minigrad.grad_mode import grad_enabled
from minigrad.module import Module, Sequential

from .distance_bn import DistanceBatchNorm
from .knn import HardKNN, NeuralNearestNeighbors, squared_distances, squared_distances_backward


TEMPERATURE_SCALE = 0.1      # t = 0.1 exp(mean of the log-temperature map over the patch)


def embedding_cnn(in_channels, out_channels, features=64):
    """conv3x3 (no bias) + BN + ReLU, conv3x3 (no bias) + BN + ReLU, conv3x3 (+ bias)."""
    return Sequential(Conv2d(in_channels, features, 3, padding=1, bias=False), BatchNorm2d(features), ReLU(),
                      Conv2d(features, features, 3, padding=1, bias=False), BatchNorm2d(features), ReLU(),
                      Conv2d(features, out_channels, 3, padding=1))


def pad_amounts(size, patch_size, stride):
    """(before, after) zero padding so that (size + before + after - patch_size) % stride == 0."""
    total = (-(size - patch_size)) % stride
    return total // 2, total - total // 2


def window_start(i, n, window):
    """First row (or column) of the window of query i on a grid of n: shifted inward, never cut."""
    return min(max(i - window // 2, 0), n - window)


def query_tiles(n, tile, window):
    """Tiles of queries along one axis, each with the span of its queries' windows:
    a list of (q0, q1, u0, u1): queries q0..q1-1 have all their candidates in u0..u1-1."""
    if n <= window:                                  # one window covers the axis: one tile
        return [(0, n, 0, n)]
    tiles = []
    for q0 in range(0, n, tile):
        q1 = min(q0 + tile, n)
        tiles.append((q0, q1, window_start(q0, n, window), window_start(q1 - 1, n, window) + window))
    return tiles


def candidate_mask(rows, cols, n1, n2, window):
    """(nq, nu) booleans: candidate u lies in query q's window and is not q itself.

    rows, cols: (q0, q1, u0, u1) of the tile along each axis (see query_tiles)."""
    def inside(q0, q1, u0, u1, n):
        q = np.arange(q0, q1)[:, None]
        u = np.arange(u0, u1)[None, :]
        start = np.clip(q - window // 2, 0, n - window)
        return (u >= start) & (u < start + window), q == u            # (nq_axis, nu_axis) each
    in_r, same_r = inside(*rows, n1)
    in_c, same_c = inside(*cols, n2)
    mask = in_r[:, None, :, None] & in_c[None, :, None, :]            # (qi, qj, ui, uj)
    mask &= ~(same_r[:, None, :, None] & same_c[None, :, None, :])
    return mask.reshape(in_r.shape[0] * in_c.shape[0], in_r.shape[1] * in_c.shape[1])


class PatchNeighbours(Module):
    """The machinery shared by the N3 block and the hard-KNN block: patches, windows, tiles,
    distances and the fold back to the image.  Subclasses choose the embedding, the temperature
    and the selection (continuous or hard)."""

    def __init__(self, in_channels, k, patch_size, stride, match_window, query_tile):
        if match_window < 2 or k >= match_window * match_window:
            raise ValueError(f"a match window of {match_window} gives {match_window ** 2 - 1} candidates; "
                             f"k={k} needs more")
        self.in_channels, self.k = in_channels, k
        self.patch_size, self.stride, self.match_window = patch_size, stride, match_window
        self.query_tile = query_tile
        self.out_channels = in_channels * (k + 1)
        self.distance_bn = None                  # N3Block sets its DistanceBatchNorm here

    def extra_repr(self):
        return (f"{self.in_channels}, k={self.k}, patch_size={self.patch_size}, stride={self.stride}, "
                f"match_window={self.match_window}")

    def min_size(self):
        """Smallest padded image side that holds one match window of patches."""
        return self.patch_size + (self.match_window - 1) * self.stride

    # ---- hooks for the subclasses -----------------------------------------------------------
    def _embed(self, Y, guide):
        """Return E (B, C_e, H, W) to match on and logT (B, 1, H, W) or None."""
        raise NotImplementedError

    def _embed_backward(self, dE, dlogT):
        """dL/dY through E and logT (B, C, H, W)."""
        raise NotImplementedError

    def _selector(self):
        raise NotImplementedError

    # ---- geometry ------------------------------------------------------------------------------
    def _patches(self, a):
        """Zero-pad a (B, c, H, W) and cut it into patches (B, n1, n2, c*p*p)."""
        xp = get_array_module(a)
        padded = xp.pad(a, ((0, 0), (0, 0), self._pads[0], self._pads[1]))     # (B, c, Hp, Wp)
        cols = unfold(padded, self.patch_size, self.stride)                     # (B, c*p*p, L)
        B, n1, n2 = a.shape[0], *self._grid
        return cols.transpose(0, 2, 1).reshape(B, n1, n2, -1)                   # (B, n1, n2, F)

    def _unpatch(self, patches):
        """Adjoint of _patches: sum patches (B, n1, n2, F) back into the image, crop the padding."""
        B, n1, n2, F = patches.shape
        cols = patches.reshape(B, n1 * n2, F).transpose(0, 2, 1)                 # (B, F, L)
        return self._crop(fold(cols, self._padded_size, self.patch_size, self.stride))

    def forward(self, Y, guide=None):
        """Y (B, C, H, W) -> (B, C (k + 1), H, W).  guide: the image to match on, for the KNN block."""
        Y, self._single = as_batch(self, Y, self.in_channels)
        if guide is not None and self._single:
            guide = guide[None]
        xp = get_array_module(Y)
        B, C, H, W = Y.shape
        p, s, w = self.patch_size, self.stride, self.match_window
        self._size, self._pads = (H, W), (pad_amounts(H, p, s), pad_amounts(W, p, s))
        self._padded_size = (H + sum(self._pads[0]), W + sum(self._pads[1]))
        if min(self._padded_size) < self.min_size():
            raise ValueError(f"{type(self).__name__}: an image of {H}x{W} pixels is too small for a "
                             f"{w}x{w} window of {p}x{p} patches at stride {s}: it needs at least "
                             f"{self.min_size()}x{self.min_size()} pixels (after padding to the patch grid)")
        self._grid = n1, n2 = tuple((size - p) // s + 1 for size in self._padded_size)
        E, logT = self._embed(Y, guide)
        y_patches = self._patches(Y)                                             # (B, n1, n2, F)
        e_patches = self._patches(E)                                             # (B, n1, n2, F_e)
        if logT is None:
            t = xp.ones((B, n1, n2), Y.dtype)
        else:
            mean_logT = self._patches(logT).mean(axis=-1)                        # (B, n1, n2)
            # the floor: below it the temperature's gradient, ~1/t^2, overflows float32
            floor = float(np.log(self.min_temperature / TEMPERATURE_SCALE))     # Python float: keeps dtype
            self._t_free = mean_logT > floor                                     # (B, n1, n2)
            t = TEMPERATURE_SCALE * xp.exp(xp.maximum(mean_logT, floor))         # (B, n1, n2)
        # One value check per call (one GPU synchronisation) instead of the KNN's checks per tile:
        # t >= min_temperature > 0 and w*w - 1 >= k candidates per query hold by construction.
        if not bool(xp.isfinite(e_patches).all() & xp.isfinite(t).all()):
            raise ValueError(f"{type(self).__name__}: the patches matched on or their temperatures contain "
                             f"NaN or inf; check the input image and the training (lower the learning rate)")
        tiles = [(rows, cols) for rows in query_tiles(n1, self.query_tile, w)
                 for cols in query_tiles(n2, self.query_tile, w)]

        def distances(rows, cols):
            """The tile's queries Q (B, nq, F_e), candidates X (B, nu, F_e) and D (B, nq, nu)."""
            (q0, q1, u0, u1), (c0, c1, v0, v1) = rows, cols
            Q = e_patches[:, q0:q1, c0:c1].reshape(B, -1, e_patches.shape[-1])
            X = e_patches[:, u0:u1, v0:v1].reshape(B, -1, e_patches.shape[-1])
            mask = xp.asarray(candidate_mask(rows, cols, n1, n2, w))             # (nq, nu)
            return Q, X, xp.where(mask, squared_distances(Q, X), xp.inf)

        # The distance batch-norm of a training batch needs the statistics of every tile's
        # distances first: two passes over the tiles.  Inference (no_grad, running statistics)
        # streams one tile at a time and keeps nothing.
        bn = self.distance_bn
        two_pass = grad_enabled() or (bn is not None and bn.training)
        if two_pass:
            QXD = [distances(rows, cols) for rows, cols in tiles]
            normalised = self._normalise([D for _, _, D in QXD])
        # neighbour volumes summed back into padded images, tile by tile: (B, k, C, Hp, Wp)
        neighbours = xp.zeros((B, self.k, C) + self._padded_size, Y.dtype)
        cache = []
        for i, (rows, cols) in enumerate(tiles):
            (q0, q1, u0, u1), (c0, c1, v0, v1) = rows, cols
            if two_pass:
                (Q, X, _), Dn = QXD[i], normalised[i]
            else:
                Q, X, D = distances(rows, cols)
                Dn = self._normalise([D])[0]                                     # (B, nq, nu)
            select = self._selector()
            Yu = y_patches[:, u0:u1, v0:v1].reshape(B, -1, y_patches.shape[-1])  # (B, nu, F)
            Zt = select.forward(Yu, Dn) if logT is None else select.forward(
                Yu, Dn, t[:, q0:q1, c0:c1].reshape(B, -1), check_values=False)   # (B, nq, k, F)
            region, size = self._region(q0, q1, c0, c1)
            cols_k = Zt.transpose(0, 2, 3, 1).reshape(B * self.k, -1, Zt.shape[1])  # (B*k, F, nq)
            neighbours[..., region[0], region[1]] += fold(
                cols_k, size, self.patch_size, self.stride).reshape(B, self.k, C, *size)
            if grad_enabled():
                cache.append((rows, cols, select, Q, X, Dn))
        # average the overlapping patches: divide by how many patches cover each pixel
        ones = xp.ones((1, n1, n2, self.patch_size ** 2), Y.dtype)
        count = self._unpatch(ones)                                               # (1, 1, H, W)
        neighbours = self._crop(neighbours)                                       # (B, k, C, H, W) view
        neighbours /= count
        out = xp.empty((B, self.k + 1, C, H, W), Y.dtype)                         # [Y, N^1 - Y, ...]
        out[:, 0] = Y
        out[:, 1:] = neighbours
        out[:, 1:] -= Y[:, None]
        self._count, self._t = count, t
        self._tiles = cache if grad_enabled() else None
        self._logT = logT is not None
        out = out.reshape(B, self.out_channels, H, W)
        return out[0] if self._single else out

    def _normalise(self, D_tiles):
        """The distances the selection sees: batch-normalised where the block has a distance BN."""
        if self.distance_bn is None:
            return D_tiles
        out = self.distance_bn.forward(*D_tiles)
        return [out] if len(D_tiles) == 1 else list(out)

    def _region(self, q0, q1, c0, c1):
        """Pixel slices of the padded image covered by the patches of queries [q0, q1) x [c0, c1)."""
        p, s = self.patch_size, self.stride
        size = ((q1 - q0 - 1) * s + p, (c1 - c0 - 1) * s + p)
        return (slice(q0 * s, q0 * s + size[0]), slice(c0 * s, c0 * s + size[1])), size

    def _crop(self, a):
        (top, _), (left, _) = self._pads
        H, W = self._size
        return a[..., top:top + H, left:left + W]

    def backward(self, dout):
        tiles = self._saved("_tiles")
        xp = get_array_module(dout)
        if self._single:
            dout = dout[None]
        B, C, (H, W), k, (n1, n2) = dout.shape[0], self.in_channels, self._size, self.k, self._grid
        check_same_shape(self, dout, (B, self.out_channels, H, W))
        dout = dout.reshape(B, k + 1, C, H, W)
        dY = dout[:, 0] - dout[:, 1:].sum(axis=1)                                 # (B, C, H, W)
        dN = xp.zeros((B, k, C) + self._padded_size, dout.dtype)                 # (B, k, C, Hp, Wp)
        dN_image = self._crop(dN)                                                 # (B, k, C, H, W) view
        dN_image[...] = dout[:, 1:]
        dN_image /= self._count                                                   # through the average
        F = C * self.patch_size ** 2
        dy_patches = xp.zeros((B, n1, n2, F), dout.dtype)
        dt = xp.zeros((B, n1, n2), dout.dtype)
        dDn = []                       # first pass: through the selection, to the distances
        for (q0, q1, u0, u1), (c0, c1, v0, v1), select, Q, X, Dn in tiles:
            region, size = self._region(q0, q1, c0, c1)
            dcols = unfold(dN[..., region[0], region[1]].reshape(B * k, C, *size),
                           self.patch_size, self.stride)                          # (B*k, F, nq)
            dZt = dcols.reshape(B, k, F, -1).transpose(0, 3, 1, 2)                # (B, nq, k, F)
            grads = select.backward(dZt)
            dy_patches[:, u0:u1, v0:v1] += grads[0].reshape(B, u1 - u0, v1 - v0, F)
            if self._logT:
                dt[:, q0:q1, c0:c1] = grads[2].reshape(B, q1 - q0, c1 - c0)
            dDn.append(grads[1])
        if self.distance_bn is not None:     # the batch-norm's backward couples all the tiles
            dD = self.distance_bn.backward(*dDn)
            dD = [dD] if len(dDn) == 1 else list(dD)
        else:
            dD = dDn
        de_patches = None              # second pass: from the distances to the embedded patches
        for ((q0, q1, u0, u1), (c0, c1, v0, v1), _, Q, X, _), dD_tile in zip(tiles, dD):
            dQ, dX = squared_distances_backward(dD_tile, Q, X)
            if de_patches is None:
                de_patches = xp.zeros((B, n1, n2, Q.shape[-1]), dout.dtype)
            de_patches[:, q0:q1, c0:c1] += dQ.reshape(B, q1 - q0, c1 - c0, -1)
            de_patches[:, u0:u1, v0:v1] += dX.reshape(B, u1 - u0, v1 - v0, -1)
        dY += self._unpatch(dy_patches)
        dE = self._unpatch(de_patches)
        dlogT = None
        if self._logT:
            # t = 0.1 exp(mean over the p*p pixels of logT): d mean = dt * t (0 where t is at its
            # floor), spread evenly over the patch
            p2 = self.patch_size ** 2
            dmean = (dt * self._t * self._t_free)[..., None] / p2                # (B, n1, n2, 1)
            dlogT = self._unpatch(xp.broadcast_to(dmean, (B, n1, n2, p2)))        # (B, 1, H, W)
        dY += self._embed_backward(dE, dlogT)
        return dY[0] if self._single else dY


class N3Block(PatchNeighbours):
    """The neural nearest neighbours block: embedding and temperature CNNs, distance batch-norm,
    continuous KNN.

    N3Block(in_channels, k=7, patch_size=10, stride=5, match_window=15) maps (B, C, H, W) to
    (B, C (k + 1), H, W).  variant="paper" (Eqs. 8-11) or "reference" (the released code).
    distance_bn=True (the default, as the released code): the KNN's first logits are BN(-D)
    rather than -D (distance_bn.py); False gives the block without it, for comparison.
    min_temperature: the temperatures are kept at or above it (no gradient reaches the temperature
    CNN where they are held): a temperature net that drives t towards 0 makes dL/dt ~ 1/t^2
    overflow float32 (seen in training at t ~ 1e-31); at 1e-4 the first logits may still be 10^4
    times the normalised distances, a hard KNN for practical purposes.
    """

    def __init__(self, in_channels, k=7, patch_size=10, stride=5, match_window=15, features=64,
                 variant="paper", query_tile=8, distance_bn=True, min_temperature=1e-4):
        super().__init__(in_channels, k, patch_size, stride, match_window, query_tile)
        if not 0 < min_temperature < TEMPERATURE_SCALE:
            raise ValueError(f"min_temperature must lie in (0, {TEMPERATURE_SCALE}), got {min_temperature}")
        self.variant, self.min_temperature = variant, min_temperature
        self.embedding = embedding_cnn(in_channels, in_channels, features)
        self.temperature = embedding_cnn(in_channels, 1, features)
        self.distance_bn = DistanceBatchNorm() if distance_bn else None

    def _embed(self, Y, guide):
        if guide is not None:
            raise ValueError("N3Block matches on its own embedding of Y: it takes no guide image")
        return self.embedding.forward(Y), self.temperature.forward(Y)

    def _embed_backward(self, dE, dlogT):
        return self.embedding.backward(dE) + self.temperature.backward(dlogT)

    def _selector(self):
        return NeuralNearestNeighbors(self.k, self.variant)


class KNNBlock(PatchNeighbours):
    """The paper's KNN-block baseline (Table 1): hard k nearest neighbours, no embedding, no
    temperature.

    forward(Y, guide): the neighbours are matched on the patches of `guide` (in N3Net, the noisy
    input image, (B, C_g, H, W)) and aggregate the patches of Y; without a guide they are matched
    on Y itself.  Gradients flow through the averaged patches of Y but not through the
    (piecewise constant) choice of the neighbours, so the guide gets none.
    """

    def __init__(self, in_channels, k=7, patch_size=10, stride=5, match_window=15, query_tile=8):
        super().__init__(in_channels, k, patch_size, stride, match_window, query_tile)

    def _embed(self, Y, guide):
        if guide is None:
            self._on_guide = False
            return Y, None
        if guide.shape[0] != Y.shape[0] or guide.shape[2:] != Y.shape[2:]:
            raise ValueError(f"KNNBlock: the guide image {tuple(guide.shape)} must have the batch size "
                             f"and the size of Y {tuple(Y.shape)}")
        self._on_guide = True
        return guide, None

    def _embed_backward(self, dE, dlogT):
        return 0 if self._on_guide else dE      # the hard choice passes no gradient to the guide

    def _selector(self):
        return HardKNN(self.k)
