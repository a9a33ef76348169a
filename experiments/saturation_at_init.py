"""The saturation diagnostic of fresh networks, as train/denoise.py builds them, with and without the
distance batch-norm (docs/n3net.md, section 4).

    python experiments/saturation_at_init.py

One training-mode forward and backward of a batch of 8 noisy (sigma 25) 80 x 80 crops of the
embedded training images; the gradient ratios of the N3 blocks are 0 at this first step because
the DnCNN after each block starts with a zero last convolution.
"""
import os

import numpy as np

from minigrad import init
from n3net import build_model
from n3net.diagnostics import diagnose
from train.data import DEFAULT_DATA, CropSampler, add_noise, load_folder


def main():
    rng = np.random.default_rng(0)
    images = load_folder(os.path.join(DEFAULT_DATA, "train"), min_size=80).values()
    clean = CropSampler(images, 80).sample(8, rng)
    noisy = add_noise(clean, 25, rng)
    print(f"{'model':<14}{'distance BN':<13}{'block':<10}{'saturated':>10}{'w1':>7}{'n_eff':>7}{'logit sd':>9}"
          f"{'gap':>7}{'t':>7}")
    for name in ("n3net", "n3net-light"):
        for distance_bn in (True, False):
            init.manual_seed(0)
            model = build_model(name, zero_init_residual=True, distance_bn=distance_bn)
            for b in diagnose(model, noisy, clean):
                print(f"{name:<14}{str(distance_bn):<13}{b['block']:<10}{100 * b['saturated']:9.1f}%"
                      f"{b['w1_median']:7.3f}{b['n_eff_median']:7.1f}{b['logit_std_median']:9.2f}"
                      f"{b['gap_median']:7.2f}{b['t_median']:7.3f}")


if __name__ == "__main__":
    main()
