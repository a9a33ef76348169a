"""experiments/validation_vs_test.py: each kept branch's best validation against its test PSNR."""
import json
import math

import numpy as np

from experiments.validation_vs_test import branches, spearman


def _branch(state, name, folder, vals, test, brick):
    path = state / name / folder
    path.mkdir(parents=True)
    records = [{"step": 100 * i, "loss": 1e-3} for i in range(3)]
    records += [{"step": 100 * i, "val_psnr": v} for i, v in enumerate(vals[:-1])]
    records.append({"step": 300, "val_psnr_average": vals[-1], "averaged": 6})
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    images = {"brick.png": {"psnr": brick}, "camera.png": {"psnr": 2 * test - brick}}
    (path / "test.json").write_text(json.dumps({"mean_psnr": test, "images": images}))


def test_each_branch_gives_its_best_validation_average_included_and_its_test(tmp_path):
    _branch(tmp_path, "m", "cooldown-200", [30.1, 30.5, 30.4], 31.0, 34.0)    # a checkpoint validated best
    _branch(tmp_path, "m", "cooldown-100", [30.2, 30.3, 30.6], 31.1, 34.2)    # its average validated best
    under_way = tmp_path / "m" / "cooldown"                                # a branch under way: no test.json
    under_way.mkdir()
    (under_way / "metrics.jsonl").write_text(json.dumps({"step": 100, "val_psnr": 31.5}) + "\n")
    rows = branches("m", state=str(tmp_path))
    assert [(folder, val, test) for folder, val, test, _ in rows] == [
        ("cooldown-100", 30.6, 31.1), ("cooldown-200", 30.5, 31.0)]
    assert rows[0][3] == {"brick.png": 34.2, "camera.png": 2 * 31.1 - 34.2}


def test_the_newest_branch_counts_once_it_has_finished(tmp_path):
    _branch(tmp_path, "m", "cooldown-100", [30.2, 30.3, 30.6], 31.1, 34.2)
    _branch(tmp_path, "m", "cooldown", [30.7, 30.8, 30.75], 31.2, 34.3)     # finished: its test.json is there
    rows = branches("m", state=str(tmp_path))
    assert [(folder, val, test) for folder, val, test, _ in rows] == [
        ("cooldown-100", 30.6, 31.1), ("cooldown", 30.8, 31.2)]


def test_spearman_is_one_for_any_increasing_map_and_minus_one_for_a_decreasing_one():
    x = np.array([30.95, 30.96, 30.951, 30.97, 30.9])
    assert math.isclose(spearman(x, np.exp(x)), 1.0)
    assert math.isclose(spearman(x, -x ** 3), -1.0)
    # one pair swapped out of 5: 1 - 6 * (1 + 1) / (5 * 24) = 0.9
    assert math.isclose(spearman([1, 2, 3, 4, 5], [1, 2, 3, 5, 4]), 0.9)
