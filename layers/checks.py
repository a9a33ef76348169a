"""Input validation shared by the layers: clear errors that name the layer and the shapes."""
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


def as_batch(layer, x, channels=None, dtype=None):
    """Validate an image input and return it as (N, C, H, W), plus whether it was one image.

    Accepts (N, C, H, W) or a single image (C, H, W); with `channels` the channel count
    must match.
    """
    check_float(layer, x, dtype)
    c = "C" if channels is None else channels
    if x.ndim not in (3, 4):
        raise ValueError(f"{type(layer).__name__} expects input of shape (N, {c}, H, W) or ({c}, H, W), "
                         f"got {tuple(x.shape)}")
    single = x.ndim == 3
    if single:
        x = x[None]
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{type(layer).__name__} expects {channels} input channels, i.e. shape "
                         f"(N, {channels}, H, W) or ({channels}, H, W), got {tuple(x.shape[single:])}")
    return x, single


def check_same_shape(layer, dy, shape, what="upstream gradient"):
    if tuple(dy.shape) != tuple(shape):
        raise ValueError(f"{type(layer).__name__}.backward: {what} has shape {tuple(dy.shape)}, "
                         f"expected {tuple(shape)} (the shape forward returned)")
