"""Images for training and evaluation: loading any image Pillow reads as grayscale in [0, 1],
random training crops with flips and 90-degree rotations, and Gaussian noise.

Noise protocol (data/README.md): clean 8-bit image / 255, plus white Gaussian noise of standard
deviation sigma / 255, not clipped, not quantised.
"""
import os

import numpy as np
from PIL import Image, UnidentifiedImageError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(REPO, "data", "images")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".pgm", ".ppm", ".webp")


GRAY_MODES = ("L", "1", "LA", "I;16", "I;16B", "I;16L", "I", "F")


def _read(path):
    """The image file, loaded by Pillow; FileNotFoundError if it is missing, ValueError if Pillow
    cannot read it."""
    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except FileNotFoundError:
        raise FileNotFoundError(f"image {path} does not exist") from None
    except Image.DecompressionBombError as error:        # more pixels than Pillow agrees to decode
        raise ValueError(f"{path} is too large to decode safely ({error.args[0].split('(')[0].strip()}); "
                         f"crop or downscale it first") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{path} is not an image Pillow can read ({error})") from None


def _grayscale(img):
    """A Pillow image as a float32 (H, W) array in [0, 1] (see load_grayscale)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        return (a / (65535.0 if a.max() > 255 else 255.0)).astype(np.float32)
    if img.mode == "F":
        a = np.asarray(img, dtype=np.float64)
        return (a / 255.0 if a.max() > 1 else a).astype(np.float32)
    if img.mode not in ("L", "1"):
        img = img.convert("RGB").convert("L")       # palette, RGBA, CMYK, ... -> luma
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def load_grayscale(path):
    """An image file as a float32 (H, W) array in [0, 1]: RGB(A) and palette images become luma,
    16-bit images are scaled by 65535.  A file Pillow cannot read raises ValueError."""
    return _grayscale(_read(path))


def load_image(path):
    """An image file as float32 in [0, 1]: (H, W) if it is grayscale, (H, W, 3) RGB if it has colour
    (an RGB image whose three channels are equal counts as grayscale).  ValueError if unreadable."""
    img = _read(path)
    if img.mode in GRAY_MODES:
        return _grayscale(img)
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return _grayscale(img)
    return rgb


def save_image(path, image):
    """Save an (H, W) or (H, W, 3) array in [0, 1] as an 8-bit grayscale or RGB image (values
    clipped, rounded), atomically: nothing appears at path unless the whole file was written."""
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    name, extension = os.path.splitext(os.path.basename(path))
    partial = os.path.join(folder, f".{name}.partial{extension}")          # the same format as path
    try:
        Image.fromarray(pixels, "RGB" if image.ndim == 3 else None).save(partial)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)




def list_images(folder):
    """Sorted image files of a folder (by extension); FileNotFoundError if the folder is missing or
    has none."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"image folder {folder} does not exist")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                   if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith("."))
    if not files:
        raise FileNotFoundError(f"image folder {folder} contains no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def load_folder(folder, min_size=0):
    """{name: image} for every image of a folder, each at least min_size pixels on both sides."""
    images = {}
    for path in list_images(folder):
        image = load_grayscale(path)
        if min(image.shape) < min_size:
            raise ValueError(f"{path} is {image.shape[1]}x{image.shape[0]} pixels, smaller than the "
                           f"{min_size}x{min_size} crop; remove it or use a smaller --crop")
        images[os.path.basename(path)] = image
    return images


def add_noise(clean, sigma, rng):
    """clean + N(0, (sigma/255)^2) noise, sigma on the 0-255 scale; float32."""
    return (clean + rng.standard_normal(clean.shape) * (sigma / 255.0)).astype(np.float32)


class CropSampler:
    """Random crop x crop patches of a set of images, with random flips and 90-degree rotations.

    Images are drawn with probability proportional to their area, so that every pixel of the
    data set is equally likely to be seen.
    """

    def __init__(self, images, crop):
        self.images, self.crop = list(images), crop
        areas = np.array([im.size for im in self.images], dtype=np.float64)
        self.p = areas / areas.sum()

    def sample(self, batch, rng):
        """(batch, 1, crop, crop) float32 clean patches."""
        out = np.empty((batch, 1, self.crop, self.crop), np.float32)
        for b in range(batch):
            image = self.images[rng.choice(len(self.images), p=self.p)]
            i = rng.integers(0, image.shape[0] - self.crop + 1)
            j = rng.integers(0, image.shape[1] - self.crop + 1)
            patch = image[i:i + self.crop, j:j + self.crop]
            patch = np.rot90(patch, rng.integers(4))                    # 0, 90, 180, 270 degrees
            out[b, 0] = patch[:, ::-1] if rng.integers(2) else patch   # and a mirror: 8 symmetries
        return out
