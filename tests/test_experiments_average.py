"""experiments/average_weights.py: the average of a run's checkpoints is the mean of every weight."""
import json

import numpy as np
import pytest

from experiments.average_weights import averaged
from minigrad import save
from train.inference import FORMAT


def checkpoint(path, step, weight, config=None):
    save({"format": FORMAT, "config": json.dumps(config or {"name": "dncnn17"}), "step": step,
          "model": {"conv.weight": weight, "bn.running_var": weight + 1}}, str(path))
    return str(path)


def test_the_mean_of_each_entry_and_the_rest_of_the_last(tmp_path):
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(3)]
    paths = [checkpoint(tmp_path / f"{i}.npz", 100 * i, w) for i, w in enumerate(ws)]
    last, mean, steps = averaged(paths)
    assert last["step"] == mean["step"] == 200 and steps == [0, 100, 200]
    np.testing.assert_array_equal(last["model"]["conv.weight"], ws[2])
    np.testing.assert_allclose(mean["model"]["conv.weight"], (ws[0] + ws[1] + ws[2]) / 3, rtol=1e-6)
    np.testing.assert_allclose(mean["model"]["bn.running_var"], (ws[0] + ws[1] + ws[2]) / 3 + 1, rtol=1e-6)
    assert mean["model"]["conv.weight"].dtype == np.float32


def test_different_models_are_refused(tmp_path):
    a = checkpoint(tmp_path / "a.npz", 1, np.zeros(2, np.float32))
    b = checkpoint(tmp_path / "b.npz", 2, np.ones(2, np.float32), {"name": "n3net"})
    with pytest.raises(SystemExit, match="different models"):
        averaged([a, b])
