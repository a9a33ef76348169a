"""The one seam between NumPy (CPU) and CuPy (GPU).

Everything above this file calls ``get_array_module(x)`` and then uses the
functions NumPy and CuPy share, so the same layer code runs on both.  This is
the only file that imports CuPy; without CuPy (or without a GPU) the CPU path
works unchanged and asking for "gpu" raises a clear error.
"""
import numpy as np

try:  # CuPy is optional: pip install cupy-cuda12x on a machine with a GPU.
    import cupy
except ImportError:  # pragma: no cover - depends on the machine
    cupy = None

DEVICES = ("cpu", "gpu")


class DeviceError(RuntimeError):
    """A device that cannot be used here (CuPy missing, no GPU)."""


def use_device_module(module):
    """Stand `module` in for CuPy (None: no device); returns the one it replaces.  For the tests'
    strict device backend (tests/strict_device.py), which runs the GPU path on the CPU."""
    global cupy
    previous, cupy = cupy, module
    return previous


def gpu_available():
    """True when CuPy is installed and sees at least one usable GPU."""
    if cupy is None:
        return False
    try:
        return bool(cupy.is_available())
    except Exception:  # a broken CUDA install reports itself as "no GPU"
        return False


def check_device(device):
    """Validate a device name; raise a helpful error if it cannot be used."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}: use 'cpu' or 'gpu'")
    if device == "gpu" and not gpu_available():
        reason = ("CuPy is not installed (pip install cupy-cuda12x)" if cupy is None
                  else "CuPy is installed but finds no usable GPU")
        raise DeviceError(f"device 'gpu' was requested but {reason}; use device 'cpu'")
    return device


def get_array_module(x):
    """numpy or cupy, whichever owns the array x."""
    if cupy is not None:
        return cupy.get_array_module(x)
    return np


def device_of(x):
    """'gpu' for a CuPy array, 'cpu' otherwise."""
    return "cpu" if get_array_module(x) is np else "gpu"


def to_device(x, device):
    """Return x as an array on the given device (no copy if it is already there)."""
    check_device(device)
    if device == "cpu":
        return to_numpy(x)
    return cupy.asarray(x)


def synchronize(device):
    """Wait until the device has done the work queued on it (for timings; the CPU has no queue)."""
    if check_device(device) == "gpu":
        cupy.cuda.Device().synchronize()


def to_numpy(x):
    """Return x as a NumPy array (copies from the GPU if needed)."""
    if cupy is not None and isinstance(x, cupy.ndarray):
        return cupy.asnumpy(x)
    return np.asarray(x)
