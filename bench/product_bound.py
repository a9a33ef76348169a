"""How fast can a DnCNN-17 training step be with NumPy's matrix products?  A lower bound, on this machine.

    python bench/product_bound.py [--repeats 5] [--threads 2]

A DnCNN-17 training step (batch 8 of 80 x 80) is 170 GFLOP of matrix products, nearly all of them
the 45 products of its fifteen 64 -> 64 convolutions: forward and backward-data each a (64, 576)
by (576, P) product (P = 51,200 pixels, inner size 576 = 9 taps x 64 channels), backward-weight a
(64, P) by (P, 576) one.  However the convolution is arranged (im2col, shifted views, kernel rows,
channels first or last, whole or in cache-sized blocks), these FLOP have to go through BLAS.  This
times each of those products alone, in the layouts and blockings below (channels first or last,
one product or cache-sized blocks, the kernel-rows split; the shifted way's products of inner size
64 run at under half the GEMM peak, docs/performance.md), with its operands already in place (no
im2col copy, no accumulation, no batch norm: nothing but the products), and takes the fastest of
each kind.  Fifteen times (2 forward-like + 1 weight) of those is a lower bound on any NumPy
DnCNN-17 step on this machine; the script compares it with PyTorch's whole step (when torch is
installed) and with issue 20's target (1.15x PyTorch's step).

Run it alone: two processes on two cores make every time meaningless.
"""
import argparse

import numpy as np

from bench.harness import best_times
from bench.speed_layers import DNCNN17_FLOP, gemm_peak, ours, pytorch
from layers import BatchNorm2d, ReLU
from layers.conv_kernels import CHUNK_ELEMENTS
from minigrad import Sequential

N, C, H, W, T = 8, 64, 80, 80, 9
P, K = N * H * W, T * C                      # pixels of the batch, inner size of an im2col product
BLOCK = CHUNK_ELEMENTS // C                  # positions of a cache-sized block of C result rows, as the kernels'
PRODUCT_FLOP = 2 * C * K * P                 # one of the 45 products


def products(rng):
    """{(kind, layout): function} for the two kinds of product of a 64 -> 64 convolution."""
    f32 = np.float32
    weight = rng.standard_normal((C, K)).astype(f32)                  # (O, K)
    cols = rng.standard_normal((K, P)).astype(f32)                    # (K, P): im2col, channels first
    cols_last = np.ascontiguousarray(cols.T)                          # (P, K): channels last
    dy = rng.standard_normal((C, P)).astype(f32)                      # (O, P)
    dy_last = np.ascontiguousarray(dy.T)                              # (P, O)
    out, out_last = np.empty((C, P), f32), np.empty((P, C), f32)
    block_out = np.empty((C, BLOCK), f32)
    dweight, dweight_last = np.empty((C, K), f32), np.empty((K, C), f32)
    blocks = [(a, min(a + BLOCK, P)) for a in range(0, P, BLOCK)]

    def forward_blocked():
        for a, b in blocks:
            np.matmul(weight, cols[:, a:b], out=block_out[:, :b - a])

    def rows_products():                     # the "rows" way's three products of inner size 3 C, no sum
        for i in range(3):
            np.matmul(weight[:, i * 3 * C:(i + 1) * 3 * C], cols[i * 3 * C:(i + 1) * 3 * C], out=out)

    def weight_blocked():
        for a, b in blocks:
            np.matmul(dy[:, a:b], cols[:, a:b].T, out=dweight)

    return {
        ("forward", "(O, K) @ (K, P), one product"): lambda: np.matmul(weight, cols, out=out),
        ("forward", "(P, K) @ (K, O), channels last"): lambda: np.matmul(cols_last, weight.T, out=out_last),
        ("forward", f"(O, K) @ (K, {BLOCK}) per block"): forward_blocked,
        ("forward", "3 x (O, 3C) @ (3C, P), kernel rows"): rows_products,
        ("weight", "(O, P) @ (P, K), one product"): lambda: np.matmul(dy, cols.T, out=dweight),
        ("weight", "(K, P) @ (P, O), channels last"): lambda: np.matmul(cols_last.T, dy_last, out=dweight_last),
        ("weight", f"(O, {BLOCK}) @ ({BLOCK}, K) per block"): weight_blocked,
    }


def batch_norm_relu(rng):
    """One of DnCNN-17's fifteen BatchNorm2d -> ReLU pairs, forward and backward, as the layers are."""
    layer = Sequential(BatchNorm2d(C), ReLU())
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    dy = rng.standard_normal((N, C, H, W)).astype(np.float32)

    def step():
        layer.forward(x)
        layer.backward(dy)
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (the best time is kept)")
    parser.add_argument("--threads", type=int, default=2, help="threads for BLAS and for PyTorch")
    args = parser.parse_args()
    from minigrad.threads import set_num_threads
    set_num_threads(args.threads)
    peak = gemm_peak(3)
    work = products(np.random.default_rng(0))
    times = dict(zip(work, best_times(list(work.values()), args.repeats)))
    print(f"NumPy {np.__version__}; {args.threads} threads; float32; best of {args.repeats}; "
          f"GEMM peak (4096^3) {peak:.0f} GFLOP/s")
    print(f"one product of a 64 -> 64 convolution (batch {N} of {H} x {W}): {PRODUCT_FLOP / 1e9:.2f} GFLOP")
    for (kind, layout), t in times.items():
        print(f"  {kind:8} {layout:38} {t * 1e3:7.1f} ms {PRODUCT_FLOP / t / 1e9:5.0f} GFLOP/s "
              f"({PRODUCT_FLOP / t / 1e9 / peak:.0%} of peak)")
    best = {kind: min(t for (k, _), t in times.items() if k == kind) for kind in ("forward", "weight")}
    bound = 15 * (2 * best["forward"] + best["weight"])
    print(f"lower bound on a NumPy DnCNN-17 step: 15 x (2 x {best['forward'] * 1e3:.1f} + "
          f"{best['weight'] * 1e3:.1f} ms) = {bound:.3f} s ({DNCNN17_FLOP / bound / 1e9 / peak:.0%} of peak "
          f"for the step's {DNCNN17_FLOP / 1e9:.0f} GFLOP)")
    norm_s, ours_s = best_times([batch_norm_relu(np.random.default_rng(1)), ours()[1]], args.repeats)
    print(f"with our 15 batch-norm + ReLU layers (forward + backward, {norm_s * 1e3:.1f} ms each): "
          f"{bound + 15 * norm_s:.3f} s, before any copy, accumulation, loss, optimiser or thin convolution")
    print(f"our DnCNN-17 step: {ours_s:.3f} s (the products' bound is {bound / ours_s:.0%} of it)")
    try:
        import torch
    except ImportError:
        print("PyTorch not installed: no comparison (pip install torch==2.13.0)")
        return
    theirs = best_times([pytorch(args.threads)[1]], args.repeats)[0]
    print(f"PyTorch {torch.__version__} DnCNN-17 step: {theirs:.3f} s; issue 20's target 1.15x = "
          f"{1.15 * theirs:.3f} s; the products' bound alone is {bound / theirs:.2f}x PyTorch's step, "
          f"with batch norm and ReLU {(bound + 15 * norm_s) / theirs:.2f}x")


if __name__ == "__main__":
    main()
