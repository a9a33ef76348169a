"""Experiment: does validation order a run's cool-down branches as the test images do?

Each cool-down branch of a shipped run (the kept ones in models/state/NAME/cooldown-*/, and the
newest in cooldown/ once it has finished) logged the validation PSNR of its checkpoints
(metrics.jsonl: "val_psnr", and "val_psnr_average" for its average) and tested its best by
validation (test.json: the test images whole, noise seed 0). This reads them back, from the
committed logs only (no model is run), and prints per branch the best validation, the test PSNR and
brick's, then how the validation goes with the test mean and with brick (Spearman and Pearson
correlations over the branches). models/train.sh ships a branch if it validates better than the
shipped model, so this is how far that rule can be trusted.

    python -m experiments.validation_vs_test [NAME ...]     # default: the two sigma-25 runs
"""
import argparse
import glob
import json
import os

import numpy as np

from train.records import read_jsonl


def branches(name, state="models/state"):
    """[(branch folder, best validation PSNR, test PSNR, {image: test PSNR})] of NAME's branches:
    the kept ones (cooldown-*/), then the newest (cooldown/) if it has finished (has its test.json;
    models/train.sh empties cooldown/ when it starts a branch)."""
    rows = []
    newest = os.path.join(state, name, "cooldown")
    folders = sorted(glob.glob(os.path.join(state, name, "cooldown-*")))
    folders += [newest] if os.path.isfile(os.path.join(newest, "test.json")) else []
    for folder in folders:
        records = read_jsonl(os.path.join(folder, "metrics.jsonl"))
        validated = [r.get("val_psnr", r.get("val_psnr_average")) for r in records
                     if "val_psnr" in r or "val_psnr_average" in r]
        with open(os.path.join(folder, "test.json")) as f:
            test = json.load(f)
        per_image = {k: v["psnr"] for k, v in test["images"].items()}
        rows.append((os.path.basename(folder), max(validated), test["mean_psnr"], per_image))
    return rows


def spearman(x, y):
    """Spearman's rank correlation (no ties expected among PSNRs to 1e-13)."""
    rank = lambda v: np.argsort(np.argsort(v)).astype(float)
    return float(np.corrcoef(rank(x), rank(y))[0, 1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", default=["n3net-sigma25", "dncnn17-sigma25"])
    p.add_argument("--image", default="brick.png", help="the one test image to correlate as well")
    a = p.parse_args()
    for name in a.names:
        rows = branches(name)
        if len(rows) < 3:
            raise SystemExit(f"{name}: {len(rows)} finished branches in models/state/{name}/cooldown*/; "
                             "a correlation needs at least 3")
        print(f"{name}: {len(rows)} branches")
        for folder, val, test, per_image in rows:
            print(f"  {folder:28s} val {val:.4f}  test {test:.3f}  {a.image} {per_image[a.image]:.2f}")
        val, test = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
        image = np.array([r[3][a.image] for r in rows])
        print(f"  validation and test mean: Spearman {spearman(val, test):.2f}, Pearson "
              f"{np.corrcoef(val, test)[0, 1]:.2f}; test - validation {np.min(test - val):.3f} to "
              f"{np.max(test - val):.3f} dB")
        print(f"  validation and {a.image}: Spearman {spearman(val, image):.2f}")


if __name__ == "__main__":
    main()
