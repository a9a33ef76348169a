"""Denoising a whole photo: time and peak resident memory against its size (issue 19), one command.

    python bench/speed_photo.py                       # 1, 4, 16 and 24 megapixels, grayscale, N3Net
    python bench/speed_photo.py --megapixels 1 4 --colour

Each size runs in a fresh process (so that the peak resident memory, VmHWM, is that size's alone):
the shipped n3net-sigma25 denoises a 4:3 grayscale image of that many pixels (brick.png tiled, with
noise of sigma 25) within the default memory budget of train/inference.py (tiles beyond it).  With
--colour, a colour image of the first size is also denoised per channel and in luminance only.
Prints a Markdown table: time, peak resident memory, both per pixel.  Take it on a quiet machine.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from bench.harness import memory_kb


def image_of(megapixels, colour=False):
    """A 4:3 image of about this many megapixels: brick.png repeated, with noise of sigma 25."""
    from train.data import DEFAULT_DATA, add_noise, load_grayscale
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(width * 3 / 4))
    tile = load_grayscale(os.path.join(DEFAULT_DATA, "test", "brick.png"))
    clean = np.tile(tile, (height // tile.shape[0] + 1, width // tile.shape[1] + 1))[:height, :width]
    if colour:
        clean = np.stack([clean, clean[::-1, :], clean[:, ::-1]], axis=-1)
    return add_noise(clean, 25, np.random.default_rng(0))


def worker(megapixels, colour_mode, threads):
    """One measurement in this process: (seconds, peak MiB above the start, tiles)."""
    from minigrad.threads import set_num_threads
    from train.inference import denoise_image, load_model, plan_tiles
    from train.shipped import shipped_path
    set_num_threads(threads)
    model = load_model(shipped_path("n3net-sigma25"))
    noisy = image_of(megapixels, colour=colour_mode is not None)
    base = memory_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    start = time.perf_counter()
    denoise_image(model, noisy, colour_mode or "channels")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": (memory_kb("VmHWM") - base) / 1024,
            "tiles": len(plan_tiles(model, noisy.shape[:2])), "pixels": noisy.shape[0] * noisy.shape[1],
            "image_mb": noisy.nbytes / 2 ** 20}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--megapixels", type=float, nargs="+", default=[1, 4, 16, 24])
    p.add_argument("--colour", action="store_true", help="also a colour image of the first size, both modes")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--worker", nargs=2, metavar=("MEGAPIXELS", "COLOUR"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        mode = None if args.worker[1] == "gray" else args.worker[1]
        print(json.dumps(worker(float(args.worker[0]), mode, args.threads)))
        return 0
    runs = [(mp, "gray") for mp in args.megapixels]
    if args.colour:
        runs += [(args.megapixels[0], "channels"), (args.megapixels[0], "luminance")]
    print(f"n3net-sigma25, {args.threads} threads, default memory budget; peak = resident memory above the "
          f"process's just before denoising (the noisy image already loaded; the result included)")
    print("| image | pixels | tiles | time | peak memory | time per megapixel | memory per pixel |")
    print("|---|---|---|---|---|---|---|")
    for megapixels, mode in runs:
        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", str(megapixels), mode,
                               "--threads", str(args.threads)], capture_output=True, text=True)
        if done.returncode:
            print(f"| {megapixels:g} MP {mode} | failed: {done.stderr.strip().splitlines()[-1]} |")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        label = f"{megapixels:g} MP" + ("" if mode == "gray" else f" colour, {mode}")
        print(f"| {label} | {r['pixels'] / 1e6:.1f} M | {r['tiles']} | {r['seconds']:.0f} s | {r['peak_mb']:.0f} MiB "
              f"| {r['seconds'] / (r['pixels'] / 1e6):.1f} s | {r['peak_mb'] * 2 ** 20 / r['pixels']:.0f} B |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
