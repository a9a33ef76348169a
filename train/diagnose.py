"""Is a trained N3Net's continuous KNN still soft?  The saturation diagnostic (n3net/diagnostics.py)
of every N3 block, on noisy crops of clean images.

    python train/diagnose.py                                   # the shipped N3Net for sigma 25
    python train/diagnose.py --checkpoint runs/denoise/best.npz
    python train/diagnose.py --checkpoint CKPT --images data/images/test --crop 80 --sigma 25 --train-mode

Draws --crops random crops (fixed --seed) of the images, adds noise, and runs one forward and MSE
backward in evaluation mode (running statistics, as denoising does; --train-mode for batch
statistics, as a training step does).  Prints, per block: the fraction of queries whose first
weight w^1 exceeds 0.99, the medians of the largest first weight, of the effective number of
candidates 1 / sum (w^1)^2, of the spread of the first logits over the candidates and of the gap
(d2 - d1) / t, the temperatures, and the gradient /
weight norm ratios of the embedding CNN, the temperature CNN and the rest of the network.  Then the
collapse diagnostic (n3net/collapse.py): the separation of the candidates (median over queries
of the std of the normalised distances D_hat; below 0.1 the block is flagged COLLAPSED), the RMS of every
embedding and temperature convolution weight against its default initialisation's, and the
batch-norms' running variances against their eps.
"""
import argparse
import json
import os
import sys


from minigrad import to_device
from n3net.collapse import COLLAPSE_LOGIT_SPREAD, COLLAPSE_SEPARATION, weight_report
from n3net.diagnostics import diagnose, n3_blocks
from train.cli import common_options, open_model, setup
from train.data import DEFAULT_DATA
from train.diagnosis import test_crops
from train.errors import UsageError, run_cli
from train.inference import model_name


def _list(values):
    return "[" + ", ".join(f"{v:.1e}" for v in values) + "]"


def print_collapse(report, weights):
    """The collapse diagnostic of each block (n3net/collapse.py)."""
    print(f"collapse: separation = median std of D_hat over a query's candidates (collapsed below "
          f"{COLLAPSE_SEPARATION:g} with a logit sd below {COLLAPSE_LOGIT_SPREAD:g}); weight RMS / default "
          f"initialisation's; batch-norm running variances (eps {weights[0]['eps']:g})")
    for b, w in zip(report, weights):
        flag = "COLLAPSED" if b["collapsed"] else "alive"
        dbn = ("none" if w["distance_bn_var"] is None else
               f"running var {w['distance_bn_var']:.1e}, |gamma| {w['distance_bn_scale']:.2f}")
        print(f"{b['block']:<10}separation {b['separation_median']:.2e}: {flag}; distance batch-norm {dbn}")
        for cnn in ("embedding", "temperature"):
            ratio = [r / r0 for r, r0 in zip(w[f"{cnn}_rms"], w[f"{cnn}_rms_init"])]
            print(f"{'':<10}{cnn:<12} RMS / init {_list(ratio)}, batch-norm running var {_list(w[f'{cnn}_bn_var'])}")


def main(argv=None):
    p = argparse.ArgumentParser(description="Saturation diagnostic of a trained model's N3 blocks.",
                                parents=[common_options()])
    p.add_argument("--images", default=os.path.join(DEFAULT_DATA, "test"),
                   help="folder of clean images (default: the embedded test images)")
    p.add_argument("--crop", type=int, default=80, help="side of the crops (default 80)")
    p.add_argument("--crops", type=int, default=8, help="number of crops (default 8)")
    p.add_argument("--train-mode", action="store_true", help="batch statistics instead of running ones")
    p.add_argument("--json", help="also write the report to this JSON file")
    args = p.parse_args(argv)
    setup(args)
    model, ckpt, path, what = open_model(args)
    print(f"using the {what}")
    if not n3_blocks(model):
        raise UsageError(f"{path} holds a {model_name(ckpt)}, which has no N3 block")
    need = model.min_size()
    if args.crop < need:
        raise UsageError(f"--crop {args.crop} is too small: the N3 blocks need at least {need} pixels")
    sigma = args.sigma
    noisy, clean = test_crops(args.images, args.crop, args.crops, sigma, args.seed)
    noisy, clean = to_device(noisy, args.device), to_device(clean, args.device)
    report = diagnose(model, noisy, clean, training=args.train_mode)
    mode = "training" if args.train_mode else "evaluation"
    print(f"{path}: {args.crops} crops of {args.crop}x{args.crop} of {args.images}, sigma "
          f"{sigma:g}, {mode} mode")
    print(f"{'block':<10}{'saturated':>10}{'w1':>7}{'n_eff':>7}{'logit sd':>9}{'gap':>8}{'t median [min, max]':>26}"
          f"{'grad/weight: embedding, temperature, rest':>44}")
    for b in report:
        print(f"{b['block']:<10}{100 * b['saturated']:9.1f}%{b['w1_median']:7.3f}{b['n_eff_median']:7.1f}{b['logit_std_median']:9.2f}"
              f"{b['gap_median']:8.2f}"
              f"{b['t_median']:10.3f} [{b['t_min']:.3f}, {b['t_max']:.3f}]"
              f"{b['grad_embedding']:18.1e}{b['grad_temperature']:13.1e}{b['grad_rest']:13.1e}")
    weights = weight_report(model)
    print_collapse(report, weights)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"checkpoint": path, "sigma": sigma, "mode": mode, "blocks": report,
                       "weights": weights}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
