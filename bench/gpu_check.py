"""The GPU path, checked in one command (bench/gpu_check.sh runs this after installing CuPy).

    python bench/gpu_check.py                 # on a machine with CUDA 12 and CuPy: everything
    python bench/gpu_check.py                 # without a GPU: the parity part on the strict backend

1. Parity, float64: one training step of N3Net (batch 2 of 80 x 80: output, loss and every
   parameter's gradient) and one evaluation of a 256 x 256 image, on the device against the CPU;
   the largest relative difference of each.  Without a GPU the device is the tests' strict backend
   (tests/strict_device.py: CuPy's strictness on the CPU), and the GPU parts below are skipped.
2. With a GPU: the tests marked `gpu` (pytest -m gpu).
3. With a GPU: float32 times of the N3Net and DnCNN-17 training steps (batch 8 of 80 x 80, Adam) and
   of a 1024 x 1024 N3Net evaluation, ours against the PyTorch twins (bench/torch_models.py) on the
   same GPU where torch sees CUDA; best of --repeats after a warm-up, the GPU synchronised around
   each run.  One table at the end.
"""
import argparse
import contextlib
import importlib.util
import os
import subprocess
import sys

import numpy as np

from bench.harness import best_times
from layers import MSELoss
from minigrad import backend, init, no_grad, to_device, to_numpy
from n3net import build_model

BATCH, CROP, EVAL_SIZE, TIMED_EVAL = 2, 80, 256, 1024


def largest_difference(device_arrays, cpu_arrays):
    """max over the pairs of max |device - cpu| / max |cpu|."""
    worst = 0.0
    for d, c in zip(device_arrays, cpu_arrays):
        scale = max(float(np.abs(c).max()), 1e-30)
        worst = max(worst, float(np.abs(to_numpy(d) - c).max()) / scale)
    return worst


def parity():
    """[(what, largest relative difference)] of a training step and an evaluation, float64."""
    init.manual_seed(0)
    cpu = build_model("n3net", init="released").double()
    device = build_model("n3net", init="released").double()
    device.load_state_dict(cpu.state_dict())
    device.to("gpu")
    rng = np.random.default_rng(0)
    noisy, clean = rng.random((BATCH, 1, CROP, CROP)), rng.random((BATCH, 1, CROP, CROP))
    whole = rng.random((1, 1, EVAL_SIZE, EVAL_SIZE))
    results = {}
    for name, model, to in (("cpu", cpu, lambda a: a), ("gpu", device, lambda a: to_device(a, "gpu"))):
        loss_fn = MSELoss()
        out = model.forward(to(noisy))
        loss = loss_fn.forward(out, to(clean))
        model.zero_grad()
        model.backward(loss_fn.backward())
        grads = [p.grad for p in model.parameters()]
        model.eval()
        with no_grad():
            image = model.forward(to(whole))
        results[name] = (out, loss, grads, image)
    (out, loss, grads, image), (dout, dloss, dgrads, dimage) = results["cpu"], results["gpu"]
    return [("N3Net training step: output", largest_difference([dout], [out])),
            ("N3Net training step: loss", largest_difference([dloss], [np.asarray(loss)])),
            (f"N3Net training step: {len(grads)} parameter gradients", largest_difference(dgrads, grads)),
            (f"N3Net evaluation, {EVAL_SIZE} x {EVAL_SIZE}", largest_difference([dimage], [image]))]


def timings(repeats):
    """[(work, ours s, PyTorch s or None)] on the GPU, float32: bench/vs_pytorch.py's work, on the device."""
    from bench.vs_pytorch import evaluation, training_step
    try:
        import torch
        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    impls = ["ours", "pytorch"] if cuda else ["ours"]
    rows = []
    for name in ("n3net", "dncnn17"):
        times = best_times([training_step(name, impl, "gpu") for impl in impls], repeats)
        rows.append((f"{name} training step (batch 8 of {CROP}x{CROP})", times[0], times[1] if cuda else None))
    times = best_times([evaluation(TIMED_EVAL, impl, "gpu") for impl in impls], repeats)
    rows.append((f"n3net evaluation {TIMED_EVAL}x{TIMED_EVAL}", times[0], times[1] if cuda else None))
    return rows, cuda


@contextlib.contextmanager
def strict_backend():
    """The tests' strict device backend standing in for CuPy (no GPU here); loaded from its file,
    as tests/ is not an installed package."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "strict_device.py")
    spec = importlib.util.spec_from_file_location("strict_device", path)
    strict_device = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(strict_device)
    with strict_device.installed():
        yield


def main(argv=None):
    p = argparse.ArgumentParser(description="Check the GPU path: parity with the CPU, the gpu tests, timings.")
    p.add_argument("--repeats", type=int, default=3, help="timed runs after a warm-up (best kept) (default 3)")
    p.add_argument("--no-tests", action="store_true", help="skip pytest -m gpu")
    args = p.parse_args(argv)
    gpu = backend.gpu_available()
    lines = []
    if gpu:
        import cupy
        name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
        lines.append(f"GPU: {name}, CuPy {cupy.__version__}")
        context = contextlib.nullcontext()
    else:
        lines.append("no GPU (or no CuPy): parity on the strict device backend (tests/strict_device.py); "
                     "the GPU parts (pytest -m gpu, timings) were SKIPPED")
        context = strict_backend()
    with context:
        rows = parity()
    failed = False
    lines.append(f"{'parity, float64, device against CPU':<52}{'largest relative difference':>28}")
    for what, diff in rows:
        ok = diff < 1e-9
        failed |= not ok
        lines.append(f"  {what:<50}{diff:>20.1e}  {'ok' if ok else 'DIFFERS'}")
    if gpu and not args.no_tests:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu"], capture_output=True, text=True)
        summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        failed |= done.returncode != 0
        lines.append(f"pytest -m gpu: {summary}")
    if gpu:
        rows, cuda = timings(args.repeats)
        lines.append(f"{'float32 on the GPU (best of ' + str(args.repeats) + ')':<52}{'ours':>9}{'PyTorch':>10}{'ratio':>7}")
        for what, ours, theirs in rows:
            extra = f"{theirs:>9.3f}s{ours / theirs:>6.2f}x" if theirs else "   (torch without CUDA)"
            lines.append(f"  {what:<50}{ours:>8.3f}s{extra}")
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
