import pytest
from threadpoolctl import threadpool_info

from minigrad.threads import get_num_threads, set_num_threads


def test_set_num_threads_limits_blas():
    before = get_num_threads()
    try:
        set_num_threads(1)
        assert get_num_threads() == 1
        assert all(info["num_threads"] == 1 for info in threadpool_info() if info["user_api"] == "blas")
    finally:
        set_num_threads(before)


def test_refuses_zero_threads():
    with pytest.raises(ValueError, match="at least 1"):
        set_num_threads(0)
