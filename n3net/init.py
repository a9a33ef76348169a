"""The released N3Net code's initialisation (docs/n3net.md, section 5), as an option of the networks.

    init="default"   the layers' own (PyTorch's) defaults: Kaiming-uniform convolutions with
                     a = sqrt(5), batch-norm scales 1
    init="released"  the DnCNN blocks' Conv2d weights ~ N(0, 2 / (kH kW out_channels)) (He et
                     al., fan-out); every BatchNorm2d scale |N(0, 2 / (9 * 64))|, raised to at
                     least 0.025, the N3 blocks' included; batch-norm shifts 0; convolution biases
                     keep their defaults.  The N3 blocks' embedding and temperature CNN
                     convolutions keep the layers' defaults (Kaiming-uniform, a = sqrt(5): RMS
                     1 / sqrt(3 fan_in)), as in the released code, whose N3Block.reset_parameters
                     touches only its batch norms.  The distance batch-norm's scale stays 1 (the
                     released code's BatchNorm1d drew it U(0, 1) in the PyTorch of its time).
    init="he"        as "released", but the N3 blocks' CNN convolutions drawn He fan-out too
                     (their last convolutions about 7x (embedding) and 20x (temperature) the
                     released code's RMS): what this project called "released" before issue 15,
                     kept for the comparison in docs/experiments.md

The released code also sets the BatchNorm2d momentum to 0.001, which suits its 50 epochs of
51,200 crops; after the few thousand steps of a CPU run such running statistics are still near
their initial values and evaluation collapses, so this project keeps momentum 0.1.
"""
import math

import numpy as np

from layers import BatchNorm2d, Conv2d
from minigrad import init

from .n3block import N3Block

INITS = ("default", "released", "he")
BN_SCALE_MIN = 0.025


def initialise(model, init, zero_last=False):
    """Apply the named initialisation to a freshly built model ("default": nothing to do)."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}: use one of {', '.join(INITS)}")
    if init != "default":
        released_init(model, zero_last, n3_cnns=init == "he")


def released_init(model, zero_last=False, rng=None, n3_cnns=False):
    """Re-initialise the convolutions and batch norms of `model` in place, as the released code
    (n3_cnns=True: the N3 blocks' CNN convolutions too, init="he").

    zero_last=True keeps the zero last convolution of DnCNN blocks built with zero_init_residual
    (those that are all zero are left alone)."""
    keep = set() if n3_cnns else {id(c) for m in model.modules() if isinstance(m, N3Block)
                                  for cnn in (m.embedding, m.temperature) for c in cnn.modules()}
    for m in model.modules():
        if isinstance(m, Conv2d):
            weight = m.weight.data
            if id(m) in keep or zero_last and not weight.any():
                continue
            out_channels, _, kh, kw = weight.shape
            weight[...] = init.normal(weight.shape, math.sqrt(2.0 / (kh * kw * out_channels)), rng)
        elif isinstance(m, BatchNorm2d) and m.weight is not None:
            scale = np.abs(init.normal(m.weight.data.shape, math.sqrt(2.0 / (9 * 64)), rng))
            m.weight.data[...] = np.maximum(scale, BN_SCALE_MIN)
            m.bias.data[...] = 0
