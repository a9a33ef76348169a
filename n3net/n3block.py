"""The N3 block for images (Plötz and Roth 2018, section 4; docs/n3net.md, section 3).

Shape legend: B batch, C channels of Y, H x W image, p patch size, s stride, w match window,
k neighbours, n1 x n2 the grid of patches, F = C * p * p features of a patch, F_e of an embedded
patch, nq queries and nu candidates of a tile, Hp x Wp the padded image (patch_grid.py).

    E    = f_E(Y)                       embedding CNN                 (B, C, H, W)
    logT = f_T(Y)                       temperature CNN               (B, 1, H, W)
    y_l, e_l = the p x p patches at stride s of Y and E, zero-padded  (B, n1, n2, F)
    t_l  = 0.1 exp(mean of logT over patch l), held in [min_temperature, max_temperature]  (B, n1, n2)
    candidates of query l: the w x w patches of its window, shifted inward at the border, never
        cut; the query itself is excluded, leaving w*w - 1 candidates
    D_lm = ||e_l - e_m||^2              squared distances             (B, nq, nu) per tile
    D_hat = -BN(-D)                     distance batch-norm over the batch's finite distances
                                        (distance_bn.py), so that alpha^1 = BN(-D); or, with
                                        distance_norm="query", each query's distances
                                        standardised over its candidates (query_norm.py)
    Z^j_l = sum_m w^j_lm y_m            continuous KNN on D_hat, Eqs. 8-11   (B, nq, k, F) per tile
    N^j  = fold(Z^j) / (number of patches covering each pixel), padding cropped  (B, C, H, W)
    out  = [Y, N^1 - Y, ..., N^k - Y]                                 (B, C (k+1), H, W)

The tile loop, one function per step, and its backward in reverse:

    patches    grid.patches(Y), grid.patches(E)          grid.unpatch
    distances  tile_distances(e, tile, grid)             tile_distances_backward
    normalise  the distance batch-norm, all tiles at once  its backward
    selection  selection.forward(y_u, D_hat, t_q)        selection.backward
    fold back  fold_tile(Z, tile, grid, neighbours)      unfold_tile

The selection is ContinuousSelection (knn.py, the N3 block) or HardSelection (the KNN block):
forward(y, D, t) -> (Z, cache), backward(dZ, cache) -> (dy, dD, dt).

Cost is linear in the image area: queries are processed in tiles of `query_tile` x `query_tile`
patches; each tile is matched against the union of its queries' windows only, with the
distances outside a query's own window set to +inf (weight and gradient exactly 0).  In
training the distance batch-norm needs the statistics of all tiles first, so the block computes
every tile's distances, normalises them together, then selects (two passes over the tiles).  A
training crop of 80 x 80 has a 15 x 15 patch grid, one window, and so one tile: a dense
225 x 225 problem.  Images smaller than one window (80 x 80 pixels with the defaults, after
padding) are refused.  reference.py is the same block without tiles, by its definition.
"""
from typing import NamedTuple

import numpy as np

from layers import BatchNorm2d, Conv2d, ReLU
from layers.checks import check_images, check_same_shape, single_image_as_batch
from layers.conv import conv_radius
from minigrad.backend import get_array_module, to_numpy
from minigrad.fold import fold, unfold
from minigrad.grad_mode import grad_enabled
from minigrad.module import Module, Sequential

from .distance_bn import DistanceBatchNorm
from .query_norm import DistanceQueryNorm
from .knn import ContinuousSelection, HardSelection, squared_distances, squared_distances_backward
from .patch_grid import PatchGrid, Tile, add_to, take
from .patch_grid import candidate_mask, pad_amounts, query_tiles, window_start  # noqa: F401 (re-exported)

TEMPERATURE_SCALE = 0.1      # t = 0.1 exp(mean of the log-temperature map over the patch)
DISTANCE_NORMS = ("batch", "query")


def embedding_cnn(in_channels, out_channels, features=64):
    """conv3x3 (no bias) + BN + ReLU, conv3x3 (no bias) + BN + ReLU, conv3x3 (+ bias)."""
    return Sequential(Conv2d(in_channels, features, 3, padding=1, bias=False), BatchNorm2d(features), ReLU(),
                      Conv2d(features, features, 3, padding=1, bias=False), BatchNorm2d(features), ReLU(),
                      Conv2d(features, out_channels, 3, padding=1))


# ---- the steps of the tile loop, forward and backward ----------------------------------------------
def tile_distances(e, tile, grid):
    """D (B, nq, nu): squared distances from the tile's query patches to its candidate patches
    (e (B, n1, n2, F_e)), +inf outside each query's window and for the query itself."""
    xp = get_array_module(e)
    Q, X = take(e, tile.queries), take(e, tile.candidates)            # (B, nq, F_e), (B, nu, F_e)
    mask = xp.asarray(grid.candidate_mask(tile))                       # (nq, nu)
    return xp.where(mask, squared_distances(Q, X), xp.inf)


def tile_distances_backward(dD, e, tile, de):
    """Add the gradient of the tile's distances, dD (B, nq, nu), into de (B, n1, n2, F_e):
    a patch gets it both as a query and as a candidate."""
    dQ, dX = squared_distances_backward(dD, take(e, tile.queries), take(e, tile.candidates))
    add_to(de, tile.queries, dQ)
    add_to(de, tile.candidates, dX)


def fold_tile(Z, tile, grid, neighbours):
    """Add the tile's k neighbour patches Z (B, nq, k, F) into the neighbour images
    (B, k, C, Hp, Wp), each at the place of its query patch."""
    B, nq, k, F = Z.shape
    (rows, cols), size = grid.pixels(tile)
    patches = Z.transpose(0, 2, 3, 1).reshape(B * k, F, nq)           # (B k, F, nq): fold's layout, a
    #                                                                   view when Z is knn.aggregate's
    neighbours[..., rows, cols] += fold(patches, size, grid.patch_size, grid.stride).reshape(
        *neighbours.shape[:3], *size)


def unfold_tile(dneighbours, tile, grid):
    """The adjoint of fold_tile: the tile's patches of dneighbours (B, k, C, Hp, Wp) as dZ (B, nq, k, F)."""
    B, k, C = dneighbours.shape[:3]
    (rows, cols), size = grid.pixels(tile)
    patches = unfold(dneighbours[..., rows, cols].reshape(B * k, C, *size),
                     grid.patch_size, grid.stride)                     # (B k, F, nq)
    # a view of the (B, k, F, nq) patches: the layout in which the selection's backward reads dZ
    return patches.reshape(B, k, patches.shape[1], -1).transpose(0, 3, 1, 2)


class TileCache(NamedTuple):
    """What the backward of one tile needs."""
    tile: Tile
    D_hat: object            # (B, nq, nu) the distances the selection saw
    selected: tuple          # the selection's cache (its .weights: W (B, nq, k, nu))


class BlockCache(NamedTuple):
    """What the backward of the block needs, besides its CNNs' own caches."""
    grid: PatchGrid
    e: object                # (B, n1, n2, F_e) the patches matched on
    tiles: list              # [TileCache], in tile order


class PatchNeighbours(Module):
    """The machinery shared by the N3 block and the hard-KNN block: patches, tiles, distances,
    selection and the fold back to the image.  Subclasses choose what is matched (_embed: the
    patches e and temperatures t) and the selection (self.selection)."""

    def __init__(self, in_channels, k, patch_size, stride, match_window, query_tile, selection):
        if match_window < 2 or k >= match_window * match_window:
            raise ValueError(f"a match window of {match_window} gives {match_window ** 2 - 1} candidates; "
                             f"k={k} needs more")
        self.in_channels, self.k = in_channels, k
        self.patch_size, self.stride, self.match_window = patch_size, stride, match_window
        self.query_tile = query_tile
        self.out_channels = in_channels * (k + 1)
        self.selection = selection               # ContinuousSelection or HardSelection (knn.py)
        self.distance_bn = None                  # N3Block sets its DistanceBatchNorm here,
        self.distance_qn = None                  # or its DistanceQueryNorm here
        self._t_last = None                      # t of the last forward (see temperatures())

    @property
    def normaliser(self):
        """The module that normalises the distances (distance_bn or distance_qn), or None."""
        return self.distance_bn if self.distance_bn is not None else self.distance_qn

    def extra_repr(self):
        return (f"{self.in_channels}, k={self.k}, patch_size={self.patch_size}, stride={self.stride}, "
                f"match_window={self.match_window}")

    def min_size(self):
        """Smallest padded image side that holds one match window of patches."""
        return self.patch_size + (self.match_window - 1) * self.stride

    def receptive_radius(self):
        """How far (in pixels) an output pixel sees, at most: its neighbours are read from candidate
        patches up to (w - 1) s pixels away (a window shifted inward at the border reaches that far
        on one side), chosen by the embeddings of the query and the candidates (a patch each, and the
        embedding and temperature CNNs' own reach)."""
        cnns = [m for m in (getattr(self, "embedding", None), getattr(self, "temperature", None)) if m is not None]
        return ((self.match_window - 1) * self.stride + 2 * (self.patch_size - 1)
                + max((conv_radius(m) for m in cnns), default=0))

    # ---- hooks for the subclasses -----------------------------------------------------------
    def _embed(self, Y, guide, grid):
        """The patches to match on, e (B, n1, n2, F_e), and the temperatures t (B, n1, n2) or None."""
        raise NotImplementedError

    def _embed_backward(self, de, dt, grid):
        """dL/dY (B, C, H, W) through e and t, given de (B, n1, n2, F_e) and dt (B, n1, n2) or None."""
        raise NotImplementedError

    # ---- forward ---------------------------------------------------------------------------------
    def _grid(self, H, W):
        grid = PatchGrid((H, W), self.patch_size, self.stride, self.match_window)
        if min(grid.padded) < self.min_size():
            p, s, w = self.patch_size, self.stride, self.match_window
            raise ValueError(f"{type(self).__name__}: an image of {H}x{W} pixels is too small for a "
                             f"{w}x{w} window of {p}x{p} patches at stride {s}: it needs at least "
                             f"{self.min_size()}x{self.min_size()} pixels (after padding to the patch grid)")
        return grid

    @single_image_as_batch
    def forward(self, Y, guide=None):
        """Y (B, C, H, W) -> (B, C (k + 1), H, W).  guide: the image to match on, for the KNN block."""
        check_images(self, Y, self.in_channels)
        xp = get_array_module(Y)
        B, C, H, W = Y.shape
        k, grid = self.k, self._grid(H, W)
        y = grid.patches(Y)                                               # (B, n1, n2, F)
        e, t = self._embed(Y, guide, grid)                                # (B, n1, n2, F_e), (B, n1, n2)
        self._check_finite(e, t)
        self._t_last = t
        tiles = grid.tiles(self.query_tile)
        neighbours = xp.zeros((B, k, C) + grid.padded, Y.dtype)           # (B, k, C, Hp, Wp)
        cached = []
        for tile, D_hat in zip(tiles, self._normalised_distances(e, tiles, grid)):
            t_queries = None if t is None else take(t, tile.queries)      # (B, nq)
            Z, selected = self.selection.forward(take(y, tile.candidates), D_hat, t_queries)  # (B, nq, k, F)
            fold_tile(Z, tile, grid, neighbours)
            if grad_enabled():
                cached.append(TileCache(tile, D_hat, selected))
        out = xp.empty((B, k + 1, C, H, W), Y.dtype)                      # [Y, N^1 - Y, ..., N^k - Y]
        out[:, 0] = Y
        out[:, 1:] = grid.crop(neighbours)
        # average the overlapping patches: (B, k, C, H, W) / (H, W), the same count of patches
        # covering a pixel for every image, neighbour and channel
        out[:, 1:] /= grid.count(xp, Y.dtype)
        out[:, 1:] -= Y[:, None]
        self._cache = BlockCache(grid, e, cached) if grad_enabled() else None
        return out.reshape(B, self.out_channels, H, W)

    # ---- what the last forward selected: for diagnostics and pictures ------------------------------
    def temperatures(self):
        """t (B, n1, n2) of the last forward pass (with or without gradients), on the patch grid;
        None for a block without temperatures (the KNN block) or before any forward."""
        return self._t_last

    def last_selection(self):
        """BlockCache of the last forward pass run with gradients enabled: the patch grid, the
        embedded patches e and, per tile in tile order, TileCache(tile, D_hat, selected), with
        selected.weights the weights W (B, nq, k, nu) of the tile's queries over its candidates."""
        return self._saved("_cache")

    def query_weights(self, i, j, image=0):
        """The k weight vectors of the query patch in row i, column j of the patch grid, from the
        last forward pass run with gradients enabled, over the w x w patches of its window: W (k, w, w)
        (NumPy) and the grid position (row, column) of the window's first patch.  The query is not
        its own candidate: W[:, i - row, j - column] is 0."""
        grid, _, tiles = self.last_selection()
        (n1, n2), w = grid.shape, grid.window
        for tile, _, selected in tiles:
            rows, cols = tile.rows, tile.cols
            if rows.query_start <= i < rows.query_stop and cols.query_start <= j < cols.query_stop:
                q = (i - rows.query_start) * (cols.query_stop - cols.query_start) + (j - cols.query_start)
                W = to_numpy(selected.weights[image, q])                     # (k, nu) over the tile's candidates
                W = W.reshape(-1, rows.candidate_stop - rows.candidate_start,
                              cols.candidate_stop - cols.candidate_start)
                row, col = window_start(i, n1, w), window_start(j, n2, w)
                top, left = row - rows.candidate_start, col - cols.candidate_start
                return W[:, top:top + w, left:left + w], (row, col)
        raise ValueError(f"query ({i}, {j}) is not on the block's {n1}x{n2} patch grid")

    def _check_finite(self, e, t):
        """One value check per call (one GPU synchronisation) instead of the KNN's checks per tile:
        0 < min_temperature <= t <= max_temperature and w*w - 1 >= k candidates per query hold by
        construction."""
        xp = get_array_module(e)
        finite = xp.isfinite(e).all() if t is None else xp.isfinite(e).all() & xp.isfinite(t).all()
        if not bool(finite):
            raise ValueError(f"{type(self).__name__}: the patches matched on or their temperatures contain "
                             f"NaN or inf; check the input image and the training (lower the learning rate)")

    def _normalised_distances(self, e, tiles, grid):
        """The distances D_hat the selection sees, tile by tile.  The distance batch-norm of a
        training batch needs the statistics of every tile first: all tiles at once.  Inference
        (no_grad, running statistics) streams one tile at a time and keeps nothing."""
        norm = self.normaliser
        if grad_enabled() or (norm is not None and norm.couples_tiles):
            return self._normalise([tile_distances(e, tile, grid) for tile in tiles])
        return (self._normalise([tile_distances(e, tile, grid)])[0] for tile in tiles)

    def _normalise(self, D_tiles):
        if self.normaliser is None:
            return D_tiles
        out = self.normaliser.forward(*D_tiles)
        return [out] if len(D_tiles) == 1 else list(out)

    # ---- backward --------------------------------------------------------------------------------
    @single_image_as_batch
    def backward(self, dout):
        grid, e, tiles = self._saved("_cache")
        xp = get_array_module(dout)
        B, C, k, (H, W) = dout.shape[0], self.in_channels, self.k, grid.size
        check_same_shape(self, dout, (B, self.out_channels, H, W))
        dout = dout.reshape(B, k + 1, C, H, W)
        dY = dout[:, 0] - dout[:, 1:].sum(axis=1)                         # (B, C, H, W)
        # through the average (divide by the count) and the crop (its adjoint pads with zeros)
        dneighbours = grid.pad(dout[:, 1:] / grid.count(xp, dout.dtype))  # (B, k, C, Hp, Wp)
        dy = xp.zeros((B, *grid.shape, C * self.patch_size ** 2), dout.dtype)   # (B, n1, n2, F)
        dt = xp.zeros((B, *grid.shape), dout.dtype)                       # (B, n1, n2)
        dD_hat = []
        for tile, _, selected in tiles:          # first pass: through the selection
            dy_u, dD_tile, dt_q = self.selection.backward(unfold_tile(dneighbours, tile, grid), selected)
            add_to(dy, tile.candidates, dy_u)
            if dt_q is not None:
                add_to(dt, tile.queries, dt_q)
            dD_hat.append(dD_tile)
        dY += grid.unpatch(dy)
        if dD_hat[0] is None:                    # a hard selection passes nothing to the distances
            return dY
        de = xp.zeros(e.shape, dout.dtype)       # second pass: from the distances to the patches
        for (tile, _, _), dD in zip(tiles, self._normalise_backward(dD_hat)):
            tile_distances_backward(dD, e, tile, de)
        return dY + self._embed_backward(de, dt, grid)

    def _normalise_backward(self, dD_hat):
        """The distance batch-norm's backward couples all the tiles."""
        if self.normaliser is None:
            return dD_hat
        dD = self.normaliser.backward(*dD_hat)
        return [dD] if len(dD_hat) == 1 else list(dD)


class N3Block(PatchNeighbours):
    """The neural nearest neighbours block: embedding and temperature CNNs, distance batch-norm,
    continuous KNN.

    N3Block(in_channels, k=7, patch_size=10, stride=5, match_window=15) maps (B, C, H, W) to
    (B, C (k + 1), H, W).  variant="paper" (Eqs. 8-11) or "reference" (the released code).
    distance_norm="batch" (the default, as the released code): the KNN's first logits are
    BN(-D) rather than -D (distance_bn.py); "query": each query's distances standardised over
    its own candidates, then one learned scale (query_norm.py).  distance_bn=False gives the
    block without either, for comparison.
    min_temperature, max_temperature: the temperatures are held in between (no gradient reaches
    the temperature CNN where they are held).  A temperature net that drives t towards 0 makes
    dL/dt ~ 1/t^2 overflow float32 (seen in training at t ~ 1e-31); at 1e-4 the first logits may
    still be 10^4 times the normalised distances, a hard KNN for practical purposes.  One that
    drives t up overflows exp in float32 (seen at sigma 50: t = 2e8 in a training batch, inf on a
    validation image), and an infinite t turns the -inf logits of the non-candidates into NaN; at
    1e4 the weights are already uniform over the window to within about 1e-3.
    """

    def __init__(self, in_channels, k=7, patch_size=10, stride=5, match_window=15, features=64,
                 variant="paper", query_tile=8, distance_bn=True, min_temperature=1e-4,
                 max_temperature=1e4, distance_norm="batch"):
        super().__init__(in_channels, k, patch_size, stride, match_window, query_tile,
                         ContinuousSelection(k, variant))
        self.variant = variant
        self.hold_temperatures(min_temperature, max_temperature)
        self.embedding = embedding_cnn(in_channels, in_channels, features)
        self.temperature = embedding_cnn(in_channels, 1, features)
        if distance_norm not in DISTANCE_NORMS:
            raise ValueError(f"unknown distance_norm {distance_norm!r}: use one of {', '.join(DISTANCE_NORMS)}")
        self.distance_norm = distance_norm if distance_bn else None
        if self.distance_norm == "batch":
            self.distance_bn = DistanceBatchNorm()
        elif self.distance_norm == "query":
            self.distance_qn = DistanceQueryNorm()

    def hold_temperatures(self, min_temperature, max_temperature):
        """Hold the temperatures in [min_temperature, max_temperature] from the next forward on (a
        clamp, not a weight: a trained block may be given other bounds)."""
        if not 0 < min_temperature < TEMPERATURE_SCALE < max_temperature < 1e30:
            raise ValueError(f"need 0 < min_temperature < {TEMPERATURE_SCALE} < max_temperature < 1e30, got "
                             f"{min_temperature} and {max_temperature}")
        self.min_temperature, self.max_temperature = min_temperature, max_temperature

    def _embed(self, Y, guide, grid):
        if guide is not None:
            raise ValueError("N3Block matches on its own embedding of Y: it takes no guide image")
        xp = get_array_module(Y)
        e = grid.patches(self.embedding.forward(Y))                       # (B, n1, n2, F_e)
        mean_logT = grid.patches(self.temperature.forward(Y)).mean(axis=-1)   # (B, n1, n2)
        # the floor and the ceiling of t (see the class docstring); Python floats keep the dtype
        floor = float(np.log(self.min_temperature / TEMPERATURE_SCALE))
        ceiling = float(np.log(self.max_temperature / TEMPERATURE_SCALE))
        self._t_free = (mean_logT > floor) & (mean_logT < ceiling)        # (B, n1, n2)
        self._t = TEMPERATURE_SCALE * xp.exp(xp.minimum(xp.maximum(mean_logT, floor), ceiling))   # (B, n1, n2)
        return e, self._t

    def _embed_backward(self, de, dt, grid):
        # t = 0.1 exp(mean over the p*p pixels of logT): d mean = dt * t (0 where t is held at its
        # floor or ceiling), spread evenly over the patch
        p2 = self.patch_size ** 2
        dmean = (dt * self._t * self._t_free)[..., None] / p2             # (B, n1, n2, 1)
        dlogT = grid.unpatch(get_array_module(dt).broadcast_to(dmean, (*dt.shape, p2)))  # (B, 1, H, W)
        return self.embedding.backward(grid.unpatch(de)) + self.temperature.backward(dlogT)


class KNNBlock(PatchNeighbours):
    """The paper's KNN-block baseline (Table 1): hard k nearest neighbours, no embedding, no
    temperature.

    forward(Y, guide): the neighbours are matched on the patches of `guide` (in N3Net, the noisy
    input image, (B, C_g, H, W)) and aggregate the patches of Y; without a guide they are matched
    on Y itself.  Gradients flow through the averaged patches of Y but not through the
    (piecewise constant) choice of the neighbours, so the guide gets none: HardSelection returns
    no distance gradient, and the backward stops before the distances (no _embed_backward).
    """

    def __init__(self, in_channels, k=7, patch_size=10, stride=5, match_window=15, query_tile=8):
        super().__init__(in_channels, k, patch_size, stride, match_window, query_tile, HardSelection(k))

    def _embed(self, Y, guide, grid):
        if guide is None:
            return grid.patches(Y), None
        if guide.shape[0] != Y.shape[0] or guide.shape[2:] != Y.shape[2:]:
            raise ValueError(f"KNNBlock: the guide image {tuple(guide.shape)} must have the batch size "
                             f"and the size of Y {tuple(Y.shape)}")
        return grid.patches(guide), None


def n3_blocks(model):
    """(name, block) of every N3 block of the model, in order."""
    return [(name, m) for name, m in _named_modules(model) if isinstance(m, N3Block)]


def _named_modules(module, prefix=""):
    yield prefix, module
    for name, child in module.named_children():
        yield from _named_modules(child, f"{prefix}.{name}" if prefix else name)
