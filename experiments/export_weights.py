"""Keep the trained models of the README's runs: each run's best.npz without the optimiser state.

    python experiments/export_weights.py runs/table1/n3net ... --out experiments/weights

The files load wherever a checkpoint does (train/evaluate.py, train/denoise_image.py,
train/diagnose.py); train_args holds the exact options of the run that made them.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from train.export import export                                       # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run folders (train/denoise.py --out)")
    p.add_argument("--out", default="experiments/weights", help="folder for NAME.npz")
    args = p.parse_args(argv)
    for folder in args.runs:
        path = os.path.join(args.out, os.path.basename(os.path.normpath(folder)) + ".npz")
        export(os.path.join(folder, "best.npz"), path)
        print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
