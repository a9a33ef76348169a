"""Evaluating a denoiser on a folder of clean images: noise of a fixed seed, PSNR and SSIM per
image and on average (train/evaluate.py is its command)."""
import os
import time

import numpy as np

from .data import add_noise, list_images, load_image, save_image
from .inference import MEMORY_GB, SYMMETRIES, denoise_image
from .metrics import psnr, ssim

MIN_SIZE = 11                  # the SSIM's 11 x 11 Gaussian window


def noisy_images(paths, sigma, seed=0):
    """(path, clean, noisy) for each image file in order, clean (H, W) or (H, W, 3) for a colour image:
    the noise of every evaluation, one draw of numpy's generator `seed` after the other."""
    rng = np.random.default_rng(seed)
    for path in paths:
        clean = load_image(path)
        yield path, clean, add_noise(clean, sigma, rng)


def evaluate_folder(model, folder, sigma, device="cpu", seed=0, save_dir=None, bm3d=None, colour="channels",
                    memory_gb=MEMORY_GB, progress=None, self_ensemble=False):
    """PSNR and SSIM of the model on every image of a folder (evaluate_images on list_images(folder))."""
    return evaluate_images(model, list_images(folder), sigma, device, seed, save_dir, bm3d, colour, memory_gb,
                           progress, self_ensemble)


def evaluate_images(model, paths, sigma, device="cpu", seed=0, save_dir=None, bm3d=None, colour="channels",
                    memory_gb=MEMORY_GB, progress=None, self_ensemble=False):
    """PSNR and SSIM of the model on these image files, in order; noise from numpy's generator `seed`.

    bm3d: optionally a function (noisy, sigma_01) -> estimate to compare with (per channel).
    colour: how colour images are denoised (inference.COLOUR_MODES); memory_gb: the budget of one
    evaluation (larger images are tiled, inference.plan_tiles); progress: called with 1 after each
    image; self_ensemble: the mean over the image's 8 orientations (inference.denoise), recorded in
    the results."""
    if not paths:
        raise ValueError("no images to evaluate on")
    per_image = {}
    for path, clean, noisy in noisy_images(paths, sigma, seed):
        if min(clean.shape[:2]) < MIN_SIZE:
            raise ValueError(f"{path} is {clean.shape[1]}x{clean.shape[0]} pixels: the SSIM needs images of "
                             f"at least {MIN_SIZE}x{MIN_SIZE}; remove it from the folder")
        start = time.perf_counter()
        estimate = denoise_image(model, noisy, colour, device, memory_gb, self_ensemble=self_ensemble)
        name = os.path.basename(path)
        per_image[name] = {"psnr": psnr(clean, estimate), "ssim": ssim(clean, estimate),
                           "noisy_psnr": psnr(clean, noisy), "noisy_ssim": ssim(clean, noisy),
                           "seconds": time.perf_counter() - start}
        if clean.ndim == 3:
            per_image[name]["colour"] = colour
        if bm3d is not None:                           # colour images: BM3D on each channel
            channels = [noisy] if noisy.ndim == 2 else [noisy[..., c] for c in range(3)]
            reference = np.stack([bm3d(c, sigma / 255.0) for c in channels], axis=-1).reshape(noisy.shape)
            per_image[name].update(bm3d_psnr=psnr(clean, reference), bm3d_ssim=ssim(clean, reference))
        if save_dir:
            save_image(os.path.join(save_dir, os.path.splitext(name)[0] + "_denoised.png"), estimate)
        if progress:
            progress(1)
    keys = [key for key, value in next(iter(per_image.values())).items() if not isinstance(value, str)]
    means = {f"mean_{key}": float(np.mean([r[key] for r in per_image.values()])) for key in keys}
    results = {"sigma": sigma, "seed": seed, "images": per_image, **means}
    if self_ensemble:
        results["self_ensemble"] = len(SYMMETRIES)
    return results
