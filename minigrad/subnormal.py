"""Subnormal numbers are stored as zero: in the parameters after every optimiser step, in the
moments of Adam, and in everything a model loads.

A float32 below 2^-126 = 1.18e-38 in magnitude (float64: 2.2e-308) is subnormal: it keeps its
size with fewer significant bits.  x86 CPUs do arithmetic on subnormal operands in microcode,
tens of times slower than on normal ones, and a matrix product with a few of them in one operand
slows down as a whole.  Weight decay drives the weights that the data leaves alone (those of a
channel that a ReLU switched off for good, or of an N3 block whose embedding died) down towards
zero geometrically, so that after a few thousand steps a trained model can hold many:

    n3net-sigma25 of 2026-11 (first round)   28 % of stages.0.body.2.weight, 42 % of block 2's
                                             temperature CNN, 19 % of stages.4.body.0.weight
    the official N3Net's sigma-25 weights    most of block 2's embedding and temperature CNNs

and its evaluation is 4 to 6 times slower than that of the same network with fresh weights
(docs/performance.md, "Subnormal weights").  PyTorch lets a user set the CPU's flush-to-zero and
denormals-are-zero flags (torch.set_flush_denormal); NumPy has no such switch, so the values are
flushed where they are made.  Replacing x by 0 where |x| < 1.18e-38 changes no output by more
than a few times 1e-38: the shipped models denoise bit-identically after the flush (tested).
"""
import numpy as np

from .backend import get_array_module


def flush_subnormals(x):
    """Set the subnormal entries of a float array to zero, in place; returns x."""
    xp = get_array_module(x)
    if x.dtype.kind == "f":
        # times 1 where |x| >= tiny (inf stays inf), times 0 elsewhere (NaN stays NaN): one pass
        # with no data-dependent shape, so a GPU does not wait for it
        x *= xp.abs(x) >= float(np.finfo(x.dtype).tiny)
    return x


def flush_negligible(w):
    """Set to zero, in place, the entries of a parameter array below eps^2 times its largest
    magnitude (float32: 2^-46 = 1.4e-14 times it; float64: 2^-104), and the subnormal ones; returns w.

    Weight decay under Adam's L2 (minigrad/optim.py) drives the weights that the data leaves alone,
    those reading a channel that a ReLU has switched off for good, down geometrically: after 1600
    steps of the N3Net recipe, 38 % of stages.0.body.2.weight was below 1e-30 (24 of its 64 input
    channels dead).  Such a weight is not subnormal itself, but its products with gradients of 1e-7
    are, and one backward-data product then took 0.74 s instead of 0.06 s: a trained N3Net's
    training step 2.98 s against a fresh one's 2.16 s (one thread, batch 4).  A weight eps^2
    times smaller than the largest of its array cannot change a sum in which that one takes part
    (float32 resolves 2^-24 of it) unless its input is 2^22 times larger, and a dead channel's
    input is 0: the outputs stay the same (tested), the products stay fast."""
    xp = get_array_module(w)
    if w.dtype.kind != "f" or not w.size:
        return w
    info = np.finfo(w.dtype)
    magnitude = xp.abs(w)
    largest = magnitude.max()
    # relative to the largest finite magnitude (with an inf or NaN in w, only the subnormal ones);
    # 0-d arrays throughout, so that a GPU does not wait for the threshold
    threshold = xp.maximum(xp.where(xp.isfinite(largest), largest * info.eps ** 2, 0), info.tiny)
    w *= magnitude >= threshold
    return w
