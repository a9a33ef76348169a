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
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib                                                     # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt                                       # noqa: E402
from matplotlib.patches import Rectangle                              # noqa: E402

from minigrad.backend import to_numpy                                 # noqa: E402
from n3net.diagnostics import n3_blocks, query_weights, selection_statistics   # noqa: E402
from n3net.n3block import tile_distances                              # noqa: E402
from n3net.patch_grid import PatchGrid                                # noqa: E402
from train.data import DEFAULT_DATA, add_noise, load_grayscale        # noqa: E402
from train.errors import CLIError, run_cli                            # noqa: E402
from train.inference import denoise, load_checkpoint, model_from_checkpoint   # noqa: E402
from train.metrics import psnr                                        # noqa: E402
from train.shipped import resolve_checkpoint                          # noqa: E402

DEFAULT_IMAGE = os.path.join(DEFAULT_DATA, "test", "brick.png")


def most_repeated_patch(noisy, grid, k, sigma):
    """(i, j) on the patch grid: the patch with the most structure repeated in its window (away
    from the border where the image allows, so that the window is centred on it).

    score = (mean of its k smallest distances - 2 n) / (its contrast - n), where the contrast is the
    sum of squares about the patch mean and n = (sigma / 255)^2 p^2 what the noise adds to it (and
    twice that to a distance); only patches with a contrast above 4 n compete."""
    e = grid.patches(noisy[None, None].astype(np.float64))               # (1, n1, n2, p p)
    contrast = ((e - e.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)[0]   # (n1, n2)
    nearest = np.empty(grid.shape)
    for tile in grid.tiles(8):
        D = tile_distances(e, tile, grid)[0]                              # (nq, nu)
        nearest[tile.queries] = np.sort(D, axis=-1)[:, :k].mean(axis=-1).reshape(nearest[tile.queries].shape)
    n = (sigma / 255.0) ** 2 * grid.patch_size ** 2
    score = np.where(contrast > 4 * n, (nearest - 2 * n) / np.maximum(contrast - n, 1e-12), np.inf)
    half = grid.window // 2                     # prefer queries whose window is centred on them
    interior = score[half:grid.shape[0] - half, half:grid.shape[1] - half]
    if np.isfinite(interior).any():
        score = np.full_like(score, np.inf)
        score[half:grid.shape[0] - half, half:grid.shape[1] - half] = interior
    if not np.isfinite(score).any():                                     # no structure: the most contrast
        score = -contrast
    i, j = np.unravel_index(np.argmin(score), score.shape)
    return int(i), int(j)


def crop_around(pixel, size, length, stride):
    """First index of a crop of `length` of `size` pixels, as central on `pixel` as the image allows,
    whose own patch grid holds `pixel` (the offset is a multiple of the stride) where it can."""
    start = int(np.clip(pixel - length // 2, 0, size - length))
    start -= (start - pixel) % stride                                    # onto the patch grid
    return start + stride if start < 0 else start


def outline(ax, top, left, height, width, color, lw=1.2):
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, edgecolor=color, lw=lw))


def draw(path, title, images, blocks, k):
    """images: [(title, image)] with the query box; blocks: one dict per N3 block (see main)."""
    fig = plt.figure(figsize=(2.0 * (k + 2), 2.6 + 2.3 * len(blocks)), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.6, 2.3 * len(blocks)])
    top.suptitle(title, fontsize=10)
    axes = top.subplots(1, 5)
    for ax, (name, image, boxes) in zip(axes, images):
        ax.imshow(np.clip(image, 0, 1), cmap="gray", vmin=0, vmax=1)
        for box, color in boxes:
            outline(ax, *box, color)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    for b in blocks:
        axes[3].hist(b["w1"], bins=np.linspace(0, 1, 41), histtype="step", label=b["name"])
        axes[4].hist(b["n_eff"], bins=np.linspace(1, b["W"][0].size - 1, 41), histtype="step", label=b["name"])
    axes[3].set(title="largest first weight max w1\n(1: a hard choice)", xlabel="max w1")
    axes[4].set(title="effective candidates 1/sum (w1)^2\n(1: hard; w*w - 1: uniform)", xlabel="n_eff")
    for ax in axes[3:]:
        ax.title.set_fontsize(8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    rows = bottom.subplots(len(blocks), k + 2, squeeze=False)
    for row, b in zip(rows, blocks):
        t_map = row[0].imshow(b["t"], cmap="viridis")
        row[0].plot(b["query"][1], b["query"][0], "r+", ms=8)
        row[0].set_title(f"{b['name']}: temperature t\n(median {np.median(b['t']):.3g})", fontsize=8)
        bottom.colorbar(t_map, ax=row[0], shrink=0.7).ax.tick_params(labelsize=6)
        row[1].imshow(np.clip(b["window"], 0, 1), cmap="gray", vmin=0, vmax=1)
        outline(row[1], *b["query_box"], "r")
        row[1].set_title("window (noisy pixels),\nquery outlined", fontsize=8)
        vmax = b["W"].max()
        for j, ax in enumerate(row[2:]):
            ax.imshow(b["W"][j], cmap="magma", vmin=0, vmax=vmax)
            ax.plot(b["query_cell"][1], b["query_cell"][0], "c+", ms=6)
            ax.set_title(f"w{j + 1}: max {b['W'][j].max():.2f}", fontsize=8)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description="Draw what a trained N3Net's N3 blocks matched, and how softly.")
    p.add_argument("--checkpoint", help="an N3Net checkpoint or a shipped model's name "
                   "(default: the shipped N3Net for --sigma)")
    p.add_argument("--image", default=DEFAULT_IMAGE, help="a clean image (default: data/images/test/brick.png)")
    p.add_argument("--sigma", type=float, help="noise level on the 0-255 scale (default: the model's "
                   "training sigma; 25 for the default model)")
    p.add_argument("--query", type=int, nargs=2, metavar=("ROW", "COL"),
                   help="top-left pixel of the query patch (default: the most repeated texture)")
    p.add_argument("--crop", type=int, default=160, help="side of the crop around the query on which the "
                   "weights and the diagnostic are computed (default 160)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    p.add_argument("--out", default="runs/inspect/inspect_n3.png", help="the figure to write (PNG)")
    args = p.parse_args(argv)
    path, what = resolve_checkpoint(args.checkpoint, 25.0 if args.checkpoint is None and args.sigma is None
                                    else args.sigma)
    ckpt = load_checkpoint(path)
    model = model_from_checkpoint(ckpt, path)
    blocks = n3_blocks(model)
    if not blocks:
        raise CLIError(f"{path} holds a {json.loads(ckpt['config'])['name']}, which has no N3 block to inspect")
    sigma = args.sigma if args.sigma is not None else float(json.loads(ckpt["train_args"])["sigma"])
    clean = load_grayscale(args.image)
    H, W = clean.shape
    need = max(model.min_size(), 80)
    if min(H, W) < need:
        raise CLIError(f"{args.image} is {W}x{H} pixels: inspecting needs at least {need}x{need}")
    first = blocks[0][1]
    ps, s, w, k = first.patch_size, first.stride, first.match_window, first.k
    grid = PatchGrid((H, W), ps, s, w)
    (pad_top, _), (pad_left, _) = grid.pads
    noisy = add_noise(clean, sigma, np.random.default_rng(args.seed))
    print(f"using the {what}; {args.image}, sigma {sigma:g}, noise seed {args.seed}")

    denoised = denoise(model, noisy)                      # whole image; leaves every block's t map
    t_maps = [to_numpy(block._t[0]) for _, block in blocks]             # (n1, n2) each
    if args.query is None:
        i, j = most_repeated_patch(noisy, grid, k, sigma)
        row, col = i * s - pad_top, j * s - pad_left
        how = "the most repeated texture"
    else:
        row, col = args.query
        if not (0 <= row <= H - ps and 0 <= col <= W - ps):
            raise CLIError(f"--query {row} {col}: a {ps}x{ps} patch there does not fit the {W}x{H} image")
        how = "as given"

    # the weights: a crop around the query, forward in evaluation mode with gradients enabled
    # (so that the blocks keep their tiles), the query on the crop's own patch grid
    size = (min(args.crop, H), min(args.crop, W))
    if min(size) < need:
        raise CLIError(f"--crop {args.crop} is too small: the N3 blocks need at least {need} pixels")
    crop_grid = PatchGrid(size, ps, s, w)
    (ctop, _), (cleft, _) = crop_grid.pads
    r0, c0 = (crop_around(q, n, length, s) for q, n, length in ((row + ctop, H, size[0]), (col + cleft, W, size[1])))
    qi, qj = (int(round((row - r0 + ctop) / s)), int(round((col - c0 + cleft) / s)))
    qi, qj = min(max(qi, 0), crop_grid.shape[0] - 1), min(max(qj, 0), crop_grid.shape[1] - 1)
    row, col = r0 + qi * s - ctop, c0 + qj * s - cleft                  # the query patch actually shown
    print(f"query patch: rows {row}-{row + ps - 1}, columns {col}-{col + ps - 1} ({how})")
    model.eval()
    model.forward(noisy[None, None, r0:r0 + size[0], c0:c0 + size[1]])
    rows = []
    for (name, block), t_map in zip(blocks, t_maps):
        W_q, (wr, wc) = query_weights(block, qi, qj)                       # (k, w, w)
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
