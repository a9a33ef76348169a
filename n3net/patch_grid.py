"""Where the N3 block's patches, match windows and query tiles lie: the geometry, no learning.

Shape legend: B batch, c channels, H x W image, p patch size, s stride, w match window,
n1 x n2 the grid of patches, Hp x Wp the zero-padded image, nq queries and nu candidates of a tile.

    pad the image with zeros so that (Hp - p) and (Wp - p) are multiples of s        pad_amounts
    patch (i, j) covers the pixels [i s, i s + p) x [j s, j s + p) of the padded image
    the window of query (i, j): the w x w patches from (window_start(i), window_start(j)),
        shifted inward at the border, never cut; the query itself is not a candidate
    a tile: a block of queries (at most tile x tile) and the candidates they are matched
        against, the union of their windows                           query_tiles, Tile
"""
from typing import NamedTuple

import numpy as np

from minigrad.fold import fold, unfold
from minigrad.backend import get_array_module


def pad_amounts(size, patch_size, stride):
    """(before, after) zero padding so that (size + before + after - patch_size) % stride == 0."""
    total = (-(size - patch_size)) % stride
    return total // 2, total - total // 2


def window_start(i, n, window):
    """First row (or column) of the window of query i on a grid of n: shifted inward, never cut."""
    return min(max(i - window // 2, 0), n - window)


class AxisTile(NamedTuple):
    """One axis of a tile: the queries [query_start, query_stop) of the patch grid, whose
    windows all lie in the candidates [candidate_start, candidate_stop)."""
    query_start: int
    query_stop: int
    candidate_start: int
    candidate_stop: int

    @property
    def queries(self):
        return slice(self.query_start, self.query_stop)

    @property
    def candidates(self):
        return slice(self.candidate_start, self.candidate_stop)


def query_tiles(n, tile, window):
    """The tiles of queries along one axis of n patches, at most `tile` queries each: [AxisTile]."""
    if n <= window:                                  # one window covers the axis: one tile
        return [AxisTile(0, n, 0, n)]
    tiles = []
    for start in range(0, n, tile):
        stop = min(start + tile, n)
        tiles.append(AxisTile(start, stop, window_start(start, n, window),
                              window_start(stop - 1, n, window) + window))
    return tiles


def candidate_mask(rows, cols, n1, n2, window):
    """(nq, nu) booleans: candidate u lies in query q's window and is not q itself.

    rows, cols: the AxisTile (or (query_start, query_stop, candidate_start, candidate_stop)) of
    the tile along each axis."""
    def inside(query_start, query_stop, candidate_start, candidate_stop, n):
        q = np.arange(query_start, query_stop)[:, None]                # query rows (or columns)
        u = np.arange(candidate_start, candidate_stop)[None, :]        # candidate rows (or columns)
        start = np.clip(q - window // 2, 0, n - window)                # window_start of each query
        return (u >= start) & (u < start + window), q == u            # (nq_axis, nu_axis) each
    in_r, same_r = inside(*rows, n1)
    in_c, same_c = inside(*cols, n2)
    mask = in_r[:, None, :, None] & in_c[None, :, None, :]            # (qi, qj, ui, uj)
    mask &= ~(same_r[:, None, :, None] & same_c[None, :, None, :])
    return mask.reshape(in_r.shape[0] * in_c.shape[0], in_r.shape[1] * in_c.shape[1])


class Tile(NamedTuple):
    """A rectangle of query patches and the rectangle of candidate patches their windows cover."""
    rows: AxisTile
    cols: AxisTile

    @property
    def queries(self):
        """(row slice, column slice) of the patch grid: the tile's queries."""
        return self.rows.queries, self.cols.queries

    @property
    def candidates(self):
        """(row slice, column slice) of the patch grid: the union of the queries' windows."""
        return self.rows.candidates, self.cols.candidates


def take(patches, region):
    """The patches (B, n1, n2, ...) of a region (row slice, column slice), row-major: (B, n, ...)."""
    rows, cols = region
    part = patches[:, rows, cols]
    return part.reshape(part.shape[0], -1, *part.shape[3:])


def add_to(patches, region, values):
    """The adjoint of take: add values (B, n, ...) into the region's patches of (B, n1, n2, ...)."""
    rows, cols = region
    part = patches[:, rows, cols]                                     # a view: += writes through
    part += values.reshape(part.shape)


class PatchGrid:
    """The patch grid of an H x W image: padding, patches and their adjoint, tiles.

    grid.patches(a)  (B, c, H, W) -> (B, n1, n2, c p p)      zero-pad, cut into patches
    grid.unpatch(P)  (B, n1, n2, c p p) -> (B, c, H, W)      its adjoint: sum back, drop the padding
    grid.pad(a)      (..., H, W) -> (..., Hp, Wp)            zeros around
    grid.crop(a)     (..., Hp, Wp) -> (..., H, W)            its adjoint (a view)
    """

    def __init__(self, size, patch_size, stride, window):
        (H, W), p, s = size, patch_size, stride
        self.size, self.patch_size, self.stride, self.window = (H, W), p, s, window
        self.pads = (pad_amounts(H, p, s), pad_amounts(W, p, s))          # ((top, bottom), (left, right))
        self.padded = (H + sum(self.pads[0]), W + sum(self.pads[1]))      # (Hp, Wp)
        self.shape = tuple((n - p) // s + 1 for n in self.padded)         # (n1, n2)

    def pad(self, a):
        lead = ((0, 0),) * (a.ndim - 2)
        return get_array_module(a).pad(a, lead + self.pads)

    def crop(self, a):
        (top, _), (left, _) = self.pads
        H, W = self.size
        return a[..., top:top + H, left:left + W]

    def patches(self, a):
        """(B, c, H, W) -> (B, n1, n2, c p p): the zero-padded image cut into p x p patches."""
        cols = unfold(self.pad(a), self.patch_size, self.stride)         # (B, c p p, n1 n2)
        return cols.transpose(0, 2, 1).reshape(a.shape[0], *self.shape, -1)

    def unpatch(self, patches):
        """(B, n1, n2, c p p) -> (B, c, H, W): every patch summed back into place, padding dropped."""
        B, n1, n2, F = patches.shape
        cols = patches.reshape(B, n1 * n2, F).transpose(0, 2, 1)           # (B, F, n1 n2)
        return self.crop(fold(cols, self.padded, self.patch_size, self.stride))

    def count(self, xp, dtype):
        """(H, W): how many patches cover each pixel."""
        ones = xp.ones((1, *self.shape, self.patch_size ** 2), dtype)
        return self.unpatch(ones)[0, 0]

    def tiles(self, query_tile):
        """[Tile]: the queries in tiles of at most query_tile x query_tile, row by row."""
        n1, n2 = self.shape
        return [Tile(rows, cols) for rows in query_tiles(n1, query_tile, self.window)
                for cols in query_tiles(n2, query_tile, self.window)]

    def candidate_mask(self, tile):
        """(nq, nu) booleans of the tile: candidate in the query's window, and not the query."""
        return candidate_mask(tile.rows, tile.cols, *self.shape, self.window)

    def pixels(self, tile):
        """The padded-image pixels that the tile's query patches cover: (row slice, column slice)
        and their size (h, w)."""
        def span(axis):
            length = (axis.query_stop - axis.query_start - 1) * self.stride + self.patch_size
            first = axis.query_start * self.stride
            return slice(first, first + length), length
        (rows, h), (cols, w) = span(tile.rows), span(tile.cols)
        return (rows, cols), (h, w)
