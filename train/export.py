"""Export a training checkpoint as a shipped model: the final weights and the model's
configuration, without the optimiser's state (a third of the size).

    python train/export.py runs/n3net-sigma25/last.npz models/n3net-sigma25.npz

    python train/export.py --if-better runs/n3net-sigma25/best.npz models/n3net-sigma25.npz

    python train/export.py --if-better --blocks runs/n3net-sigma25/diagnose.json \
        runs/n3net-sigma25/best.npz models/n3net-sigma25.npz

The exported file loads wherever a checkpoint does (train/evaluate.py, train/denoise_image.py,
train/inspect_n3.py); it cannot resume training.  It keeps the training options, step, wall time and
validation PSNR of the run, so models/README.md can be checked against it.  With --if-better an
existing target is replaced only by a checkpoint of higher validation PSNR at the same noise level
(models/train.sh: a shipped model never gets worse while a new run catches up).  With --blocks, the
checkpoint's N3 blocks must also be alive and selective to be shipped (issue 16's bound, read from
train/diagnose.py's JSON of that checkpoint on test crops): every block's median n_eff at most
128 (of the 224 candidates of the paper's window), at most 10 % of its queries saturated, and not
flagged collapsed (n3net/diagnostics.py, unselective); a checkpoint that validates better but fails
it is not shipped.
"""
import argparse
import json
import os
import sys

from minigrad import save
from n3net.diagnostics import MAX_N_EFF, MAX_SATURATED, unselective
from train.errors import UsageError, run_cli
from train.inference import load_checkpoint, model_from_checkpoint

KEPT = ("format", "model", "config", "train_args", "step", "train_seconds", "crops", "best_val_psnr",
        "best_val_step", "averaged")     # averaged: a run's average of its last states (--average-last): how many


def export(source, target):
    """Write the weights-only copy of checkpoint `source` to `target` (atomically)."""
    ckpt = load_checkpoint(source)
    model_from_checkpoint(ckpt, source)                # refuse a checkpoint whose model does not rebuild
    save({key: ckpt[key] for key in KEPT if key in ckpt}, target)


def validation(ckpt):
    """(sigma, validation crop, best validation PSNR) of a checkpoint's run."""
    args = json.loads(ckpt["train_args"])
    return args["sigma"], args.get("val_crop", 256), float(ckpt["best_val_psnr"])


def better(source, target):
    """(True or False, why): does checkpoint `source` validate better than the model `target`?"""
    if not os.path.exists(target):
        return True, f"{target} does not exist yet"
    (sigma, crop, new), (old_sigma, old_crop, old) = validation(load_checkpoint(source)), \
        validation(load_checkpoint(target))
    if (sigma, crop) != (old_sigma, old_crop):
        raise UsageError(f"{source} was validated at sigma {sigma:g} on {crop}-pixel crops, {target} at sigma "
                         f"{old_sigma:g} on {old_crop}-pixel crops: their validation PSNRs do not compare")
    verdict = "replaced" if new > old else "kept"
    return new > old, f"{verdict} {target}: validation PSNR {new:.2f} dB against its {old:.2f} dB"


def unshippable(diagnosis, checkpoint):
    """Why the N3 blocks of `checkpoint`, diagnosed in the JSON file `diagnosis`
    (train/diagnose.py --json), may not be shipped: a list of reasons, empty if none."""
    with open(diagnosis) as f:
        report = json.load(f)
    if os.path.normpath(report["checkpoint"]) != os.path.normpath(checkpoint):
        raise UsageError(f"{diagnosis} diagnoses {report['checkpoint']}, not {checkpoint}: "
                         f"run train/diagnose.py --checkpoint {checkpoint} --json {diagnosis} first")
    return [reason for block in report["blocks"] for reason in unselective(block)]


def main(argv=None):
    p = argparse.ArgumentParser(description="Export a training checkpoint's weights as a shipped model.")
    p.add_argument("checkpoint", help="a checkpoint written by train/denoise.py")
    p.add_argument("output", help="the .npz file to write")
    p.add_argument("--if-better", action="store_true",
                   help="replace an existing output only if the checkpoint's validation PSNR is higher")
    p.add_argument("--blocks", metavar="DIAGNOSE_JSON",
                   help="with --if-better: train/diagnose.py's JSON of the checkpoint; do not ship it "
                        f"unless every N3 block is selective (median n_eff <= {MAX_N_EFF}, at most "
                        f"{100 * MAX_SATURATED:.0f} %% of queries saturated, not collapsed)")
    args = p.parse_args(argv)
    if args.blocks and not args.if_better:
        raise UsageError("--blocks goes with --if-better (it guards the shipped model)")
    if not args.output.endswith(".npz"):
        raise UsageError(f"{args.output}: the output must be a .npz file")
    if args.if_better:
        replace, why = better(args.checkpoint, args.output)
        if replace and args.blocks:
            reasons = unshippable(args.blocks, args.checkpoint)
            if reasons:
                why = (f"kept {args.output}: {args.checkpoint} validates better, but its N3 blocks are not "
                       f"selective enough to ship ({'; '.join(reasons)})")
                replace = False
        print(why)
        if not replace:
            return 0
    export(args.checkpoint, args.output)
    print(f"wrote {args.output} ({os.path.getsize(args.output) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
