"""The strict backend is as strict as CuPy: the checks below are what makes the other tests here
mean something."""
import numpy as np
import pytest

from minigrad import to_device, to_numpy
from minigrad.backend import get_array_module

pytestmark = pytest.mark.strict_device


def test_a_numpy_array_never_meets_a_device_array(rng, strict):
    x = to_device(rng.standard_normal((2, 3)), "gpu")
    host = np.ones(3)
    for operation in (lambda: x + host, lambda: host * x, lambda: x[np.array([0, 1])],
                      lambda: x.__setitem__(0, host), lambda: strict.where(x > 0, host, 0.0),
                      lambda: np.sqrt(x), lambda: np.concatenate([x, x])):
        with pytest.raises(TypeError):
            operation()
    assert get_array_module(x) is strict and get_array_module(host) is np


def test_implicit_conversions_raise_and_explicit_ones_are_counted(rng, syncs):
    x = to_device(rng.standard_normal((2, 3)), "gpu")
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(x)
    total = x.sum()
    assert type(total) is type(x) and total.shape == ()          # a 0-d device array, as CuPy's
    assert syncs.count == 0
    float(total), bool(x[0, 0] > 0), to_numpy(x)
    assert syncs.kinds == {"float": 1, "bool": 1, "get": 1}


def test_scalars_are_not_arrays(rng):
    x = to_device(rng.standard_normal(4).astype(np.float32), "gpu")
    y = np.float32(2) * x + 1.0
    assert y.dtype == np.float32
    np.testing.assert_array_equal(to_numpy(y), 2 * to_numpy(x) + 1)
