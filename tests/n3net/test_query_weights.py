"""N3Block.query_weights: what one query patch selected, over its window, equals the
untiled reference block's weights of that query."""
import numpy as np
import pytest

from minigrad import init
from n3net.n3block import N3Block
from n3net.reference import reference_forward, window_mask


@pytest.mark.parametrize("i, j", [(0, 0), (3, 2), (5, 6), (2, 6)])
def test_query_weights_equal_the_reference(rng, i, j):
    init.manual_seed(0)
    block = N3Block(2, k=3, patch_size=3, stride=2, match_window=4, features=4, query_tile=2).double()
    Y = rng.standard_normal((2, 2, 13, 15))
    block.forward(Y)
    W, (row, col) = block.query_weights(i, j, image=1)
    _, cache = reference_forward(block, Y)
    n1, n2 = 6, 7                                      # (13 - 3) / 2 + 1, (15 - 3) / 2 + 1
    reference = cache["knn"].weights[1, i * n2 + j].reshape(3, n1, n2)      # (k, n1, n2)
    np.testing.assert_allclose(W, reference[:, row:row + 4, col:col + 4], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(W.sum(axis=(1, 2)), 1, rtol=1e-12)            # all of it in the window
    assert (W[:, i - row, j - col] == 0).all()                               # not itself
    inside = window_mask(n1, n2, 4)[i * n2 + j].reshape(n1, n2)
    assert inside[row:row + 4, col:col + 4].sum() == 15


def test_query_off_the_grid_is_refused(rng):
    block = N3Block(2, k=3, patch_size=3, stride=2, match_window=4, features=4).double()
    block.forward(rng.standard_normal((1, 2, 9, 9)))
    with pytest.raises(ValueError, match="not on the block's 4x4 patch grid"):
        block.query_weights(4, 0)
