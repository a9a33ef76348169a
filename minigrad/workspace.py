"""Scratch buffers that are allocated once and reused, within a bounded amount of memory.

Large temporaries (an im2col block, a convolution's zero-padded grid of a (8, 64, 80, 80)
batch is 14 MB) cost as much to allocate as to fill, because every fresh page faults on first
touch.  A layer asks the workspace for a named buffer instead, and the same memory comes back
on the next call:

    scratch(name, shape, dtype, xp)   uninitialised; valid until the next request under `name`
    zeros(name, shape, dtype, xp)     zero-filled once, handed out again for the same name and
                                      shape; the caller writes only positions that it never
                                      needs to be zero (the interior of a zero-padded grid)

Use them for values consumed before the next layer runs, never for what backward needs later.

Bounds.  The buffers live in one Workspace, WORKSPACE:
  * it holds at most `limit_bytes` (LIMIT_BYTES, 512 MiB, by default; set_limit changes it):
    when a new buffer would pass the limit, the least recently used ones are let go first;
    a single buffer larger than the limit is handed out but not kept;
  * no_grad() empties it when the outermost no_grad block ends (grad_mode.py), so that
    inference at any image size keeps nothing alive after the call.
Letting a buffer go only drops the workspace's reference: an array a caller still holds stays
valid, so eviction never changes a result, only how much memory is reused.
"""
import math
from collections import OrderedDict

LIMIT_BYTES = 512 * 2 ** 20


class Workspace:
    def __init__(self, limit_bytes=LIMIT_BYTES):
        self.limit_bytes = limit_bytes
        self._buffers = OrderedDict()              # key -> array, least recently used first

    @property
    def nbytes(self):
        """Bytes held now."""
        return sum(buf.nbytes for buf in self._buffers.values())

    def clear(self):
        """Let every buffer go."""
        self._buffers.clear()

    def _get(self, key):
        buf = self._buffers.get(key)
        if buf is not None:
            self._buffers.move_to_end(key)
        return buf

    def _keep(self, key, buf):
        self._buffers.pop(key, None)
        if buf.nbytes > self.limit_bytes:
            return buf
        while self._buffers and self.nbytes + buf.nbytes > self.limit_bytes:
            self._buffers.popitem(last=False)
        self._buffers[key] = buf
        return buf

    def scratch(self, name, shape, dtype, xp):
        """An uninitialised array of the given shape, reusing the memory of the last call."""
        size = math.prod(shape)
        key = ("scratch", name, xp.__name__, xp.dtype(dtype).str)
        buf = self._get(key)
        if buf is None or buf.size < size:
            buf = self._keep(key, xp.empty(size, dtype))
        return buf[:size].reshape(shape)

    def zeros(self, name, shape, dtype, xp):
        """A zero-initialised buffer, handed out again for the same name and shape.

        The caller promises to write only the same positions every time (for example the
        interior of a zero-padded grid), so that the others stay zero without clearing.
        Put everything that decides those positions into the name."""
        key = ("zeros", name, tuple(shape), xp.__name__, xp.dtype(dtype).str)
        buf = self._get(key)
        if buf is None:
            buf = self._keep(key, xp.zeros(shape, dtype))
        return buf


WORKSPACE = Workspace()


def scratch(name, shape, dtype, xp):
    return WORKSPACE.scratch(name, shape, dtype, xp)


def zeros(name, shape, dtype, xp):
    return WORKSPACE.zeros(name, shape, dtype, xp)


def set_limit(limit_bytes):
    """Change how many bytes the workspace may hold (buffers over it are let go at the next request)."""
    if limit_bytes < 0:
        raise ValueError(f"the workspace limit must be at least 0 bytes, got {limit_bytes}")
    WORKSPACE.limit_bytes = int(limit_bytes)
