import numpy as np
import pytest

from layers import Dropout
from minigrad import Module, gradcheck


class FixedMaskDropout(Module):
    """Dropout whose generator is reset before every forward, so the mask is fixed."""

    def __init__(self, p):
        self.dropout = Dropout(p)

    def forward(self, x):
        self.dropout.rng = np.random.default_rng(5)
        return self.dropout.forward(x)

    def backward(self, dy):
        return self.dropout.backward(dy)


def test_gradcheck_with_a_fixed_mask(rng):
    gradcheck(FixedMaskDropout(0.3), rng.standard_normal((4, 5)))


def test_inverted_scaling_keeps_the_mean():
    d = Dropout(0.25, rng=np.random.default_rng(0))
    y = d.forward(np.ones(200_000))
    assert set(np.unique(y)) == {0.0, 1 / 0.75}
    assert y.mean() == pytest.approx(1.0, abs=0.01)
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.01)


def test_identity_in_evaluation(rng):
    d = Dropout(0.5).eval()
    x = rng.standard_normal((3, 3))
    np.testing.assert_array_equal(d.forward(x), x)
    np.testing.assert_array_equal(d.backward(x), x)


def test_bad_probability():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.0)
