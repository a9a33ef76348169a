"""What did the N3 blocks match?  A picture of a trained N3Net's continuous nearest neighbours.

    python train/inspect_n3.py                                      # shipped N3Net sigma 25, brick.png
    python train/inspect_n3.py --checkpoint n3net-sigma50 --image data/images/test/monarch.png
    python train/inspect_n3.py --query 200 310 --out runs/inspect/mine.png

Draws one figure (default runs/inspect/inspect_n3.png):
  top: noisy, denoised and clean image (PSNR; the query patch and its match window outlined), and
      the saturation diagnostic (n3net/diagnostics.py) of every N3 block on a crop around the
      query: histograms of the largest first weight max_m w^1_m and of the effective number of
      candidates 1 / sum_m (w^1_m)^2;
  one row per N3 block: its temperature map t over the whole image (one value per patch, the
      query marked), the window of candidate patches (the noisy pixels the w x w patches cover,
      the query patch outlined), and the k weight maps w^1..w^k over those w x w candidates:
      which patches each neighbour took, and how softly (the query's own cell is always 0).
The query (--query ROW COL: the top-left pixel of a patch) defaults to the most repeated texture:
among the patches with clearly more contrast than the noise, the one whose k nearest patches in
its window are closest relative to its own contrast.  A colour image is inspected in luminance.
"""
import argparse
import os
import sys

import numpy as np

from minigrad.backend import to_device, to_numpy
from n3net.diagnostics import n3_blocks, selection_statistics
from n3net.patch_grid import PatchGrid
from train.cli import common_options, open_model, setup
from train.data import add_noise, load_grayscale
from train.errors import UsageError, run_cli
from train.inference import denoise, model_name
from train.inspection import DEFAULT_IMAGE, crop_around, draw, most_repeated_patch
from train.metrics import psnr


def main(argv=None):
    p = argparse.ArgumentParser(description="Draw what a trained N3Net's N3 blocks matched, and how softly.",
                                parents=[common_options()])
    p.add_argument("--image", default=DEFAULT_IMAGE, help="a clean image (default: data/images/test/brick.png)")
    p.add_argument("--query", type=int, nargs=2, metavar=("ROW", "COL"),
                   help="top-left pixel of the query patch (default: the most repeated texture)")
    p.add_argument("--crop", type=int, default=160, help="side of the crop around the query on which the "
                   "weights and the diagnostic are computed (default 160)")
    p.add_argument("--out", default="runs/inspect/inspect_n3.png", help="the figure to write (PNG)")
    args = p.parse_args(argv)
    setup(args)
    model, ckpt, path, what = open_model(args)
    blocks = n3_blocks(model)
    if not blocks:
        raise UsageError(f"{path} holds a {model_name(ckpt)}, which has no N3 block to inspect")
    sigma = args.sigma
    clean = load_grayscale(args.image)
    H, W = clean.shape
    need = max(model.min_size(), 80)
    if min(H, W) < need:
        raise UsageError(f"{args.image} is {W}x{H} pixels: inspecting needs at least {need}x{need}")
    first = blocks[0][1]
    ps, s, w, k = first.patch_size, first.stride, first.match_window, first.k
    grid = PatchGrid((H, W), ps, s, w)
    (pad_top, _), (pad_left, _) = grid.pads
    noisy = add_noise(clean, sigma, np.random.default_rng(args.seed))
    print(f"using the {what}; {args.image}, sigma {sigma:g}, noise seed {args.seed}")

    denoised = denoise(model, noisy, args.device)         # whole image; leaves every block's t map
    t_maps = [to_numpy(block.temperatures()[0]) for _, block in blocks]  # (n1, n2) each
    if args.query is None:
        i, j = most_repeated_patch(noisy, grid, k, sigma)
        row, col = i * s - pad_top, j * s - pad_left
        how = "the most repeated texture"
    else:
        row, col = args.query
        if not (0 <= row <= H - ps and 0 <= col <= W - ps):
            raise UsageError(f"--query {row} {col}: a {ps}x{ps} patch there does not fit the {W}x{H} image")
        how = "as given"

    # the weights: a crop around the query, forward in evaluation mode with gradients enabled
    # (so that the blocks keep their tiles), the query on the crop's own patch grid
    size = (min(args.crop, H), min(args.crop, W))
    if min(size) < need:
        raise UsageError(f"--crop {args.crop} is too small: the N3 blocks need at least {need} pixels")
    crop_grid = PatchGrid(size, ps, s, w)
    (ctop, _), (cleft, _) = crop_grid.pads
    r0, c0 = (crop_around(q, n, length, s) for q, n, length in ((row + ctop, H, size[0]), (col + cleft, W, size[1])))
    qi, qj = (int(round((row - r0 + ctop) / s)), int(round((col - c0 + cleft) / s)))
    qi, qj = min(max(qi, 0), crop_grid.shape[0] - 1), min(max(qj, 0), crop_grid.shape[1] - 1)
    row, col = r0 + qi * s - ctop, c0 + qj * s - cleft                  # the query patch actually shown
    print(f"query patch: rows {row}-{row + ps - 1}, columns {col}-{col + ps - 1} ({how})")
    model.eval()
    model.forward(to_device(noisy[None, None, r0:r0 + size[0], c0:c0 + size[1]], args.device))
    rows = []
    for (name, block), t_map in zip(blocks, t_maps):
        W_q, (wr, wc) = block.query_weights(qi, qj)                       # (k, w, w)
        w1, n_eff = selection_statistics(block)[:2]
        top, left = r0 + wr * s - ctop, c0 + wc * s - cleft                # the window's pixels
        span = (w - 1) * s + ps
        window = np.pad(noisy, ps)[top + ps:top + ps + span, left + ps:left + ps + span]   # zeros outside
        ti, tj = (row + pad_top) // s, (col + pad_left) // s
        rows.append(dict(name=name, t=t_map, query=(ti, tj), W=W_q, w1=w1, n_eff=n_eff, window=window,
                         query_box=(row - top, col - left, ps, ps), query_cell=(qi - wr, qj - wc)))
        print(f"{name}: t at the query {t_map[min(ti, t_map.shape[0] - 1), min(tj, t_map.shape[1] - 1)]:.3g}; "
              f"largest weight of w1..w{k}: " + " ".join(f"{W_q[j].max():.2f}" for j in range(k)))
    boxes = [((top, left, span, span), "y"), ((row, col, ps, ps), "r")]
    images = [(f"noisy, {psnr(clean, noisy):.2f} dB", noisy, boxes),
              (f"denoised, {psnr(clean, denoised):.2f} dB", denoised, boxes), ("clean", clean, boxes)]
    draw(args.out, f"{what}: {os.path.basename(args.image)}, sigma {sigma:g}; query at ({row}, {col}), "
         "its window in yellow", images, rows, k)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
