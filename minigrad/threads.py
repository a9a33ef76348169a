"""How many CPU threads the matrix products (BLAS) use: the only multi-threaded work of the engine.

The count is read from and written to the BLAS library itself (through threadpoolctl), so there
is no second copy of it to go stale.  Elementwise NumPy work runs on one core; splitting it over
Python threads was measured and gained nothing (it is memory-bound).
"""
from threadpoolctl import threadpool_info, threadpool_limits


def set_num_threads(n):
    """Let the matrix products use n CPU threads."""
    if int(n) < 1:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    threadpool_limits(limits=int(n), user_api="blas")


def get_num_threads():
    """Threads the BLAS library uses now (the first one found, if several are loaded)."""
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    return blas[0]["num_threads"] if blas else 1
