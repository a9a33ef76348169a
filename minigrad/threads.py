"""How many CPU threads the engine uses (BLAS included)."""
import os

from threadpoolctl import threadpool_limits

_num_threads = os.cpu_count() or 1


def set_num_threads(n):
    """Use n CPU threads: for the matrix products (BLAS) and for the engine's own work."""
    global _num_threads
    if int(n) < 1:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    _num_threads = int(n)
    threadpool_limits(limits=_num_threads, user_api="blas")


def get_num_threads():
    return _num_threads
