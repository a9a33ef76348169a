"""Train a denoiser on the embedded images (or your own) and watch it learn.

    python train/denoise.py                           # N3Net-light, sigma 25, about 10 minutes
    python train/denoise.py --model dncnn17 --steps 2000 --out runs/dncnn
    python train/denoise.py --out runs/n3net --resume # continue an interrupted run

Writes into --out: last.npz (the latest state, written atomically), best.npz (the best model by
validation PSNR), metrics.jsonl (one line per step and per validation), curves.png,
examples.png and test.json.  Ctrl-C finishes the current step, saves and exits; --resume then
continues exactly where the run stopped.  Every checkpoint holds the model's configuration, so
train/evaluate.py and train/denoise_image.py rebuild the model from it alone.
"""
import argparse
import json
import math
import os
import signal
import sys
import time

import numpy as np
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from layers import MSELoss                                            # noqa: E402
from minigrad import init, save, to_device                            # noqa: E402
from minigrad.optim import Adam, ExponentialDecayLR, clip_grad_norm   # noqa: E402
from n3net import MODELS, build_model                                 # noqa: E402
from train.data import DEFAULT_DATA, CropSampler, add_noise, load_folder   # noqa: E402
from train.errors import CLIError, run_cli                            # noqa: E402
from train.inference import (FORMAT, denoise, load_checkpoint, model_from_checkpoint,  # noqa: E402
                             require_device)
from train.evaluate import evaluate_folder                            # noqa: E402
from train.metrics import psnr                                        # noqa: E402
from train.plots import plot_curves, plot_examples                    # noqa: E402

DEFAULTS = dict(model="n3net-light", depth=None, features=None, sigma=25.0, crop=80, batch_size=4, steps=800,
                minutes=None, lr=2e-3, lr_end=1e-4, weight_decay=1e-4, clip=1.0, seed=0, device="cpu", out="runs/denoise",
                data=None, val_every=50, val_crop=256, checkpoint_every=25, test=True, threads=None)
# options that a resumed run may change; all others come from the checkpoint
RESUMABLE = {"minutes", "device", "val_every", "checkpoint_every", "test", "threads"}


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Train a denoiser (N3Net, DnCNN, ...) on grayscale images with Gaussian noise.",
        epilog="Defaults train n3net-light for 800 steps of 4 crops (about 10 minutes on 2 CPU cores).")
    p.add_argument("--model", choices=sorted(MODELS), help="network to train (default n3net-light)")
    p.add_argument("--depth", type=int, help="layers of each DnCNN (default: the model's own, 17 for "
                   "dncnn17, 6 per block for n3net)")
    p.add_argument("--features", type=int, help="feature channels of the convolutions (default 64)")
    p.add_argument("--sigma", type=float, help="noise standard deviation on the 0-255 scale (default 25)")
    p.add_argument("--crop", type=int, help="side of the square training crops in pixels (default 80; "
                   "N3 blocks need at least 80)")
    p.add_argument("--batch-size", type=int, help="crops per step (default 4)")
    p.add_argument("--steps", type=int, help="training steps; the learning rate decays over them (default 800)")
    p.add_argument("--minutes", type=float, help="stop after this much training time even if steps remain")
    p.add_argument("--lr", type=float, help="initial learning rate of Adam (default 2e-3)")
    p.add_argument("--lr-end", type=float, help="learning rate at the last step; it decays exponentially "
                   "from --lr (default 1e-4)")
    p.add_argument("--weight-decay", type=float, help="L2 weight decay on convolution weights and "
                   "batch-norm scales, not on biases (default 1e-4)")
    p.add_argument("--clip", type=float, help="clip the gradients' global L2 norm to this value, 0 for "
                   "no clipping (default 1.0: it stops the rare loss spikes of small batches)")
    p.add_argument("--seed", type=int, help="seed for the initial weights, the crops and the noise (default 0)")
    p.add_argument("--device", choices=["cpu", "gpu"], help="cpu (NumPy) or gpu (CuPy) (default cpu)")
    p.add_argument("--threads", type=int, help="CPU threads for the matrix products (default: all cores)")
    p.add_argument("--out", help="output folder for checkpoints, logs and pictures (default runs/denoise)")
    p.add_argument("--data", help="image folder: with train/ val/ test/ subfolders, or a flat folder of "
                   "training images (then validation and test use the embedded images); "
                   "default: the embedded data/images")
    p.add_argument("--val-every", type=int, help="validate every this many steps (default 50)")
    p.add_argument("--val-crop", type=int, help="validate on the central crop of this size of each "
                   "validation image, 0 for whole images (default 256)")
    p.add_argument("--checkpoint-every", type=int, help="write last.npz every this many steps (default 25)")
    p.add_argument("--no-test", dest="test", action="store_const", const=False,
                   help="skip the evaluation on the test images at the end")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    args = p.parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None and k != "resume"}
    return given, args.resume


def check_values(opts):
    """Refuse option values that cannot work, naming the option."""
    positive = ["crop", "batch_size", "steps", "val_every", "checkpoint_every", "lr", "lr_end"]
    optional = [k for k in ("depth", "features", "threads", "minutes") if opts[k] is not None]
    for key in positive + optional:
        if not opts[key] > 0:
            raise CLIError(f"--{key.replace('_', '-')} must be positive, got {opts[key]}")
    for key in ("sigma", "weight_decay", "val_crop", "clip"):
        if opts[key] < 0:
            raise CLIError(f"--{key.replace('_', '-')} must not be negative, got {opts[key]}")
    return opts


def data_folders(data):
    """(train, val, test) folders for --data (see --help)."""
    if data is None:
        data = DEFAULT_DATA
    if not os.path.isdir(data):
        raise CLIError(f"data folder {data} does not exist")
    if os.path.isdir(os.path.join(data, "train")):
        split = [os.path.join(data, name) for name in ("train", "val", "test")]
        return tuple(f if os.path.isdir(f) else os.path.join(DEFAULT_DATA, os.path.basename(f)) for f in split)
    return data, os.path.join(DEFAULT_DATA, "val"), os.path.join(DEFAULT_DATA, "test")


def settings(given, resume):
    """The run's options and, when resuming, the checkpoint to continue from."""
    out = given.get("out", DEFAULTS["out"])
    last = os.path.join(out, "last.npz")
    if not resume:
        if os.path.exists(last):
            raise CLIError(f"{out} already holds a run (last.npz): continue it with --resume, or choose "
                           f"another --out")
        return check_values({**DEFAULTS, **given}), None
    if not os.path.exists(last):
        raise CLIError(f"nothing to resume: {last} does not exist")
    ckpt = load_checkpoint(last)
    saved = json.loads(ckpt["train_args"])
    for key, value in given.items():
        if key not in RESUMABLE and key != "out" and saved.get(key) != value:
            raise CLIError(f"--{key.replace('_', '-')} {value} differs from the resumed run's "
                           f"{saved.get(key)}; drop the option or start a new run with another --out")
    return check_values({**saved, **{k: v for k, v in given.items() if k in RESUMABLE}, "out": out}), ckpt


def weight_decay_groups(model, weight_decay):
    """Decay on convolution/linear weights and batch-norm scales ("weight"), none on biases."""
    decay = [p for name, p in model.named_parameters() if name.endswith("weight")]
    rest = [p for name, p in model.named_parameters() if not name.endswith("weight")]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


class Run:
    """One training run: model, optimiser, schedule, random state, data, and its output folder."""

    def __init__(self, opts, ckpt):
        self.opts = opts
        self.out = opts["out"]
        self.device = opts["device"]
        require_device(self.device)
        if ckpt is None:
            init.manual_seed(opts["seed"])
            sizes = {k: opts[k] for k in ("depth", "features") if opts[k] is not None}
            self.model = build_model(opts["model"], zero_init_residual=True, **sizes)
        else:
            self.model = model_from_checkpoint(ckpt)
        need = self.model.min_size() if hasattr(self.model, "min_size") else 1
        if opts["crop"] < need:
            raise CLIError(f"--crop {opts['crop']} is too small for {opts['model']}: its N3/KNN blocks "
                           f"need crops of at least {need} pixels")
        train_dir, val_dir, test_dir = data_folders(opts["data"])
        self.sampler = CropSampler(load_folder(train_dir, min_size=opts["crop"]).values(), opts["crop"])
        self.val_images = self._val_set(load_folder(val_dir), opts["val_crop"], opts["sigma"])
        self.test_dir = test_dir
        self.model.to(self.device)
        self.optimizer = Adam(weight_decay_groups(self.model, opts["weight_decay"]), lr=opts["lr"])
        self.schedule = ExponentialDecayLR(self.optimizer, opts["lr_end"], opts["steps"])
        self.rng = np.random.default_rng(opts["seed"])
        self.step, self.best, self.best_step = 0, -np.inf, 0
        if ckpt is not None:
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.schedule.load_state_dict(ckpt["scheduler"])
            self.rng.bit_generator.state = json.loads(ckpt["rng"])
            self.step, self.best = int(ckpt["step"]), float(ckpt["best_val_psnr"])
            self.best_step = int(ckpt["best_val_step"])
        self.loss_fn = MSELoss()
        self.stop_requested = False
        self.last_saved = self.step
        os.makedirs(self.out, exist_ok=True)
        self.log = os.path.join(self.out, "metrics.jsonl")
        self.records = self._read_log()

    @staticmethod
    def _val_set(images, crop, sigma):
        """(name, clean, noisy): central crops (for speed) of the validation images, fixed noise."""
        rng, val = np.random.default_rng(0), []
        for name, image in images.items():
            if crop:
                i, j = max(0, (image.shape[0] - crop) // 2), max(0, (image.shape[1] - crop) // 2)
                image = image[i:i + crop, j:j + crop]
            val.append((name, image, add_noise(image, sigma, rng)))
        return val

    def _read_log(self):
        """Records of earlier steps (a resumed run drops those after its checkpoint)."""
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            records = [json.loads(line) for line in f if line.strip()]
        records = [r for r in records if r["step"] <= self.step]
        with open(self.log, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
        return records

    def _append(self, record):
        self.records.append(record)
        with open(self.log, "a") as f:
            f.write(json.dumps(record) + "\n")

    def checkpoint(self, name):
        save({"format": FORMAT, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
              "scheduler": self.schedule.state_dict(), "step": self.step,
              "rng": json.dumps(self.rng.bit_generator.state), "config": json.dumps(self.model.config),
              "train_args": json.dumps(self.opts), "best_val_psnr": float(self.best),
              "best_val_step": self.best_step},
             os.path.join(self.out, name))

    def train_step(self):
        sigma = self.opts["sigma"]
        clean = self.sampler.sample(self.opts["batch_size"], self.rng)
        noisy = add_noise(clean, sigma, self.rng)
        self.model.train()
        estimate = self.model.forward(to_device(noisy, self.device))
        loss = float(self.loss_fn.forward(estimate, to_device(clean, self.device)))
        if not np.isfinite(loss):
            raise CLIError(f"the loss became {loss} at step {self.step + 1}; the last good state is in "
                           f"{os.path.join(self.out, 'last.npz')} (step {self.last_saved}); "
                           f"start a new run with a lower --lr")
        self.model.zero_grad()
        self.model.backward(self.loss_fn.backward())
        self.grad_norm = clip_grad_norm(self.model.parameters(), self.opts["clip"] or math.inf)
        self.optimizer.step()
        self.schedule.step()
        self.step += 1
        return loss

    def validate(self):
        value = float(np.mean([psnr(clean, denoise(self.model, noisy, self.device))
                               for _, clean, noisy in self.val_images]))
        self._append({"step": self.step, "val_psnr": value})
        if value > self.best:
            self.best, self.best_step = value, self.step
            self.checkpoint("best.npz")
        return value

    def train(self):
        if self.step == 0:
            self.checkpoint("last.npz")
        start, budget = time.monotonic(), self.opts["minutes"]
        bar = tqdm(total=self.opts["steps"], initial=self.step, desc=self.opts["model"], unit="step",
                   dynamic_ncols=True)
        val_psnr = None
        while self.step < self.opts["steps"] and not self.stop_requested:
            if budget is not None and time.monotonic() - start > 60 * budget:
                bar.write(f"time budget of {budget} minutes reached at step {self.step}")
                break
            lr = self.optimizer.param_groups[0]["lr"]
            loss = self.train_step()
            self._append({"step": self.step, "loss": loss, "lr": lr, "grad_norm": self.grad_norm})
            if self.step % self.opts["val_every"] == 0 or self.step == self.opts["steps"]:
                val_psnr = self.validate()
            if self.step % self.opts["checkpoint_every"] == 0:
                self.checkpoint("last.npz")
                self.last_saved = self.step
            bar.set_postfix(loss=f"{loss:.2e}", lr=f"{lr:.1e}",
                            val=f"{val_psnr:.2f}dB" if val_psnr is not None else "-")
            bar.update(1)
        bar.close()
        self.checkpoint("last.npz")
        self.last_saved = self.step

    def finish(self):
        """Curves, and with the best model by validation PSNR, example pictures and the test
        evaluation; returns the paths written."""
        paths = [os.path.join(self.out, "curves.png")]
        plot_curves(self.records, paths[0])
        best = os.path.join(self.out, "best.npz")
        if os.path.exists(best):
            self.model.load_state_dict(load_checkpoint(best)["model"])
        examples = [(name, noisy, denoise(self.model, noisy, self.device), clean)
                    for name, clean, noisy in self.val_images]
        paths.append(os.path.join(self.out, "examples.png"))
        plot_examples(examples, paths[1])
        if self.opts["test"]:
            results = evaluate_folder(self.model, self.test_dir, self.opts["sigma"], self.device)
            paths.append(os.path.join(self.out, "test.json"))
            with open(paths[-1], "w") as f:
                json.dump({"checkpoint": best, "step": self.best_step, **results}, f, indent=1)
            print(f"test images ({self.test_dir}), sigma {self.opts['sigma']:g}, best model (step "
                  f"{self.best_step}): noisy "
                  f"{results['mean_noisy_psnr']:.2f} dB -> denoised {results['mean_psnr']:.2f} dB, "
                  f"SSIM {results['mean_ssim']:.3f}")
        return paths


def main(argv=None):
    given, resume = parse_args(argv)
    opts, ckpt = settings(given, resume)
    if opts["threads"]:
        from minigrad.threads import set_num_threads
        set_num_threads(opts["threads"])
    run = Run(opts, ckpt)
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum, frame):
        if run.stop_requested:                # a second Ctrl-C: stop at once (last.npz is safe)
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        run.stop_requested = True
        print("\ninterrupted: finishing this step, then saving (Ctrl-C again to quit at once)",
              file=sys.stderr)

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        print(f"training {opts['model']} ({run.model.num_parameters():,} parameters) on "
              f"{len(run.sampler.images)} images, sigma {opts['sigma']:g}, {opts['steps']} steps of "
              f"{opts['batch_size']} crops of {opts['crop']}x{opts['crop']}, output in {run.out}"
              + (f", resuming at step {run.step}" if ckpt is not None else ""))
        run.train()
    finally:
        signal.signal(signal.SIGINT, previous)
    if run.stop_requested:
        print(f"saved step {run.step} in {os.path.join(run.out, 'last.npz')}; continue with: "
              f"python train/denoise.py --out {run.out} --resume", file=sys.stderr)
        return 130
    for path in run.finish():
        print(f"wrote {path}")
    print(f"best validation PSNR {run.best:.2f} dB (checkpoint {os.path.join(run.out, 'best.npz')})")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
