"""A strict stand-in for CuPy, so that the GPU path runs (and fails where CuPy would) without a GPU.

    from tests import strict_device
    with strict_device.installed():          # minigrad.backend takes it for CuPy: device "gpu"
        model.to("gpu"); ...                  # every array on the "device" is a DeviceArray
    strict_device.SYNCS.count                 # device -> host conversions seen so far

A DeviceArray wraps a NumPy array (it is not a subclass, so nothing converts silently) and is as
strict as cupy.ndarray where CuPy is strict:

- mixing it with a NumPy array in any operation (arithmetic, indexing, assignment, a function of
  this module, a NumPy function or ufunc) raises TypeError; Python and NumPy scalars are fine;
- np.asarray(x) and every other implicit conversion to NumPy raise CuPy's TypeError; x.get() and
  asnumpy(x) (the backend's to_numpy) are the explicit ways;
- reductions return 0-d device arrays, not Python numbers, as CuPy's do;
- float(x), int(x), bool(x), x.item(), x.tolist() and x.get() are device -> host transfers that make
  the host wait: each is counted in SYNCS (x.get() too: a checkpoint or a metric costs one).

The module namespace provides what tests/test_cupy_subset.py lists (the functions the project
calls as xp.<name>), each with NumPy's (= CuPy's) signature, plus CuPy's ndarray, asarray,
asnumpy, get_array_module and is_available.  It is a check, not a backend for users.
"""
import contextlib
import operator
import os
import sys
import types

import numpy as np

from minigrad import backend

CUPY_MESSAGE = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct "
                "a NumPy array explicitly.")


class Syncs:
    """Counts the device -> host transfers (synchronisations), by kind and by the line of the
    project that asked for them."""

    def __init__(self):
        self.reset()

    def add(self, kind):
        self.count += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename == __file__:
            frame = frame.f_back
        where = "?" if frame is None else f"{os.path.relpath(frame.f_code.co_filename)}:{frame.f_lineno}"
        self.lines[where] = self.lines.get(where, 0) + 1

    def reset(self):
        self.count, self.kinds, self.lines = 0, {}, {}


SYNCS = Syncs()


def _mixing(what):
    return TypeError(f"a NumPy array met a device array in {what}: move it with xp.asarray / to_device "
                     f"first (CuPy raises TypeError here)")


def unwrap(value, what="an operation"):
    """The NumPy array under a DeviceArray (recursing into tuples and lists); a NumPy array raises."""
    if isinstance(value, DeviceArray):
        return value._a
    if isinstance(value, np.ndarray):
        raise _mixing(what)
    if isinstance(value, tuple):
        return tuple(unwrap(v, what) for v in value)
    if isinstance(value, list):
        return [unwrap(v, what) for v in value]
    return value                             # Python and NumPy scalars, dtypes, None, slices, ...


def wrap(value):
    """Results on the device: arrays and NumPy scalars become DeviceArrays (CuPy's reductions
    return 0-d arrays), recursing into tuples and lists."""
    if isinstance(value, np.ndarray):
        return DeviceArray(value)
    if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_)):
        return DeviceArray(np.asarray(value))
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(wrap(v) for v in value)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


def _binary(op, name, reflected=False):
    def method(self, other):
        other = unwrap(other, f"the operator {name}")
        return wrap(op(other, self._a) if reflected else op(self._a, other))
    method.__name__ = name
    return method


def _inplace(op, name):
    def method(self, other):
        op(self._a, unwrap(other, f"the operator {name}"))
        return self
    method.__name__ = name
    return method


class DeviceArray:
    """An array "on the device": a NumPy array that refuses to meet NumPy arrays (see the module)."""

    __array_ufunc__ = None                   # np.add(host, device), host + device, ...: TypeError
    __hash__ = None

    def __init__(self, array):
        self._a = array

    # ---- what CuPy refuses ---------------------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError(CUPY_MESSAGE)

    def __array_function__(self, func, types_, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} was given a device array: {CUPY_MESSAGE}")

    # ---- device -> host: explicit, and counted ------------------------------------------------
    def get(self):
        SYNCS.add("get")
        return self._a.copy()

    def item(self):
        SYNCS.add("item")
        return self._a.item()

    def tolist(self):
        SYNCS.add("tolist")
        return self._a.tolist()

    def __float__(self):
        SYNCS.add("float")
        return float(self._a)

    def __int__(self):
        SYNCS.add("int")
        return int(self._a)

    def __index__(self):
        SYNCS.add("index")
        return operator.index(self._a)

    def __bool__(self):
        SYNCS.add("bool")
        return bool(self._a)

    # ---- what the host knows without asking the device --------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: DeviceArray(self._a.T))

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (wrap(row) for row in self._a)

    def __repr__(self):
        return f"DeviceArray({self._a!r})"

    # ---- indexing -------------------------------------------------------------------------------
    def __getitem__(self, index):
        return wrap(self._a[unwrap(index, "an index")])

    def __setitem__(self, index, value):
        self._a[unwrap(index, "an index")] = unwrap(value, "an assignment")

    # ---- methods: NumPy's, on the device ----------------------------------------------------------
    def __getattr__(self, name):
        if name.startswith("__"):            # __array_interface__, __array_struct__: NumPy's protocols
            raise AttributeError(name)
        attribute = getattr(self._a, name)
        if not callable(attribute):
            return wrap(attribute)

        def method(*args, **kwargs):
            return wrap(attribute(*unwrap(args, f".{name}()"), **{k: unwrap(v, f".{name}()")
                                                                   for k, v in kwargs.items()}))
        return method

    def __neg__(self):
        return DeviceArray(-self._a)

    def __pos__(self):
        return self

    def __abs__(self):
        return DeviceArray(abs(self._a))

    def __invert__(self):
        return DeviceArray(~self._a)


for _name, _op in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                   ("truediv", operator.truediv), ("floordiv", operator.floordiv), ("mod", operator.mod),
                   ("pow", operator.pow), ("matmul", operator.matmul), ("and", operator.and_),
                   ("or", operator.or_), ("xor", operator.xor)]:
    setattr(DeviceArray, f"__{_name}__", _binary(_op, f"__{_name}__"))
    setattr(DeviceArray, f"__r{_name}__", _binary(_op, f"__r{_name}__", reflected=True))
for _name, _op in [("add", operator.iadd), ("sub", operator.isub), ("mul", operator.imul),
                   ("truediv", operator.itruediv), ("floordiv", operator.ifloordiv), ("pow", operator.ipow),
                   ("and", operator.iand), ("or", operator.ior)]:
    setattr(DeviceArray, f"__i{_name}__", _inplace(_op, f"__i{_name}__"))
for _name, _op in [("lt", operator.lt), ("le", operator.le), ("gt", operator.gt), ("ge", operator.ge),
                   ("eq", operator.eq), ("ne", operator.ne)]:
    setattr(DeviceArray, f"__{_name}__", _binary(_op, f"__{_name}__"))


# ---- the module: CuPy's namespace, as much of it as the project calls --------------------------------
NAMES = {    # = tests/test_cupy_subset.py's CUPY_PROVIDES (checked there against CuPy itself)
    "abs", "add", "arange", "argsort", "dtype", "asarray", "broadcast_to", "concatenate", "einsum", "empty",
    "empty_like", "exp", "expm1", "eye", "float32", "float64", "full", "inf", "isfinite", "isinf", "isnan",
    "log", "log1p", "logaddexp", "matmul", "maximum", "minimum", "multiply", "ones", "ones_like",
    "pad", "sign", "sqrt", "stack", "sum", "take_along_axis", "tanh", "tensordot", "where",
    "zeros", "zeros_like",
}
PASSED_THROUGH = {"dtype", "float32", "float64", "inf"}          # types and constants


def _function(name):
    numpy_function = getattr(np, name)

    def function(*args, **kwargs):
        args = unwrap(args, f"xp.{name}()")
        kwargs = {k: unwrap(v, f"xp.{name}()") for k, v in kwargs.items()}
        return wrap(numpy_function(*args, **kwargs))
    function.__name__ = name
    return function


def asarray(value, dtype=None):
    """Host -> device (a copy, as cupy.asarray of a NumPy array) or a device array as it is."""
    if isinstance(value, DeviceArray):
        return value if dtype is None or value.dtype == dtype else DeviceArray(value._a.astype(dtype))
    return DeviceArray(np.array(value, dtype=dtype))


def asnumpy(value):
    return value.get() if isinstance(value, DeviceArray) else np.asarray(value)


def get_array_module(*arrays):
    return module if any(isinstance(a, DeviceArray) for a in arrays) else np


module = types.ModuleType("strict_device_cupy", "CuPy's namespace on DeviceArrays (tests/strict_device.py)")
for _name in NAMES:
    setattr(module, _name, getattr(np, _name) if _name in PASSED_THROUGH else _function(_name))
module.ndarray = DeviceArray
module.asarray = asarray
module.asnumpy = asnumpy
module.get_array_module = get_array_module
module.is_available = lambda: True
# this device computes as it is called: nothing is ever queued, so synchronising waits for nothing
module.cuda = types.SimpleNamespace(Device=lambda: types.SimpleNamespace(synchronize=lambda: None))


@contextlib.contextmanager
def installed():
    """minigrad.backend with this module standing in for CuPy (device "gpu"), the counter reset."""
    previous = backend.use_device_module(module)
    SYNCS.reset()
    try:
        yield module
    finally:
        backend.use_device_module(previous)
