"""Pictures of a training run: loss and validation PSNR curves, and noisy / denoised / clean grids."""
import matplotlib

matplotlib.use("Agg")                      # files only, no window
import matplotlib.pyplot as plt           # noqa: E402
import numpy as np                        # noqa: E402


def plot_curves(records, path):
    """Training loss (and its running mean) and validation PSNR against the step."""
    train = [r for r in records if "loss" in r]
    val = [r for r in records if "val_psnr" in r]
    fig, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(11, 4))
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
