"""The options every command shares, each defined once with one meaning and one default.

    --checkpoint   a checkpoint written by train/denoise.py or a shipped model's name
                   (default: the shipped N3Net for --sigma)
    --sigma        the noise level on the 0-255 scale (default: the one the model was trained for;
                   25 when the shipped N3Net is picked)
    --seed         the seed of the noise (and of anything else drawn at random) (default 0)
    --device       cpu (NumPy) or gpu (CuPy) (default cpu)
    --threads      CPU threads for the matrix products (default: all cores)

    parser = argparse.ArgumentParser(..., parents=[common_options()])
    args = parser.parse_args(argv)
    setup(args)                               # checks the values, sets the threads and the device
    model, ckpt, path, what = open_model(args)        # and sets args.sigma if it was not given
"""
import argparse
import contextlib
import json

from .errors import UsageError
from .inference import load_checkpoint, model_from_checkpoint, require_device
from .shipped import DEFAULT_SIGMA, resolve_checkpoint

SIGMA_RANGE = (0.0, 255.0)      # sigma on the 0-255 scale: above 0, at most the whole range

HELP = {
    "checkpoint": "a checkpoint written by train/denoise.py, or a shipped model's name (models/README.md) "
                  "(default: the shipped N3Net for --sigma)",
    "sigma": f"noise standard deviation on the 0-255 scale (default: the one the model was trained for; "
             f"{DEFAULT_SIGMA:g} for the shipped N3Net)",
    "seed": "seed of the noise, and of anything else drawn at random (default 0)",
    "device": "cpu (NumPy) or gpu (CuPy) (default cpu)",
    "threads": "CPU threads for the matrix products (default: all cores)",
}


def common_options(checkpoint=True, seed=True):
    """A parent parser with --sigma, --device, --threads and (unless turned off) --checkpoint and --seed."""
    p = argparse.ArgumentParser(add_help=False)
    if checkpoint:
        p.add_argument("--checkpoint", help=HELP["checkpoint"])
    p.add_argument("--sigma", type=float, help=HELP["sigma"])
    if seed:
        p.add_argument("--seed", type=int, default=0, help=HELP["seed"])
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu", help=HELP["device"])
    p.add_argument("--threads", type=int, help=HELP["threads"])
    return p


def add_memory_option(parser):
    """--memory-gb: the budget of one tile's evaluation (train/inference.py, plan_tiles)."""
    from .inference import MEMORY_GB
    parser.add_argument("--memory-gb", type=float, default=MEMORY_GB,
                        help=f"memory for the arrays of one evaluation; larger images are denoised in "
                             f"overlapping tiles with the same result (default {MEMORY_GB:g})")


@contextlib.contextmanager
def progress_bar(total, what, unit="tile"):
    """A progress callable (called with 1 after each unit of work: a tile, an image) drawing a bar with
    the time left on the terminal once the work has taken 2 seconds; silent when stderr is not a
    terminal."""
    from tqdm import tqdm
    bar = tqdm(total=total, desc=what, unit=unit, delay=2, leave=False, dynamic_ncols=True, disable=None)
    try:
        yield bar.update
    finally:
        bar.close()


def check_sigma(sigma, option="--sigma"):
    """sigma, if it is a noise level on the 0-255 scale; ValueError otherwise."""
    low, high = SIGMA_RANGE
    if not low < sigma <= high:
        raise ValueError(f"{option} {sigma:g} is out of range: give the noise standard deviation on the "
                         f"0-255 scale, above {low:g} and at most {high:g} (e.g. 25)")
    return sigma


def setup(args):
    """Check the shared options' values, set the threads and check that the device can be used."""
    if getattr(args, "sigma", None) is not None:
        check_sigma(args.sigma)
    if getattr(args, "threads", None) is not None:
        if args.threads < 1:
            raise UsageError(f"--threads must be at least 1, got {args.threads}")
        from minigrad.threads import set_num_threads
        set_num_threads(args.threads)
    require_device(args.device)


def trained_sigma(ckpt):
    """The noise level a checkpoint's model was trained for (None if it does not say)."""
    try:
        return float(json.loads(ckpt["train_args"])["sigma"])
    except (KeyError, TypeError, ValueError):
        return None


def open_model(args, name=None):
    """(model on args.device, checkpoint, path, description) of --checkpoint (or `name`); sets
    args.sigma to the model's training sigma when it was not given."""
    wanted = args.checkpoint if name is None else name
    path, what = resolve_checkpoint(wanted, DEFAULT_SIGMA if args.sigma is None else args.sigma)
    ckpt = load_checkpoint(path)
    model = model_from_checkpoint(ckpt, path).to(args.device)
    if args.sigma is None:
        args.sigma = trained_sigma(ckpt) or DEFAULT_SIGMA
    return model, ckpt, path, what
