"""Denoise your own image with a trained model (default: the shipped N3Net for --sigma).

    python train/denoise_image.py noisy.png -o denoised.png                 # noise level estimated
    python train/denoise_image.py noisy.png -o denoised.png --sigma 50      # shipped N3Net, sigma 50
    python train/denoise_image.py dncnn17-sigma25 noisy.png -o denoised.png # a shipped model by name
    python train/denoise_image.py runs/denoise/best.npz noisy.png -o denoised.png
    python train/denoise_image.py noisy.png -o denoised.png --self-ensemble # 8 orientations, averaged

The image may be any format Pillow reads.  A colour image is denoised per channel (--colour
channels, the default) or in its luminance only (--colour luminance), and written in colour; a
grayscale image gives an 8-bit grayscale PNG.  The model is rebuilt from the checkpoint alone.
The models were trained for one noise level each: without a checkpoint, --sigma picks the shipped
N3Net for that noise level (25 or 50 on the 0-255 scale); without --sigma either, the noise level is
estimated from the image (train/noise_level.py, Liu et al. 2013) and the shipped N3Net for it is
used (sigma 25 up to an estimate of 30, sigma 50 above: shipped.nearest_shipped_sigma); both are
printed.
"""
import argparse
import os
import sys

from train.cli import add_memory_option, common_options, open_model, progress_bar, setup
from train.data import load_image, save_image
from train.errors import UsageError, run_cli
from train.inference import COLOUR_HELP, COLOUR_MODES, SELF_ENSEMBLE_HELP, SYMMETRIES, denoise_image, plan_tiles
from train.noise_level import CLEAN_BELOW, estimate_sigma
from train.shipped import DEFAULT, nearest_shipped_sigma


def main(argv=None):
    p = argparse.ArgumentParser(description="Denoise an image with a trained checkpoint or a shipped model.",
                                parents=[common_options(checkpoint=False, seed=False)])
    p.add_argument("inputs", nargs="+", metavar="[CHECKPOINT] IMAGE",
                   help="the noisy image, optionally after a checkpoint (a file written by train/denoise.py, "
                   "or a shipped model's name; default: the shipped N3Net for --sigma)")
    p.add_argument("-o", "--output", required=True, help="where to write the denoised image (PNG)")
    p.add_argument("--colour", choices=sorted(COLOUR_MODES), default="channels",
                   help=COLOUR_HELP)
    add_memory_option(p)
    p.add_argument("--self-ensemble", action="store_true", help=SELF_ENSEMBLE_HELP)
    args = p.parse_args(argv)
    if len(args.inputs) > 2:
        raise UsageError(f"expected [CHECKPOINT] IMAGE, got {len(args.inputs)} arguments: {' '.join(args.inputs)}")
    args.checkpoint, image = (None, *args.inputs) if len(args.inputs) == 1 else args.inputs
    setup(args)
    noisy = load_image(image)
    if args.checkpoint is None and args.sigma is None:      # nobody knows the noise level: estimate it
        estimate = estimate_sigma(noisy)
        args.sigma = nearest_shipped_sigma(estimate)
        print(f"estimated noise sigma {estimate:.1f} (0-255; Liu et al. 2013); using the shipped N3Net for "
              f"sigma {args.sigma:g} (--sigma or a checkpoint to choose)")
        if estimate < CLEAN_BELOW:
            print(f"note: the image looks nearly clean (noise sigma below {CLEAN_BELOW:g}); the shipped models "
                  f"remove noise of sigma {' or '.join(f'{s:g}' for s in sorted(DEFAULT))} and will smooth its detail")
    model, _, _, what = open_model(args)
    print(f"using the {what}")
    if noisy.ndim == 3:
        print(f"colour image: {COLOUR_MODES[args.colour]}")
    if args.memory_gb <= 0:
        raise UsageError(f"--memory-gb must be positive, got {args.memory_gb:g}")
    tiles = len(plan_tiles(model, noisy.shape[:2], args.memory_gb))
    channels = 3 if noisy.ndim == 3 and args.colour == "channels" else 1
    if tiles > 1:
        print(f"{noisy.shape[1]}x{noisy.shape[0]} pixels: {tiles} overlapping tiles"
              + (" per channel" if channels > 1 else "") + f" within --memory-gb {args.memory_gb:g}")
    orientations = len(SYMMETRIES) if args.self_ensemble else 1
    if args.self_ensemble:
        print(f"self-ensemble: the image in its {orientations} orientations, averaged ({orientations} times the time)")
    with progress_bar(tiles * channels * orientations, os.path.basename(image)) as progress:
        denoised = denoise_image(model, noisy, args.colour, args.device, args.memory_gb, progress, args.self_ensemble)
    save_image(args.output, denoised)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
