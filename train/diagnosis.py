"""The N3 blocks' diagnostics on noisy crops of clean images (train/diagnose.py is the command;
experiments/ use the default crops for their tables)."""
import os

import numpy as np

from n3net.diagnostics import diagnose

from .data import DEFAULT_DATA, CropSampler, add_noise, load_folder


def test_crops(images, crop, count, sigma, seed):
    """(noisy, clean) (count, 1, crop, crop): random crops of the images in a folder, as training
    draws them (flips and rotations), with noise of sigma; fixed by the seed."""
    rng = np.random.default_rng(seed)
    sampler = CropSampler(load_folder(images, min_size=crop).values(), crop)
    clean = sampler.sample(count, rng)
    return add_noise(clean, sigma, rng), clean


def diagnose_on_test_crops(model, sigma):
    """The diagnostic as this command runs it by default, for the experiments' tables: 8 crops
    of 80 x 80 of the embedded test images, seed 0, evaluation mode."""
    noisy, clean = test_crops(os.path.join(DEFAULT_DATA, "test"), 80, 8, sigma, 0)
    return diagnose(model, noisy, clean, training=False)
