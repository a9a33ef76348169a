"""experiments/training_loss.py: a run's training loss per bin of steps, as a PSNR with its error."""
import math

import numpy as np

from experiments.training_loss import binned


def test_a_constant_loss_is_its_psnr_with_no_error_and_bins_split_at_multiples_of_the_size():
    records = [{"step": s, "loss": 0.01} for s in range(1, 251)] + [{"step": 100, "val_psnr": 30.0}]
    rows = binned(records, 100)
    assert [(first, last, n) for first, last, _, _, n in rows] == [(1, 99, 99), (100, 199, 100), (200, 250, 51)]
    for _, _, value, error, _ in rows:
        assert math.isclose(value, 20.0) and error < 1e-12                # 10 log10(1 / 0.01)


def test_the_psnr_is_of_the_mean_loss_and_its_error_follows_the_spread():
    rng = np.random.default_rng(0)
    losses = 1e-3 * (1 + 0.1 * rng.standard_normal(4000))
    rows = binned([{"step": s, "loss": float(v)} for s, v in enumerate(losses, 1)], 4000)
    (first, last, value, error, n), = rows                 # steps 1-3999; step 4000 alone has no spread
    assert (first, last, n) == (1, 3999, 3999)
    mean = losses[:n].mean()
    assert math.isclose(value, 10 * math.log10(1 / mean), rel_tol=1e-12)
    # the standard error of the mean (0.1 / sqrt(n) relative) through d(10 log10 1/m) = (10 / ln 10) dm / m
    assert math.isclose(error, 10 / math.log(10) * 0.1 / math.sqrt(n), rel_tol=0.05)


def test_steps_before_from_and_bins_of_one_step_are_left_out():
    records = [{"step": s, "loss": 0.001} for s in range(1, 301)]
    rows = binned(records, 100, start=150)
    assert [(first, last) for first, last, *_ in rows] == [(150, 199), (200, 299)]    # step 300 alone: no spread


def test_a_step_logged_twice_counts_once_with_its_last_record():
    records = [{"step": s, "loss": 0.01} for s in range(1, 11)] + [{"step": s, "loss": 0.001} for s in range(6, 11)]
    (first, last, value, _, n), = binned(records, 100)                 # steps 6-10 redone after a resume
    assert (first, last, n) == (1, 10, 10)
    assert math.isclose(value, 10 * math.log10(1 / ((5 * 0.01 + 5 * 0.001) / 10)))
