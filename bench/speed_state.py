"""A training step from a saved state against the same network with fresh weights, one thread.

    python bench/speed_state.py models/state/n3net-sigma25/last.npz [more checkpoints ...]

Builds each checkpoint's model from its config, once with the saved weights and once fresh, and
times a training step (batch 4 of 80 x 80, forward, MSE, backward, Adam) with each: the best of
--repeats after a warm-up.  A trained state that steps much slower than fresh weights computes
with subnormal numbers somewhere (docs/performance.md, "Subnormal weights").
"""
import argparse
import json
import sys

import numpy as np

from bench.harness import best_times
from layers import MSELoss
from minigrad import load
from minigrad.optim import Adam
from minigrad.threads import set_num_threads
from n3net import build_model


def step_function(config, weights, sigma=25.0):
    """One training step of the model of `config`, with `weights` (None: fresh ones)."""
    rng = np.random.default_rng(0)
    clean = rng.random((4, 1, 80, 80), dtype=np.float32)
    noisy = clean + rng.standard_normal(clean.shape).astype(np.float32) * np.float32(sigma / 255)
    model = build_model(**config)
    if weights is not None:
        model.load_state_dict(weights)
    model.set_input_grad(False)
    loss, opt = MSELoss(), Adam(model.parameters(), lr=1e-5)

    def step():
        loss.forward(model.forward(noisy), clean)
        model.zero_grad()
        model.backward(loss.backward())
        opt.step()
    return step


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+", help="checkpoints with a model config (train/denoise.py's)")
    p.add_argument("--repeats", type=int, default=4, help="timed steps after a warm-up (best kept)")
    args = p.parse_args(argv)
    set_num_threads(1)
    for path in args.checkpoints:
        state = load(path)
        config = json.loads(state["config"])
        saved, fresh = best_times([step_function(config, state["model"]), step_function(config, None)], args.repeats)
        print(f"{path}: step {saved:.2f} s with its weights, {fresh:.2f} s with fresh ones ({saved / fresh:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
