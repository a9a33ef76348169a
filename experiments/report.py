"""Markdown tables of finished training runs: test PSNR / SSIM per image, wall time, and the N3
blocks' saturation diagnostic at the last diagnosed step (docs/experiments.md's Table 1 comes from here).

    python experiments/report.py runs/table1/dncnn17 runs/table1/n3net ...
    python experiments/report.py runs/table1/n3net-light --curves docs/figures   # and redraw curves.png

Each folder is one train/denoise.py run with its test.json, metrics.jsonl and last.npz.
"""
import argparse
import json
import os
import re
import sys

from minigrad import load
from train.plots import plot_curves
from train.records import read_jsonl

# BM3D on the test images, whole, sigma 25 (data/README.md: measured when the data set was assembled)
BM3D_SIGMA25 = {"ascent": 31.33, "brick": 34.94, "camera": 29.86, "coins": 28.58, "einstein": 30.04,
                "monarch": 31.84}


def read_run(folder):
    """What the tables need from one run folder."""
    with open(os.path.join(folder, "test.json")) as f:
        test = json.load(f)
    records = read_jsonl(os.path.join(folder, "metrics.jsonl"))
    last = os.path.join(folder, "last.npz")     # an archived run (export_weights.py --archive) has best.npz only
    ckpt = load(last if os.path.exists(last) else os.path.join(folder, "best.npz"))
    args = json.loads(ckpt["train_args"])
    steps = [r for r in records if "loss" in r]
    vals = [r for r in records if "val_psnr" in r]
    diagnosed = [r for r in steps if "n3" in r]
    seconds = float(ckpt["train_seconds"]) if "train_seconds" in ckpt else tqdm_elapsed(folder + ".log")
    return {"name": os.path.basename(os.path.normpath(folder)), "test": test, "args": args,
            "steps": int(ckpt["step"]), "seconds": seconds, "last_val": vals[-1]["val_psnr"] if vals else None,
            "best_step": test.get("step"), "n3": diagnosed[-1] if diagnosed else None,
            "n3_first": diagnosed[0] if diagnosed else None}


def tqdm_elapsed(log):
    """Seconds of the last progress bar in a run's log (runs older than the "seconds" record)."""
    if not os.path.exists(log):
        return None
    with open(log) as f:
        bars = re.findall(r"\| *\d+/\d+ \[(?:(\d+):)?(\d+):(\d+)<", f.read())
    if not bars:
        return None
    h, m, s = bars[-1]
    return 3600 * int(h or 0) + 60 * int(m) + int(s)


def image_names(runs):
    return sorted(runs[0]["test"]["images"])


def psnr_table(runs):
    names = image_names(runs)
    short = [os.path.splitext(n)[0] for n in names]
    lines = ["| run | " + " | ".join(short) + " | mean PSNR / SSIM |",
             "|---|" + "---|" * (len(names) + 1)]
    first = runs[0]["test"]["images"]
    lines.append("| noisy input | " + " | ".join(f"{first[n]['noisy_psnr']:.2f}" for n in names)
                 + f" | {runs[0]['test']['mean_noisy_psnr']:.2f} / {runs[0]['test']['mean_noisy_ssim']:.3f} |")
    for run in runs:
        images = run["test"]["images"]
        lines.append(f"| {run['name']} | " + " | ".join(f"{images[n]['psnr']:.2f}" for n in names)
                     + f" | {run['test']['mean_psnr']:.2f} / {run['test']['mean_ssim']:.3f} |")
    if runs[0]["test"]["sigma"] == 25 and all(s in BM3D_SIGMA25 for s in short):
        bm3d = [BM3D_SIGMA25[s] for s in short]
        lines.append("| BM3D (data/README.md) | " + " | ".join(f"{v:.2f}" for v in bm3d)
                     + f" | {sum(bm3d) / len(bm3d):.2f} / - |")
    return "\n".join(lines)


def ssim_table(runs):
    names = image_names(runs)
    lines = ["| run | " + " | ".join(os.path.splitext(n)[0] for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for run in runs:
        images = run["test"]["images"]
        lines.append(f"| {run['name']} | " + " | ".join(f"{images[n]['ssim']:.3f}" for n in names) + " |")
    return "\n".join(lines)


def time_table(runs):
    lines = ["| run | options | steps | training wall time (validations included) | s / step | "
             "last validation PSNR | best step |", "|---|---|---|---|---|---|---|"]
    for run in runs:
        a = run["args"]
        options = f"--model {a['model']}" + (f" --variant {a['variant']}" if a.get("variant", "paper") != "paper" else "") \
            + (" --no-distance-bn" if not a.get("distance_bn", True) else "") \
            + (f" --max-temperature {a['max_temperature']:g}" if a.get("max_temperature") is not None else "") \
            + (" --freeze-n3" if a.get("freeze_n3") else "") \
            + (f" --decay-scope {a['decay_scope']}" if a.get("decay_scope", "backbone") != "backbone" else "") \
            + f" --init {a.get('init', 'default')} --seed {a['seed']}"
        sec = run["seconds"]
        time = f"{sec / 60:.1f} min" if sec is not None else "-"
        per = f"{sec / run['steps']:.2f}" if sec is not None else "-"
        val = f"{run['last_val']:.2f}" if run["last_val"] is not None else "-"
        lines.append(f"| {run['name']} | `{options}` | {run['steps']} | {time} | {per} | {val} | {run['best_step']} |")
    return "\n".join(lines)


def fmt(value, spec):
    """A number, or "-" where an older run did not log it."""
    return "-" if value is None else format(value, spec)


def saturation_table(runs):
    lines = ["| run | block | step | saturated (w1 > 0.99) | median w1 | median n_eff | median logit sd | median (d2 - d1) / t | "
             "t median [min, max] | grad/weight: embedding, temperature, rest |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        for record in (run["n3_first"], run["n3"]) if run["n3"] else ():
            for block in record["n3"]:
                lines.append(f"| {run['name']} | {block['block']} | {record['step']} | "
                             f"{100 * block['saturated']:.1f} % | {fmt(block.get('w1_median'), '.3f')} | "
                             f"{fmt(block.get('n_eff_median'), '.1f')} | {fmt(block.get('logit_std_median'), '.2f')} | "
                             f"{block['gap_median']:.2f} | "
                             f"{block['t_median']:.3f} [{block['t_min']:.3f}, {block['t_max']:.3f}] | "
                             f"{block['grad_embedding']:.1e}, {block['grad_temperature']:.1e}, "
                             f"{block['grad_rest']:.1e} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run folders (train/denoise.py --out)")
    p.add_argument("--curves", help="also draw each run's curves (train/plots.py, from its metrics.jsonl) "
                   "into this folder as NAME_curves.png")
    args = p.parse_args(argv)
    folders = args.runs
    missing = [f for f in folders if not os.path.exists(os.path.join(f, "test.json"))]
    if missing:
        print(f"not finished (no test.json): {', '.join(missing)}", file=sys.stderr)
        folders = [f for f in folders if f not in missing]
    if not folders:
        return 2
    runs = [read_run(f) for f in folders]
    if args.curves:
        os.makedirs(args.curves, exist_ok=True)
        for folder, run in zip(folders, runs):
            plot_curves(read_jsonl(os.path.join(folder, "metrics.jsonl")),
                        os.path.join(args.curves, f"{run['name']}_curves.png"))
    print(f"Test images whole, sigma {runs[0]['test']['sigma']:g}, noise seed {runs[0]['test']['seed']}, "
          f"best model by validation PSNR. PSNR (dB):\n")
    print(psnr_table(runs), "\n\nSSIM:\n")
    print(ssim_table(runs), "\n\nTraining:\n")
    print(time_table(runs))
    if any(r["n3"] for r in runs):
        print("\nN3 blocks' saturation diagnostic (n3net/diagnostics.py) on a training batch, first and "
              "last diagnosed step:\n")
        print(saturation_table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
