"""Denoise your own image with a trained model.

    python train/denoise_image.py runs/denoise/best.npz noisy.png -o denoised.png

The image may be any format Pillow reads (colour images are converted to grayscale); the result
is an 8-bit grayscale PNG.  The model is rebuilt from the checkpoint alone.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from train.data import load_grayscale, save_grayscale                 # noqa: E402
from train.errors import run_cli                                      # noqa: E402
from train.inference import denoise, load_model                       # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description="Denoise a grayscale image with a trained checkpoint.")
    p.add_argument("checkpoint", help="a checkpoint written by train/denoise.py (best.npz or last.npz)")
    p.add_argument("image", help="the noisy image")
    p.add_argument("-o", "--output", required=True, help="where to write the denoised image (PNG)")
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    args = p.parse_args(argv)
    model = load_model(args.checkpoint, args.device)
    noisy = load_grayscale(args.image)
    save_grayscale(args.output, denoise(model, noisy, args.device))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
