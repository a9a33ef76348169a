"""Export a training checkpoint as a shipped model: the final weights and the model's
configuration, without the optimiser's state (a third of the size).

    python train/export.py runs/n3net-sigma25/last.npz models/n3net-sigma25.npz

The exported file loads wherever a checkpoint does (train/evaluate.py, train/denoise_image.py,
train/inspect_n3.py); it cannot resume training.  It keeps the training options, step, wall time and
validation PSNR of the run, so models/README.md can be checked against it.
"""
import argparse
import os
import sys

from minigrad import save
from train.errors import UsageError, run_cli
from train.inference import load_checkpoint, model_from_checkpoint

KEPT = ("format", "model", "config", "train_args", "step", "train_seconds", "best_val_psnr", "best_val_step")


def export(source, target):
    """Write the weights-only copy of checkpoint `source` to `target` (atomically)."""
    ckpt = load_checkpoint(source)
    model_from_checkpoint(ckpt, source)                # refuse a checkpoint whose model does not rebuild
    save({key: ckpt[key] for key in KEPT if key in ckpt}, target)


def main(argv=None):
    p = argparse.ArgumentParser(description="Export a training checkpoint's weights as a shipped model.")
    p.add_argument("checkpoint", help="a checkpoint written by train/denoise.py")
    p.add_argument("output", help="the .npz file to write")
    args = p.parse_args(argv)
    if not args.output.endswith(".npz"):
        raise UsageError(f"{args.output}: the output must be a .npz file")
    export(args.checkpoint, args.output)
    print(f"wrote {args.output} ({os.path.getsize(args.output) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
