import numpy as np
import pytest

from layers import Concat
from minigrad import gradcheck


def test_gradcheck_three_inputs(rng):
    xs = tuple(rng.standard_normal((2, c, 3, 3)) for c in (1, 2, 3))
    gradcheck(Concat(), xs)


def test_values_and_split():
    a, b = np.zeros((1, 1, 2, 2)), np.ones((1, 2, 2, 2))
    y = Concat().forward(a, b)
    assert y.shape == (1, 3, 2, 2) and y[0, 0].sum() == 0 and y[0, 1:].sum() == 8
    c = Concat()
    c.forward(a, b)
    da, db = c.backward(np.arange(12.0).reshape(1, 3, 2, 2))
    assert da.shape == (1, 1, 2, 2) and db.shape == (1, 2, 2, 2) and da.sum() == 6


def test_mismatched_shapes():
    with pytest.raises(ValueError, match="must agree on every other axis"):
        Concat().forward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 2)))
