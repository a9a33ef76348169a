"""Experiment: would a larger validation set ship the better model?

models/train.sh ships a cool-down branch if it validates better than the shipped model, on the
central 256 x 256 crops of the 2 validation images (131,072 pixels: a tenth of the test images').
Late in the runs the candidates differ by a few hundredths of a dB, and the best-testing branches
validated below the shipped model (models/README.md). This asks whether a larger validation set
would have ordered the models as the test images do.

Every version of a shipped model in the repository's history (one per distinct file of
models/NAME.npz from --since on, read with git) is denoised on four validation sets, each image with
Gaussian noise of the model's sigma:

    crops   the central 256 x 256 crops of data/images/val (what train/denoise.py validates on now)
    whole   the validation images whole (458,752 pixels)
    extra   the 7 images of data/images/extra whole (1.84 million pixels; no shipped run trained on them)
    both    whole and extra together (the mean PSNR over the 9 images)

and on the test images whole (noise seed 0, as models/README.md reports). It prints each version's
PSNRs, then per set: the Spearman correlation with the test mean over all versions and over the
latest ones (--late: those the rule chose between at the end, within a few hundredths of a dB), and
the regret of the rule among the latest: the test PSNR of the version the set ranks first, below
the best-testing one. The crops' values must equal the validation PSNRs the checkpoints recorded
(a check of the reproduction, to 1e-4 dB: float32 sums in another order differ by a
few 1e-6; a larger difference is printed).

    python -m experiments.validation_size n3net-sigma25 --since 20bc100    # about 3 min per version
    python -m experiments.validation_size dncnn17-sigma25 --since 20bc100  # about 1 min per version
    python -m experiments.validation_size n3net-sigma25 --since 091f304 --also runs/b/best.npz  # and a branch

One thread (OMP_NUM_THREADS=1 by default here); results are appended to --out (one JSON line per
version), and a version already there is not evaluated again, so an interrupted run resumes.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after the thread settings)

from experiments.validation_vs_test import spearman  # noqa: E402
from train.data import DEFAULT_DATA, list_images, load_folder  # noqa: E402
from train.evaluation import noisy_images  # noqa: E402
from train.inference import denoise, load_checkpoint, model_from_checkpoint  # noqa: E402
from train.metrics import psnr  # noqa: E402
from train.records import read_jsonl  # noqa: E402
from train.run import Run  # noqa: E402

SETS = ("crops", "whole", "extra", "both")


def versions(name, since):
    """[(commit, blob)] of each distinct models/NAME.npz from commit `since` on, oldest first."""
    path = f"models/{name}.npz"
    log = subprocess.run(["git", "log", "--reverse", "--format=%h", f"{since}^..HEAD", "--", path],
                         capture_output=True, text=True, check=True).stdout.split()
    seen, rows = set(), []
    for commit in log:
        blob = subprocess.run(["git", "rev-parse", f"{commit}:{path}"], capture_output=True, text=True)
        if blob.returncode == 0 and blob.stdout.strip() not in seen:      # deleted or unchanged: skip
            seen.add(blob.stdout.strip())
            rows.append((commit, blob.stdout.strip()))
    return rows


def mean_psnr(model, images):
    """(mean PSNR, [PSNR per image]) of the model on [(clean, noisy)]."""
    values = [psnr(clean, denoise(model, noisy)) for clean, noisy in images]
    return float(np.mean(values)), values


def validation_sets(sigma):
    """{set: [(clean, noisy)]}: the validation crops as train/denoise.py draws them, the validation
    images whole (the same generator, seed 0, one draw per image), the extra images whole and the
    test images whole (each set from seed 0, as train/evaluate.py draws them)."""
    val = load_folder(os.path.join(DEFAULT_DATA, "val"))
    sets = {"crops": [(c, n) for _, c, n in Run._val_set(val, 256, sigma)],
            "whole": [(c, n) for _, c, n in Run._val_set(val, 0, sigma)],
            "extra": [(c, n) for _, c, n in noisy_images(list_images(os.path.join(DEFAULT_DATA, "extra")), sigma)],
            "test": [(c, n) for _, c, n in noisy_images(list_images(os.path.join(DEFAULT_DATA, "test")), sigma)]}
    if any(c.ndim != 2 for c, _ in sets["extra"] + sets["test"]):
        raise ValueError("a colour image among data/images/extra or test: this experiment expects the "
                         "project's grayscale images (denoise() takes (H, W) arrays)")
    return sets


def evaluate(path, sets_by_sigma):
    """{set: mean PSNR} and the recorded validation of the model in checkpoint `path`."""
    ckpt = load_checkpoint(path)
    args = json.loads(ckpt["train_args"])
    if args.get("extra_train"):
        raise ValueError(f"{path} trained on {args['extra_train']} too: the extra images do not validate it")
    sigma = float(args["sigma"])
    if sigma not in sets_by_sigma:
        sets_by_sigma[sigma] = validation_sets(sigma)
    model = model_from_checkpoint(ckpt, path)
    model.eval()
    row, per_image = {"step": int(ckpt["step"]), "recorded": float(ckpt["best_val_psnr"])}, {}
    for key, images in sets_by_sigma[sigma].items():
        row[key], per_image[key] = mean_psnr(model, images)
    row["both"] = float(np.mean(per_image["whole"] + per_image["extra"]))
    return row


def compare(rows, late):
    """{set: (Spearman with the test over all rows, over the latest `late`, regret, chosen row)}: the
    regret is the best test PSNR among the latest rows minus that of the row the set ranks first."""
    test = np.array([r["test"] for r in rows])
    latest = rows[-late:]
    best = max(r["test"] for r in latest)
    result = {}
    for key in SETS:
        values = np.array([r[key] for r in rows])
        chosen = max(latest, key=lambda r: r[key])
        result[key] = (spearman(values, test), spearman(values[-late:], test[-late:]), best - chosen["test"],
                       chosen)
    return result


def report(rows, late):
    """Print the versions' PSNRs and, per validation set, how it orders them against the test."""
    print(f"{'commit':8s} {'step':>6s} " + " ".join(f"{k:>7s}" for k in SETS + ("test",)))
    for r in rows:
        flag = "" if abs(r["crops"] - r["recorded"]) < 1e-4 else f"  (recorded {r['recorded']:.4f})"
        print(f"{r['commit']:8s} {r['step']:6d} " + " ".join(f"{r[k]:7.3f}" for k in SETS + ("test",)) + flag)
    latest = [r["test"] for r in rows[-late:]]
    print(f"Spearman with the test mean over all {len(rows)} versions, and over the latest {late} (test "
          f"{min(latest):.3f} to {max(latest):.3f}); regret among the latest: the best test minus the test of "
          f"the version the set ranks first")
    for key, (every, late_rho, regret, chosen) in compare(rows, late).items():
        print(f"  {key:6s} all {every:5.2f}   latest {late_rho:5.2f}   regret {regret:.3f} dB "
              f"(chooses {chosen['commit']}, test {chosen['test']:.3f})")


def measure(done, blob, label, path, sets_by_sigma, out):
    """Evaluate the checkpoint at `path` into done[blob], append it to the results file `out` and
    print it."""
    done[blob] = dict(commit=label, blob=blob, **evaluate(path, sets_by_sigma))
    with open(out, "a") as f:
        f.write(json.dumps(done[blob]) + "\n")
    print(f"{label} step {done[blob]['step']}: " + ", ".join(f"{k} {done[blob][k]:.3f}" for k in SETS + ("test",)),
          flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name", help="a shipped model's name (models/NAME.npz)")
    p.add_argument("--since", required=True, help="the first commit whose version of models/NAME.npz counts")
    p.add_argument("--also", nargs="*", default=[], metavar="CHECKPOINT",
                   help="checkpoints outside the history to add after its versions (a branch not shipped)")
    p.add_argument("--late", type=int, default=6, help="how many of the latest versions to compare closely")
    p.add_argument("--out", help="JSON lines of results (default experiments/runs/validation_size/NAME.jsonl)")
    a = p.parse_args()
    out = a.out or os.path.join("experiments", "runs", "validation_size", f"{a.name}.jsonl")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    done = {r["blob"]: r for r in read_jsonl(out)} if os.path.exists(out) else {}
    rows, sets_by_sigma = [], {}
    for commit, blob in versions(a.name, a.since):
        if blob not in done:
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, f"{a.name}.npz")
                with open(path, "wb") as f:
                    f.write(subprocess.run(["git", "cat-file", "blob", blob], capture_output=True,
                                           check=True).stdout)
                measure(done, blob, commit, path, sets_by_sigma, out)
        rows.append(done[blob])
    for path in a.also:
        with open(path, "rb") as f:
            blob = hashlib.sha1(f.read()).hexdigest()          # the file's content names it (not git's hash)
        if blob not in done:
            measure(done, blob, path, path, sets_by_sigma, out)
        rows.append(done[blob])
    if len(rows) < max(3, a.late):
        sys.exit(f"{a.name}: {len(rows)} versions since {a.since}; the comparison needs at least {max(3, a.late)}")
    report(rows, a.late)


if __name__ == "__main__":
    main()
