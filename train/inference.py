"""Using a trained denoiser: rebuild it from a checkpoint alone, denoise whole images."""
import json
import os

import numpy as np

from minigrad import load, no_grad, to_device, to_numpy
from minigrad.backend import check_device
from minigrad.serialization import CheckpointMismatchError
from n3net import build_model

from .errors import CheckpointError

FORMAT = "n3net-minigrad training checkpoint, version 2"
# version 1: before the N3 block's distance batch-norm and the KNN block matched on the input image
OLD_FORMATS = ("n3net-minigrad training checkpoint, version 1",)


def load_checkpoint(path):
    """The checkpoint's contents (nested dict); FileNotFoundError if it is missing, CheckpointError
    if it is not one of ours."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        ckpt = load(path)
    except ValueError as error:
        raise CheckpointError(str(error)) from None
    if ckpt.get("format") not in (FORMAT,) + OLD_FORMATS or "model" not in ckpt or "config" not in ckpt:
        raise CheckpointError(f"{path} is not a checkpoint written by train/denoise.py")
    name = json.loads(ckpt["config"]).get("name", "")
    if ckpt["format"] in OLD_FORMATS and not name.startswith("dncnn"):
        raise CheckpointError(f"{path} holds a {name} of an older layout (before the N3 block's distance "
                       f"batch-norm, and the KNN block matched on the noisy image): this version cannot "
                       f"use it; train the model again with train/denoise.py")
    return ckpt


def model_name(ckpt):
    """What a checkpoint holds, for messages: "dncnn17" (older checkpoints) or "DnCNN depth 17"."""
    config = json.loads(ckpt["config"])
    name = config.get("name", "?")
    if name == "DnCNN":
        return f"DnCNN-{config.get('depth')}"
    if name == "N3Net":
        kind = "KNN-block net" if config.get("block") == "knn" else "N3Net"
        return f"{kind} of {config.get('n_blocks')} DnCNN stages"
    return name


def model_from_checkpoint(ckpt, path="checkpoint"):
    """Rebuild the model from the configuration stored in the checkpoint and load its weights."""
    config = json.loads(ckpt["config"])
    try:
        model = build_model(**config)
        model.load_state_dict(ckpt["model"])
    except (ValueError, TypeError, CheckpointMismatchError) as error:
        first = str(error).splitlines()[0].rstrip(":")          # the details run over several lines
        raise CheckpointError(f"{path}: cannot rebuild its model ({first}); its weights do not fit the "
                              f"configuration it records: train it again or use the file it came from") from None
    return model


def require_device(device):
    """The device, if it can be used; DeviceError says why not (no GPU, no CuPy)."""
    return check_device(device)


def load_model(path, device="cpu"):
    """The trained model of a checkpoint file, on the given device."""
    require_device(device)
    return model_from_checkpoint(load_checkpoint(path), path).to(device)


def denoise(model, noisy, device="cpu"):
    """Denoise one (H, W) image in [0, 1] with the model in evaluation mode.

    An image smaller than the model's smallest input (N3Net's match window: 80 x 80 pixels) is
    mirrored at its border up to that size, denoised, and cropped back.
    """
    H, W = noisy.shape
    need = model.min_size() if hasattr(model, "min_size") else 1
    pad_h, pad_w = max(0, need - H), max(0, need - W)
    image = np.pad(noisy, ((0, pad_h), (0, pad_w)), mode="symmetric") if pad_h or pad_w else noisy
    model.eval()
    with no_grad():
        out = model.forward(to_device(image[None, None].astype(np.float32), device))
    return to_numpy(out)[0, 0, :H, :W]


COLOUR_MODES = {"channels": "each of R, G, B denoised by the grayscale model",
                "luminance": "the luminance Y of YCbCr (BT.601) denoised, the chroma kept as it is"}
COLOUR_HELP = ("how a colour image is denoised: " + "; ".join(f"{k}: {v}" for k, v in COLOUR_MODES.items())
               + " (default channels)")
# RGB -> YCbCr (BT.601, full range, offsets left out: they cancel in the round trip)
RGB_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def denoise_image(model, noisy, colour="channels", device="cpu"):
    """Denoise an (H, W) grayscale or (H, W, 3) RGB image in [0, 1] with a grayscale model.

    colour="channels": R, G and B one after the other, as three grayscale images (right for
    noise drawn independently per channel, as here); "luminance": only Y, the chroma untouched
    (its noise stays)."""
    if noisy.ndim == 2:
        return denoise(model, noisy, device)
    if colour not in COLOUR_MODES:
        raise ValueError(f"unknown colour mode {colour!r}: use {' or '.join(COLOUR_MODES)}")
    if colour == "channels":
        return np.stack([denoise(model, noisy[..., c], device) for c in range(3)], axis=-1)
    ycc = noisy.astype(np.float64) @ RGB_TO_YCC.T                             # (H, W, 3)
    ycc[..., 0] = denoise(model, ycc[..., 0].astype(np.float32), device)
    return (ycc @ np.linalg.inv(RGB_TO_YCC).T).astype(np.float32)
