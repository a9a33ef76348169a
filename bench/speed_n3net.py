"""N3Net's speed and memory on this CPU: a training step, and whole images of growing size.

    python bench/speed_n3net.py [--sizes 256 512 1024] [--repeats 3] [--threads 2]

Prints, in float32:
  * one training step of N3Net (batch 8 of 80x80, forward, MSE, backward): time, peak memory
    of the arrays it allocates (tracemalloc), and the share of the time spent in the two N3
    blocks (their embedding and temperature CNNs included);
  * evaluation (model.eval(), no_grad) of one grayscale image per size: time and peak memory,
    with both divided by the number of pixels, which stay flat when growth is linear.
Times are the best of --repeats runs after a warm-up; the machine is shared and noisy.
"""
import argparse
import time

import numpy as np

from bench.harness import measure
from layers import MSELoss
from minigrad import no_grad
from minigrad.threads import set_num_threads
from n3net import N3Block, build_model


class BlockTimer:
    """Adds up the time spent inside every N3Block's forward and backward."""

    def __init__(self, model):
        self.total = 0.0
        for stage in model.stages:
            if isinstance(stage, N3Block):
                stage.forward = self.wrap(stage.forward)
                stage.backward = self.wrap(stage.backward)

    def wrap(self, fn):
        def timed(*args):
            start = time.perf_counter()
            out = fn(*args)
            self.total += time.perf_counter() - start
            return out
        return timed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_num_threads(args.threads)
    rng = np.random.default_rng(0)

    model, loss_fn = build_model("n3net"), MSELoss()
    timer = BlockTimer(model)
    noisy = rng.random((8, 1, 80, 80)).astype(np.float32)
    clean = rng.random((8, 1, 80, 80)).astype(np.float32)

    def train_step():
        loss_fn.forward(model.forward(noisy), clean)
        model.zero_grad()
        model.backward(loss_fn.backward())

    train_step()
    timer.total = 0.0
    start = time.perf_counter()
    train_step()
    share = timer.total / (time.perf_counter() - start)
    step_s, step_mb = measure(train_step, args.repeats)
    print(f"N3Net ({model.num_parameters():,} parameters), float32, {args.threads} threads")
    print(f"training step, batch 8 of 80x80 (forward, MSE, backward): {step_s:.2f} s, "
          f"peak {step_mb:.0f} MB, {share:.0%} of the time in the two N3 blocks")

    model.eval()
    print(f"{'evaluation, one image':>24} {'time':>8} {'peak':>9} {'us/pixel':>9} {'bytes/pixel':>12}")
    for size in args.sizes:
        image = rng.random((1, 1, size, size)).astype(np.float32)

        def denoise():
            with no_grad():
                model.forward(image)

        seconds, mb = measure(denoise, 1 if size >= 1024 else args.repeats)
        pixels = size * size
        print(f"{f'{size} x {size}':>24} {seconds:7.2f}s {mb:7.0f}MB {seconds / pixels * 1e6:9.2f} "
              f"{mb * 2 ** 20 / pixels:12.0f}")


if __name__ == "__main__":
    main()
