"""Is the continuous KNN still continuous?  A saturation diagnostic for the N3 blocks of a model.

A softmax whose largest weight is 1 passes no gradient to its logits: an N3 block whose first
weight vector w^1 (Eq. 8) is one-hot for most queries is a hard KNN, and its embedding and
temperature CNNs stop learning.  Per N3 block, from the last forward (and backward) pass:

    saturated         fraction of queries whose largest first weight max_m w^1_m exceeds 0.99
    w1_median         median over queries of that largest first weight
    n_eff_median      median over queries of 1 / sum_m (w^1_m)^2, the number of candidates the
                      first weight vector effectively averages (1: hard; 224: uniform)
    logit_std_median  median over queries of the standard deviation of the first logits
                      -D_hat / t over the query's candidates: how peaked w^1 can be (below about 1,
                      w^1 is close to uniform; above about 5, close to one-hot)
    gap_median        median over queries of (d2 - d1) / t: the gap between the nearest and the
                      second-nearest candidate in units of the temperature, on the distances the
                      softmax sees (after the distance batch-norm); > 5 means w^1 > 0.99
    t_median, t_min, t_max   the temperatures t of the queries
    grad_embedding, grad_temperature   ||dL/dtheta|| / ||theta|| over the parameters of the
                      embedding and the temperature CNN (0 before any backward)
    grad_rest         the same ratio over every parameter of the model outside the N3 blocks'
                      embedding and temperature CNNs, for comparison
    separation_median median over queries of the std over the candidates of the normalised
                      distances D_hat; collapsed: below 0.1 with logit_std_median below 1, the rule
                      of n3net/collapse.py (the distances the softmax sees no longer separate
                      candidates, and the temperature does not make up for it)

    stats = diagnose(model, noisy, clean)   # a training-mode forward + backward, state restored
    stats = diagnose(model, noisy, clean, training=False)   # the same in evaluation mode
    stats = saturation(model)               # from the pass the model has just made (training)
    W, (row, col) = block.query_weights(i, j)    # what query patch (i, j) selected, over its window

A block is selective enough to ship (issues 15 and 16) when its median n_eff is at most MAX_N_EFF
= 128 of 224, at most MAX_SATURATED = 10 % of its queries are saturated and it is not collapsed:

    reasons = unselective(entry)    # one block's entry of saturation / diagnose: [] if it passes
"""
from typing import NamedTuple

import numpy as np

from layers import MSELoss
from minigrad.backend import to_numpy

from .collapse import is_collapsed
from .n3block import n3_blocks  # noqa: F401 (re-exported)
from .patch_grid import take

THRESHOLD = 0.99
MAX_N_EFF = 128          # a selective block weights at most this many of its 224 candidates
MAX_SATURATED = 0.10     # and at most this share of its queries are saturated


def _ratio(params):
    grad = sum(float((p.grad * p.grad).sum()) for p in params)
    weight = sum(float((p.data * p.data).sum()) for p in params)
    return float(np.sqrt(grad / weight)) if weight > 0 else 0.0


class SelectionStatistics(NamedTuple):
    """Per query of a block's last forward pass, flat NumPy arrays in tile order."""
    w1: np.ndarray           # largest first weight max_m w^1_m
    n_eff: np.ndarray        # 1 / sum_m (w^1_m)^2
    logit_std: np.ndarray    # std over the candidates of the first logits -D_hat / t
    gap: np.ndarray          # (d2 - d1) / t
    t: np.ndarray            # temperature
    separation: np.ndarray   # std over the candidates of D_hat (collapse.py)


def selection_statistics(block):
    """The SelectionStatistics of every query of the block's last forward pass."""
    _, _, tiles = block.last_selection()
    t = block.temperatures()                                            # (B, n1, n2)
    columns = {name: [] for name in SelectionStatistics._fields}
    for tile, D_hat, selected in tiles:                                 # on the host: not a hot path
        Dn = to_numpy(D_hat)                                             # (B, nq, nu)
        t_tile = to_numpy(take(t, tile.queries))                         # (B, nq)
        nearest = np.partition(Dn, 1, axis=-1)[..., :2]                  # (B, nq, 2): d1 <= d2
        finite = np.isfinite(Dn)
        count = finite.sum(axis=-1)                                      # (B, nq) candidates
        D0 = np.where(finite, Dn, 0)
        mean = D0.sum(axis=-1) / count
        var = np.where(finite, D0 - mean[..., None], 0) ** 2
        spread = np.sqrt(var.sum(axis=-1) / count)                       # (B, nq) std of D_hat
        first = to_numpy(selected.weights[:, :, 0])                      # (B, nq, nu): w^1
        columns["w1"].append(first.max(axis=-1))
        columns["n_eff"].append(1 / (first * first).sum(axis=-1))
        columns["logit_std"].append(spread / t_tile)
        columns["gap"].append((nearest[..., 1] - nearest[..., 0]) / t_tile)
        columns["t"].append(t_tile)
        columns["separation"].append(spread)
    return SelectionStatistics(**{k: np.concatenate([a.ravel() for a in v]) for k, v in columns.items()})


def saturation(model, threshold=THRESHOLD):
    """Per N3 block, a dict of the statistics in the module docstring, from the model's last
    forward pass (run with gradients enabled) and, for the gradient ratios, its last backward."""
    blocks = n3_blocks(model)
    inside = {id(p) for _, b in blocks for p in b.embedding.parameters() + b.temperature.parameters()}
    rest = [p for p in model.parameters() if id(p) not in inside]
    report = []
    for name, block in blocks:
        stats = selection_statistics(block)
        separation, logit_spread = float(np.median(stats.separation)), float(np.median(stats.logit_std))
        report.append({"block": name, "saturated": float((stats.w1 > threshold).mean()),
                       "w1_median": float(np.median(stats.w1)), "n_eff_median": float(np.median(stats.n_eff)),
                       "logit_std_median": logit_spread,
                       "gap_median": float(np.median(stats.gap)), "t_median": float(np.median(stats.t)),
                       "t_min": float(stats.t.min()), "t_max": float(stats.t.max()),
                       "separation_median": separation, "collapsed": is_collapsed(separation, logit_spread),
                       "grad_embedding": _ratio(block.embedding.parameters()),
                       "grad_temperature": _ratio(block.temperature.parameters()),
                       "grad_rest": _ratio(rest)})
    return report


def diagnose(model, noisy, clean, threshold=THRESHOLD, training=True):
    """The saturation report of one forward and MSE backward on (noisy, clean) batches
    (B, 1, H, W): in training mode (batch statistics, as a training step sees it) or, with
    training=False, in evaluation mode (running statistics, as denoising sees it).  The model's
    running statistics, gradients and mode are restored."""
    buffers = {name: b.copy() for name, b in model.named_buffers()}
    grads = [p.grad.copy() for p in model.parameters()]
    was_training = model.training
    try:
        model.train(training)
        loss = MSELoss()
        loss.forward(model.forward(noisy), clean)
        model.zero_grad()
        model.backward(loss.backward())
        return saturation(model, threshold)
    finally:
        for (name, b) in model.named_buffers():
            b[...] = buffers[name]
        for p, g in zip(model.parameters(), grads):
            p.grad[...] = g
        model.train(was_training)


def unselective(entry):
    """Why one block's diagnostic entry (a dict of saturation or diagnose, or its JSON) fails the bound
    of the module docstring: a list of reasons, empty if the block is selective."""
    reasons = []
    if entry["n_eff_median"] > MAX_N_EFF:
        reasons.append(f"{entry['block']}: median n_eff {entry['n_eff_median']:.1f} > {MAX_N_EFF}")
    if entry["saturated"] > MAX_SATURATED:
        reasons.append(f"{entry['block']}: {100 * entry['saturated']:.1f} % of its queries saturated "
                       f"> {100 * MAX_SATURATED:.0f} %")
    if entry["collapsed"]:
        reasons.append(f"{entry['block']}: collapsed (separation {entry['separation_median']:.2f})")
    return reasons
