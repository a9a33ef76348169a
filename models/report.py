"""The tables of models/README.md and the README, from the shipped models and their evaluations.

    python models/report.py models/results/n3net-sigma25.json models/results/dncnn17-sigma25.json ...

Each JSON is written by train/evaluate.py --json (with --bm3d for the BM3D rows); its "checkpoint"
names the model file (relative to the repository root where it lies inside it), whose training
options, steps and wall time go into the training table.  Prints, per sigma, the PSNR table (noisy
input, BM3D where measured, every model; per test image and the mean PSNR / SSIM), then the
training table, and with --between JSON ... the table of the shipped models at other noise levels.
"""
import argparse
import json
import os
import sys

from minigrad import load
from train.shipped import in_repo


def read(path):
    with open(path) as f:
        result = json.load(f)
    result["name"] = os.path.splitext(os.path.basename(result["checkpoint"]))[0]
    result["model"] = load(in_repo(result["checkpoint"]))     # relative: to the repository root
    return result


def psnr_table(results):
    names = sorted(results[0]["images"])
    lines = ["| | " + " | ".join(os.path.splitext(n)[0] for n in names) + " | mean PSNR / SSIM |",
             "|---|" + "---|" * (len(names) + 1)]

    def row(label, result, key, mean):               # mean: the key of the mean PSNR, "_ssim" for SSIM
        lines.append(f"| {label} | " + " | ".join(f"{result['images'][n][key]:.2f}" for n in names)
                     + f" | {result[mean + '_psnr']:.2f} / {result[mean + '_ssim']:.3f} |")

    row("noisy input", results[0], "noisy_psnr", "mean_noisy")
    with_bm3d = [r for r in results if "mean_bm3d_psnr" in r]
    if with_bm3d:
        row("BM3D", with_bm3d[0], "bm3d_psnr", "mean_bm3d")
    for result in results:
        row(f"`{result['name']}`", result, "psnr", "mean")
    return "\n".join(lines)


OPTIONS = ("model", "variant", "init", "sigma", "max_temperature", "min_temperature", "lr_half_life", "batch_size")


def training_table(results):
    """The training options of each shipped model (a cool-down branch's: with where it left its
    run), its steps and crops, training time and best validation PSNR."""
    lines = ["| model | training options | steps (crops) | training wall time | best validation PSNR (step) |",
             "|---|---|---|---|---|"]
    for r in results:
        m = r["model"]
        args = json.loads(m["train_args"])
        options = " ".join(f"--{k.replace('_', '-')} {args[k]}" for k in OPTIONS
                           if args.get(k) is not None and not (k == "variant" and "n3" not in args["model"]))
        options = f"`{options}`"
        if args.get("cooldown"):
            options += f", a cool-down branch of {args['cooldown']} steps from step {args['steps'] - args['cooldown']}"
        minutes = f"{float(m['train_seconds']) / 60:.0f} min" if "train_seconds" in m else "-"
        crops = int(m["step"]) * int(args.get("batch_size", 4))
        lines.append(f"| `{r['name']}` | {options} | {int(m['step'])} ({crops:,}) | {minutes} "
                     f"| {float(m['best_val_psnr']):.2f} dB ({int(m['best_val_step'])}) |")
    return "\n".join(lines)


def between_table(results):
    """What the shipped models do to noise levels they were not trained for: per noise level, the
    noisy input's mean PSNR, each model's mean PSNR / SSIM, and BM3D given the true sigma where measured."""
    names = list(dict.fromkeys(r["name"] for r in results))           # in the order given
    lines = ["| image noise | noisy | " + " | ".join(f"`{n}`" for n in names) + " | BM3D (true sigma) |",
             "|---|---|" + "---|" * len(names) + "---|"]
    for sigma in sorted({r["sigma"] for r in results}):
        at = {r["name"]: r for r in results if r["sigma"] == sigma}
        bm3d = [r["mean_bm3d_psnr"] for r in at.values() if "mean_bm3d_psnr" in r]
        cells = [f"{at[n]['mean_psnr']:.2f} / {at[n]['mean_ssim']:.3f}" if n in at else "-" for n in names]
        noisy = next(iter(at.values()))["mean_noisy_psnr"]
        lines.append(f"| sigma {sigma:g} | {noisy:.2f} | " + " | ".join(cells) + (f" | {bm3d[0]:.2f} |" if bm3d else " | - |"))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", help="JSON files written by train/evaluate.py --json")
    p.add_argument("--between", nargs="+", default=[], metavar="JSON",
                   help="evaluations of the shipped models at other noise levels (models/results/between/): "
                        "printed as one more table")
    args = p.parse_args(argv)
    results = [read(path) for path in args.results]
    for sigma in sorted({r["sigma"] for r in results}):
        chosen = [r for r in results if r["sigma"] == sigma]
        print(f"sigma {sigma:g}, test images whole, noise seed {chosen[0]['seed']}: PSNR (dB)\n")
        print(psnr_table(chosen) + "\n")
    print(training_table(results))
    if args.between:
        print("\nat other noise levels (mean PSNR / SSIM):\n\n" + between_table([read(p) for p in args.between]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
