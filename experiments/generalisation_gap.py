"""Experiment: does a shipped model do better on the images it trained on than on others?

For each split of the embedded data (train, val, test) the central 256 x 256 crop of every image
with Gaussian noise of the model's sigma, as train/denoise.py validates (Run._val_set), denoised by
the model and by BM3D given the true sigma; prints both PSNRs per image and the mean difference per split.
A model that had learnt its 19 training images by heart would beat BM3D there by more than on the
validation and test images.

    python -m experiments.generalisation_gap n3net-sigma25        # needs: pip install bm3d
"""
import argparse
import json

import numpy as np

from train.data import DEFAULT_DATA, load_folder
from train.inference import denoise, load_checkpoint, model_from_checkpoint
from train.metrics import psnr
from train.run import Run
from train.shipped import resolve_checkpoint


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", help="a shipped model's name or a checkpoint file")
    a = p.parse_args()
    import bm3d
    path, _ = resolve_checkpoint(a.checkpoint)
    ckpt = load_checkpoint(path)
    sigma = float(json.loads(ckpt["train_args"])["sigma"])
    model = model_from_checkpoint(ckpt, path)
    model.eval()
    for split in ("train", "val", "test"):
        gaps = []
        for name, clean, noisy in Run._val_set(load_folder(f"{DEFAULT_DATA}/{split}"), 256, sigma):
            ours, reference = psnr(clean, denoise(model, noisy)), psnr(clean, bm3d.bm3d(noisy, sigma / 255))
            gaps.append(ours - reference)
            print(f"{split:5s} {name:18s} model {ours:.2f}  BM3D {reference:.2f}  {ours - reference:+.2f}", flush=True)
        print(f"{split}: model - BM3D {np.mean(gaps):+.3f} dB on {len(gaps)} images", flush=True)


if __name__ == "__main__":
    main()
