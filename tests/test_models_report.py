"""models/report.py: the README's shipped-model tables come from evaluations and model files."""
import importlib.util
import json
import os
import re
import subprocess

import numpy as np
import pytest

from minigrad import save

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def report_module():
    spec = importlib.util.spec_from_file_location("report", os.path.join(ROOT, "models", "report.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tables_from_an_evaluation(tmp_path, capsys):
    model = tmp_path / "n3net-sigma25.npz"
    save({"model": {"w": np.zeros(1)}, "step": 12, "train_seconds": 600.0, "best_val_psnr": 29.5,
          "best_val_step": 10, "train_args": json.dumps({"model": "n3net", "variant": "reference", "sigma": 25.0,
                                                         "steps": 12, "batch_size": 4})}, str(model))
    image = {"psnr": 30.0, "ssim": 0.8, "noisy_psnr": 20.0, "noisy_ssim": 0.3, "bm3d_psnr": 31.0, "bm3d_ssim": 0.85}
    result = {"sigma": 25.0, "seed": 0, "checkpoint": str(model), "images": {"brick.png": image},
              **{f"mean_{k}": v for k, v in image.items()}}
    (tmp_path / "r.json").write_text(json.dumps(result))
    assert report_module().main([str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "| noisy input | 20.00 | 20.00 / 0.300 |" in out and "| BM3D | 31.00 | 31.00 / 0.850 |" in out
    assert "| `n3net-sigma25` | 30.00 | 30.00 / 0.800 |" in out
    assert ("| `n3net-sigma25` | `--model n3net --variant reference --sigma 25.0 --batch-size 4` | 12 (48) | 10 min "
            "| 29.50 dB (10) |") in out
    # a cool-down branch says where it left its run
    save({"model": {"w": np.zeros(1)}, "step": 500, "train_seconds": 600.0, "best_val_psnr": 29.5, "best_val_step": 500,
          "train_args": json.dumps({"model": "dncnn17", "sigma": 25.0, "steps": 500, "batch_size": 4,
                                    "lr_half_life": None, "cooldown": 400})}, str(model))
    assert report_module().main([str(tmp_path / "r.json")]) == 0
    assert ("| `n3net-sigma25` | `--model dncnn17 --sigma 25.0 --batch-size 4`, a cool-down branch of 400 steps from "
            "step 100 | 500 (2,000) | 10 min | 29.50 dB (500) |") in capsys.readouterr().out
    # ... and, if its average of its last states won, that it is one
    save({"model": {"w": np.zeros(1)}, "step": 500, "train_seconds": 600.0, "best_val_psnr": 29.5, "best_val_step": 500,
          "averaged": 3, "train_args": json.dumps({"model": "dncnn17", "sigma": 25.0, "steps": 500, "batch_size": 4,
                                                   "cooldown": 400, "average_last": 100,
                                                   "extra_train": "data/images/extra"})}, str(model))
    assert report_module().main([str(tmp_path / "r.json")]) == 0       # ... and trained on the extra images
    assert ("`--model dncnn17 --sigma 25.0 --batch-size 4 --extra-train data/images/extra`, a cool-down branch of 400 "
            "steps from step 100, the average of its last 100 steps (3 states) | 500 (2,000) "
            in capsys.readouterr().out)
    # ... and a branch with larger batches than its run's: the crops the checkpoint counted
    save({"model": {"w": np.zeros(1)}, "step": 500, "train_seconds": 600.0, "best_val_psnr": 29.5, "best_val_step": 500,
          "crops": 100 * 4 + 400 * 16, "train_args": json.dumps({"model": "dncnn17", "sigma": 25.0, "steps": 500,
                                                                 "batch_size": 16, "cooldown": 400})}, str(model))
    assert report_module().main([str(tmp_path / "r.json")]) == 0
    assert "step 100 | 500 (6,800) |" in capsys.readouterr().out
    # ... and a branch with crops and noise of its own (--branch-seed)
    save({"model": {"w": np.zeros(1)}, "step": 500, "train_seconds": 600.0, "best_val_psnr": 29.5, "best_val_step": 500,
          "train_args": json.dumps({"model": "dncnn17", "sigma": 25.0, "steps": 500, "batch_size": 4,
                                    "cooldown": 400, "branch_seed": 1})}, str(model))
    assert report_module().main([str(tmp_path / "r.json")]) == 0
    assert ("a cool-down branch of 400 steps from step 100 drawing its own crops and noise (--branch-seed 1) | 500 "
            in capsys.readouterr().out)


def test_the_readme_tables_without_between_levels_or_runs(tmp_path):
    """No evaluations at other noise levels and no run folders: the tables models/README.md holds are
    still all there, the runs' two empty (header and separator only)."""
    tables = report_module().readme_tables([], [], str(tmp_path / "no-runs"))
    in_models = tables[os.path.join(ROOT, "models", "README.md")]
    assert [t.splitlines()[0].split("|")[1].strip() for t in in_models] == ["model", "run", "sigma"]
    assert [len(t.splitlines()) for t in in_models] == [2, 2, 2]
    assert tables[os.path.join(ROOT, "README.md")] == []


def test_the_table_at_other_noise_levels(tmp_path):
    report = report_module()
    results = []
    for name, sigma, psnr, bm3d in (("n3net-sigma25", 15.0, 30.5, 33.6), ("n3net-sigma50", 15.0, 26.7, None),
                                    ("n3net-sigma50", 35.0, 27.7, None), ("n3net-sigma25", 35.0, 24.2, 29.6)):
        r = {"name": name, "sigma": sigma, "mean_psnr": psnr, "mean_ssim": 0.5, "mean_noisy_psnr": 40 - sigma}
        if bm3d:
            r["mean_bm3d_psnr"] = bm3d
        results.append(r)
    assert report.between_table(results).splitlines() == [
        "| image noise | noisy | `n3net-sigma25` | `n3net-sigma50` | BM3D (true sigma) |",
        "|---|---|---|---|---|",
        "| sigma 15 | 25.00 | 30.50 / 0.500 | 26.70 / 0.500 | 33.60 |",
        "| sigma 35 | 5.00 | 24.20 / 0.500 | 27.70 / 0.500 | 29.60 |"]
    assert report.between_table(results[1:3]).splitlines()[2] == "| sigma 15 | 25.00 | 26.70 / 0.500 | - |"


def test_curves_read_the_runs_histories(tmp_path):
    spec = importlib.util.spec_from_file_location("curves", os.path.join(ROOT, "models", "curves.py"))
    curves = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(curves)
    state, results = tmp_path / "state", tmp_path / "results"
    for name, offset in (("n3net-sigma25", 0.5), ("dncnn17-sigma25", 0.0), ("n3net-sigma50", -3.0)):
        (state / name).mkdir(parents=True)
        lines = [{"step": s, "loss": 0.1} for s in (1, 2)] + [{"step": s, "val_psnr": 28 + offset + s / 100}
                                                              for s in (100, 200)]
        lines += [{"step": 200, "loss": 0.1, "seconds": 600.0}]
        (state / name / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
        blocks = [{"block": "stages.1", "n_eff_median": 30.4, "saturated": 0.02, "t_median": 0.084,
                   "separation_median": 0.33, "collapsed": False},
                  {"block": "stages.3", "n_eff_median": 224.0, "saturated": 0.0, "t_median": 0.097,
                   "separation_median": 1e-6, "collapsed": True}] if name.startswith("n3net") else []
        points = [{"step": 200, "mean_psnr": 29 + offset, "psnr": {"brick.png": 31.0}, "blocks": blocks},
                  {"step": 300, "mean_psnr": 29.5 + offset, "psnr": {"brick.png": 31.5}, "blocks": blocks,
                   "cooldown": 100, "branched_at": 200, "seconds": 900.0, "averaged": 3, "average_last": 33},
                  {"step": 300, "mean_psnr": 29.4 + offset, "psnr": {"brick.png": 31.4}, "blocks": blocks,
                   "cooldown": 100, "branched_at": 200, "min_temperature": 0.02, "seconds": 900.0},
                  {"step": 300, "mean_psnr": 29.6 + offset, "psnr": {"brick.png": 31.6}, "cooldown": 100,
                   "branched_at": 200, "seconds": 900.0, "extra_train": "data/images/extra",
                   "crops": 2000},                    # counted by the checkpoint: a branch of larger batches
                  {"step": 300, "mean_psnr": 29.7 + offset, "psnr": {"brick.png": 31.7}, "cooldown": 100,
                   "branched_at": 200, "seconds": 900.0, "branch_seed": 1}]     # its own crops and noise
        (state / name / "tests.jsonl").write_text("".join(json.dumps(p) + "\n" for p in points))
    results.mkdir()
    (results / "n3net-sigma25.json").write_text(json.dumps({"mean_psnr": 30.0, "mean_bm3d_psnr": 31.14}))
    (results / "official-sigma25.json").write_text(json.dumps({"mean_psnr": 31.82}))
    loaded = curves.load(str(state))
    found = curves.runs(loaded)
    assert found["n3net-sigma25"] == (25.0, [(100, 29.5), (200, 30.5)], [(200, 29.5)], [(300, 30.0), (300, 29.9), (300, 30.2)],
                                      [(300, 30.1)])
    assert found["n3net-sigma50"][0] == 50.0
    assert curves.reference(str(results), 25, "mean_bm3d_psnr", "") == 31.14
    assert curves.reference(str(results), 25, "mean_psnr", "official") == 31.82
    assert curves.reference(str(results), 50, "mean_bm3d_psnr", "") is None
    table = curves.progress(loaded).splitlines()
    assert table[2] == "| dncnn17-sigma25 | 200 | 800 | 10 min | 29.00 (31.00) | - |"
    assert table[3] == ("| dncnn17-sigma25, cool-down 100 from 200, its last 33 steps averaged | 300 | 1,200 | 15 min "
                        "| 29.50 (31.50) | - |")
    assert table[4] == "| dncnn17-sigma25, cool-down 100 from 200, t >= 0.02 | 300 | 1,200 | 15 min | 29.40 (31.40) | - |"
    assert table[5] == ("| dncnn17-sigma25, cool-down 100 from 200, with data/images/extra | 300 | 2,000 | 15 min "
                        "| 29.60 (31.60) | - |")
    assert table[6] == ("| dncnn17-sigma25, cool-down 100 from 200, --branch-seed 1 | 300 | 1,200 | 15 min "
                        "| 29.70 (31.70) | - |")
    assert table[7] == ("| n3net-sigma25 | 200 | 800 | 10 min | 29.50 (31.00) | stages.1: 30, 2%, 0.084, 0.33; "
                        "stages.3: 224, 0%, 0.097, 0.00 COLLAPSED |")
    # the pairs at equal steps: the branches both sigma-25 runs took alike (n3net-sigma50 has no DnCNN-17)
    table = curves.pairs(loaded).splitlines()
    blocks = "stages.1: 30, 2%, 0.084, 0.33; stages.3: 224, 0%, 0.097, 0.00 COLLAPSED"
    assert table[2:] == [
        f"| 25 | 100 steps from 200 | 30.000 (31.50) avg | 29.500 (31.50) avg | +0.500 (+0.00) | 15 / 15 min | {blocks} |",
        f"| 25 | 100 steps from 200, t >= 0.02 | 29.900 (31.40) | 29.400 (31.40) | +0.500 (+0.00) | 15 / 15 min | {blocks} |",
        "| 25 | 100 steps from 200, --branch-seed 1 | 30.200 (31.70) | 29.700 (31.70) | +0.500 (+0.00) | 15 / 15 min | - |",
        "| 25 | 100 steps from 200, 12 crops a step, with data/images/extra | 30.100 (31.60) | 29.600 (31.60) | +0.500 (+0.00) "
        "| 15 / 15 min | - |"]
    out = tmp_path / "curves.png"
    assert curves.main(["--state", str(state), "--results", str(results), "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000


def test_regenerate_refuses_an_unknown_noise_level(tmp_path):
    script = os.path.join(ROOT, "models", "regenerate.sh")
    assert subprocess.run(["bash", "-n", script]).returncode == 0
    done = subprocess.run(["bash", script, "30"], capture_output=True, text=True, env={**os.environ, "PYTHON": "false"})
    assert done.returncode == 2 and "unknown noise level '30' (give 25, 50 or nothing for both)" in done.stderr


def test_a_table_replaces_the_one_it_stands_for():
    report = report_module()
    text = "\n".join(["intro", "| | a | b |", "|---|---|---|", "| noisy | 1 | 2 |", "| x | 3 | 4 |", "",
                      "between", "| | a | b |", "|---|---|---|", "| noisy | 1 | 2 |", "| y | 5 | 6 |", "end"])
    assert report.tables(text) == [(1, 5), (7, 11)]
    new = "| | a | b |\n|---|---|---|\n| noisy | 1 | 2 |\n| y | 7 | 8 |"          # the second, by its rows
    assert report.replace_table(text, new).split("\n")[7:12] == new.split("\n") + ["end"]
    assert report.replace_table(text, new).split("\n")[:7] == text.split("\n")[:7]
    grown = new + "\n| y, 8 orientations | 9 | 9 |"                              # a shared header: rows may grow
    assert report.replace_table(text, grown).split("\n")[7:13] == grown.split("\n") + ["end"]
    assert report.replace_table(text, grown).split("\n")[:7] == text.split("\n")[:7]
    unique = "| run | step |\n|---|---|\n| n3 | 1 |\n| n3 | 2 |"
    with_runs = text + "\n| run | step |\n|---|---|\n| n3 | 1 |"
    assert report.replace_table(with_runs, unique).endswith("end\n" + unique)   # a unique header: rows may grow
    with pytest.raises(ValueError, match="0 tables headed '\\| model \\| steps \\|'$"):
        report.replace_table(text, "| model | steps |\n|---|---|\n| a | 1 |")
    with pytest.raises(ValueError, match="0 tables headed .* with the rows noisy, z$"):
        report.replace_table(text, "| | a | b |\n|---|---|---|\n| noisy | 1 | 2 |\n| z | 0 | 0 |")


def test_the_readmes_show_the_committed_results(capsys):
    """The tables of models/README.md and README.md are what models/report.py makes of the committed
    evaluations (models/results/), models and runs (models/state/): `models/report.py --write` after
    models/regenerate.sh or a new run keeps them so."""
    assert report_module().main(["--check"]) == 0, capsys.readouterr().out


def test_the_readme_says_what_the_shipped_blocks_select():
    """README.md's "median n_eff A and B of 224 on test crops" of the shipped n3net-sigma25 is what
    train/diagnose.py measures on it (the sentence outlived two models once: a new shipped model
    needs it rewritten)."""
    from train.diagnosis import diagnose_on_test_crops
    from train.inference import load_model
    text = " ".join(open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().split())
    said = re.findall(r"median n_eff (\d+) and (\d+) of 224 on test crops", text)
    assert len(said) == 1, said
    blocks = diagnose_on_test_crops(load_model(os.path.join(ROOT, "models", "n3net-sigma25.npz")), 25)
    assert [round(b["n_eff_median"]) for b in blocks] == [int(n) for n in said[0]]
