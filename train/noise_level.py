"""How noisy is an image?  An estimate of the standard deviation of white Gaussian noise from the
noisy image alone, for denoising a photo whose noise level nobody knows.

The method of Liu, Tanaka and Okutomi, "Single-image noise level estimation for blind denoising",
IEEE Transactions on Image Processing 22(12), 2013: in patches without texture the pixel
covariance is the noise's, sigma^2 I, so the smallest eigenvalue of the covariance of such patches
is sigma^2.  Weak-texture patches are found by their gradient energy (the sum of the squared
horizontal and vertical differences inside the patch), which for pure noise has mean 2 sigma^2 m
(m differences of variance 2 sigma^2 each).  Starting from all patches:

    sigma^2 = smallest eigenvalue of the covariance of the selected p x p patches
    keep the patches whose gradient energy is below mean + 2.33 std of pure noise's, and repeat

(The paper takes the threshold from the gamma distribution of that energy; here a normal
approximation with the standard deviation widened by 1.5 for the correlation of neighbouring
differences.  The smallest sample eigenvalue of n patches of d pixels is low by the factor
(1 - sqrt(d / n))^2 of the Marchenko-Pastur law; it is divided out.)  Measured on the test images (experiments/noise_level_table.py, models/README.md): within 3 %
of the added sigma from 15 to 50 on the 0-255 scale; at sigma 5 the images' own grain shows (up to
14-19 % above 5 on einstein.png, whose clean version estimates at 1.6-2.3); the clean images give
2.3 or less.
"""
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PATCH = 7
MAX_PATCHES = 50_000             # patches at a stride that keeps their number (and memory) bounded
ITERATIONS = 3
CLEAN_BELOW = 3.0                # an estimate below this (0-255 scale) means "nearly clean"


def estimate_sigma(image, patch=PATCH, max_patches=MAX_PATCHES, iterations=ITERATIONS):
    """The noise standard deviation on the 0-255 scale of an (H, W) or (H, W, 3) image in [0, 1]
    (a colour image: the median of its channels' estimates)."""
    if image.ndim == 3:
        return float(np.median([estimate_sigma(image[..., c], patch, max_patches, iterations)
                                for c in range(image.shape[2])]))
    H, W = image.shape
    if min(H, W) < 4 * patch:
        raise ValueError(f"an image of {W}x{H} pixels is too small to estimate its noise level (it needs at "
                         f"least {4 * patch}x{4 * patch}): give --sigma")
    a = image.astype(np.float64)
    count = (H - patch + 1) * (W - patch + 1)
    s = max(1, math.ceil(math.sqrt(count / max_patches)))          # stride between the patches used
    patches = sliding_window_view(a, (patch, patch))[::s, ::s].reshape(-1, patch * patch)   # (n, p p)
    dh = np.diff(a, axis=1) ** 2                                   # (H, W - 1)
    dv = np.diff(a, axis=0) ** 2                                   # (H - 1, W)
    energy = (sliding_window_view(dh, (patch, patch - 1))[::s, ::s].sum(axis=(-1, -2)) +
              sliding_window_view(dv, (patch - 1, patch))[::s, ::s].sum(axis=(-1, -2))).ravel()   # (n,)
    m = 2 * patch * (patch - 1)                                    # differences per patch
    keep = np.ones(len(patches), bool)
    variance = 0.0
    for _ in range(iterations):
        selected = patches[keep] - patches[keep].mean(axis=0)
        covariance = selected.T @ selected / len(selected)         # (p p, p p)
        # the smallest eigenvalue of a sample covariance of n noise vectors of d entries lies near
        # sigma^2 (1 - sqrt(d / n))^2 (Marchenko-Pastur), not at sigma^2: undo that bias
        edge = (1 - math.sqrt(patch * patch / len(selected))) ** 2
        variance = max(float(np.linalg.eigvalsh(covariance)[0]), 0.0) / edge
        mean, std = 2 * variance * m, 1.5 * 2 * variance * math.sqrt(2 * m)
        weak = energy < mean + 2.33 * std
        if weak.sum() < 50 * patch * patch:                        # too few left for a covariance
            break
        keep = weak
    return math.sqrt(variance) * 255.0
