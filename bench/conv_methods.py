"""The three methods of the grid convolution kernels, product by product, on this machine.

    python bench/conv_methods.py [--repeats 10] [--threads 1 2] [--shapes 64-64 64-8 8-64]

layers/conv_kernels.py evaluates a "same" convolution on a zero-padded grid in one of three ways
(kernels.METHODS): T products straight from shifted views of the grid (inner size c, no copy), an
im2col block of the T shifted views and one product (inner size T c), or a block of the kW shifts
along a kernel row and kH products (inner size kW c).  kernels.choose_method picks one by the
product's input and result rows.  For each shape (batch 8 of 80 x 80, 3 x 3, padding 1) this
prints the forward, backward-data and backward-weight times by each method (the chosen one
marked) and the GEMM peak, at each BLAS thread count (one process each), so the rule can be
checked on another machine: the best method depends on the BLAS kernels (an AVX-512 machine does
worse at inner size 64 than an AVX2 one).  The training runs of models/train.sh use one thread.

Run it alone: two processes on two cores make every time meaningless.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

from bench.harness import best_times
from bench.speed_layers import gemm_peak
from layers import conv_kernels as kernels

N, H, W = 8, 80, 80


def worker(shape, threads, repeats, methods):
    """One process: BLAS threads are fixed when NumPy loads, so each count runs in its own."""
    C, O = (int(v) for v in shape.split("-"))
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((O, C, 3, 3)).astype(np.float32)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    dy = rng.standard_normal((N, O, H, W)).astype(np.float32)
    geometry = kernels.ConvGeometry.of(3, padding=1)
    grid = kernels.Grid.of(x.shape, geometry)
    x_grid = grid.write(x, np.zeros(grid.shape(C), np.float32))
    dy_grid = grid.write(dy, np.zeros(grid.shape(O), np.float32))
    buffers = {}

    def scratch(name, shape):
        if buffers.get(name) is None or buffers[name].shape != shape:
            buffers[name] = np.empty(shape, np.float32)
        return buffers[name]

    y, dx = np.empty((N, O, H, W), np.float32), np.empty((N, C, H, W), np.float32)
    taps = weight.transpose(2, 3, 0, 1).reshape(9, O, C)                          # forward
    flipped = weight[:, :, ::-1, ::-1].transpose(2, 3, 1, 0).reshape(9, C, O)      # backward-data
    work = {}
    for method in methods:
        work[("forward", method)] = lambda m=method: kernels.grid_correlate(
            taps, x_grid, grid, y, scratch, method=m)
        work[("backward-data", method)] = lambda m=method: kernels.grid_correlate(
            flipped, dy_grid, grid, dx, scratch, method=m)
        work[("backward-weight", method)] = lambda m=method: kernels.same_backward_weight(
            x_grid, dy_grid, grid, (3, 3), scratch, method=m)
    # the methods agree (a method that is fast because it is wrong would be no finding)
    reference = {"forward": kernels.grid_correlate(taps, x_grid, grid, np.empty_like(y), scratch, method="shifted"),
                 "backward-data": kernels.grid_correlate(flipped, dy_grid, grid, np.empty_like(dx), scratch,
                                                         method="shifted"),
                 "backward-weight": kernels.same_backward_weight(x_grid, dy_grid, grid, (3, 3), method="shifted")}
    for product, method in work:
        a, b = reference[product], work[(product, method)]()
        assert np.allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(a).max()), (product, method)
    times = best_times(list(work.values()), repeats)
    flop = 2 * N * H * W * C * O * 9
    for (product, method), t in zip(work, times):
        rows = (C, O) if product != "backward-data" else (O, C)      # the product's input and result rows
        chosen = " (chosen)" if kernels.choose_method(*rows) == method else ""
        print(f"{shape:>6} {threads:>7} {product:>16} {method:>8} {t * 1e3:8.1f} ms "
              f"{flop / t / 1e9:6.0f} GFLOP/s{chosen}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10, help="timed runs after a warm-up (best kept)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="BLAS thread counts")
    parser.add_argument("--shapes", nargs="+", default=["64-64", "64-8", "8-64"],
                        help="convolutions as IN-OUT channels")
    parser.add_argument("--chunk", type=int, default=kernels.CHUNK_ELEMENTS,
                        help="elements of a block of results or copies (kernels.CHUNK_ELEMENTS)")
    parser.add_argument("--methods", nargs="+", default=list(kernels.METHODS), help="the ways to time")
    parser.add_argument("--worker", nargs=2, metavar=("SHAPE", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    kernels.CHUNK_ELEMENTS = args.chunk
    if args.worker:
        shape, threads = args.worker
        if shape == "peak":
            print(f"GEMM peak (4096^3), {threads} thread(s): {gemm_peak(3):.0f} GFLOP/s")
        else:
            worker(shape, int(threads), args.repeats, args.methods)
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"batch {N} of {H} x {W}, 3 x 3, padding 1; float32; best of {args.repeats}; blocks of {args.chunk} elements")
    print(f"{'shape':>6} {'threads':>7} {'product':>16} {'method':>8} {'time':>11} {'rate':>13}")
    for threads in args.threads:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   PYTHONPATH=root)
        for shape in ["peak"] + args.shapes:
            subprocess.run([sys.executable, __file__, "--worker", shape, str(threads),
                            "--repeats", str(args.repeats), "--chunk", str(args.chunk), "--methods", *args.methods],
                           env=env, check=True)


if __name__ == "__main__":
    main()
