import numpy as np
import pytest

from minigrad.backend import check_device, get_array_module, gpu_available, to_device, to_numpy


def test_cpu_arrays_use_numpy():
    x = np.zeros(3)
    assert get_array_module(x) is np
    assert to_device(x, "cpu") is x
    assert to_numpy([1, 2]).tolist() == [1, 2]


def test_unknown_device_is_refused():
    with pytest.raises(ValueError, match="use 'cpu' or 'gpu'"):
        check_device("cuda")


@pytest.mark.skipif(gpu_available(), reason="a GPU is present")
def test_gpu_without_gpu_says_why():
    with pytest.raises(RuntimeError, match="device 'gpu' was requested but CuPy"):
        to_device(np.zeros(2), "gpu")


@pytest.mark.gpu
def test_round_trip_through_the_gpu():
    x = np.arange(6.0).reshape(2, 3)
    g = to_device(x, "gpu")
    assert get_array_module(g) is not np
    np.testing.assert_array_equal(to_numpy(g), x)
