"""Convert an official N3Net checkpoint (github.com/visinf/n3net) into this project's format.

    python train/import_official.py 051_ckpt.t7 runs/official/n3net-official-sigma25.npz --sigma 25
    python train/evaluate.py --checkpoint runs/official/n3net-official-sigma25.npz

The output loads wherever a shipped model does (evaluate.py, denoise_image.py, inspect_n3.py,
diagnose.py).  Needs PyTorch to read the .t7 (pip install torch).  The official weights' licence
does not allow redistributing them: keep the converted file for yourself.
"""
import argparse
import json
import os
import sys

from minigrad import save
from train.errors import UsageError, run_cli
from train.inference import FORMAT
from train.official import CONFIG, map_state, read_t7


def main(argv=None):
    p = argparse.ArgumentParser(description="Convert an official N3Net checkpoint (.t7) to this project's .npz.")
    p.add_argument("checkpoint", help="the official checkpoint, e.g. pretrained_sigma25/checkpoint/051_ckpt.t7")
    p.add_argument("output", help="the .npz file to write")
    p.add_argument("--sigma", type=float, required=True, help="the noise level it was trained for (25, 50 or 70)")
    args = p.parse_args(argv)
    if not args.output.endswith(".npz"):
        raise UsageError(f"{args.output}: the output must be a .npz file")
    try:
        state = read_t7(args.checkpoint)
    except ImportError as error:
        raise UsageError(str(error)) from None
    model = map_state(state)
    save({"format": FORMAT, "model": model, "config": json.dumps(CONFIG),
          "train_args": json.dumps({"sigma": args.sigma, "model": "n3net", "variant": "reference",
                                    "source": f"official N3Net checkpoint {os.path.basename(args.checkpoint)}"})},
         args.output)
    print(f"wrote {args.output} ({len(model)} entries, from {args.checkpoint})")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
