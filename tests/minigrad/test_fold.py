import numpy as np
import pytest

from minigrad.fold import conv_output_size, fold, unfold

GEOMETRIES = [  # (H, W, kernel, stride, padding, dilation)
    (5, 6, 3, 1, 0, 1), (5, 6, 3, 1, 1, 1), (7, 5, 3, 2, 1, 1), (8, 8, 2, 2, 0, 1),
    (9, 7, (3, 2), (2, 1), (1, 0), 1), (9, 9, 3, 1, 2, 2), (12, 12, 10, 5, 0, 1), (6, 6, 1, 1, 0, 1),
]


@pytest.mark.parametrize("H, W, k, s, p, d", GEOMETRIES)
def test_fold_is_the_adjoint_of_unfold(rng, H, W, k, s, p, d):
    x = rng.standard_normal((2, 3, H, W))
    cols = unfold(x, k, s, p, d)
    g = rng.standard_normal(cols.shape)
    lhs = (cols * g).sum()
    rhs = (x * fold(g, (H, W), k, s, p, d)).sum()
    assert np.isclose(lhs, rhs, rtol=1e-12, atol=1e-12)


def test_unfold_known_values():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    cols = unfold(x, 2)                              # four 2x2 patches, one per column
    assert cols.shape == (1, 4, 4)
    np.testing.assert_array_equal(cols[0].T, [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]])
    padded = unfold(x, 3, padding=1)                 # centre column of the padded 3x3 windows is x
    np.testing.assert_array_equal(padded[0, 4], x.reshape(-1))


def test_fold_counts_overlaps():
    ones = np.ones((1, 4, 4))                        # 2x2 patches over a 3x3 image, all ones
    counts = fold(ones, (3, 3), 2)
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_output_size_and_errors():
    assert conv_output_size((80, 80), 3, 1, 1) == (80, 80)
    assert conv_output_size((80, 80), 10, 5, 0) == (15, 15)
    with pytest.raises(ValueError, match="does not fit"):
        unfold(np.zeros((1, 1, 2, 2)), 3)
    with pytest.raises(ValueError, match="N, C, H, W"):
        unfold(np.zeros((2, 2)), 1)
    with pytest.raises(ValueError, match="fold expects cols"):
        fold(np.zeros((1, 5, 4)), (3, 3), 2)


@pytest.mark.torch
@pytest.mark.parametrize("H, W, k, s, p, d", GEOMETRIES)
def test_matches_torch(torch, rng, H, W, k, s, p, d):
    F = torch.nn.functional
    x = rng.standard_normal((2, 3, H, W))
    cols = unfold(x, k, s, p, d)
    ref = F.unfold(torch.tensor(x), k, dilation=d, padding=p, stride=s).numpy()
    np.testing.assert_allclose(cols, ref, rtol=0, atol=0)
    g = rng.standard_normal(cols.shape)
    ref_fold = F.fold(torch.tensor(g), (H, W), k, dilation=d, padding=p, stride=s).numpy()
    np.testing.assert_allclose(fold(g, (H, W), k, s, p, d), ref_fold, rtol=1e-13, atol=1e-13)
