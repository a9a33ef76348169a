"""The noise level estimate (train/noise_level.py) on the test images with Gaussian noise of known
sigma (noise seed 0, drawn in this order): a Markdown table for models/README.md.

    python experiments/noise_level_table.py
"""
import os

import numpy as np

from train.data import DEFAULT_DATA, add_noise, list_images, load_grayscale
from train.noise_level import estimate_sigma

SIGMAS = (0, 5, 15, 25, 35, 50)


def main():
    print("| image | " + " | ".join(f"sigma {s}" for s in SIGMAS) + " |")
    print("|---|" + "---|" * len(SIGMAS))
    worst = 0.0
    for path in list_images(os.path.join(DEFAULT_DATA, "test")):
        clean, rng = load_grayscale(path), np.random.default_rng(0)
        estimates = [estimate_sigma(add_noise(clean, s, rng)) for s in SIGMAS]
        worst = max([worst] + [abs(e / s - 1) for e, s in zip(estimates, SIGMAS) if s])
        print(f"| {os.path.basename(path)} | " + " | ".join(f"{e:.1f}" for e in estimates) + " |")
    print(f"\nlargest relative error for sigma 5 to 50: {100 * worst:.1f} %")


if __name__ == "__main__":
    main()
