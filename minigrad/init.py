"""Weight initialisation: Xavier/Glorot, He/Kaiming, orthogonal; seeded and reproducible.

Every function returns a new NumPy array (move it with Module.to afterwards) and
draws from `rng`, a numpy.random.Generator; without one it uses this module's
default generator, which ``manual_seed`` resets.  Fans follow PyTorch: for a
weight of shape (O, C, kH, kW), fan_in = C*kH*kW and fan_out = O*kH*kW.
"""
import math

import numpy as np

_default_rng = np.random.default_rng(0)


def manual_seed(seed):
    """Reset the default generator, making every later initialisation reproducible."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def _fans(shape):
    if len(shape) < 2:
        raise ValueError(f"fan in/out need a weight with at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    """Recommended gain for a nonlinearity, as torch.nn.init.calculate_gain."""
    if nonlinearity in ("linear", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}")


def uniform(shape, low, high, rng=None, dtype=np.float32):
    rng = rng or _default_rng
    return rng.uniform(low, high, size=shape).astype(dtype)


def normal(shape, std, rng=None, dtype=np.float32):
    """N(0, std^2)."""
    return ((rng or _default_rng).standard_normal(shape) * std).astype(dtype)


def xavier_uniform(shape, gain=1.0, rng=None, dtype=np.float32):
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, -a, a, rng, dtype)


def xavier_normal(shape, gain=1.0, rng=None, dtype=np.float32):
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return ((rng or _default_rng).standard_normal(shape) * std).astype(dtype)


def kaiming_uniform(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None,
                    dtype=np.float32):
    """U(-b, b), b = gain * sqrt(3 / fan); PyTorch's Conv2d default is a = sqrt(5)."""
    fan = _fans(shape)[0 if mode == "fan_in" else 1]
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform(shape, -bound, bound, rng, dtype)


def kaiming_normal(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None,
                   dtype=np.float32):
    """N(0, std^2), std = gain / sqrt(fan)."""
    fan = _fans(shape)[0 if mode == "fan_in" else 1]
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return ((rng or _default_rng).standard_normal(shape) * std).astype(dtype)


def orthogonal(shape, gain=1.0, rng=None, dtype=np.float32):
    """A (semi-)orthogonal matrix of shape (shape[0], prod(shape[1:])), reshaped.

    QR of a Gaussian matrix with the signs of R's diagonal folded into Q, so that the
    result is uniformly distributed over orthogonal matrices.
    """
    rows = shape[0]
    cols = int(np.prod(shape[1:]))
    a = (rng or _default_rng).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))                     # (max, min) with orthonormal columns
    if rows < cols:
        q = q.T                                     # (rows, cols) with orthonormal rows
    return (gain * q).reshape(shape).astype(dtype)
