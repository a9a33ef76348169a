"""experiments/validation_size.py: how each validation set orders a model's versions against the test."""
import math

import numpy as np

from experiments.validation_size import SETS, compare, validation_sets
from train.data import DEFAULT_DATA, load_folder
from train.run import Run


def _row(commit, test, **values):
    return dict(commit=commit, test=test, **{key: values.get(key, test - 0.1) for key in SETS})


def test_the_regret_is_what_the_set_s_choice_among_the_latest_loses_on_the_test():
    rows = [_row("a", 30.0, crops=29.0, whole=29.0, extra=29.0, both=29.0),      # old: outside the latest
            _row("b", 31.10, crops=31.02, whole=30.91, extra=30.50, both=30.60),
            _row("c", 31.13, crops=31.00, whole=30.92, extra=30.55, both=30.70),
            _row("d", 31.08, crops=31.01, whole=30.90, extra=30.52, both=30.65)]
    result = compare(rows, late=3)
    every, latest, regret, chosen = result["crops"]
    assert chosen["commit"] == "b" and math.isclose(regret, 31.13 - 31.10)
    assert result["whole"][3]["commit"] == "c" and result["whole"][2] == 0.0
    assert math.isclose(result["whole"][1], 1.0)                  # whole orders the latest 3 as the test does
    assert math.isclose(latest, -0.5)                             # crops: b > d > c against c > b > d
    assert every > latest                                         # the old version is last on every set


def test_the_crops_are_the_validation_train_denoise_draws_and_whole_the_same_noise_on_whole_images():
    sets = validation_sets(25.0)
    val = Run._val_set(load_folder(f"{DEFAULT_DATA}/val"), 256, 25.0)
    assert all(np.array_equal(n, m) for (_, n), (_, _, m) in zip(sets["crops"], val))
    assert [c.shape for c, _ in sets["crops"]] == [(256, 256)] * 2
    assert sum(c.size for c, _ in sets["whole"]) > 3 * sum(c.size for c, _ in sets["crops"])
    assert len(sets["extra"]) == 7 and len(sets["test"]) == 6
    for clean, noisy in sets["whole"] + sets["extra"]:
        assert clean.shape == noisy.shape and 24 / 255 < np.std(noisy - clean) < 26 / 255
