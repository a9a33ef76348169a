"""train/noise_level.py: the estimate is within 15 % of the noise in the image on every test image
with sigma 5 to 50 added, small on a clean image, and refuses an image too small."""
import os

import numpy as np
import pytest

from train.data import DEFAULT_DATA, add_noise, list_images, load_grayscale, load_image
from train.noise_level import CLEAN_BELOW, estimate_sigma

TEST_IMAGES = list_images(os.path.join(DEFAULT_DATA, "test"))


@pytest.mark.parametrize("path", TEST_IMAGES, ids=os.path.basename)
def test_within_15_percent_from_5_to_50(path):
    clean = load_grayscale(path)
    rng = np.random.default_rng(0)
    own = estimate_sigma(clean)
    assert own < CLEAN_BELOW                                       # the image itself looks clean
    for sigma in (5, 15, 25, 35, 50):
        estimate = estimate_sigma(add_noise(clean, sigma, rng))
        # within 15 % of the noise the image really holds: the added and its own grain (einstein.png's
        # grain, about 2, puts its sigma-5 estimate up to 19 % above 5: models/README.md)
        assert estimate == pytest.approx(np.hypot(sigma, own), rel=0.15)
        if sigma >= 15:
            assert estimate == pytest.approx(sigma, rel=0.15)


def test_colour_and_small_images():
    clean = load_image(os.path.join(DEFAULT_DATA, "test", "monarch.png"))
    if clean.ndim == 2:
        clean = np.stack([clean] * 3, axis=-1)
    noisy = add_noise(clean, 20, np.random.default_rng(1))
    assert estimate_sigma(noisy) == pytest.approx(20, rel=0.15)
    with pytest.raises(ValueError, match="too small to estimate its noise level"):
        estimate_sigma(noisy[:20, :40])


def test_memory_stays_bounded_on_a_large_image():
    """Patches are taken at a stride that keeps their number at most MAX_PATCHES."""
    rng = np.random.default_rng(2)
    image = np.clip(0.5 + rng.standard_normal((1500, 1400)) * (10 / 255), 0, 1).astype(np.float32)
    assert estimate_sigma(image, max_patches=20_000) == pytest.approx(10, rel=0.1)


def test_denoise_image_without_sigma_estimates_it(tmp_path, capsys):
    from PIL import Image

    from train import denoise_image
    from train.shipped import nearest_shipped_sigma
    assert [nearest_shipped_sigma(s) for s in (5, 25, 30, 31, 35, 50, 90)] == [25, 25, 25, 50, 50, 50, 50]
    clean = load_grayscale(os.path.join(DEFAULT_DATA, "test", "coins.png"))[:120, :130]
    noisy = np.clip(add_noise(clean, 45, np.random.default_rng(0)), 0, 1)
    Image.fromarray(np.round(noisy * 255).astype(np.uint8)).save(tmp_path / "noisy.png")
    Image.fromarray(np.round(clean * 255).astype(np.uint8)).save(tmp_path / "clean.png")
    if not os.path.exists(os.path.join(DEFAULT_DATA, "..", "..", "models", "n3net-sigma50.npz")):
        pytest.skip("the shipped models are not in this checkout")
    assert denoise_image.main([str(tmp_path / "noisy.png"), "-o", str(tmp_path / "out.png")]) == 0
    out = capsys.readouterr().out
    assert "estimated noise sigma 4" in out and "shipped model n3net-sigma50" in out
    assert denoise_image.main([str(tmp_path / "clean.png"), "-o", str(tmp_path / "out2.png")]) == 0
    assert "looks nearly clean" in capsys.readouterr().out
