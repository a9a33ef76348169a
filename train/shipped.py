"""The trained models that ship with the project (models/, see models/README.md), by name.

    resolve_checkpoint(None, sigma=25)            -> models/n3net-sigma25.npz, the shipped N3Net
    resolve_checkpoint("dncnn17-sigma25", 25)     -> models/dncnn17-sigma25.npz
    resolve_checkpoint("runs/denoise/best.npz")   -> that file

A shipped model holds the final weights and the model's configuration only (no optimiser state):
train/export.py writes one from a training checkpoint.
"""
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = os.path.join(REPO, "models")
SHIPPED = {                                # name: what it is
    "n3net-sigma25": "N3Net trained at sigma 25",
    "n3net-sigma50": "N3Net trained at sigma 50",
    "dncnn17-sigma25": "DnCNN-17 trained at sigma 25",
}
DEFAULT = {25.0: "n3net-sigma25", 50.0: "n3net-sigma50"}     # the shipped N3Net of each sigma
DEFAULT_SIGMA = 25.0                   # the noise level when nothing says otherwise


def nearest_shipped_sigma(sigma):
    """The noise level of the shipped N3Net to use for an image of noise sigma: the smallest one of
    at least sigma - 5 (the sigma-25 model up to 30, the sigma-50 one above).  A model trained for
    less noise than the image has leaves much of it, one trained for more smooths a little more than
    needed: at sigma 35 the sigma-50 N3Net is the better of the two by several dB (models/README.md,
    the table of noise levels between the shipped ones)."""
    levels = sorted(DEFAULT)
    return next((level for level in levels if level >= sigma - 5), levels[-1])


def repo_relative(path):
    """path relative to the repository root if it lies inside the repository (so that a record of
    it, e.g. evaluate.py's JSON, holds in any clone), else absolute: a relative path in a record is
    always relative to the repository root, whatever directory the command ran in."""
    full = os.path.abspath(path)
    return os.path.relpath(full, REPO) if os.path.commonpath([full, REPO]) == REPO else full


def in_repo(path):
    """A path as repo_relative wrote it, made usable from any working directory."""
    return path if os.path.isabs(path) else os.path.join(REPO, path)


def shipped_path(name):
    return os.path.join(MODELS_DIR, f"{name}.npz")


def resolve_checkpoint(checkpoint, sigma=None):
    """(path, description) of a checkpoint given as a path, as a shipped model's name, or as None
    (the shipped N3Net for sigma).  FileNotFoundError (naming the shipped models) when none fits."""
    names = ", ".join(SHIPPED)
    if checkpoint is None:
        if sigma is None or float(sigma) not in DEFAULT:
            raise FileNotFoundError(f"no shipped N3Net for sigma {sigma:g}: shipped are {names}; give a checkpoint "
                           f"(a file written by train/denoise.py) for other noise levels")
        checkpoint = DEFAULT[float(sigma)]
    if checkpoint in SHIPPED:
        path = shipped_path(checkpoint)
        if not os.path.exists(path):
            raise FileNotFoundError(f"the shipped model {checkpoint} is missing from this checkout ({path}); "
                           f"see models/README.md for the command that trains it")
        return path, f"shipped model {checkpoint} ({SHIPPED[checkpoint]})"
    if os.path.exists(checkpoint):
        return checkpoint, f"checkpoint {checkpoint}"
    raise FileNotFoundError(f"{checkpoint} is neither a checkpoint file nor a shipped model; shipped models: {names}")
