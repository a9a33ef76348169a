import numpy as np
import pytest
from PIL import Image

from train.data import CropSampler, add_noise, list_images, load_folder, load_grayscale


def test_loads_every_kind_of_image_as_grayscale(tmp_path):
    gray = np.arange(0, 256, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(gray).save(tmp_path / "l.png")
    Image.fromarray(np.stack([gray] * 3, axis=-1)).save(tmp_path / "rgb.png")
    Image.fromarray(np.dstack([gray] * 3 + [np.full_like(gray, 128)])).save(tmp_path / "rgba.png")
    Image.fromarray(gray).convert("P").save(tmp_path / "palette.gif")
    Image.fromarray((gray.astype(np.uint16) * 257)).save(tmp_path / "sixteen.png")
    for name in ("l.png", "rgb.png", "rgba.png", "palette.gif", "sixteen.png"):
        image = load_grayscale(tmp_path / name)
        assert image.dtype == np.float32 and image.shape == (16, 16), name
        np.testing.assert_allclose(image, gray / 255.0, atol=1 / 255 + 1e-6, err_msg=name)


def test_unreadable_and_missing_files(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="notes.png is not an image Pillow can read"):
        load_grayscale(tmp_path / "notes.png")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_grayscale(tmp_path / "missing.png")
    with pytest.raises(FileNotFoundError, match="image folder .* does not exist"):
        list_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="contains no images"):
        list_images(tmp_path / "empty")


def test_images_smaller_than_the_crop_are_named(tmp_path):
    Image.fromarray(np.zeros((30, 50), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(ValueError, match=r"small.png is 50x30 pixels, smaller than the 40x40 crop"):
        load_folder(tmp_path, min_size=40)


def test_crops_flips_and_rotations(rng):
    image = np.arange(16 * 16, dtype=np.float32).reshape(16, 16)
    sampler = CropSampler([image], crop=16)
    seen = {sampler.sample(1, rng)[0, 0].tobytes() for _ in range(200)}
    assert len(seen) == 8                                   # the 8 symmetries of the square
    batch = CropSampler([np.zeros((40, 30), np.float32), np.ones((20, 20), np.float32)], 12).sample(64, rng)
    assert batch.shape == (64, 1, 12, 12) and batch.dtype == np.float32
    assert 0 < batch.mean() < 0.5                            # images drawn by area: 400 of 1600 pixels


def test_noise_level(rng):
    noisy = add_noise(np.zeros((200, 200), np.float32), 25, rng)
    assert noisy.dtype == np.float32
    assert noisy.std() == pytest.approx(25 / 255, rel=0.02)
