"""Experiment: is a run still learning?  Its training loss, binned over steps.

The validation (two images' central crops, every 100 steps) and the test points (one per branch)
are too few and too noisy to say whether a run at its learning-rate floor still improves; its
training loss is logged at every step, on fresh crops and fresh noise.  Per bin of BIN steps this
prints the mean loss as a PSNR, 10 log10(1 / mean loss) (the logged loss is the mean squared error
on the 0-1 scale, whatever --loss-scale), and the standard error of that PSNR from the per-step
losses' spread (2500 steps of these runs: about 0.03 dB).  A run folder's cool-down branches
(cooldown*/ inside it) are printed after it.

    python -m experiments.training_loss models/state/n3net-sigma25 models/state/dncnn17-sigma25
    python -m experiments.training_loss models/state/n3net-sigma25 --bin 500 --from 25000
"""
import argparse
import glob
import math
import os

import numpy as np

from train.records import read_jsonl


def binned(records, size, start=0):
    """[(first step, last step, PSNR of the mean loss, its standard error in dB, steps)] per bin."""
    by_step = {r["step"]: r["loss"] for r in records if "loss" in r and r["step"] >= start}
    steps = np.array(sorted(by_step))                  # a step logged twice (a run resumed from an
    losses = np.array([by_step[s] for s in steps])     # earlier checkpoint): its last record counts
    rows = []
    for first in range(start - start % size, int(steps.max()) + 1 if len(steps) else 0, size):
        inside = (steps >= first) & (steps < first + size)
        n = int(inside.sum())
        if n < 2:
            continue
        mean = losses[inside].mean()
        spread = losses[inside].std(ddof=1) / math.sqrt(n)                   # of the mean loss
        rows.append((int(steps[inside].min()), int(steps[inside].max()), 10 * math.log10(1 / mean),
                     10 / math.log(10) * spread / mean, n))                  # d(10 log10 1/m) = 4.34 dm/m
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="train/denoise.py --out folders (models/state/NAME)")
    p.add_argument("--bin", type=int, default=2500, help="steps per bin (default 2500)")
    p.add_argument("--from", dest="start", type=int, default=0, help="the first step to read")
    a = p.parse_args()
    if a.bin < 2:
        p.error(f"--bin must be at least 2 steps, got {a.bin}")
    for run in a.runs:
        folders = [run] + sorted(glob.glob(os.path.join(run, "cooldown*")))
        for folder in folders:
            path = os.path.join(folder, "metrics.jsonl")
            if not os.path.exists(path):
                if folder == run:
                    p.error(f"{path} does not exist: give a folder written by train/denoise.py --out")
                continue
            print(f"{folder}: training loss as PSNR (dB), per {a.bin} steps")
            for first, last, value, error, n in binned(read_jsonl(path), a.bin, a.start):
                print(f"  steps {first:6d}-{last:6d}  {value:6.2f} +- {error:.2f}  ({n} steps)")


if __name__ == "__main__":
    main()
