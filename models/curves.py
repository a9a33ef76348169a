"""Where more training takes the shipped models: PSNR against training steps (issue 16).

    python models/curves.py --out docs/figures/models_curves.png

One panel per noise level.  For each run in models/state/ (models/train.sh): the validation PSNR
logged during training (central 256 x 256 crops of the validation images, a line) and the test PSNR
at the end of each invocation of models/train.sh (test images whole, noise seed 0, from
tests.jsonl, dots; stars for the cool-down branches); BM3D's test PSNR (models/results/, measured
by train/evaluate.py --bm3d) as a dashed line, and the official N3Net's published weights
(converted) as a dotted one where measured.
Prints the table of the test points (progress below): steps, crops, time, PSNR, the N3 blocks'
diagnostics; then the table of N3Net against DnCNN-17 at equal steps (pairs below): the cool-down
branches both runs of one noise level took alike.
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")                      # files only, no window
import matplotlib.pyplot as plt           # noqa: E402

from train.records import read_jsonl       # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def load(state):
    """{name: (metrics records, test points)} of every run folder MODEL-sigmaS in `state`
    (metrics.jsonl and tests.jsonl, each read once)."""
    found = {}
    for name in sorted(os.listdir(state)) if os.path.isdir(state) else []:
        folder = os.path.join(state, name)
        records = read_jsonl(os.path.join(folder, "metrics.jsonl"))
        if records and "-sigma" in name:               # the runs are named MODEL-sigmaS
            found[name] = (records, read_jsonl(os.path.join(folder, "tests.jsonl")))
    return found


def runs(loaded):
    """{name: (sigma, [(step, val_psnr)], [(step, test_psnr)], [(step, cooled test_psnr)],
    [(step, test_psnr with the extra images)])} of every loaded run: its validation, the test points
    of the run itself, those of its cool-down branches (models/train.sh), and those of runs or branches
    that also trained on the extra images (--extra-train)."""
    found = {}
    for name, (records, points) in loaded.items():
        sigma = float(name.rsplit("-sigma", 1)[1])
        val = [(r["step"], r["val_psnr"]) for r in records if "val_psnr" in r]
        plain = [r for r in points if not r.get("extra_train")]
        tests = [(r["step"], r["mean_psnr"]) for r in plain if not r.get("cooldown")]
        cooled = [(r["step"], r["mean_psnr"]) for r in plain if r.get("cooldown")]
        more = [(r["step"], r["mean_psnr"]) for r in points if r.get("extra_train")]
        found[name] = (sigma, val, tests, cooled, more)
    return found


def progress(loaded, batch_size=4):
    """The markdown table of every loaded run's test points (tests.jsonl; a cool-down branch's named with
    its length and where it left the run): step, crops seen, training time to that step (the point's
    own, else metrics.jsonl's seconds: steps and validations), test PSNR (mean and brick)
    and, for an N3Net, each block's median n_eff, saturated share, median t and separation on test
    crops (train/diagnose.py), with COLLAPSED where the collapse diagnostic flags it."""
    lines = ["| run | step | crops | training time | test PSNR (brick) | N3 blocks on test crops: n_eff, "
             "saturated, t, separation |", "|---|---|---|---|---|---|"]
    for name, (records, points) in loaded.items():
        seconds = {r["step"]: r["seconds"] for r in records if "seconds" in r}
        for t in points:
            spent = t.get("seconds", seconds.get(t["step"]))
            minutes = f"{spent / 60:.0f} min" if spent is not None else "-"
            run = name + (f", cool-down {t['cooldown']} from {t['branched_at']}" if t.get("cooldown") else "")
            run += f", --branch-seed {t['branch_seed']}" if t.get("branch_seed") is not None else ""
            run += f", t >= {t['min_temperature']:g}" if t.get("min_temperature") else ""
            run += f", its last {t['average_last']} steps averaged" if t.get("averaged") else ""
            run += f", with {t['extra_train']}" if t.get("extra_train") else ""
            brick = brick_psnr(t)
            lines.append(f"| {run} | {t['step']} | {t.get('crops', t['step'] * batch_size):,} | {minutes} | {t['mean_psnr']:.2f}"
                         + (f" ({brick:.2f})" if brick is not None else "") + f" | {blocks(t)} |")
    return "\n".join(lines)


def brick_psnr(point):
    """A test point's PSNR on brick.png, the most repetitive test image (None where not recorded)."""
    return point.get("psnr", {}).get("brick.png")


def blocks(point):
    """A test point's N3 blocks on test crops (train/diagnose.py): each one's median n_eff, saturated share,
    median t and median separation, COLLAPSED where the collapse diagnostic flags it; "-" for none."""
    return "; ".join(f"{b['block']}: {b['n_eff_median']:.0f}, {b['saturated']:.0%}, {b['t_median']:.3f}, "
                     f"{b['separation_median']:.2f}" + (" COLLAPSED" if b["collapsed"] else "")
                     for b in point.get("blocks", [])) or "-"


def branch(point, batch_size=4):
    """What makes a cool-down branch's test point the one of its branch and no other: the step it left its
    run at, its length, its batch (from the crops its checkpoint counted, where it counted them), its own
    crops and noise (--branch-seed), the extra images and the temperature floor.  (Not the averaging
    window: a point records it only where the average was tested.)"""
    batch = batch_size
    if "crops" in point and point["step"] > point["branched_at"]:
        batch = round((point["crops"] - batch_size * point["branched_at"]) / (point["step"] - point["branched_at"]))
    return (point["branched_at"], point["cooldown"], batch, point.get("branch_seed"), point.get("extra_train"),
            point.get("min_temperature"))


def pairs(loaded, batch_size=4):
    """The markdown table of N3Net against DnCNN-17 at equal steps: every cool-down branch that the runs
    n3net-sigmaS and dncnn17-sigmaS both took alike (the same step, length, batch and data; branch()),
    each by the model its branch chose by validation (its best.npz, "avg" where the average of its last
    states won), with their test PSNR (mean and brick), the difference, the training time of each and the
    N3Net's blocks on test crops."""
    lines = ["| sigma | branch | N3Net (brick) | DnCNN-17 (brick) | N3Net - DnCNN-17 (brick) "
             "| training time, N3Net / DnCNN-17 | N3Net's blocks: n_eff, saturated, t, separation |",
             "|---|---|---|---|---|---|---|"]

    def cooled(name):
        return {branch(t, batch_size): t for t in loaded[name][1]
                if t.get("cooldown") and t.get("checkpoint", "best.npz") == "best.npz"}

    def cell(t):
        brick = brick_psnr(t)
        return (f"{t['mean_psnr']:.3f}" + (f" ({brick:.2f})" if brick is not None else "")
                + (" avg" if t.get("averaged") else ""))

    rows = []
    for name in loaded:
        sigma = name.rsplit("-sigma", 1)[1]
        if not name.startswith("n3net-") or f"dncnn17-sigma{sigma}" not in loaded:
            continue
        ours, theirs = cooled(name), cooled(f"dncnn17-sigma{sigma}")
        order = sorted(set(ours) & set(theirs), key=lambda k: (k[:3], [x is not None for x in k[3:]], str(k[3:])))
        for key in order:
            n3, dn = ours[key], theirs[key]
            at, steps, batch, seed, extra, floor = key
            what = f"{steps} steps from {at}" + (f", {batch} crops a step" if batch != batch_size else "")
            what += (f", --branch-seed {seed}" if seed is not None else "") + (f", with {extra}" if extra else "")
            what += f", t >= {floor:g}" if floor else ""
            gap = n3["mean_psnr"] - dn["mean_psnr"]
            b3, bd = brick_psnr(n3), brick_psnr(dn)
            minutes = " / ".join(f"{t['seconds'] / 60:.0f}" if "seconds" in t else "-" for t in (n3, dn)) + " min"
            rows.append((float(sigma), f"| {sigma} | {what} | {cell(n3)} | {cell(dn)} | {gap:+.3f}"
                         + (f" ({b3 - bd:+.2f})" if b3 is not None and bd is not None else "")
                         + f" | {minutes} | {blocks(n3)} |"))
    return "\n".join(lines + [row for _, row in sorted(rows, key=lambda r: r[0])])   # stable: in order


def reference(results, sigma, key, prefix):
    """A mean test PSNR from the first of models/results/PREFIX*-sigmaS.json that has `key`."""
    for name in sorted(os.listdir(results)) if os.path.isdir(results) else []:
        if name.startswith(prefix) and name.endswith(f"sigma{sigma:g}.json"):
            with open(os.path.join(results, name)) as f:
                value = json.load(f).get(key)
            if value is not None:
                return value
    return None


def plot(loaded, results, out):
    found = runs(loaded)
    sigmas = sorted({run[0] for run in found.values()})
    fig, axes = plt.subplots(1, len(sigmas), figsize=(6 * len(sigmas), 4.2), squeeze=False)
    for ax, sigma in zip(axes[0], sigmas):
        for i, (name, (s, val, tests, cooled, more)) in enumerate((n, r) for n, r in found.items() if r[0] == sigma):
            colour = f"C{i}"
            if val:
                ax.plot(*zip(*val), color=colour, lw=1, alpha=0.6, label=f"{name}: validation crops")
            if tests:
                ax.plot(*zip(*tests), "o", color=colour, label=f"{name}: test images")
            if cooled:
                ax.plot(*zip(*cooled), "*", ms=11, color=colour, label=f"{name}: cool-down branch, test images")
            if more:
                ax.plot(*zip(*more), "P", ms=9, mfc="none", color=colour,
                        label=f"{name}: with the extra training images, test images")
        bm3d = reference(results, sigma, "mean_bm3d_psnr", "")
        if bm3d is not None:
            ax.axhline(bm3d, color="k", ls="--", lw=1, label=f"BM3D, test images ({bm3d:.2f} dB)")
        official = reference(results, sigma, "mean_psnr", "official")
        if official is not None:
            ax.axhline(official, color="k", ls=":", lw=1, label=f"official N3Net weights, test ({official:.2f} dB)")
        ax.set_title(f"sigma {sigma:g}")
        ax.set_xlabel("training step (batch of 4 crops of 80 x 80)")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--state", default=os.path.join(HERE, "state"), help="models/train.sh's run folders")
    p.add_argument("--results", default=os.path.join(HERE, "results"), help="evaluate.py --json results")
    p.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "docs", "figures", "models_curves.png"))
    args = p.parse_args(argv)
    loaded = load(args.state)
    if not loaded:
        raise SystemExit(f"no runs in {args.state}: models/train.sh has not been run")
    plot(loaded, args.results, args.out)
    print(progress(loaded))
    print()
    print(pairs(loaded))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
