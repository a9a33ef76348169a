"""Saving and loading state dicts as .npz files, atomically.

A checkpoint is a flat mapping from names to arrays.  Nested dictionaries (for
example a model's and an optimiser's state together) are flattened with "/"
between levels; strings and numbers are stored as 0-d arrays, so files load
without pickle.  ``save`` writes to a temporary file in the same folder and
renames it over the target, so an interrupted save never leaves a half-written
checkpoint behind.
"""
import os
import tempfile

import numpy as np

from .backend import to_numpy

SEP = "/"


class CheckpointMismatchError(ValueError):
    """A state dict that does not fit the module it is loaded into."""

    def __init__(self, model_name, missing, unexpected, misshaped):
        self.missing, self.unexpected, self.misshaped = missing, unexpected, misshaped
        parts = [f"checkpoint does not fit {model_name}:"]
        if missing:
            parts.append(f"missing entries: {', '.join(missing)}")
        if unexpected:
            parts.append(f"unexpected entries: {', '.join(unexpected)}")
        for name, got, want in misshaped:
            parts.append(f"{name} has shape {got} in the checkpoint but {want} in the model")
        parts.append("(was it saved from a model with a different configuration?)")
        super().__init__("\n  ".join(parts))


def flatten(tree, prefix=""):
    """{'a': {'b': x}} -> {'a/b': x}; leaves become NumPy arrays."""
    flat = {}
    for key, value in tree.items():
        key = str(key)
        if SEP in key:
            raise ValueError(f"state key {key!r} must not contain {SEP!r}")
        if isinstance(value, dict):
            flat.update(flatten(value, prefix + key + SEP))
        else:
            flat[prefix + key] = to_numpy(value)
    return flat


def unflatten(flat):
    """Inverse of flatten; 0-d arrays become Python scalars or strings."""
    tree = {}
    for name, value in flat.items():
        node = tree
        *parents, leaf = name.split(SEP)
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value.item() if value.ndim == 0 else value
    return tree


def save(state, path):
    """Write a (possibly nested) state dict to path (.npz), atomically."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **flatten(state))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path):
    """Read a state dict written by save (nested again)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            flat = {name: data[name] for name in data.files}
    except Exception as error:
        # NumPy's own message is for its users (for a file it does not recognise, it suggests
        # loading it unsafely with pickle); name what is wrong instead
        raise ValueError(f"{path!r} is not a checkpoint written by this project (a .npz file of "
                         f"arrays): {_reason(error)}") from None
    return unflatten(flat)


def _reason(error):
    """A short reason for a file np.load refused."""
    if "pickle" in str(error):
        return "it is not a NumPy .npz archive (a truncated or different kind of file)"
    return f"{type(error).__name__}: {error}"
