"""Experiment: a trained N3Net's blocks given a larger (or smaller) match window at test time only.

Brick's texture repeats, and a window of 15 x 15 patches of stride 5 reaches 70 pixels (n3net/n3block.py).
Would more candidates per query (w x w - 1 of them) help a trained model there, with nothing
retrained?  Each block's match_window is set to each W in turn and the chosen test images are
denoised with the noise the test evaluation gives them (train/evaluate.py: numpy's generator of seed
0 over the test folder in order, so W = 15 reproduces the model's test.json).  Prints PSNR and
seconds per image and window.

    python -m experiments.match_window models/n3net-sigma25.npz 15 21 27 [--images brick.png camera.png]
"""
import argparse
import os
import time

from train.data import list_images
from train.evaluation import noisy_images
from train.inference import denoise_image, load_model
from train.metrics import psnr
from train.run import data_folders


def noisy_test_images(sigma, folder, seed=0):
    """{image name: (clean, noisy)} with the noise of the test evaluation (evaluation.noisy_images)."""
    return {os.path.basename(path): (clean, noisy)
            for path, clean, noisy in noisy_images(list_images(folder), sigma, seed)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("windows", nargs="+", type=int)
    p.add_argument("--sigma", type=float, default=25.0)
    p.add_argument("--images", nargs="+", default=["brick.png", "camera.png", "ascent.png"])
    a = p.parse_args()
    model = load_model(a.checkpoint)
    model.eval()
    blocks = [m for m in model.modules() if hasattr(m, "match_window")]
    if not blocks:
        raise SystemExit(f"{a.checkpoint} has no N3 blocks: nothing has a match window")
    pairs = noisy_test_images(a.sigma, data_folders(None)[2])
    missing = sorted(set(a.images) - set(pairs))
    if missing:
        raise SystemExit(f"not in the test folder: {', '.join(missing)} (it has {', '.join(pairs)})")
    for w in a.windows:
        for block in blocks:
            block.match_window = w               # read afresh by every forward (n3block.PatchGrid)
        for name in a.images:
            clean, noisy = pairs[name]
            start = time.perf_counter()
            value = psnr(clean, denoise_image(model, noisy))
            print(f"window {w:2d}  {name:12s} {value:.3f} dB  {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
