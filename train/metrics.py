"""Image quality: PSNR and SSIM (Wang et al. 2004), for images in [0, 1].

SSIM follows the paper's reference settings: an 11 x 11 Gaussian window with standard deviation
1.5 (separable, normalised), K1 = 0.01, K2 = 0.03, population statistics, the image border
mirrored for filtering and then the 5 outermost pixels of the SSIM map left out of the mean.
These are the choices of scikit-image's structural_similarity(..., gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=1), against which the tests check it.
"""
import math

import numpy as np


def psnr(clean, estimate, data_range=1.0):
    """Peak signal-to-noise ratio in dB: 10 log10(data_range^2 / MSE)."""
    clean, estimate = np.asarray(clean, np.float64), np.asarray(estimate, np.float64)
    if clean.shape != estimate.shape:
        raise ValueError(f"psnr: shapes differ, {clean.shape} and {estimate.shape}")
    mse = np.mean((clean - estimate) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(data_range ** 2 / mse)


def _gaussian_kernel(sigma=1.5, radius=5):
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-x ** 2 / (2 * sigma ** 2))
    return k / k.sum()


def _filter(image, kernel):
    """Separable filtering with the border mirrored (d c b a | a b c d): same size as image."""
    r = len(kernel) // 2
    padded = np.pad(image, r, mode="symmetric")
    rows = np.lib.stride_tricks.sliding_window_view(padded, len(kernel), axis=0) @ kernel  # (H, W+2r)
    return np.lib.stride_tricks.sliding_window_view(rows, len(kernel), axis=1) @ kernel    # (H, W)


def ssim(clean, estimate, data_range=1.0, sigma=1.5, radius=5, K1=0.01, K2=0.03):
    """Mean structural similarity of two (H, W) images, at least 11 x 11; of two colour images
    (H, W, 3), the mean over the channels."""
    x, y = np.asarray(clean, np.float64), np.asarray(estimate, np.float64)
    if x.ndim == 3 and x.shape == y.shape:
        return float(np.mean([ssim(x[..., c], y[..., c], data_range, sigma, radius, K1, K2)
                              for c in range(x.shape[-1])]))
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"ssim expects two (H, W) images of the same shape, got {x.shape} and {y.shape}")
    if min(x.shape) < 2 * radius + 1:
        raise ValueError(f"ssim needs images of at least {2 * radius + 1}x{2 * radius + 1} pixels")
    k = _gaussian_kernel(sigma, radius)
    mx, my = _filter(x, k), _filter(y, k)
    vx = _filter(x * x, k) - mx * mx
    vy = _filter(y * y, k) - my * my
    cxy = _filter(x * y, k) - mx * my
    C1, C2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2))
    return float(s[radius:-radius, radius:-radius].mean())
