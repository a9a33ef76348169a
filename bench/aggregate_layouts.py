"""The N3 aggregation's forward product in three layouts, at one tile of the N3Net block (one thread).

    python bench/aggregate_layouts.py

knn.aggregate (Z in the fold's (B, k, F, N) layout, both operands transposed views); one product
over all k neighbours with a copy into the fold's layout; W x with a plain W and the copy; and the
two backward products of the same size, for comparison (docs/performance.md, issue 20).
"""
import time

import numpy as np
from threadpoolctl import threadpool_limits
from n3net import knn
B, N, k, M, F = 4, 64, 7, 225, 800
rng = np.random.default_rng(0)
W = rng.random((B, N, k, M), dtype=np.float32); x = rng.random((B, M, F), dtype=np.float32)
dZ = rng.random((B, k, F, N), dtype=np.float32).transpose(0, 3, 1, 2)
def best(f, n=20):
    f(); ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts) * 1e3
def stacked():        # one product per batch item over all k: (F, M) (M, N k) -> (B, F, N, k), then the fold's layout
    Zt = np.matmul(x.transpose(0, 2, 1), W.reshape(B, N * k, M).transpose(0, 2, 1))      # (B, F, N k)
    return np.ascontiguousarray(Zt.reshape(B, F, N, k).transpose(0, 3, 1, 2))             # (B, k, F, N)
def plain_first():    # Z^j = W^j x (N, F) per j, then the fold's layout by a copy
    Z = np.matmul(W.reshape(B, N * k, M), x)                                               # (B, N k, F)
    return np.ascontiguousarray(Z.reshape(B, N, k, F).transpose(0, 2, 3, 1))
with threadpool_limits(1):
    ref = knn.aggregate(W, x).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(stacked(), ref, rtol=1e-4); np.testing.assert_allclose(plain_first(), ref, rtol=1e-4)
    print(f"aggregate (now)        {best(lambda: knn.aggregate(W, x)):7.2f} ms")
    print(f"stacked + copy         {best(stacked):7.2f} ms")
    print(f"W x stacked + copy     {best(plain_first):7.2f} ms")
    print(f"backward weights       {best(lambda: knn.aggregate_backward_weights(dZ, x)):7.2f} ms")
    print(f"backward x             {best(lambda: knn.aggregate_backward_x(W, dZ)):7.2f} ms")
    print(f"GFLOP per product      {2 * B * N * k * M * F / 1e9:.3f}")
