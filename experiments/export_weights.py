"""Keep the trained models of the studies' runs: each run's best.npz without the optimiser state.

    python experiments/export_weights.py runs/table1/n3net ... --out experiments/weights
    python experiments/export_weights.py runs/recipe/* --archive experiments/runs/recipe

--archive keeps a run folder instead: FOLDER/NAME/best.npz (weights only) with the run's
test.json and metrics.jsonl, which experiments/report.py and recipe_report.py read as they read
the run itself.

The files load wherever a checkpoint does (train/evaluate.py, train/denoise_image.py,
train/diagnose.py); train_args holds the exact options of the run that made them.
"""
import argparse
import os
import shutil
import sys

from train.export import export


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run folders (train/denoise.py --out)")
    p.add_argument("--out", default="experiments/weights", help="folder for NAME.npz")
    p.add_argument("--archive", help="folder for NAME/ (best.npz, test.json, metrics.jsonl) instead")
    args = p.parse_args(argv)
    for folder in args.runs:
        name = os.path.basename(os.path.normpath(folder))
        if args.archive:
            target = os.path.join(args.archive, name)
            os.makedirs(target, exist_ok=True)
            for log in ("test.json", "metrics.jsonl"):
                shutil.copyfile(os.path.join(folder, log), os.path.join(target, log))
            path = os.path.join(target, "best.npz")
        else:
            path = os.path.join(args.out, name + ".npz")
        export(os.path.join(folder, "best.npz"), path)
        print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
