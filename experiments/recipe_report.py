"""The recipe study's tables and figure (docs/experiments.md): per run, test PSNR (mean and brick),
what its N3 blocks do on test crops in evaluation mode, and their weights against the step.

    python experiments/recipe_report.py runs/recipe/current runs/recipe/backbone ... \
        --figure docs/figures/recipe_study.png

Per run folder (train/denoise.py --out): test.json (the best checkpoint by validation PSNR on the
test images whole), metrics.jsonl (the diagnostics logged at every validation, training mode) and
best.npz, on which the N3 blocks are diagnosed (train/diagnose.py's defaults: 8 crops of 80 x 80
of the test images, seed 0, the run's sigma, evaluation mode).
"""
import argparse
import json
import os
import sys


import matplotlib                                                     # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt                                       # noqa: E402
import numpy as np                                                    # noqa: E402

from experiments.report import psnr_table, read_run                   # noqa: E402
from n3net.collapse import weight_report                              # noqa: E402
from train.diagnosis import diagnose_on_test_crops                      # noqa: E402
from minigrad import init                                             # noqa: E402
from n3net import build_model                                         # noqa: E402
from train.inference import load_checkpoint, model_from_checkpoint    # noqa: E402
from train.run import model_options                                   # noqa: E402


def options(args):
    """The recipe options of a run, as train/denoise.py flags."""
    keys = ("optimizer", "decay_scope", "n3_lr_scale", "loss_scale", "weight_decay", "distance_norm")
    flags = [f"--{k.replace('_', '-')} {args[k]:g}" if isinstance(args[k], float) else f"--{k.replace('_', '-')} {args[k]}"
             for k in keys if k in args]
    if args.get("freeze_n3"):
        flags.append("--freeze-n3")
    return " ".join(flags)


def moved(model, args):
    """Per N3 block, ||W - W_0|| / ||W_0|| of each embedding convolution weight, W_0 the run's
    initial weights (rebuilt from its seed and options, as train/run.py built them)."""
    init.manual_seed(args["seed"])
    start = dict(build_model(args["model"], **model_options(args)).named_parameters())
    by_block = {}
    for name, p in model.named_parameters():
        if ".embedding." in name and p.data.ndim == 4:
            w0 = start[name].data
            by_block.setdefault(name.split(".embedding.")[0], []).append(
                float(np.linalg.norm(p.data - w0) / np.linalg.norm(w0)))
    return list(by_block.values())


def block_rows(folder, run):
    """One row per N3 block of the run's best checkpoint, diagnosed on test crops."""
    path = os.path.join(folder, "best.npz")
    model = model_from_checkpoint(load_checkpoint(path), path)
    report = diagnose_on_test_crops(model, run["args"]["sigma"])
    records = [json.loads(line) for line in open(os.path.join(folder, "metrics.jsonl")) if '"n3_weights"' in line]
    diagnosed = [r for r in records if "n3" in r]
    rows = []
    changes = moved(model, run["args"])
    for i, (b, w) in enumerate(zip(report, weight_report(model))):
        first = records[0]["n3_weights"][i]
        ratio = [r / r0 for r, r0 in zip(w["embedding_rms"], first["embedding_rms"])]
        t_ratio = [r / r0 for r, r0 in zip(w["temperature_rms"], first["temperature_rms"])]
        decay = diagnosed[-1].get("decay_to_data", {})
        rows.append(f"| {run['name']} | {b['block']} | {b['n_eff_median']:.1f} | {100 * b['saturated']:.1f} % | "
                    f"{b['separation_median']:.2f}{' COLLAPSED' if b['collapsed'] else ''} | "
                    + ", ".join(f"{r:.2f}" for r in ratio) + f" (step {records[0]['step']}) | "
                    + ", ".join(f"{r:.2f}" for r in changes[i])
                    + " | " + ", ".join(f"{r:.2f}" for r in t_ratio)
                    + f" | {w['distance_bn_var'] if w['distance_bn_var'] is None else format(w['distance_bn_var'], '.1e')} | "
                    f"{diagnosed[-1]['n3'][i]['grad_embedding']:.1e} | "
                    + ", ".join(f"{k} {v:.1e}" for k, v in decay.items()) + " |")
    return rows


def block_table(folders, runs):
    lines = ["| run | block | median n_eff (eval, test crops) | saturated | separation | embedding conv RMS, "
             "end / first logged | embedding conv, distance moved from initialisation / initial norm | "
             "temperature conv RMS, end / first logged | distance-BN running var | "
             "grad/weight embedding (last log) | decay / data gradient (last log) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for folder, run in zip(folders, runs):
        lines += block_rows(folder, run)
    return "\n".join(lines)


def figure(folders, runs, path):
    """Per run and N3 block (the second dashed): median n_eff (training mode, on that step's batch,
    as logged) and the RMS of the middle (64->64) convolution of the embedding and the temperature
    CNN against the step."""
    fig, (ax_n, ax_rms) = plt.subplots(1, 2, figsize=(12, 4.2))
    for i, (folder, run) in enumerate(zip(folders, runs)):
        records = [json.loads(line) for line in open(os.path.join(folder, "metrics.jsonl")) if '"n3"' in line]
        steps = [r["step"] for r in records]                    # the validated steps
        for b in range(len(records[0]["n3"])):
            style = "-" if b == 0 else "--"
            label = run["name"] if b == 0 else None
            ax_n.plot(steps, [r["n3"][b]["n_eff_median"] for r in records], style, color=f"C{i}", marker="o",
                      ms=3, label=label)
            for cnn, marker in (("embedding", "o"), ("temperature", "x")):
                ax_rms.semilogy(steps, [r["n3_weights"][b][f"{cnn}_rms"][1] for r in records], style,
                                color=f"C{i}", marker=marker, ms=4, label=f"{run['name']}: {cnn}" if b == 0 else None)
    ax_n.set(xlabel="step", ylabel="median n_eff of w1 (of 224)",
             title="how many candidates a query averages (training batch)")
    ax_rms.set(xlabel="step", ylabel="RMS", title="64->64 convolution weight: embedding (o), temperature (x) CNN")
    for ax in (ax_n, ax_rms):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run folders (train/denoise.py --out)")
    p.add_argument("--figure", help="also draw n_eff and embedding RMS against the step into this PNG")
    args = p.parse_args(argv)
    folders = [f for f in args.runs if os.path.exists(os.path.join(f, "test.json"))]
    if len(folders) < len(args.runs):
        print(f"not finished (no test.json): {sorted(set(args.runs) - set(folders))}", file=sys.stderr)
    if not folders:
        return 2
    runs = [read_run(f) for f in folders]
    print("| run | options |\n|---|---|")
    for run in runs:
        print(f"| {run['name']} | `{options(run['args'])}` |")
    print()
    print(psnr_table(runs))
    print()
    print(block_table(folders, runs))
    if args.figure:
        figure(folders, runs, args.figure)
        print(f"\nwrote {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
