"""Train a denoiser on the embedded images (or your own) and watch it learn.

    python train/denoise.py                           # N3Net-light, sigma 25 (README: how long)
    python train/denoise.py --model dncnn17 --steps 2000 --out runs/dncnn
    python train/denoise.py --out runs/n3net --resume # continue an interrupted run

Writes into --out: last.npz (the latest state, written atomically), best.npz (the best model by
validation PSNR), metrics.jsonl (one line per step and per validation), curves.png,
examples.png and test.json.  Ctrl-C finishes the current step, saves and exits; --resume then
continues exactly where the run stopped.  Every checkpoint holds the model's configuration, so
train/evaluate.py and train/denoise_image.py rebuild the model from it alone.
"""
import argparse
import json
import os
import signal
import sys

from train.config import RESUMABLE, TrainConfig, add_arguments, flag_name, given_options
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


def settings(given, resume):
    """The run's TrainConfig and, when resuming, the checkpoint to continue from."""
    out = given.get("out", DEFAULTS.out)
    last = os.path.join(out, "last.npz")
    if not resume:
        if os.path.exists(last):
            raise UsageError(f"{out} already holds a run (last.npz): continue it with --resume, or choose "
                             f"another --out")
        return TrainConfig(**given).check(), None
    if not os.path.exists(last):
        raise UsageError(f"nothing to resume: {last} does not exist")
    ckpt = load_checkpoint(last)
    saved = json.loads(ckpt["train_args"])
    for key, value in given.items():
        if key not in RESUMABLE and key != "out" and saved.get(key) != value:
            raise UsageError(f"--{flag_name(key)} {value} differs from the resumed run's "
                             f"{saved.get(key)}; drop the option or start a new run with another --out")
    saved = {**LEGACY_RECIPE, **saved}      # a run from before the recipe options trained with these
    if given.get("steps", saved["steps"]) <= int(ckpt["step"]):
        raise UsageError(f"the run in {out} is at step {int(ckpt['step'])} of {given.get('steps', saved['steps'])} "
                         f"already: give --steps more than that to go on")
    resumed = {**saved, **{k: v for k, v in given.items() if k in RESUMABLE}, "out": out}
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
