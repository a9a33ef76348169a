import math

import numpy as np
import pytest

from train.metrics import psnr, ssim


def test_psnr_known_values():
    clean = np.zeros((4, 4))
    assert psnr(clean, clean + 0.1) == pytest.approx(20.0)        # MSE 0.01
    assert psnr(clean, clean + 0.01) == pytest.approx(40.0)
    assert psnr(clean, clean) == math.inf
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(clean, np.zeros((3, 4)))


def test_ssim_properties(rng):
    x = rng.random((32, 40))
    assert ssim(x, x) == pytest.approx(1.0)
    y = np.clip(x + rng.standard_normal(x.shape) * 0.1, 0, 1)
    assert ssim(x, y) == pytest.approx(ssim(y, x))                  # symmetric
    assert 0 < ssim(x, y) < 1
    z = np.clip(x + rng.standard_normal(x.shape) * 0.3, 0, 1)
    assert ssim(x, z) < ssim(x, y)                                  # more noise, less similar
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(np.zeros((8, 8)), np.zeros((8, 8)))


def test_ssim_of_a_constant_offset():
    # x constant: variances and covariance vanish, SSIM is the luminance term alone
    x, y = np.full((20, 20), 0.5), np.full((20, 20), 0.6)
    C1 = 0.01 ** 2
    assert ssim(x, y) == pytest.approx((2 * 0.5 * 0.6 + C1) / (0.25 + 0.36 + C1))


def test_ssim_matches_scikit_image(rng):
    metrics = pytest.importorskip("skimage.metrics")
    x = rng.random((48, 37))
    y = np.clip(x + rng.standard_normal(x.shape) * 0.15, 0, 1)
    reference = metrics.structural_similarity(x, y, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                              use_sample_covariance=False)
    assert ssim(x, y) == pytest.approx(reference, abs=1e-10)
