"""Evaluate a trained denoiser on clean images: add noise with a fixed seed, denoise each whole
image, report PSNR and SSIM per image and on average.

    python train/evaluate.py --images data/images/test --sigma 25     # the shipped N3Net for sigma 25
    python train/evaluate.py --checkpoint dncnn17-sigma25             # a shipped model, by name
    python train/evaluate.py --checkpoint runs/denoise/best.npz --images data/images/test --sigma 25
    python train/evaluate.py --checkpoint CKPT --images DIR --json results.json --save-dir denoised/
    python train/evaluate.py --checkpoint CKPT --images DIR --bm3d    # also BM3D, if installed
    python train/evaluate.py --self-ensemble       # each image in its 8 orientations, averaged

Colour images get noise on each channel and are denoised per channel (--colour channels, the
default) or in luminance only (--colour luminance); PSNR is over all channels, SSIM the mean of
the channels'.
"""
import argparse
import json
import os
import sys

from train.cli import add_memory_option, common_options, open_model, progress_bar, setup
from train.data import DEFAULT_DATA, list_images
from train.errors import UsageError, run_cli
from train.evaluation import evaluate_images
from train.inference import COLOUR_HELP, COLOUR_MODES, SELF_ENSEMBLE_HELP, SYMMETRIES
from train.shipped import repo_relative


def bm3d_function():
    try:
        import bm3d
    except ImportError:
        raise UsageError("--bm3d needs the bm3d package (pip install bm3d); its licence forbids "
                       "shipping it with this project") from None
    return lambda noisy, sigma: bm3d.bm3d(noisy, sigma_psd=sigma)


def main(argv=None):
    p = argparse.ArgumentParser(description="PSNR and SSIM of a trained denoiser on clean images "
                                "with added Gaussian noise.", parents=[common_options()])
    p.add_argument("--images", default=os.path.join(DEFAULT_DATA, "test"),
                   help="folder of clean images (any format Pillow reads) (default: the embedded test images)")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--save-dir", help="save the denoised images here (8-bit PNG)")
    p.add_argument("--bm3d", action="store_true", help="compare with BM3D (needs the bm3d package)")
    p.add_argument("--colour", choices=sorted(COLOUR_MODES), default="channels",
                   help=COLOUR_HELP)
    add_memory_option(p)
    p.add_argument("--self-ensemble", action="store_true", help=SELF_ENSEMBLE_HELP)
    args = p.parse_args(argv)
    setup(args)
    model, _, path, what = open_model(args)
    ensemble = f", each image in its {len(SYMMETRIES)} orientations, averaged (--self-ensemble)"
    print(f"using the {what}, sigma {args.sigma:g}" + (ensemble if args.self_ensemble else ""))
    if args.memory_gb <= 0:
        raise UsageError(f"--memory-gb must be positive, got {args.memory_gb:g}")
    paths = list_images(args.images)                   # FileNotFoundError if none
    with progress_bar(len(paths), os.path.basename(os.path.normpath(args.images)), unit="image") as progress:
        results = evaluate_images(model, paths, args.sigma, args.device, args.seed, args.save_dir,
                                  bm3d_function() if args.bm3d else None, args.colour, args.memory_gb, progress,
                                  args.self_ensemble)
    results["checkpoint"] = repo_relative(path)        # models/NAME.npz for a shipped model, in any clone
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
