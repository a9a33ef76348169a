"""Are a training run's N3 blocks alive and selective?  Issue 15's check, as a table.

    python experiments/alive_check.py runs/recipe/n3net-300-n3lr1 ...

Per run folder (train/denoise.py --out, or an archive of export_weights.py --archive) and N3 block:
the smallest ratio over the block's embedding and temperature convolutions of the weight RMS at
the last logged step to the RMS after step 1 (metrics.jsonl, key n3_weights), and, on the run's
last.npz (best.npz for an archive) in evaluation mode on 8 noisy 80 x 80 crops of the test images
(train/diagnose.py's defaults), the median n_eff, the median temperature, the saturated fraction
and the collapse flag.
A block passes when the ratio is at least 0.5, the median n_eff at most 128 of 224, at most 10 %
of the queries are saturated and it is not flagged collapsed.
"""
import argparse
import json
import os
import sys

from n3net.diagnostics import unselective
from train.diagnosis import diagnose_on_test_crops
from train.inference import load_checkpoint, model_from_checkpoint

MIN_RMS_RATIO = 0.5          # the rest of the bound: n3net/diagnostics.py, unselective


def rows(folder):
    records = [json.loads(line) for line in open(os.path.join(folder, "metrics.jsonl")) if '"n3_weights"' in line]
    first, last = records[0], records[-1]
    path = os.path.join(folder, "last.npz")
    path = path if os.path.exists(path) else os.path.join(folder, "best.npz")
    ckpt = load_checkpoint(path)
    model = model_from_checkpoint(ckpt, path)
    sigma = json.loads(ckpt["train_args"])["sigma"]
    report = diagnose_on_test_crops(model, sigma)
    with open(os.path.join(folder, "test.json")) as f:
        test = json.load(f)
    out = []
    for i, block in enumerate(report):
        ratio = min(b / a for cnn in ("embedding", "temperature")
                    for a, b in zip(first["n3_weights"][i][f"{cnn}_rms"], last["n3_weights"][i][f"{cnn}_rms"]))
        passed = ratio >= MIN_RMS_RATIO and not unselective(block)
        out.append(f"| {os.path.basename(os.path.normpath(folder))} | {test['mean_psnr']:.2f} / {test['mean_ssim']:.3f} | "
                   f"{block['block']} | {ratio:.2f} (steps {first['step']} -> {last['step']}) | "
                   f"{block['n_eff_median']:.1f} | {block['t_median']:.3f} | {100 * block['saturated']:.1f} % | "
                   f"{block['separation_median']:.2f} | {'yes' if passed else 'NO'} |")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run folders")
    args = p.parse_args(argv)
    print("| run | test PSNR / SSIM | block | smallest N3 CNN weight RMS, last / step 1 | median n_eff "
          "(eval, test crops) | median t | saturated | separation | passes |\n|---|---|---|---|---|---|---|---|---|")
    for folder in args.runs:
        print("\n".join(rows(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
