import numpy as np
import pytest

from minigrad import gradcheck
from n3net import N3SetBlock
from n3net.knn import knn_weights


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_gradcheck(rng, variant):
    block = N3SetBlock(3, k=2, hidden=5, variant=variant).double()
    gradcheck(block, rng.standard_normal((2, 6, 3)))


def test_equals_a_loop_over_queries(rng):
    block = N3SetBlock(2, k=3, hidden=4).double()
    X = rng.standard_normal((1, 7, 2))
    out = block.forward(X).reshape(1, 7, 4, 2)
    E = block.embedding.forward(X)[0]
    t = 0.1 * np.exp(block.temperature.forward(X)[0, :, 0])
    for q in range(7):
        D = np.array([[[np.inf if m == q else ((E[q] - E[m]) ** 2).sum() for m in range(7)]]])
        W = knn_weights(D, t[q][None, None], 3)[0][0, 0]                 # (k, M)
        np.testing.assert_allclose(out[0, q, 0], X[0, q])
        np.testing.assert_allclose(out[0, q, 1:], W @ X[0] - X[0, q], rtol=1e-10, atol=1e-12)
        assert (W[:, q] == 0).all()


def test_bad_inputs():
    block = N3SetBlock(3, k=4)
    with pytest.raises(ValueError, match=r"sets of shape \(B, M, 3\)"):
        block.forward(np.zeros((2, 5, 2), np.float32))
    with pytest.raises(ValueError, match="more than 4 items"):
        block.forward(np.zeros((2, 4, 3), np.float32))
