"""Experiment: how often a run's gradients spike, and how its validation moves, window by window.

A training run logs, every step, the global L2 norm of its mean squared error's gradient before
clipping (metrics.jsonl: "grad_norm"), and every 100 steps its validation PSNR ("val_psnr").
n3net-sigma25's norms sit near 0.01, but now and then one step's is 10 to 1000 times that
(DnCNN-17's, near 0.019, do not spike), and `--clip 1.0` lets most of them through
(models/README.md). This reads a run's committed log back (no model is run) and prints, per window
of steps: the median norm, how many steps were spikes (above FACTOR times that median), the largest
norm, how many steps a clip of CLIP would cut, and the validation PSNR's range and its drops (a
validation more than DROP dB below the one before). Comparing the windows before and after a run
changed its clip shows what the clip did.

    python -m experiments.gradient_spikes [NAME ...] [--every 1200] [--factor 10] [--clip 0.05]
"""
import argparse
import os

import numpy as np

from train.records import read_jsonl


def by_step(records, key):
    """{step: value} of the records holding key; a step logged twice (a run resumed from an earlier
    checkpoint does its last steps again) keeps its last value, the one the run went on from."""
    return {r["step"]: r[key] for r in records if key in r}


def windows(last, every, first):
    """[(start, end)]: steps start+1 .. end, windows of `every` steps ending at the last step."""
    ends = list(range(last, first, -every))[::-1]
    return [(max(end - every, first), end) for end in ends]


def summary(norms, vals, start, end, factor, clip, drop):
    """The window (start, end]'s gradient and validation figures (a dict; None where it has none)."""
    steps = [s for s in norms if start < s <= end]
    if not steps:
        return None
    g = np.array([norms[s] for s in steps])
    median = float(np.median(g))
    validated_steps = sorted(vals)
    inside = [s for s in validated_steps if start < s <= end]
    previous = [s for s in validated_steps if s <= start][-1:]               # the drop into the first too
    validated = [vals[s] for s in inside]
    chain = [vals[s] for s in previous + inside]
    drops = sum(1 for a, b in zip(chain, chain[1:]) if b < a - drop)
    return {"start": start, "end": end, "steps": len(steps), "median": median,
            "spikes": int(np.sum(g > factor * median)), "largest": float(g.max()),
            "clipped": int(np.sum(g > clip)),
            "val_min": min(validated) if validated else None, "val_max": max(validated) if validated else None,
            "drops": drops}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", default=["n3net-sigma25", "dncnn17-sigma25"])
    p.add_argument("--state", default="models/state", help="the folder of the runs' states")
    p.add_argument("--every", type=int, default=1200, help="steps per window, the last ending at the run's last step")
    p.add_argument("--windows", type=int, default=6, help="how many windows, the latest last")
    p.add_argument("--factor", type=float, default=10, help="a spike: a norm above this times the window's median")
    p.add_argument("--clip", type=float, default=0.05, help="count the steps whose norm a clip of this would cut")
    p.add_argument("--drop", type=float, default=0.5, help="a drop: a validation this many dB below the one before")
    a = p.parse_args()
    for name in a.names:
        path = os.path.join(a.state, name, "metrics.jsonl")
        if not os.path.exists(path):
            raise SystemExit(f"{path} does not exist: is {name} a run in {a.state}?")
        records = read_jsonl(path)
        norms, vals = by_step(records, "grad_norm"), by_step(records, "val_psnr")
        if not norms:
            raise SystemExit(f"{path} logs no gradient norms")
        last = max(norms)
        print(f"{name}: steps {min(norms)} to {last}; spikes above {a.factor:g} x the median, "
              f"clipped above {a.clip:g}, drops of more than {a.drop:g} dB")
        print("  steps              median   spikes  largest   clipped  validation         drops")
        for start, end in windows(last, a.every, min(norms) - 1)[-a.windows:]:
            s = summary(norms, vals, start, end, a.factor, a.clip, a.drop)
            if s is None:
                continue
            val = (f"{s['val_min']:.2f} to {s['val_max']:.2f}" if s["val_min"] is not None else "-")
            print(f"  {start + 1:6d} to {end:6d}   {s['median']:.4f}  {s['spikes']:5d}   {s['largest']:7.3f}  "
                  f"{s['clipped']:6d}    {val:17s}  {s['drops']:3d}")


if __name__ == "__main__":
    main()
