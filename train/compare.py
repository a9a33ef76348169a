"""Compare denoisers side by side on a crop: noisy, each model's result, clean.

    python train/compare.py                                   # DnCNN-17 and N3Net at sigma 25, brick.png
    python train/compare.py --models dncnn17-sigma25 runs/denoise/best.npz --image my.png --sigma 25
    python train/compare.py --crop 300 120 128 --out docs/figures/compare.png

Every model denoises the whole image (noise drawn once, --seed); the PSNR of the whole image and
of the crop are in each title.  The crop (--crop ROW COL SIZE) defaults to a square of 128 pixels
around the most repeated texture of the noisy image (as train/inspect_n3.py chooses its query).
"""
import argparse
import os
import sys

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt                                       # noqa: E402

from n3net.patch_grid import PatchGrid                                # noqa: E402
from train.cli import common_options, open_model, setup               # noqa: E402
from train.data import add_noise, load_grayscale                      # noqa: E402
from train.errors import UsageError, run_cli                          # noqa: E402
from train.inference import denoise                                   # noqa: E402
from train.inspection import DEFAULT_IMAGE, most_repeated_patch       # noqa: E402
from train.metrics import psnr                                        # noqa: E402

MIN_SIZE = 16                  # the texture search's patches (10 x 10 at stride 5) need two rows


def main(argv=None):
    p = argparse.ArgumentParser(description="Noisy, denoised by each model, and clean, on a crop.",
                                parents=[common_options(checkpoint=False)])
    p.add_argument("--models", nargs="+", default=["dncnn17-sigma25", "n3net-sigma25"],
                   help="checkpoints or shipped models' names (default: dncnn17-sigma25 n3net-sigma25)")
    p.add_argument("--image", default=DEFAULT_IMAGE, help="a clean image (default: data/images/test/brick.png)")
    p.add_argument("--crop", type=int, nargs=3, metavar=("ROW", "COL", "SIZE"),
                   help="the crop shown (default: 128 pixels around the most repeated texture)")
    p.add_argument("--out", default="runs/compare/compare.png", help="the figure to write (PNG)")
    args = p.parse_args(argv)
    setup(args)
    models = [open_model(args, name) for name in args.models]    # the first sets the sigma if not given
    clean = load_grayscale(args.image)
    H, W = clean.shape
    if min(H, W) < MIN_SIZE:
        raise UsageError(f"{args.image} is {W}x{H} pixels: compare needs at least {MIN_SIZE}x{MIN_SIZE}")
    noisy = add_noise(clean, args.sigma, np.random.default_rng(args.seed))
    if args.crop is None:
        grid = PatchGrid((H, W), 10, 5, 15)
        i, j = most_repeated_patch(noisy, grid, 7, args.sigma)
        size = min(128, H, W)
        row = int(np.clip(i * 5 - grid.pads[0][0] + 5 - size // 2, 0, H - size))
        col = int(np.clip(j * 5 - grid.pads[1][0] + 5 - size // 2, 0, W - size))
    else:
        row, col, size = args.crop
        if size < 8 or row < 0 or col < 0 or row + size > H or col + size > W:
            raise UsageError(f"--crop {row} {col} {size} does not fit the {W}x{H} image")
    crop = (slice(row, row + size), slice(col, col + size))
    panels = [(f"noisy\n{psnr(clean, noisy):.2f} dB (crop {psnr(clean[crop], noisy[crop]):.2f})", noisy)]
    for model, _, path, what in models:
        estimate = denoise(model, noisy, args.device)
        label = os.path.splitext(os.path.basename(path))[0]
        panels.append((f"{label}\n{psnr(clean, estimate):.2f} dB (crop {psnr(clean[crop], estimate[crop]):.2f})",
                       estimate))
        print(f"{what}: {psnr(clean, estimate):.2f} dB on the whole image")
    panels.append(("clean\n", clean))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.6), layout="constrained")
    for ax, (title, image) in zip(axes, panels):
        ax.imshow(np.clip(image[crop], 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.suptitle(f"{os.path.basename(args.image)}, sigma {args.sigma:g}, noise seed {args.seed}: "
                 f"rows {row}-{row + size - 1}, columns {col}-{col + size - 1}; PSNR of the whole image "
                 f"(and of the crop)", fontsize=9)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=100)
    plt.close(fig)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
