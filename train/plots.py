"""Pictures of a training run: loss and validation PSNR curves, and noisy / denoised / clean grids."""
import matplotlib

matplotlib.use("Agg")                      # files only, no window
import matplotlib.pyplot as plt           # noqa: E402
import numpy as np                        # noqa: E402


def plot_curves(records, path):
    """Training loss (and its running mean) and validation PSNR against the step."""
    train = [r for r in records if "loss" in r]
    val = [r for r in records if "val_psnr" in r]
    n3 = [r for r in train if "n3" in r]
    weights = [r for r in train if "n3_weights" in r]
    panels = 2 + bool(n3) + bool(weights)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4))
    ax_loss, ax_psnr, *extra = axes
    if train:
        steps = np.array([r["step"] for r in train])
        loss = np.array([r["loss"] for r in train])
        ax_loss.semilogy(steps, loss, color="0.75", lw=0.8, label="loss per step")
        window = max(1, len(loss) // 20)
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax_loss.semilogy(steps[window - 1:], smooth, color="C0", label=f"mean of {window} steps")
        ax_loss.legend()
    ax_loss.set(xlabel="step", ylabel="MSE loss", title="training loss")
    if val:
        ax_psnr.plot([r["step"] for r in val], [r["val_psnr"] for r in val], "o-", color="C1")
    ax_psnr.set(xlabel="step", ylabel="PSNR (dB)", title="validation PSNR")
    ax_psnr.grid(alpha=0.3)
    if n3:
        plot_saturation(n3, extra.pop(0))
    if weights:                                     # also when no diagnostic was logged yet (step 1)
        plot_collapse(weights, extra.pop(0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_saturation(records, ax):
    """The N3 blocks' diagnostic (n3net/diagnostics.py) against the step, per block: the fraction of
    saturated queries (w^1 > 0.99) and, dashed, the median effective number of candidates of w^1
    (the median gap (d2 - d1) / t for runs logged before it existed)."""
    steps = [r["step"] for r in records]
    key, label = (("n_eff_median", "median n_eff of w1 (dashed)") if "n_eff_median" in records[0]["n3"][0]
                  else ("gap_median", "median (d2 - d1) / t (dashed)"))
    right = ax.twinx()
    for i, block in enumerate(records[0]["n3"]):
        name = block["block"]
        ax.plot(steps, [100 * r["n3"][i]["saturated"] for r in records], "o-", color=f"C{i}", ms=3,
                label=f"{name}: % saturated")
        right.plot(steps, [r["n3"][i][key] for r in records], "--", color=f"C{i}")
    ax.set(xlabel="step", ylabel="% of queries with w1 > 0.99", title="N3 blocks: how soft is the KNN?")
    ax.set_ylim(bottom=0)
    right.set_ylabel(label)
    right.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)


def plot_collapse(records, ax):
    """The collapse diagnostic (n3net/collapse.py) against the step, per block: the RMS of the
    embedding CNN's 64->64 convolution weight and, dashed, of the temperature CNN's, relative to the
    first logged value, the step 1 (a block dying under weight decay shows both falling by decades),
    and, as crosses, the separation of the candidates (below 0.1: collapsed)."""
    steps = [r["step"] for r in records]
    separated = [r for r in records if "n3" in r and "separation_median" in r["n3"][0]]
    for i, block in enumerate(records[0]["n3_weights"]):
        name = block["block"]
        for cnn, style in (("embedding", "o-"), ("temperature", "s--")):
            rms = np.array([r["n3_weights"][i][f"{cnn}_rms"][1] for r in records])
            ax.semilogy(steps, rms / rms[0], style, color=f"C{i}", ms=3, label=f"{name}: {cnn} RMS")
        ax.semilogy([r["step"] for r in separated], [r["n3"][i]["separation_median"] for r in separated],
                    "x:", color=f"C{i}", label=f"{name}: separation")
    ax.axhline(0.1, color="0.5", lw=0.8)
    ax.set(xlabel="step", ylabel="RMS / first logged; separation", title="N3 blocks: alive or collapsing?")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def plot_examples(examples, path):
    """examples: list of (name, noisy, denoised, clean) images in [0, 1]; one row each."""
    fig, axes = plt.subplots(len(examples), 3, figsize=(10, 3.4 * len(examples)), squeeze=False)
    from .metrics import psnr
    for row, (name, noisy, denoised, clean) in zip(axes, examples):
        titles = [f"{name}: noisy, {psnr(clean, noisy):.2f} dB",
                  f"denoised, {psnr(clean, denoised):.2f} dB", "clean"]
        for ax, image, title in zip(row, (noisy, denoised, clean), titles):
            ax.imshow(np.clip(image, 0, 1), cmap="gray", vmin=0, vmax=1)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
