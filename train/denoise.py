"""Train a denoiser on the embedded images (or your own) and watch it learn.

    python train/denoise.py                           # N3Net-light, sigma 25 (README: how long)
    python train/denoise.py --model dncnn17 --steps 2000 --out runs/dncnn
    python train/denoise.py --out runs/n3net --resume # continue an interrupted run
    python train/denoise.py --cooldown-from runs/n3net/last.npz --cooldown 500 --out runs/n3net-cool
                                                      # a cool-down branch of a run (models/README.md)

Writes into --out: last.npz (the latest state, written atomically), best.npz (the best model by
validation PSNR), metrics.jsonl (one line per step and per validation), curves.png,
examples.png and test.json (with --average-last also average.npz, the average, and, when it did not
validate best, its test evaluation test_average.json).  Ctrl-C finishes the current step, saves and
exits; --resume then continues exactly where the run stopped.  Every checkpoint holds the model's
configuration, so train/evaluate.py and train/denoise_image.py rebuild the model from it alone.
"""
import argparse
import json
import os
import signal
import sys

from minigrad.optim import HalfLifeLR
from train.config import BRANCHABLE, PER_INVOCATION, RESUMABLE, TrainConfig, add_arguments, flag_name, given_options
from train.errors import UsageError, run_cli
from train.inference import load_checkpoint
from train.recipe import LEGACY_RECIPE
from train.run import Run

DEFAULTS = TrainConfig()


def parse_args(argv):
    """({option: value} given on the command line, whether to resume)."""
    p = argparse.ArgumentParser(
        description="Train a denoiser (N3Net, DnCNN, ...) on grayscale images with Gaussian noise.",
        epilog=f"Defaults train {DEFAULTS.model} for {DEFAULTS.steps} steps of {DEFAULTS.batch_size} crops "
               f"(README: how long that takes).")
    add_arguments(p)
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    args = p.parse_args(argv)
    return given_options(args), args.resume


def inherit(given, saved, allowed, whose="resumed"):
    """A checkpoint's run options `saved`, with the `allowed` ones that were given; UsageError for any
    other given option that differs from the checkpoint's."""
    for key, value in given.items():
        if key not in allowed and key != "out" and saved.get(key) != value:
            raise UsageError(f"--{flag_name(key)} {value} differs from the {whose} run's "
                             f"{saved.get(key)}; drop the option or start a new run with another --out")
    fresh = {k: getattr(DEFAULTS, k) for k in PER_INVOCATION}
    return {**LEGACY_RECIPE, **saved, **fresh, **{k: v for k, v in given.items() if k in allowed}}  # older runs: the old recipe


def branch_settings(given, resume, out, last):
    """A cool-down branch's TrainConfig and the checkpoint it starts from (--cooldown-from)."""
    source = given["cooldown_from"]
    if resume:
        raise UsageError(f"to continue an interrupted cool-down branch: python train/denoise.py --out {out} "
                         f"--resume (without --cooldown-from)")
    if os.path.exists(last):
        raise UsageError(f"{out} already holds a run (last.npz): choose another --out for the branch")
    if "cooldown" not in given:
        raise UsageError("--cooldown-from needs --cooldown STEPS: the steps over which the learning rate falls "
                         "to --lr-end")
    if "steps" in given:
        raise UsageError("a cool-down branch runs --cooldown steps from its checkpoint: drop --steps")
    if not os.path.exists(source):
        raise UsageError(f"--cooldown-from {source} does not exist")
    ckpt = load_checkpoint(source)
    options = inherit(given, json.loads(ckpt["train_args"]), BRANCHABLE, "branched")
    # the branch's own time budget (the trunk's last --minutes would cut it short) and length
    options.update(out=out, lr_half_life=None, minutes=given.get("minutes"),
                   steps=int(ckpt["step"]) + given["cooldown"])
    return TrainConfig(**options).check(), ckpt


def check_new_floor(ckpt, half_life, old_end, lr_end, out):
    """A resumed run may change its learning-rate floor --lr-end (e.g. to hold its rate from here on
    for a budget that keeps growing) if its schedule halves (--lr-half-life) and the new floor is not
    above the rate it has reached: the rate then goes on without a jump."""
    if not half_life:
        raise UsageError(f"--lr-end {lr_end:g} differs from the run's {old_end:g}: "
                         f"only a run with --lr-half-life can change its floor (this run's decay is planned to "
                         f"end there); drop --lr-end, or branch the run (--cooldown-from {out}/last.npz "
                         f"--cooldown STEPS --lr-end {lr_end:g})")
    state = ckpt["scheduler"]
    step = int(state["last_step"])
    rate = HalfLifeLR.rate(float(state["base_lrs"]["0"]), half_life, old_end, step)
    if lr_end > rate * (1 + 1e-6):
        raise UsageError(f"--lr-end {lr_end:g} is above the learning rate the run has reached ({rate:.4g} at step "
                         f"{step}): the rate would jump up; give at most {rate:.4g}")


def settings(given, resume):
    """The run's TrainConfig and, when resuming or branching, the checkpoint to go on from."""
    out = given.get("out", DEFAULTS.out)
    last = os.path.join(out, "last.npz")
    if "cooldown_from" in given:
        return branch_settings(given, resume, out, last)
    if not resume:
        if os.path.exists(last):
            raise UsageError(f"{out} already holds a run (last.npz): continue it with --resume, or choose "
                             f"another --out")
        return TrainConfig(**given).check(), None
    if not os.path.exists(last):
        raise UsageError(f"nothing to resume: {last} does not exist")
    ckpt = load_checkpoint(last)
    saved = json.loads(ckpt["train_args"])
    old_end = saved.get("lr_end", DEFAULTS.lr_end)
    if "lr_end" in given and given["lr_end"] != old_end:
        check_new_floor(ckpt, saved.get("lr_half_life"), old_end, given["lr_end"], out)
    resumed = {**inherit(given, saved, RESUMABLE), "out": out}
    if resumed["steps"] <= int(ckpt["step"]):
        raise UsageError(f"the run in {out} is at step {int(ckpt['step'])} of {resumed['steps']} "
                         f"already: give --steps more than that to go on")
    return TrainConfig(**resumed).check(), ckpt


def main(argv=None):
    given, resume = parse_args(argv)
    config, ckpt = settings(given, resume)
    if config.threads:
        from minigrad.threads import set_num_threads
        set_num_threads(config.threads)
    run = Run(config, ckpt)
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum, frame):
        if run.stop_requested:                # a second Ctrl-C: stop at once (last.npz is safe)
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        run.stop_requested = True
        print("\ninterrupted: finishing this step, then saving (Ctrl-C again to quit at once)",
              file=sys.stderr)

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        print(f"training {config.model} ({run.model.num_parameters():,} parameters) on "
              f"{len(run.sampler.images)} images, sigma {config.sigma:g}, {config.steps} steps of "
              f"{config.batch_size} crops of {config.crop}x{config.crop}, output in {run.out}"
              + (f", resuming at step {run.step}" if ckpt is not None else ""))
        run.train()
    finally:
        signal.signal(signal.SIGINT, previous)
    if run.stop_requested:
        print(f"saved step {run.step} in {os.path.join(run.out, 'last.npz')}; continue with: "
              f"python train/denoise.py --out {run.out} --resume", file=sys.stderr)
        return 130
    for path in run.finish():
        print(f"wrote {path}")
    print(f"best validation PSNR {run.best:.2f} dB (checkpoint {os.path.join(run.out, 'best.npz')})")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
