"""The scratch workspace is bounded: a byte limit with least-recently-used eviction, and nothing
kept after inference under no_grad."""
import tracemalloc

import numpy as np
import pytest

from minigrad import no_grad
from minigrad.workspace import WORKSPACE, Workspace, set_limit
from n3net import build_model


def test_buffers_are_reused_and_the_limit_evicts_the_least_recently_used():
    ws = Workspace(limit_bytes=3000)
    a = ws.zeros("a", (100,), np.float64, np)                     # 800 bytes
    assert ws.zeros("a", (100,), np.float64, np) is a
    s = ws.scratch("s", (10, 10), np.float64, np)
    assert ws.scratch("s", (5, 5), np.float64, np).base is s.base  # smaller request: same memory
    ws.zeros("b", (100,), np.float64, np)
    ws.zeros("a", (100,), np.float64, np)                          # a is now the most recently used
    ws.zeros("c", (100,), np.float64, np)                          # 3200 bytes: b goes, not a
    assert ws.nbytes <= 3000
    assert ws.zeros("a", (100,), np.float64, np) is a
    big = ws.scratch("big", (1000,), np.float64, np)               # over the limit: handed out, not kept
    assert big.shape == (1000,) and ws.nbytes <= 3000
    a[:] = 1                                                       # an evicted or kept array stays valid
    ws.clear()
    assert ws.nbytes == 0 and a.sum() == 100


def test_limit_must_be_non_negative():
    with pytest.raises(ValueError, match="at least 0"):
        set_limit(-1)


def test_inference_at_many_sizes_keeps_nothing_alive():
    """Denoising images of many sizes one after another: after each call the memory still held
    (by the model and the workspace) does not grow with the number of sizes seen."""
    model = build_model("n3net")
    model.eval()
    rng = np.random.default_rng(0)
    held = []
    tracemalloc.start()
    try:
        for size in range(80, 120, 4):                             # 10 different image sizes
            image = rng.random((1, 1, size, size + 3), dtype=np.float32)
            with no_grad():
                y = model.forward(image)
            del y, image
            held.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert WORKSPACE.nbytes == 0
    # every call ends holding what the first did, within 1 MB (the N3 blocks keep a few small arrays)
    assert max(held) - held[0] < 2 ** 20, [h / 2 ** 20 for h in held]


def test_training_batches_of_many_sizes_stay_under_the_limit():
    model = build_model("dncnn17", depth=4)
    rng = np.random.default_rng(0)
    limit = WORKSPACE.limit_bytes
    set_limit(4 * 2 ** 20)
    try:
        for size in range(20, 60, 4):
            y = model.forward(rng.random((2, 1, size, size), dtype=np.float32))
            model.backward(np.ones_like(y))
            assert WORKSPACE.nbytes <= 4 * 2 ** 20
    finally:
        set_limit(limit)
