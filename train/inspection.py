"""Pictures of what an N3 block matched (train/inspect_n3.py and train/compare.py are the commands):
the query patch with the most repeated structure, crops on the patch grid, and the figure."""
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt                                       # noqa: E402
from matplotlib.patches import Rectangle                              # noqa: E402

from n3net.n3block import tile_distances                              # noqa: E402

from .data import DEFAULT_DATA                                        # noqa: E402

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
