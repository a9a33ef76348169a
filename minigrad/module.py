"""Module, Parameter and Sequential: the layer contract without autograd.

    y  = m.forward(x)     # also m(x); caches exactly what backward needs
    dx = m.backward(dy)   # returns dL/dx; ADDS dL/dparam into p.grad

Children are found by looking at the attributes of a module: Modules,
Parameters and lists/tuples of Modules, in the order they were assigned, so
``named_parameters`` gives PyTorch-like dotted names ("body.0.weight").
Buffers (state that is not trained, such as BatchNorm's running statistics)
are declared with ``register_buffer`` and travel with ``state_dict`` and ``to``.
"""
from collections import OrderedDict

import numpy as np

from .backend import check_device, device_of, get_array_module, to_device, to_numpy
from .subnormal import flush_negligible, flush_subnormals


class Parameter:
    """A trainable array and its gradient (same shape, same dtype, same device)."""

    def __init__(self, data):
        self.data = data
        self.grad = get_array_module(data).zeros_like(data)

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Parameter(shape={tuple(self.data.shape)}, dtype={self.data.dtype})"


class Module:
    """Base class: subclasses implement forward and backward by hand."""

    training = True

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, *grads):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def set_input_grad(self, enabled):
        """Whether backward returns dL/dx (True, the default) or None, having only added the
        parameters' gradients (False).  For a network whose input is data, as in training, the
        first layer's input gradient is never used (PyTorch skips it too).  Modules whose first
        step can skip it override this; the others always compute it.  Returns self."""
        if not enabled:
            raise ValueError(f"{type(self).__name__} cannot skip its input gradient")
        return self

    def _saved(self, name):
        """An attribute forward cached for backward, or a clear error if there is none."""
        value = vars(self).get(name)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward needs the cache of a forward pass: none "
                               f"was run, or it ran under minigrad.no_grad()")
        return value

    # ---- children, parameters, buffers -------------------------------------------------
    def named_children(self):
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Module) for v in value):
                for i, child in enumerate(value):
                    yield f"{name}.{i}", child

    def modules(self):
        yield self
        for _, child in self.named_children():
            yield from child.modules()

    def named_parameters(self, prefix=""):
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child.named_parameters(prefix + name + ".")

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def register_buffer(self, name, array):
        """Declare an array attribute that is state but not trained (e.g. running_mean)."""
        if "_buffer_names" not in vars(self):
            self._buffer_names = []
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        setattr(self, name, array)

    def named_buffers(self, prefix=""):
        for name in vars(self).get("_buffer_names", []):
            yield prefix + name, getattr(self, name)
        for name, child in self.named_children():
            yield from child.named_buffers(prefix + name + ".")

    def num_parameters(self):
        return sum(int(p.data.size) for p in self.parameters())

    # ---- training state -----------------------------------------------------------------
    def zero_grad(self):
        for p in self.parameters():
            p.grad[...] = 0

    def train(self, mode=True):
        for m in self.modules():
            m.training = mode
        return self

    def eval(self):
        return self.train(False)

    # ---- state dict -----------------------------------------------------------------------
    def state_dict(self):
        """Parameters and buffers by dotted name, as NumPy arrays (copies)."""
        state = OrderedDict()
        for name, p in self.named_parameters():
            state[name] = to_numpy(p.data).copy()
        for name, b in self.named_buffers():
            state[name] = to_numpy(b).copy()
        return state

    def load_state_dict(self, state, strict=True):
        """Copy arrays into the existing parameters and buffers (never rebinds p.data); negligible
        weights and subnormal values are stored as zero (subnormal.py: they change no output, and
        slow the CPU down).

        With strict=True, a checkpoint that does not fit raises CheckpointMismatchError
        naming the missing, unexpected and mis-shaped entries.
        """
        from .serialization import CheckpointMismatchError
        targets = OrderedDict(self.named_parameters())
        buffers = OrderedDict(self.named_buffers())
        expected = {**{n: p.data for n, p in targets.items()}, **buffers}
        missing = [n for n in expected if n not in state]
        unexpected = [n for n in state if n not in expected]
        misshaped = [(n, tuple(np.shape(state[n])), tuple(expected[n].shape))
                     for n in expected if n in state and tuple(np.shape(state[n])) != tuple(expected[n].shape)]
        if misshaped or (strict and (missing or unexpected)):
            raise CheckpointMismatchError(type(self).__name__, missing, unexpected, misshaped)
        for name, array in expected.items():
            if name in state:
                array[...] = to_device(np.asarray(state[name]), device_of(array))
                # stored as zero (subnormal.py): negligible weights, subnormal buffer entries
                (flush_negligible if name in targets else flush_subnormals)(array)

    # ---- device and dtype -----------------------------------------------------------------
    def to(self, device=None, dtype=None):
        """Move parameters, gradients and buffers to 'cpu' or 'gpu' and/or cast them to dtype.

        Optimisers hold Parameter objects, so moving a model after building its optimiser
        is fine; the optimiser's own state (moments) is created on the parameters' device.
        """
        if device is not None:
            check_device(device)

        def convert(a):
            if device is not None:
                a = to_device(a, device)
            if dtype is not None:
                a = a.astype(dtype, copy=False)
            return a

        for m in self.modules():
            for name, value in vars(m).items():
                if isinstance(value, Parameter):
                    value.data = convert(value.data)
                    value.grad = convert(value.grad)
            for name in vars(m).get("_buffer_names", []):
                setattr(m, name, convert(getattr(m, name)))
        return self

    def double(self):
        return self.to(dtype=np.float64)

    def float(self):
        return self.to(dtype=np.float32)

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        children = list(self.named_children())
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return (lines[0] + ")") if not children else "\n".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after the other; backward runs them in reverse."""

    def __init__(self, *layers):
        self.layers = list(layers)

    def named_children(self):
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def set_input_grad(self, enabled):
        """The input gradient is the first layer's: it decides (Module.set_input_grad)."""
        self.layers[0].set_input_grad(enabled)
        return self
