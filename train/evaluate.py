"""Evaluate a trained denoiser on clean images: add noise with a fixed seed, denoise each whole
image, report PSNR and SSIM per image and on average.

    python train/evaluate.py --images data/images/test --sigma 25     # the shipped N3Net for sigma 25
    python train/evaluate.py --checkpoint dncnn17-sigma25             # a shipped model, by name
    python train/evaluate.py --checkpoint runs/denoise/best.npz --images data/images/test --sigma 25
    python train/evaluate.py --checkpoint CKPT --images DIR --json results.json --save-dir denoised/
    python train/evaluate.py --checkpoint CKPT --images DIR --bm3d    # also BM3D, if installed

Colour images get noise on each channel and are denoised per channel (--colour channels, the
default) or in luminance only (--colour luminance); PSNR is over all channels, SSIM the mean of
the channels'.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from train.data import DEFAULT_DATA, add_noise, list_images, load_image, save_image   # noqa: E402
from train.errors import CLIError, run_cli                            # noqa: E402
from train.inference import COLOUR_HELP, COLOUR_MODES, denoise_image, load_model   # noqa: E402
from train.shipped import resolve_checkpoint                          # noqa: E402
from train.metrics import psnr, ssim                                  # noqa: E402


def evaluate_folder(model, folder, sigma, device="cpu", seed=0, save_dir=None, bm3d=None, colour="channels"):
    """PSNR and SSIM of the model on every image of a folder; noise from numpy's generator `seed`.

    bm3d: optionally a function (noisy, sigma_01) -> estimate to compare with (per channel).
    colour: how colour images are denoised (inference.COLOUR_MODES)."""
    rng, per_image = np.random.default_rng(seed), {}
    for path in list_images(folder):
        clean = load_image(path)                       # (H, W), or (H, W, 3) for a colour image
        noisy = add_noise(clean, sigma, rng)
        start = time.perf_counter()
        estimate = denoise_image(model, noisy, colour, device)
        name = os.path.basename(path)
        per_image[name] = {"psnr": psnr(clean, estimate), "ssim": ssim(clean, estimate),
                           "noisy_psnr": psnr(clean, noisy), "noisy_ssim": ssim(clean, noisy),
                           "seconds": time.perf_counter() - start}
        if clean.ndim == 3:
            per_image[name]["colour"] = colour
        if bm3d is not None:                           # colour images: BM3D on each channel
            channels = [noisy] if noisy.ndim == 2 else [noisy[..., c] for c in range(3)]
            reference = np.stack([bm3d(c, sigma / 255.0) for c in channels], axis=-1).reshape(noisy.shape)
            per_image[name].update(bm3d_psnr=psnr(clean, reference), bm3d_ssim=ssim(clean, reference))
        if save_dir:
            save_image(os.path.join(save_dir, os.path.splitext(name)[0] + "_denoised.png"), estimate)
    keys = [key for key, value in next(iter(per_image.values())).items() if not isinstance(value, str)]
    means = {f"mean_{key}": float(np.mean([r[key] for r in per_image.values()])) for key in keys}
    return {"sigma": sigma, "seed": seed, "images": per_image, **means}


def bm3d_function():
    try:
        import bm3d
    except ImportError:
        raise CLIError("--bm3d needs the bm3d package (pip install bm3d); its licence forbids "
                       "shipping it with this project") from None
    return lambda noisy, sigma: bm3d.bm3d(noisy, sigma_psd=sigma)


def main(argv=None):
    p = argparse.ArgumentParser(description="PSNR and SSIM of a trained denoiser on clean images "
                                "with added Gaussian noise.")
    p.add_argument("--checkpoint", help="a checkpoint written by train/denoise.py, or the name of a shipped "
                   "model (models/README.md) (default: the shipped N3Net for --sigma)")
    p.add_argument("--images", default=os.path.join(DEFAULT_DATA, "test"),
                   help="folder of clean images (any format Pillow reads) (default: the embedded test images)")
    p.add_argument("--sigma", type=float, default=25.0, help="noise level on the 0-255 scale (default 25)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--save-dir", help="save the denoised images here (8-bit PNG)")
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--bm3d", action="store_true", help="compare with BM3D (needs the bm3d package)")
    p.add_argument("--colour", choices=sorted(COLOUR_MODES), default="channels",
                   help=COLOUR_HELP)
    args = p.parse_args(argv)
    path, what = resolve_checkpoint(args.checkpoint, args.sigma)
    print(f"using the {what}")
    model = load_model(path, args.device)
    results = evaluate_folder(model, args.images, args.sigma, args.device, args.seed, args.save_dir,
                              bm3d_function() if args.bm3d else None, args.colour)
    results["checkpoint"] = path
    if any("colour" in r for r in results["images"].values()):
        print(f"colour images: {COLOUR_MODES[args.colour]}")
    print(f"{'image':<22}{'noisy PSNR':>11}{'PSNR':>8}{'SSIM':>8}" + ("  BM3D PSNR / SSIM" if args.bm3d else ""))
    for name, r in results["images"].items():
        extra = f"  {r['bm3d_psnr']:9.2f} / {r['bm3d_ssim']:.3f}" if args.bm3d else ""
        print(f"{name:<22}{r['noisy_psnr']:11.2f}{r['psnr']:8.2f}{r['ssim']:8.3f}{extra}")
    extra = f"  {results['mean_bm3d_psnr']:9.2f} / {results['mean_bm3d_ssim']:.3f}" if args.bm3d else ""
    print(f"{'mean':<22}{results['mean_noisy_psnr']:11.2f}{results['mean_psnr']:8.2f}"
          f"{results['mean_ssim']:8.3f}{extra}")
    if args.json:
        folder = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(folder, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
