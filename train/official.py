"""The official N3Net's checkpoints (github.com/visinf/n3net, results_gaussian_denoising/
pretrained_sigma*/checkpoint/051_ckpt.t7) mapped onto this project's N3Net, parameter by parameter.

The official network is ours with the released relaxation (build_model("n3net", variant="reference")):

    official name                                      ours
    blocks.{i}.conv1.{weight,bias}                     stages.{2i}.body.0.{weight,bias}
    blocks.{i}.layer1.{3j}.weight                      stages.{2i}.body.{2 + 3j}.weight     (conv)
    blocks.{i}.layer1.{3j + 1}.{weight,bias,running_*} stages.{2i}.body.{3 + 3j}.*          (batch-norm)
    blocks.{i}.conv2.{weight,bias}                     stages.{2i}.body.{last}.*
    blocks.{i}.bn1.*                                   (dropped: the official DnCNN builds it and never
                                                        calls it)
    nls.{i}.embedcnn.{n}.*                             stages.{2i + 1}.embedding.{n}.*
    nls.{i}.tempcnn.{n}.*                              stages.{2i + 1}.temperature.{n}.*
    nls.{i}.n3aggregation.aggregation.nnn.bn.*         stages.{2i + 1}.distance_bn.*

Reading a .t7 needs PyTorch (optional here); map_state() works on plain NumPy arrays.
"""
import re

import numpy as np

from n3net import build_model

CONFIG = {"name": "n3net", "variant": "reference"}       # what the official checkpoints hold
UNUSED = re.compile(r"blocks\.\d+\.bn1\.")
RULES = [                                                 # (official pattern, ours: a function of the match)
    (r"blocks\.(\d+)\.conv1\.(\w+)", lambda m, last: f"stages.{2 * int(m[1])}.body.0.{m[2]}"),
    (r"blocks\.(\d+)\.layer1\.(\d+)\.(\w+)", lambda m, last: f"stages.{2 * int(m[1])}.body.{int(m[2]) + 2}.{m[3]}"),
    (r"blocks\.(\d+)\.conv2\.(\w+)", lambda m, last: f"stages.{2 * int(m[1])}.body.{last}.{m[2]}"),
    (r"nls\.(\d+)\.embedcnn\.(\d+)\.(\w+)", lambda m, last: f"stages.{2 * int(m[1]) + 1}.embedding.{m[2]}.{m[3]}"),
    (r"nls\.(\d+)\.tempcnn\.(\d+)\.(\w+)", lambda m, last: f"stages.{2 * int(m[1]) + 1}.temperature.{m[2]}.{m[3]}"),
    (r"nls\.(\d+)\.n3aggregation\.aggregation\.nnn\.bn\.(\w+)",
     lambda m, last: f"stages.{2 * int(m[1]) + 1}.distance_bn.{m[2]}"),
]


class OfficialCheckpointError(ValueError):
    """A checkpoint that does not map onto this project's N3Net; the message lists what does not."""


def our_name(name, last):
    """Our parameter's name for an official one (None for the unused bn1); KeyError if no rule fits.
    last: the index of a DnCNN's last convolution in our Sequential."""
    if UNUSED.match(name):
        return None
    for pattern, ours in RULES:
        match = re.fullmatch(pattern, name)
        if match:
            return ours(match, last)
    raise KeyError(name)


def map_state(official, config=CONFIG):
    """Our state dict from the official one ({name: array}), checked: every official entry maps
    (but the unused bn1), every entry of ours is filled, every shape agrees."""
    model = build_model(**config)
    ours = model.state_dict()
    last = max(int(k.split(".")[3]) for k in ours if k.startswith("stages.0.body."))
    mapped, problems = {}, []
    for name, value in official.items():
        if name.endswith("num_batches_tracked"):
            continue                                      # PyTorch's counter, no counterpart here
        try:
            target = our_name(name, last)
        except KeyError:
            problems.append(f"{name}: no counterpart in this N3Net")
            continue
        if target is None:
            continue
        if target not in ours:
            problems.append(f"{name} -> {target}: this N3Net has no such entry")
        elif tuple(np.shape(value)) != tuple(ours[target].shape):
            problems.append(f"{name} -> {target}: shape {tuple(np.shape(value))}, ours {tuple(ours[target].shape)}")
        else:
            mapped[target] = np.asarray(value, dtype=ours[target].dtype)
    missing = sorted(set(ours) - set(mapped))
    if missing:
        problems.append(f"not in the checkpoint: {', '.join(missing[:6])}" + (" ..." if len(missing) > 6 else ""))
    if problems:
        raise OfficialCheckpointError("the checkpoint does not map onto N3Net: " + "; ".join(problems))
    return mapped


def read_t7(path):
    """{name: NumPy array} of an official checkpoint (a torch.save of {"net": state_dict, ...})."""
    try:
        import torch
    except ImportError:
        raise ImportError("reading the official checkpoints needs PyTorch: pip install torch") from None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise
    except Exception as error:                           # pickle or zip errors of a file that is not one
        raise OfficialCheckpointError(f"{path} is not a PyTorch checkpoint ({type(error).__name__})") from None
    state = checkpoint.get("net", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise OfficialCheckpointError(f"{path} holds no state dict (expected {{'net': ...}})")
    return {name: value.detach().cpu().numpy() for name, value in state.items()}
