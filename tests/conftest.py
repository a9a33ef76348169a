"""Shared fixtures: seeded generators, the optional PyTorch reference, GPU skipping."""
import numpy as np
import pytest

from minigrad.backend import gpu_available


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def torch():
    """PyTorch in float64 on the CPU, or skip the test (pip install torch==2.13.0)."""
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    return torch


def pytest_collection_modifyitems(config, items):
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
