"""Experiment: recompute a trained model's batch-norm running statistics ("precise BN").

A model's running statistics are exponential averages (momentum 0.1) of the last ~10 training
batches' statistics, each of 4 crops, taken while the weights were still moving; the distance
batch-norm's variance in particular is heavy-tailed.  Here the weights are fixed and every
batch-norm's running mean and variance are replaced by the plain average over N training batches
(momentum 1/i on batch i: the cumulative mean), as in Wu and Johnson 2021, "Rethinking 'Batch' in
BatchNorm" (section 3, "precise BN").  Prints validation and test PSNR before and after.

    python -m experiments.precise_bn models/n3net-sigma50.npz --batches 200 [--out recal.npz]
"""
import argparse
import json

import numpy as np

from minigrad import save
from minigrad.grad_mode import no_grad
from train.data import CropSampler, add_noise, load_folder, list_images
from train.evaluation import evaluate_images
from train.inference import denoise, load_checkpoint, model_from_checkpoint
from train.metrics import psnr
from train.run import Run, data_folders, training_images


def recalibrate(model, sampler, sigma, batches, batch_size, rng):
    """Every running mean / variance := the average of `batches` training batches' statistics."""
    norms = [m for m in model.modules() if hasattr(m, "running_var")]
    momenta = [m.momentum for m in norms]
    model.train()
    with no_grad():
        for i in range(1, batches + 1):
            for m in norms:
                m.momentum = 1.0 / i
            clean = sampler.sample(batch_size, rng)
            model.forward(add_noise(clean, sigma, rng))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()
    return norms


def scores(model, val, test_paths, sigma):
    v = float(np.mean([psnr(c, denoise(model, n)) for _, c, n in val]))
    t = evaluate_images(model, test_paths, sigma)
    return v, t


def main():
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out")
    a = p.parse_args()
    ckpt = load_checkpoint(a.checkpoint)
    model = model_from_checkpoint(ckpt, a.checkpoint)
    args = json.loads(ckpt["train_args"])
    sigma, crop = args["sigma"], args.get("crop", 80)
    train_dir, val_dir, test_dir = data_folders(args.get("data"))
    val = Run._val_set(load_folder(val_dir), args.get("val_crop", 256), sigma)
    test_paths = list_images(test_dir)
    model.eval()
    dist = [m for m in model.modules() if type(m).__name__ == "DistanceBatchNorm"]
    print("distance BN running var before:", [float(m.running_var[0]) for m in dist])
    before = scores(model, val, test_paths, sigma)
    sampler = CropSampler(training_images(train_dir, args.get("extra_train"), crop), crop)
    recalibrate(model, sampler, sigma, a.batches, a.batch_size, np.random.default_rng(a.seed))
    after = scores(model, val, test_paths, sigma)
    for name, (v, t) in (("before", before), ("after", after)):
        per = {k: round(x["psnr"], 2) for k, x in t["images"].items()}
        print(f"{name}: val {v:.3f}  test {t['mean_psnr']:.3f}  {per}")
    print("distance BN running var after:", [float(m.running_var[0]) for m in dist])
    if a.out:
        ckpt = dict(ckpt)
        ckpt["model"] = model.state_dict()
        save(ckpt, a.out)


if __name__ == "__main__":
    main()
