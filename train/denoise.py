"""Train a denoiser on the embedded images (or your own) and watch it learn.

    python train/denoise.py                           # N3Net-light, sigma 25, about 10 minutes
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

from n3net import MODELS
from train.cli import check_sigma
from train.errors import UsageError, run_cli
from train.inference import load_checkpoint
from train.recipe import DECAY_SCOPES, LEGACY_RECIPE, OPTIMIZERS
from train.run import Run

DEFAULTS = dict(model="n3net-light", depth=None, features=None, sigma=25.0, crop=80, batch_size=4, steps=800,
                minutes=None, lr=2e-3, lr_end=1e-4, weight_decay=1e-4, clip=1.0, seed=0, device="cpu", out="runs/denoise",
                data=None, val_every=50, val_crop=256, checkpoint_every=25, test=True, threads=None,
                init=None, variant="paper", distance_bn=True, distance_norm="batch", optimizer="adam", decay_scope="backbone",
                n3_lr_scale=1.0, freeze_n3=False, loss_scale=1.0)
# options that a resumed run may change; all others come from the checkpoint
RESUMABLE = {"minutes", "device", "val_every", "checkpoint_every", "test", "threads"}


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Train a denoiser (N3Net, DnCNN, ...) on grayscale images with Gaussian noise.",
        epilog="Defaults train n3net-light for 800 steps of 4 crops (about 10 minutes on 2 CPU cores).")
    p.add_argument("--model", choices=sorted(MODELS), help="network to train (default n3net-light)")
    p.add_argument("--depth", type=int, help="layers of each DnCNN (default: the model's own, 17 for "
                   "dncnn17, 6 per block for n3net)")
    p.add_argument("--features", type=int, help="feature channels of the convolutions (default 64)")
    p.add_argument("--init", choices=["default", "released", "he"], help="initial weights: default (the "
                   "layers' own, with every DnCNN starting as the identity), released (the released "
                   "N3Net code's) or he (released, with the N3 blocks' CNNs drawn He fan-out too) "
                   "(default: released for n3net and n3net-light, default for the others)")
    p.add_argument("--variant", choices=["paper", "reference"], help="relaxation of the N3 blocks: "
                   "paper (Eqs. 8-11) or reference (the released code's) (default paper)")
    p.add_argument("--distance-norm", choices=["batch", "query"], help="how the N3 blocks normalise "
                   "their distances: batch (one batch-norm over the batch, as the released code) or query "
                   "(each query's distances over its own candidates) (default batch)")
    p.add_argument("--no-distance-bn", dest="distance_bn", action="store_const", const=False,
                   help="N3 blocks without the batch-norm of their distances (for comparison)")
    p.add_argument("--sigma", type=float, help="noise standard deviation on the 0-255 scale (default 25)")
    p.add_argument("--crop", type=int, help="side of the square training crops in pixels (default 80; "
                   "N3 blocks need at least 80)")
    p.add_argument("--batch-size", type=int, help="crops per step (default 4)")
    p.add_argument("--steps", type=int, help="training steps; the learning rate decays over them (default 800)")
    p.add_argument("--minutes", type=float, help="stop after this much training time even if steps remain")
    p.add_argument("--lr", type=float, help="initial learning rate of Adam (default 2e-3)")
    p.add_argument("--lr-end", type=float, help="learning rate at the last step; it decays exponentially "
                   "from --lr (default 1e-4)")
    p.add_argument("--weight-decay", type=float, help="size of the weight decay, on the parameters "
                   "--decay-scope names (default 1e-4)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), help="adam (weight decay added to the "
                   "gradient, as the released code) or adamw (decoupled weight decay) (default adam)")
    p.add_argument("--decay-scope", choices=DECAY_SCOPES, help="what the weight decay applies to: all "
                   "(every convolution weight and batch-norm scale, the N3 blocks' too) or backbone (the "
                   "convolution weights outside the N3 blocks' embedding and temperature CNNs) "
                   "(default backbone: under all, the N3 blocks collapse; docs/experiments.md)")
    p.add_argument("--n3-lr-scale", type=float, help="the N3 blocks' parameters learn at --lr times this "
                   "(default 1; 10 helped N3Net-light and hurt the full N3Net: docs/experiments.md)")
    p.add_argument("--freeze-n3", action="store_const", const=True, help="keep the N3 blocks' embedding "
                   "and temperature CNNs at their initial weights (for comparison)")
    p.add_argument("--loss-scale", type=float, help="train on this times the mean squared error (800: the "
                   "released code's loss for 80x80 crops); --clip applies to the MSE's gradient "
                   "(default 1)")
    p.add_argument("--clip", type=float, help="clip the gradients' global L2 norm to this value, 0 for "
                   "no clipping (default 1.0: it stops the rare loss spikes of small batches)")
    p.add_argument("--seed", type=int, help="seed for the initial weights, the crops and the noise (default 0)")
    p.add_argument("--device", choices=["cpu", "gpu"], help="cpu (NumPy) or gpu (CuPy) (default cpu)")
    p.add_argument("--threads", type=int, help="CPU threads for the matrix products (default: all cores)")
    p.add_argument("--out", help="output folder for checkpoints, logs and pictures (default runs/denoise)")
    p.add_argument("--data", help="image folder: with train/ val/ test/ subfolders, or a flat folder of "
                   "training images (then validation and test use the embedded images); "
                   "default: the embedded data/images")
    p.add_argument("--val-every", type=int, help="validate every this many steps (default 50)")
    p.add_argument("--val-crop", type=int, help="validate on the central crop of this size of each "
                   "validation image, 0 for whole images (default 256)")
    p.add_argument("--checkpoint-every", type=int, help="write last.npz every this many steps (default 25)")
    p.add_argument("--no-test", dest="test", action="store_const", const=False,
                   help="skip the evaluation on the test images at the end")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    args = p.parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None and k != "resume"}
    return given, args.resume


def check_values(opts):
    """Refuse option values that cannot work, naming the option."""
    positive = ["crop", "batch_size", "steps", "val_every", "checkpoint_every", "lr", "lr_end",
                "n3_lr_scale", "loss_scale"]
    optional = [k for k in ("depth", "features", "threads", "minutes") if opts[k] is not None]
    for key in positive + optional:
        if not opts[key] > 0:
            raise UsageError(f"--{key.replace('_', '-')} must be positive, got {opts[key]}")
    check_sigma(opts["sigma"])
    for key in ("weight_decay", "val_crop", "clip"):
        if opts[key] < 0:
            raise UsageError(f"--{key.replace('_', '-')} must not be negative, got {opts[key]}")
    return opts


def settings(given, resume):
    """The run's options and, when resuming, the checkpoint to continue from."""
    out = given.get("out", DEFAULTS["out"])
    last = os.path.join(out, "last.npz")
    if not resume:
        if os.path.exists(last):
            raise UsageError(f"{out} already holds a run (last.npz): continue it with --resume, or choose "
                           f"another --out")
        return check_values({**DEFAULTS, **given}), None
    if not os.path.exists(last):
        raise UsageError(f"nothing to resume: {last} does not exist")
    ckpt = load_checkpoint(last)
    saved = json.loads(ckpt["train_args"])
    for key, value in given.items():
        if key not in RESUMABLE and key != "out" and saved.get(key) != value:
            raise UsageError(f"--{key.replace('_', '-')} {value} differs from the resumed run's "
                           f"{saved.get(key)}; drop the option or start a new run with another --out")
    saved = {**LEGACY_RECIPE, **saved}      # a run from before the recipe options trained with these
    return check_values({**saved, **{k: v for k, v in given.items() if k in RESUMABLE}, "out": out}), ckpt


def main(argv=None):
    given, resume = parse_args(argv)
    opts, ckpt = settings(given, resume)
    if opts["threads"]:
        from minigrad.threads import set_num_threads
        set_num_threads(opts["threads"])
    run = Run(opts, ckpt)
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
        print(f"training {opts['model']} ({run.model.num_parameters():,} parameters) on "
              f"{len(run.sampler.images)} images, sigma {opts['sigma']:g}, {opts['steps']} steps of "
              f"{opts['batch_size']} crops of {opts['crop']}x{opts['crop']}, output in {run.out}"
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
