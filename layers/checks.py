"""Input validation shared by the layers: clear errors that name the layer and the shapes."""
import functools

import numpy as np

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def check_float(layer, x, dtype=None):
    """x must be a float32/float64 array, of `dtype` if given (the layer's parameter dtype)."""
    name = type(layer).__name__
    if not hasattr(x, "dtype") or not hasattr(x, "shape"):
        raise TypeError(f"{name} expects an array, got {type(x).__name__}")
    if x.dtype not in FLOATS:
        raise TypeError(f"{name} expects float32 or float64 input, got {x.dtype}; "
                        f"convert it with x.astype(numpy.float32)")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} has {dtype} parameters but the input is {x.dtype}; cast the input "
                        f"or convert the model with .to(dtype=...)")


def single_image_as_batch(method):
    """Decorator for the forward and backward of a layer on image batches (N, C, H, W), the one
    place where a single image (C, H, W) is handled: it goes through as a batch of one, and the
    batch axis is taken off the result again.  Other 3-D array arguments (a guide image) get
    the batch axis too.  The layer itself only ever sees batches."""
    @functools.wraps(method)
    def on_batches(layer, x, *others):
        if getattr(x, "ndim", None) != 3:
            return method(layer, x, *others)
        others = tuple(a[None] if getattr(a, "ndim", None) == 3 else a for a in others)
        result = method(layer, x[None], *others)
        return None if result is None else result[0]          # None: no input gradient asked for
    return on_batches


def check_images(layer, x, channels=None, dtype=None):
    """x must be a float batch of images (N, C, H, W), with `channels` channels if given."""
    check_float(layer, x, dtype)
    c = "C" if channels is None else channels
    if x.ndim != 4:
        raise ValueError(f"{type(layer).__name__} expects input of shape (N, {c}, H, W) or ({c}, H, W), "
                         f"got {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{type(layer).__name__} expects {channels} input channels, i.e. shape "
                         f"(N, {channels}, H, W) or ({channels}, H, W), got {tuple(x.shape)}")


def check_same_shape(layer, dy, shape, what="upstream gradient"):
    if tuple(dy.shape) != tuple(shape):
        raise ValueError(f"{type(layer).__name__}.backward: {what} has shape {tuple(dy.shape)}, "
                         f"expected {tuple(shape)} (the shape forward returned)")
