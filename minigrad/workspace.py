"""Scratch buffers that are allocated once and reused.

Large temporaries (an im2col matrix of a (8, 64, 80, 80) batch is 120 MB) cost as much to
allocate as to fill, because every fresh page faults on first touch.  A layer asks for a
named scratch buffer instead; the same memory comes back on the next call (grown if needed).
A buffer is only valid until the next request under the same name, so use it for values
that are consumed before the next layer runs, never for what backward needs later.
"""
import math

_buffers = {}


def scratch(name, shape, dtype, xp):
    """An uninitialised array of the given shape, reusing the memory of the last call."""
    size = math.prod(shape)
    key = (name, xp.__name__, xp.dtype(dtype).str)
    buf = _buffers.get(key)
    if buf is None or buf.size < size:
        buf = xp.empty(size, dtype)
        _buffers[key] = buf
    return buf[:size].reshape(shape)


def zeros(name, shape, dtype, xp):
    """A zero-initialised buffer that is kept and handed out again for the same name and shape.

    The caller promises to write only the same positions every time (for example the
    interior of a zero-padded grid), so that the others stay zero without clearing.
    Put everything that decides those positions into the name.
    """
    key = (name, tuple(shape), xp.__name__, xp.dtype(dtype).str)
    buf = _buffers.get(key)
    if buf is None:
        buf = _buffers[key] = xp.zeros(shape, dtype)
    return buf

