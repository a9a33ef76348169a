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


def crops_seen(ckpt):
    """The training crops a checkpoint's run has seen: its count, or for a checkpoint from before
    the count, its steps times its batch size (its run never changed it: only a branch may).  A
    branch with another --crop counts its own crops as one each, whatever their size."""
    if "crops" in ckpt:
        return int(ckpt["crops"])
    return int(ckpt["step"]) * int(json.loads(ckpt["train_args"]).get("batch_size", 4))


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


# Memory of an evaluation: N3Net's arrays take about 1159 bytes per pixel of the image at 1024 x 1024
# (docs/performance.md); with some room, this many per pixel of a tile (margins included)
BYTES_PER_PIXEL = 1300
MEMORY_GB = 1.5                  # the default budget of one tile's evaluation


def tile_spans(size, core, margin, stride=1):
    """[(crop_start, crop_stop, core_start, core_stop)] along an axis of `size` pixels: the cores
    (at most `core` pixels) cover the axis once; each crop adds `margin` on both sides where the
    image has them, starts at a multiple of `stride` and is as long as the image modulo `stride`
    (so that an N3 block puts its patches where it puts them in the whole image, and pads a crop
    that touches the image's border as it pads the image)."""
    spans = []
    for core_start in range(0, size, core):
        core_stop = min(core_start + core, size)
        start = max(0, core_start - margin)
        start -= start % stride
        stop = min(size, core_stop + margin)
        if stop < size:
            length = stop - start
            stop = min(size, start + length + (size - length) % stride)
        spans.append((start, stop, core_start, core_stop))
    return spans


def plan_tiles(model, shape, memory_gb=MEMORY_GB):
    """[(row span, column span)] of tile_spans for an (H, W) image: one tile (the whole image) if it
    fits the budget, else crops of at most the budget's pixels whose cores tile the image and whose
    margins cover the model's receptive radius, so that the result is the whole image's."""
    H, W = shape
    pixels = memory_gb * 1e9 / BYTES_PER_PIXEL
    if H * W <= pixels or not hasattr(model, "receptive_radius"):
        return [((0, H, 0, H), (0, W, 0, W))]
    margin = model.receptive_radius()
    stride = model.tile_stride() if hasattr(model, "tile_stride") else 1
    core = max(int(pixels ** 0.5) - 2 * margin - 2 * stride, 64)      # 64: a budget too small still works
    return [(rows, cols) for rows in tile_spans(H, core, margin, stride)
            for cols in tile_spans(W, core, margin, stride)]


def _forward(model, image, device):
    """The model on one (H, W) image in evaluation mode, without keeping anything for backward."""
    model.eval()
    with no_grad():
        out = model.forward(to_device(image[None, None].astype(np.float32), device))
    return to_numpy(out)[0, 0]


# The eight symmetries of the square (the dihedral group D4): k quarter turns, then a mirror or not
SYMMETRIES = [(k, mirror) for mirror in (False, True) for k in range(4)]
SELF_ENSEMBLE_HELP = ("denoise the image in its 8 orientations (4 quarter turns, each mirrored or not), turn "
                      "the results back and average them (geometric self-ensemble): 8 times the time, "
                      "usually a little higher PSNR (default: off)")


def turn(image, k, mirror):
    """An (H, W) image turned k quarter turns counter-clockwise, then mirrored left-right if mirror."""
    out = np.rot90(image, k)
    return out[:, ::-1] if mirror else out


def turn_back(image, k, mirror):
    """The inverse of turn: turn_back(turn(x, k, mirror), k, mirror) == x."""
    return np.rot90(image[:, ::-1] if mirror else image, -k)


def denoise(model, noisy, device="cpu", memory_gb=MEMORY_GB, progress=None, self_ensemble=False):
    """Denoise one (H, W) image in [0, 1] with the model in evaluation mode.

    An image smaller than the model's smallest input (N3Net's match window: 80 x 80 pixels) is
    mirrored at its border up to that size, denoised, and cropped back.  An image larger than the
    memory budget (memory_gb, for the arrays of one evaluation) is denoised in overlapping tiles
    (plan_tiles) with the same result as in one piece.  progress: called with 1 after each tile.

    self_ensemble: the mean of the model's results on the image's 8 orientations (SYMMETRIES), each
    turned back: the "enhanced prediction" of Timofte, Rothe and Van Gool 2016 ("Seven ways to improve
    example-based single image super resolution", CVPR), the geometric self-ensemble of EDSR+ (Lim et
    al. 2017).  The models trained on crops in all 8 orientations (data.py), but are not equivariant
    (a convolution's kernels, N3's patch grid), so the 8 results differ and their mean is a little
    better; the mean itself is equivariant: it turns with the image.  8 times the time.
    """
    if self_ensemble:
        total = np.zeros(noisy.shape, np.float64)
        for k, mirror in SYMMETRIES:
            out = denoise(model, np.ascontiguousarray(turn(noisy, k, mirror)), device, memory_gb, progress)
            total += turn_back(out, k, mirror)
        return (total / len(SYMMETRIES)).astype(np.float32)
    H, W = noisy.shape
    need = model.min_size() if hasattr(model, "min_size") else 1
    pad_h, pad_w = max(0, need - H), max(0, need - W)
    if pad_h or pad_w:
        image = np.pad(noisy, ((0, pad_h), (0, pad_w)), mode="symmetric")
        out = _forward(model, image, device)[:H, :W]
        if progress:
            progress(1)
        return out
    tiles = plan_tiles(model, (H, W), memory_gb)
    if len(tiles) == 1:
        out = _forward(model, noisy, device)
        if progress:
            progress(1)
        return out
    out = np.empty((H, W), np.float32)
    for (r0, r1, a, b), (c0, c1, c, d) in tiles:
        out[a:b, c:d] = _forward(model, noisy[r0:r1, c0:c1], device)[a - r0:b - r0, c - c0:d - c0]
        if progress:
            progress(1)
    return out


COLOUR_MODES = {"channels": "each of R, G, B denoised by the grayscale model",
                "luminance": "the luminance Y of YCbCr (BT.601) denoised, the chroma kept as it is"}
COLOUR_HELP = ("how a colour image is denoised: " + "; ".join(f"{k}: {v}" for k, v in COLOUR_MODES.items())
               + " (default channels)")
# RGB -> YCbCr (BT.601, full range, offsets left out: they cancel in the round trip)
RGB_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def denoise_image(model, noisy, colour="channels", device="cpu", memory_gb=MEMORY_GB, progress=None,
                  self_ensemble=False):
    """Denoise an (H, W) grayscale or (H, W, 3) RGB image in [0, 1] with a grayscale model.

    colour="channels": R, G and B one after the other, as three grayscale images (right for
    noise drawn independently per channel, as here); "luminance": only Y, the chroma untouched
    (its noise stays).  memory_gb, progress and self_ensemble: as denoise (progress is called per
    tile, orientation and channel)."""
    def one(image):
        return denoise(model, image, device, memory_gb, progress, self_ensemble)
    if noisy.ndim == 2:
        return one(noisy)
    if colour not in COLOUR_MODES:
        raise ValueError(f"unknown colour mode {colour!r}: use {' or '.join(COLOUR_MODES)}")
    if colour == "channels":
        return np.stack([one(noisy[..., c]) for c in range(3)], axis=-1)
    ycc = noisy.astype(np.float64) @ RGB_TO_YCC.T                             # (H, W, 3)
    ycc[..., 0] = one(ycc[..., 0].astype(np.float32))
    return (ycc @ np.linalg.inv(RGB_TO_YCC).T).astype(np.float32)
