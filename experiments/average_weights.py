"""Experiment: average the weights of a cool-down branch's last checkpoints.

A cool-down branch ends at a small learning rate, but its last checkpoints still differ by the
noise of their last few hundred steps (4 crops a step).  Their plain average (Izmailov et al. 2018,
"Averaging weights leads to wider optima and better generalization", SWA) may sit nearer the middle
of the basin the branch ends in.  Every parameter and every batch-norm running statistic is the
mean over the checkpoints; with --batches N the running statistics are then recomputed for the
averaged weights over N training batches (experiments/precise_bn.py).  Prints the validation and
test PSNR of the last checkpoint and of the average (the same images and noise as train/denoise.py's
validation and models/train.sh's test points).  It computes what `train/denoise.py --average-last N`
does inside a run (every --checkpoint-every steps over the last N), from checkpoints kept by hand;
--out writes the average as that option's best.npz would be (for train/export.py).

    python -m experiments.average_weights SNAP/31000.npz SNAP/31200.npz ... [--batches 200] [--out avg.npz]
"""
import argparse
import json

import numpy as np

from minigrad import save
from train.data import CropSampler, list_images, load_folder
from train.inference import load_checkpoint, model_from_checkpoint
from train.run import Run, data_folders, training_images

from .precise_bn import recalibrate, scores


def averaged(checkpoints):
    """(the checkpoint of the last path, it with its model entries replaced by the mean over all of
    them, the checkpoints' steps)."""
    ckpts = [load_checkpoint(path) for path in checkpoints]
    configs = {c["config"] for c in ckpts}
    if len(configs) != 1:
        raise SystemExit("the checkpoints hold different models: average only one run's checkpoints")
    mean = {name: np.mean([np.asarray(c["model"][name], dtype=np.float64) for c in ckpts], axis=0)
            .astype(np.asarray(ckpts[-1]["model"][name]).dtype) for name in ckpts[-1]["model"]}
    return ckpts[-1], dict(ckpts[-1], model=mean), [int(c["step"]) for c in ckpts]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--batches", type=int, default=0, help="recompute the running statistics over N batches")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out")
    a = p.parse_args()
    last, mean, steps = averaged(a.checkpoints)
    args = json.loads(last["train_args"])
    sigma, crop = args["sigma"], args.get("crop", 80)
    train_dir, val_dir, test_dir = data_folders(args.get("data"))
    val = Run._val_set(load_folder(val_dir), args.get("val_crop", 256), sigma)
    test_paths = list_images(test_dir)
    print(f"{len(steps)} checkpoints, steps {steps}")
    rows = []
    for name, ckpt in (("last", last), ("average", mean)):
        model = model_from_checkpoint(ckpt, name)
        model.eval()
        rows.append((name, *scores(model, val, test_paths, sigma)))
    if a.batches:
        sampler = CropSampler(training_images(train_dir, args.get("extra_train"), crop), crop)
        recalibrate(model, sampler, sigma, a.batches, a.batch_size, np.random.default_rng(a.seed))
        rows.append((f"average, precise BN ({a.batches} batches)", *scores(model, val, test_paths, sigma)))
        mean = dict(mean, model=model.state_dict())
    for name, v, t in rows:
        per = {k: round(x["psnr"], 2) for k, x in t["images"].items()}
        print(f"{name}: val {v:.3f}  test {t['mean_psnr']:.3f}  {per}")
    if a.out:          # as train/denoise.py --average-last writes it (train/run.py), to export or evaluate
        args["average_last"] = steps[-1] - steps[0]
        validated = rows[-1][1]
        mean = {k: v for k, v in mean.items() if k != "average"}
        save(dict(mean, averaged=len(steps), best_val_psnr=validated, best_val_step=steps[-1],
                  train_args=json.dumps(args)), a.out)


if __name__ == "__main__":
    main()
