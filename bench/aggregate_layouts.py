"""The N3 aggregation's forward product in three layouts, at one tile of the N3Net block (one thread).

    python bench/aggregate_layouts.py

knn.aggregate (Z in the fold's (B, k, F, N) layout, both operands transposed views); one product
over all k neighbours with a copy into the fold's layout; W x with a plain W and the copy; and the
two backward products of the same size, for comparison (docs/performance.md, issue 20).

Shape legend: B batch, N queries of the tile (8 x 8), k neighbours, M candidates (the 15 x 15 patch
grid of an 80 x 80 crop), F = 8 channels x 10 x 10 pixels per patch.
"""
import time

import numpy as np
from threadpoolctl import threadpool_limits

from n3net import knn

B, N, k, M, F = 4, 64, 7, 225, 800


def best_ms(f, repeats=20):
    """The fastest of `repeats` calls of f, in milliseconds (after one warm-up call)."""
    f()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def stacked(W, x):
    """One product per batch item over all k: (F, M) (M, N k) -> (B, F, N, k), then the fold's layout."""
    Zt = np.matmul(x.transpose(0, 2, 1), W.reshape(B, N * k, M).transpose(0, 2, 1))      # (B, F, N k)
    return np.ascontiguousarray(Zt.reshape(B, F, N, k).transpose(0, 3, 1, 2))             # (B, k, F, N)


def plain_first(W, x):
    """Z = W x with W plain, (N k, M) (M, F) per batch item, then the fold's layout by a copy."""
    Z = np.matmul(W.reshape(B, N * k, M), x)                                               # (B, N k, F)
    return np.ascontiguousarray(Z.reshape(B, N, k, F).transpose(0, 2, 3, 1))              # (B, k, F, N)


def main():
    rng = np.random.default_rng(0)
    W = rng.random((B, N, k, M), dtype=np.float32)                                # the weights
    x = rng.random((B, M, F), dtype=np.float32)                                   # the candidates' patches
    dZ = rng.random((B, k, F, N), dtype=np.float32).transpose(0, 3, 1, 2)         # (B, N, k, F) view
    with threadpool_limits(1):
        reference = knn.aggregate(W, x).transpose(0, 2, 3, 1)                     # (B, k, F, N)
        for layout in (stacked, plain_first):
            np.testing.assert_allclose(layout(W, x), reference, rtol=1e-4)
        rows = [("knn.aggregate (as it is)", lambda: knn.aggregate(W, x)),
                ("one product over k + copy", lambda: stacked(W, x)),
                ("W x, W plain + copy", lambda: plain_first(W, x)),
                ("backward: weights", lambda: knn.aggregate_backward_weights(dZ, x)),
                ("backward: input", lambda: knn.aggregate_backward_x(W, dZ))]
        for name, f in rows:
            print(f"{name:<28}{best_ms(f):7.2f} ms")
    print(f"{2 * B * N * k * M * F / 1e9:.3f} GFLOP per product")


if __name__ == "__main__":
    main()
