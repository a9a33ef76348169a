"""Our engine against the obvious PyTorch (autograd) implementation, side by side, in one run.

    python bench/vs_pytorch.py [--repeats 5] [--threads 2] [--sizes 256 512 1024] [--only WORK ...]
                               [--before REV]

Prints one row per piece of work, float32 on the CPU, with our time, PyTorch's time and the
ratio (ours / PyTorch; below 1 is faster), and for the training steps and whole-image
evaluations the peak memory of each:
  * N3Net and DnCNN-17 training steps: batch 8 of 80 x 80, forward, MSE, backward, Adam;
    PyTorch runs the twin of our network (bench/torch_models.py) with our weights;
  * every convolution shape of N3Net, forward + backward (input and weight gradients) on (8, C, 80, 80);
  * N3Net evaluation (eval mode, no gradients) of one grayscale image per size;
and after the DnCNN-17 row, the fraction of the machine's GEMM peak (a 4096^3 product, measured in
its own process) that each DnCNN-17 step reaches with its 170 GFLOP of products.
Each measurement runs in a fresh process: the best time of --repeats runs after a warm-up,
and the peak memory is the process's peak resident memory (VmHWM) during the warm-up and the
runs, minus its resident memory just before (the model and the input already built), so that
buffers kept between calls count.  The machine is shared and noisy, with slow spells of a
minute or more: each row's pair of processes (ours, then PyTorch's) runs --rounds times, and the
best time of each side is kept (evaluations of 512 pixels and more: one round).  Compare only
ratios from the same run.  Needs PyTorch (pip install torch==2.13.0); without it only our column is printed.

--before REV adds a column for our code as it was at git revision REV (checked out into a
temporary worktree), measured in the same rounds, and the ratio now / before: a change's
before and after from one run.
"""
import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from bench import harness

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BATCH, CROP = 8, 80
CONVS = [(1, 64, True), (64, 64, False), (64, 8, True), (8, 64, False), (64, 1, True)]   # N3Net's shapes


def works(sizes):
    """Every row of the table, by name."""
    names = ["n3net step", "dncnn17 step"]
    names += [f"conv {c}->{o}" for c, o, _ in CONVS]
    names += [f"n3net eval {s}" for s in sizes]
    return names


# ---- the work, ours and PyTorch's: each returns a function that runs it once ---------------------
# (device "gpu": ours on CuPy, PyTorch's on CUDA, each run ending with the device synchronised;
# bench/gpu_check.py times these)
def synchronise(impl, device):
    """A function that waits for the device's queued work (nothing to wait for on the CPU)."""
    if impl == "ours":
        from minigrad.backend import synchronize
        return lambda: synchronize(device)
    if device == "cpu":
        return lambda: None
    import torch
    return torch.cuda.synchronize


def training_step(name, impl, device="cpu"):
    from n3net import build_model
    model = build_model(name, **({"init": "released"} if name == "n3net" else {}))
    rng = np.random.default_rng(0)
    noisy = rng.random((BATCH, 1, CROP, CROP), dtype=np.float32)
    clean = rng.random((BATCH, 1, CROP, CROP), dtype=np.float32)
    wait = synchronise(impl, device)
    if impl == "ours":
        from layers import MSELoss
        from minigrad import to_device
        from minigrad.optim import Adam
        model.to(device)
        noisy, clean = to_device(noisy, device), to_device(clean, device)
        loss, opt = MSELoss(), Adam(model.parameters(), lr=1e-4)
        model.set_input_grad(False)                   # as in training, and as PyTorch does for data

        def step():
            loss.forward(model.forward(noisy), clean)
            model.zero_grad()
            model.backward(loss.backward())
            opt.step()
            wait()
        return step
    import torch
    from bench.torch_models import twin
    where = "cuda" if device == "gpu" else "cpu"
    net = twin(model).to(where).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    noisy, clean = torch.from_numpy(noisy).to(where), torch.from_numpy(clean).to(where)

    def step():
        loss = torch.nn.functional.mse_loss(net(noisy), clean)
        opt.zero_grad()
        loss.backward()
        opt.step()
        wait()
    return step


def conv_step(c, o, bias, impl):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, c, CROP, CROP), dtype=np.float32)
    dy = rng.standard_normal((BATCH, o, CROP, CROP), dtype=np.float32)
    if impl == "ours":
        from layers import Conv2d
        conv = Conv2d(c, o, 3, padding=1, bias=bias)

        def step():
            conv.forward(x)
            conv.backward(dy)
        return step
    import torch
    conv = torch.nn.Conv2d(c, o, 3, padding=1, bias=bias)
    xt, dyt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dy)

    def step():
        conv(xt).backward(dyt)
    return step


def evaluation(size, impl, device="cpu"):
    from n3net import build_model
    model = build_model("n3net", init="released")
    model.eval()
    image = np.random.default_rng(0).random((1, 1, size, size), dtype=np.float32)
    wait = synchronise(impl, device)
    if impl == "ours":
        from minigrad import no_grad, to_device
        model.to(device)
        image = to_device(image, device)

        def denoise():
            with no_grad():
                model.forward(image)
            wait()
        return denoise
    import torch
    from bench.torch_models import twin
    where = "cuda" if device == "gpu" else "cpu"
    net, image = twin(model).to(where).eval(), torch.from_numpy(image).to(where)

    def denoise():
        with torch.no_grad():
            net(image)
        wait()
    return denoise


def build(work, impl):
    if work.endswith("step") and not work.startswith("conv"):
        return training_step(work.split()[0], impl)
    if work.startswith("conv"):
        c, o = (int(v) for v in work.split()[1].split("->"))
        return conv_step(c, o, dict(((a, b), bias) for a, b, bias in CONVS)[(c, o)], impl)
    return evaluation(int(work.split()[-1]), impl)


# ---- one measurement, in its own process -------------------------------------------------------------
def measure(work, impl, repeats, threads):
    """Best time (s) and peak memory (MB) of one piece of work, in this process."""
    if impl == "ours":
        from minigrad.threads import set_num_threads
        set_num_threads(threads)
    else:
        import torch
        torch.set_num_threads(threads)
    return harness.measure(build(work, impl), repeats, memory="process")


def run_worker(work, impl, repeats, threads, before_root=None):
    """One measurement in a fresh process; impl "before" runs our code of the worktree before_root."""
    script = os.path.abspath(__file__) if impl != "before" else os.path.join(before_root, "bench", "vs_pytorch.py")
    command = [sys.executable, script, "--worker", work, "ours" if impl == "before" else impl,
               "--repeats", str(repeats), "--threads", str(threads)]
    # the worker imports the code of its own tree (ours now, or the worktree's)
    env = {**os.environ, "PYTHONPATH": before_root if impl == "before" else ROOT}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        raise RuntimeError(f"{work} ({impl}) failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs after a warm-up (best kept)")
    parser.add_argument("--threads", type=int, default=2, help="threads for BLAS and for PyTorch")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024], help="evaluation image sides")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each row's pair of processes")
    parser.add_argument("--only", nargs="+", help="measure only these rows (names as printed)")
    parser.add_argument("--before", metavar="REV", help="also measure our code at this git revision")
    parser.add_argument("--worker", nargs=2, metavar=("WORK", "IMPL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        work, impl = args.worker
        if work == "gemm peak":                      # the machine's GEMM peak, GFLOP/s
            from bench.speed_layers import gemm_peak
            from minigrad.threads import set_num_threads
            set_num_threads(args.threads)
            print(json.dumps({"gflops": gemm_peak(args.repeats)}))
            return
        seconds, mb = measure(work, impl, args.repeats, args.threads)
        print(json.dumps({"seconds": seconds, "mb": mb}))
        return
    try:
        import torch
        impls = ["ours", "pytorch"]
        versions = f"PyTorch {torch.__version__}"
    except ImportError:
        impls, versions = ["ours"], "PyTorch not installed (pip install torch==2.13.0): our column only"
    with before_worktree(args.before) as before_root:
        if before_root:
            impls = ["before"] + impls
            versions += f"; before = our code at {args.before}"
        print(f"NumPy {np.__version__}, {versions}; float32, {args.threads} threads, "
              f"best of {args.repeats} runs x {args.rounds} rounds")
        header = f"{'work':<22}" + (f" {'before':>9}" if before_root else "") + f" {'ours':>9}"
        header += f" {'/before':>7}" if before_root else ""
        header += f" {'PyTorch':>9} {'ratio':>6}" if "pytorch" in impls else ""
        header += (f" {'before peak':>11}" if before_root else "") + f" {'ours peak':>10}"
        header += f" {'PyTorch peak':>13} {'ratio':>6}" if "pytorch" in impls else ""
        print(header)
        dncnn17 = None                               # the DnCNN-17 row, for the GEMM-peak fractions
        for work in args.only or works(args.sizes):
            repeats = 1 if work.endswith("1024") else args.repeats
            rounds = 1 if "eval" in work and int(work.split()[-1]) >= 512 else args.rounds
            r = {}
            for _ in range(rounds):
                for impl in impls:
                    m = run_worker(work, impl, repeats, args.threads, before_root)
                    r[impl] = m if impl not in r else {"seconds": min(m["seconds"], r[impl]["seconds"]),
                                                       "mb": r[impl]["mb"]}
            print(format_row(work, r), flush=True)
            if work == "dncnn17 step":
                dncnn17 = r
        if dncnn17:
            print(gemm_fractions(dncnn17, run_worker("gemm peak", "ours", 3, args.threads)["gflops"]))


def gemm_fractions(r, peak):
    """The fraction of the GEMM peak that each DnCNN-17 step reaches: its products' FLOP / time."""
    from bench.speed_layers import DNCNN17_FLOP
    parts = [f"{name} {DNCNN17_FLOP / r[impl]['seconds'] / 1e9 / peak:.0%}"
             for impl, name in (("before", "before"), ("ours", "ours"), ("pytorch", "PyTorch")) if impl in r]
    return (f"DnCNN-17 step: {DNCNN17_FLOP / 1e9:.0f} GFLOP of products; GEMM peak (4096^3) {peak:.0f} "
            f"GFLOP/s; fraction of it reached: " + ", ".join(parts))


def format_row(work, r):
    ours, before, theirs = r["ours"], r.get("before"), r.get("pytorch")
    row = f"{work:<22}" + (f" {before['seconds']:8.3f}s" if before else "") + f" {ours['seconds']:8.3f}s"
    row += f" {ours['seconds'] / before['seconds']:6.2f}x" if before else ""
    row += f" {theirs['seconds']:8.3f}s {ours['seconds'] / theirs['seconds']:5.2f}x" if theirs else ""
    if not work.startswith("conv"):
        row += (f" {before['mb']:9.0f}MB" if before else "") + f" {ours['mb']:8.0f}MB"
        row += f" {theirs['mb']:11.0f}MB {ours['mb'] / theirs['mb']:5.2f}x" if theirs else ""
    return row


@contextlib.contextmanager
def before_worktree(rev):
    """A temporary git worktree of our code at revision rev (None: no worktree), removed after."""
    if rev is None:
        yield None
        return
    root = tempfile.mkdtemp(prefix="bench-before-")
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", root, rev], check=True,
                   capture_output=True)
    try:
        yield root
    finally:
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", root], capture_output=True)

if __name__ == "__main__":
    main()
