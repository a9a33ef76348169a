"""Have the N3 blocks collapsed?  What a block's weights and running statistics say about it.

An N3 block matches patches by the distances between their embeddings E = f_E(Y).  Every
convolution of f_E but the last is followed by a batch-norm, and the distances by the distance
batch-norm: the block's output does not depend on the scale of those weights, so no data gradient
resists a weight decay that shrinks them.  Under Adam's L2 decay (minigrad/optim.py, AdamW's
docstring) they shrink steadily, and once a batch-norm's input variance falls to the order of its
eps (1e-5), x / sqrt(var + eps) no longer restores the scale: the embedded patches, and then their
distances, shrink towards zero, the first logits -D_hat / t become equal over the window, and the
block averages its 224 candidates uniformly.  The shipped n3net-sigma25 of the first round had
reached that: embedding weights of RMS 1e-8, distance batch-norm running variance 1e-14.

    report = weight_report(model)      # per N3 block, from the weights and buffers alone:
        embedding_rms, temperature_rms         RMS of each convolution weight of the two CNNs
        embedding_rms_init, temperature_rms_init   what the layers' default initialisation gives
                                               (Kaiming-uniform, a = sqrt(5): 1 / sqrt(3 fan_in))
        embedding_bn_var, temperature_bn_var   median running variance of each batch-norm's input
        distance_bn_var, distance_bn_scale     the distance batch-norm's running variance and |gamma|
        (None without a distance batch-norm; with the per-query norm, its |gamma| and no variance);
        eps, the batch norms' eps

The rule that flags a block "collapsed" needs data, because running statistics lag the weights
(a block whose weights were just scaled by 1e-6 still has its old running variances): it is
measured on a forward pass, by n3net/diagnostics.py, as

    separation = median over queries of std_m(D_hat_m)

the spread over a query's candidates of the normalised distances the softmax sees, before the
temperature.  With the distance batch-norm D_hat = -(gamma (-D - mu) / sqrt(var + eps) + beta): for
a block whose batch-norms work and whose scale gamma is near its initial 1, the spread is of the
order of |gamma| (the batch's own spread; a query's candidates spread somewhat less: about 0.5 in
the runs of docs/experiments.md).  The decay drives it down two ways, both seen: the weights
shrink until eps dominates, and then the spread is about |gamma| sqrt(var / eps) (the shipped
model: 1e-6); and the decay shrinks gamma itself (a run with the N3 blocks at 10x the learning
rate under that decay: gamma 0.06, n_eff 218 of 224).  Below COLLAPSE_SEPARATION = 0.1 (a fifth of
a working block's spread; at the initial temperature 0.1 first logits that spread by less than 1)
the distances no longer separate the candidates, unless the temperature makes up for it: the
softmax sees only D_hat / t, so a block may carry its scale in t instead (n3net-sigma50's first block
in models/README.md: separation 0.05 at t 0.008, first logits spreading by 5.5, n_eff 86 of 224,
the same in training mode).  So the block is flagged collapsed when its separation is below 0.1 and
the median spread of its first logits, std_m(D_hat_m) / t, is below COLLAPSE_LOGIT_SPREAD = 1 too
(both 1e-5 and less in the collapsed shipped model).  A block may also choose to average broadly by
raising its temperature; that is not a collapse and the rule does not flag it (see n_eff for that).  In
evaluation mode the rule is for trained models: one that never trained normalises with the initial
running statistics (mean 0, variance 1), which do not fit its distances, and is flagged.
"""
import math

import numpy as np

from layers import BatchNorm2d, Conv2d
from minigrad.backend import to_numpy

from .n3block import n3_blocks

COLLAPSE_SEPARATION = 0.1
COLLAPSE_LOGIT_SPREAD = 1.0


def _rms(array):
    a = to_numpy(array).astype(np.float64)
    return float(np.sqrt((a * a).mean()))


def default_init_rms(conv):
    """The RMS of a freshly initialised convolution weight, Kaiming-uniform with a = sqrt(5):
    U(-b, b) with b = 1 / sqrt(fan_in), RMS b / sqrt(3)."""
    _, c, kh, kw = conv.weight.data.shape
    return 1 / math.sqrt(3 * c * kh * kw)


def _cnn_report(cnn, name):
    convs = [m for m in cnn.modules() if isinstance(m, Conv2d)]
    norms = [m for m in cnn.modules() if isinstance(m, BatchNorm2d)]
    return {f"{name}_rms": [_rms(c.weight.data) for c in convs],
            f"{name}_rms_init": [default_init_rms(c) for c in convs],
            f"{name}_bn_var": [float(np.median(to_numpy(b.running_var))) for b in norms]}


def weight_report(model):
    """Per N3 block, the weight sizes and running variances of the module docstring."""
    report = []
    for name, block in n3_blocks(model):
        entry = {"block": name, **_cnn_report(block.embedding, "embedding"),
                 **_cnn_report(block.temperature, "temperature")}
        bn, norm = block.distance_bn, block.normaliser
        entry["distance_bn_var"] = None if bn is None else float(to_numpy(bn.running_var)[0])
        entry["distance_bn_scale"] = None if norm is None else abs(float(to_numpy(norm.weight.data)[0]))
        entry["eps"] = next(m for m in block.embedding.modules() if isinstance(m, BatchNorm2d)).eps
        report.append(entry)
    return report


def is_collapsed(separation, logit_spread):
    """The rule of the module docstring, on the medians over a block's queries of the separation
    std_m(D_hat_m) and of the first logits' spread std_m(D_hat_m) / t."""
    return bool(separation < COLLAPSE_SEPARATION and logit_spread < COLLAPSE_LOGIT_SPREAD)
