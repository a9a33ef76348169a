"""The geometry of the N3 block (patch_grid.py) and the steps of its tile loop (n3block.py):
each backward step is the exact adjoint of its forward step, and the tiles cover every query once."""
import numpy as np
import pytest

from n3net.n3block import fold_tile, tile_distances, tile_distances_backward, unfold_tile
from n3net.patch_grid import PatchGrid, add_to, take


def inner(a, b):
    return float((a * b).sum())


@pytest.mark.parametrize("size", [(9, 9), (10, 13), (14, 11)])
def test_patches_pad_and_take_have_their_adjoints(rng, size):
    grid = PatchGrid(size, patch_size=3, stride=2, window=3)
    n1, n2 = grid.shape
    x = rng.standard_normal((2, 3, *size))
    P = rng.standard_normal((2, n1, n2, 3 * 9))
    assert grid.patches(x).shape == P.shape
    assert inner(grid.patches(x), P) == pytest.approx(inner(x, grid.unpatch(P)), rel=1e-12)
    padded = rng.standard_normal((2, 3, *grid.padded))
    assert inner(grid.pad(x), padded) == pytest.approx(inner(x, grid.crop(padded)), rel=1e-12)
    for tile in grid.tiles(2):
        values = rng.standard_normal(take(P, tile.candidates).shape)
        into = np.zeros_like(P)
        add_to(into, tile.candidates, values)
        assert inner(take(P, tile.candidates), values) == pytest.approx(inner(P, into), rel=1e-12)


def test_count_is_the_number_of_patches_over_each_pixel():
    grid = PatchGrid((11, 12), patch_size=3, stride=2, window=3)
    count = np.zeros(grid.padded)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            count[2 * i:2 * i + 3, 2 * j:2 * j + 3] += 1
    np.testing.assert_array_equal(grid.count(np, np.float64), grid.crop(count))


@pytest.mark.parametrize("query_tile", [1, 2, 3, 8])
def test_tiles_hold_every_query_once_and_its_whole_window(query_tile):
    grid = PatchGrid((21, 17), patch_size=3, stride=2, window=3)
    n1, n2 = grid.shape
    seen = np.zeros((n1, n2), int)
    for tile in grid.tiles(query_tile):
        seen[tile.queries] += 1
        mask = grid.candidate_mask(tile)
        assert (mask.sum(axis=1) == 3 * 3 - 1).all()     # every query sees its whole window
    np.testing.assert_array_equal(seen, 1)


def test_fold_tile_and_unfold_tile_are_adjoint(rng):
    grid = PatchGrid((13, 15), patch_size=3, stride=2, window=3)
    B, k, C = 2, 2, 3
    for tile in grid.tiles(2):
        nq = (tile.rows.query_stop - tile.rows.query_start) * (tile.cols.query_stop - tile.cols.query_start)
        Z = rng.standard_normal((B, nq, k, C * 9))
        neighbours = np.zeros((B, k, C, *grid.padded))
        fold_tile(Z, tile, grid, neighbours)
        G = rng.standard_normal(neighbours.shape)
        assert inner(neighbours, G) == pytest.approx(inner(Z, unfold_tile(G, tile, grid)), rel=1e-12)


def test_tile_distances_and_their_backward(rng):
    grid = PatchGrid((13, 15), patch_size=3, stride=2, window=3)
    e = rng.standard_normal((2, *grid.shape, 5))
    for tile in grid.tiles(2):
        D = tile_distances(e, tile, grid)
        Q, X = take(e, tile.queries), take(e, tile.candidates)
        brute = ((Q[:, :, None] - X[:, None]) ** 2).sum(-1)
        mask = grid.candidate_mask(tile)
        np.testing.assert_allclose(D[:, mask], brute[:, mask], rtol=1e-12)
        assert np.isinf(D[:, ~mask]).all()
        # the gradient wrt e, by a directional finite difference (D is quadratic in e: exact)
        dD = np.where(mask, rng.standard_normal(D.shape), 0)
        de = np.zeros_like(e)
        tile_distances_backward(dD, e, tile, de)
        v, h = rng.standard_normal(e.shape), 1e-3
        Dp, Dm = tile_distances(e + h * v, tile, grid), tile_distances(e - h * v, tile, grid)
        assert inner(de, v) == pytest.approx(inner(dD[:, mask], Dp[:, mask] - Dm[:, mask]) / (2 * h), rel=1e-9)
