"""Every test in this folder runs with the strict device backend (tests/strict_device.py)
standing in for CuPy: device "gpu" is the CPU, as strict as CuPy about host and device arrays."""
import pytest

from tests import strict_device


@pytest.fixture(autouse=True)
def strict():
    with strict_device.installed() as module:
        yield module


@pytest.fixture
def syncs():
    strict_device.SYNCS.reset()
    return strict_device.SYNCS
