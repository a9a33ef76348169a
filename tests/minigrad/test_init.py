import numpy as np
import pytest

from minigrad import init


def test_seeded_and_reproducible():
    a = init.xavier_uniform((8, 4, 3, 3), rng=np.random.default_rng(7))
    b = init.xavier_uniform((8, 4, 3, 3), rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    init.manual_seed(3)
    c = init.kaiming_normal((8, 4))
    init.manual_seed(3)
    np.testing.assert_array_equal(c, init.kaiming_normal((8, 4)))


def test_xavier_and_kaiming_statistics():
    rng = np.random.default_rng(0)
    shape = (256, 128, 3, 3)                  # fan_in 1152, fan_out 2304
    w = init.xavier_uniform(shape, rng=rng)
    assert np.abs(w).max() <= np.sqrt(6 / (1152 + 2304))
    assert w.std() == pytest.approx(np.sqrt(2 / (1152 + 2304)), rel=0.01)
    w = init.xavier_normal(shape, gain=2.0, rng=rng)
    assert w.std() == pytest.approx(2 * np.sqrt(2 / (1152 + 2304)), rel=0.01)
    w = init.kaiming_normal(shape, nonlinearity="relu", rng=rng)
    assert w.std() == pytest.approx(np.sqrt(2 / 1152), rel=0.01)
    w = init.kaiming_uniform(shape, nonlinearity="relu", rng=rng)
    assert np.abs(w).max() <= np.sqrt(6 / 1152)
    assert w.dtype == np.float32


@pytest.mark.parametrize("shape", [(4, 9), (9, 4), (6, 2, 3, 3)])
def test_orthogonal(shape):
    w = init.orthogonal(shape, gain=2.0, rng=np.random.default_rng(1)).astype(np.float64)
    m = w.reshape(shape[0], -1)
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] == small else m.T @ m
    np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-5)


def test_gain_and_errors():
    assert init.calculate_gain("relu") == pytest.approx(np.sqrt(2))
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform((3,))
