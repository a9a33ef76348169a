"""One training run: model, optimiser, schedule, random state, data and output folder, with the
training loop, validation, checkpoints and the pictures at the end (train/denoise.py is its CLI)."""
import dataclasses
import json
import math
import os
import time

import numpy as np
from tqdm import tqdm

from layers import MSELoss
from minigrad import init, save, to_device
from minigrad.optim import ExponentialDecayLR, HalfLifeLR, clip_grad_norm
from n3net import build_model
from n3net.collapse import weight_report
from n3net.diagnostics import n3_blocks, saturation

from .data import DEFAULT_DATA, CropSampler, add_noise, load_folder
from .errors import TrainingError
from .evaluation import evaluate_folder
from .inference import FORMAT, crops_seen, denoise, load_checkpoint, model_from_checkpoint, require_device
from .metrics import psnr
from .plots import plot_curves, plot_examples
from .records import read_jsonl
from .recipe import decay_to_data, group_names, make_optimizer

N3_MODELS = ("n3net", "n3net-light")


def data_folders(data):
    """(train, val, test) folders for --data (see --help)."""
    if data is None:
        data = DEFAULT_DATA
    if not os.path.isdir(data):
        raise FileNotFoundError(f"data folder {data} does not exist")
    if os.path.isdir(os.path.join(data, "train")):
        split = [os.path.join(data, name) for name in ("train", "val", "test")]
        return tuple(f if os.path.isdir(f) else os.path.join(DEFAULT_DATA, os.path.basename(f)) for f in split)
    return data, os.path.join(DEFAULT_DATA, "val"), os.path.join(DEFAULT_DATA, "test")


def training_images(train_dir, extra_train, crop):
    """The training images of a run: those of train_dir, and those of the folder extra_train
    (--extra-train) unless it is None; each at least crop pixels on both sides."""
    images = list(load_folder(train_dir, min_size=crop).values())
    if extra_train is not None:
        images += load_folder(extra_train, min_size=crop).values()
    return images


def default_init(opts):
    """The run's initialisation: --init, or the model's best ("released" for N3 models)."""
    if opts.get("init") is not None:
        return opts["init"]
    return "released" if opts["model"] in N3_MODELS else "default"


def model_options(opts):
    """build_model's options for the run's --model, --depth, --features, --init, --variant,
    --distance-norm, --max-temperature and --no-distance-bn.  The project's initialisation
    ("default") starts every DnCNN as the identity (zero_init_residual); "released" is the
    released N3Net code's, without that.  Without --init, N3 models take "released" and the
    others "default": what trained each best (docs/experiments.md)."""
    options = {k: opts[k] for k in ("depth", "features") if opts.get(k) is not None}
    if default_init(opts) != "default":
        options["init"] = default_init(opts)
    else:
        options["zero_init_residual"] = True
    n3_options = {}
    if opts.get("variant", "paper") != "paper":
        n3_options["variant"] = opts["variant"]
    if not opts.get("distance_bn", True):
        n3_options["distance_bn"] = False
    if opts.get("distance_norm", "batch") != "batch":
        n3_options["distance_norm"] = opts["distance_norm"]
    for bound in ("max_temperature", "min_temperature"):
        if opts.get(bound) is not None:
            n3_options[bound] = opts[bound]
    if n3_options and opts["model"] not in N3_MODELS:
        raise ValueError(f"--variant, --distance-norm, --max-temperature, --min-temperature and --no-distance-bn "
                         f"apply to the N3 block: use them with {' or '.join(N3_MODELS)}, not {opts['model']}")
    return {**options, **n3_options}


class Run:
    """One training run: model, optimiser, schedule, random state, data, and its output folder."""

    def __init__(self, config, ckpt=None):
        """config: the TrainConfig (checked); ckpt: the checkpoint to continue from, or None."""
        if ckpt is None:       # the initialisation it takes is recorded in the checkpoint's train_args
            config = dataclasses.replace(config, init=default_init(config.to_dict()))
        self.config = config
        self.out = config.out
        self.device = config.device
        require_device(self.device)
        if ckpt is None:
            init.manual_seed(config.seed)
            self.model = build_model(config.model, **model_options(config.to_dict()))
        else:
            self.model = model_from_checkpoint(ckpt)
        trunk = json.loads(ckpt["train_args"]) if ckpt is not None else {}
        # a cool-down branch starts (rather than resumes)
        branching = config.cooldown_from is not None and trunk.get("cooldown_from") != config.cooldown_from
        # a resumed run or a branch may raise (or lower) the N3 blocks' temperature floor
        if ckpt is not None and config.min_temperature is not None and \
                config.min_temperature != self.model.config.get("min_temperature"):
            self._hold_temperatures_above(config.min_temperature)
        need = self.model.min_size() if hasattr(self.model, "min_size") else 1
        if config.crop < need:
            raise ValueError(f"--crop {config.crop} is too small for {config.model}: its N3/KNN blocks "
                           f"need crops of at least {need} pixels")
        train_dir, val_dir, test_dir = data_folders(config.data)
        self.sampler = CropSampler(training_images(train_dir, config.extra_train, config.crop), config.crop)
        self.val_images = self._val_set(load_folder(val_dir), config.val_crop, config.sigma)
        self.test_dir = test_dir
        self.model.to(self.device)
        self.model.set_input_grad(False)              # the input is data: its gradient is never used
        self.optimizer = make_optimizer(self.model, config.to_dict())
        self.group_names = group_names(self.model, config.to_dict())
        self.schedule = self._schedule(config, ckpt)
        self.rng = np.random.default_rng(config.seed)
        self.step, self.best, self.best_step = 0, -np.inf, 0
        self.seconds = 0.0                   # wall time spent in train(), validations included
        self.crops = 0                       # training crops seen (a branch may change --batch-size)
        # --average-last: the sum (float64) of the sampled states and how many there are
        self.average_sum, self.average_count = None, 0
        # (a run given more steps than it planned starts its average again: its last N steps are others)
        if ckpt is not None and "average" in ckpt and not branching and trunk.get("steps") == config.steps:
            self.average_sum = {k: np.asarray(v, np.float64) for k, v in ckpt["average"]["sum"].items()}
            self.average_count = int(ckpt["average"]["count"])
        if ckpt is not None:
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.rng.bit_generator.state = json.loads(ckpt["rng"])
            if branching and config.branch_seed is not None:    # the branch's own crops and noise
                self.rng = np.random.default_rng(config.branch_seed)
            self.step, self.best = int(ckpt["step"]), float(ckpt["best_val_psnr"])
            self.best_step = int(ckpt["best_val_step"])
            self.seconds = float(ckpt.get("train_seconds", 0.0))        # the branch's: its trunk's too
            self.crops = crops_seen(ckpt)                                # the branch's: its trunk's too
            if branching:              # its rate falls from the trunk's, and its best is its own
                trunk_schedule = self._schedule(dataclasses.replace(
                    config, lr_half_life=trunk.get("lr_half_life"), lr_end=trunk.get("lr_end", config.lr_end)), ckpt)
                trunk_schedule.load_state_dict(ckpt["scheduler"])
                self.schedule = ExponentialDecayLR(self.optimizer, config.lr_end, config.steps)
                self.schedule.take_over(trunk_schedule)
                self.best, self.best_step = -np.inf, self.step
            else:
                self.schedule.load_state_dict(ckpt["scheduler"])
            if isinstance(self.schedule, ExponentialDecayLR) and self.schedule.total_steps != config.steps:
                self.schedule.extend(config.steps)           # a run given more steps than it planned
        self.loss_fn = MSELoss()
        self.has_n3 = bool(n3_blocks(self.model))
        self.diagnostics = None
        self.stop_requested = False
        self.last_saved = self.step
        os.makedirs(self.out, exist_ok=True)
        self.log = os.path.join(self.out, "metrics.jsonl")
        self.records = self._read_log()

    def _hold_temperatures_above(self, floor):
        """Set the N3 blocks' temperature floor (N3Block.min_temperature: a clamp, not a weight)."""
        blocks = n3_blocks(self.model)
        if not blocks:
            raise ValueError(f"--min-temperature applies to the N3 blocks: {self.config.model} has none")
        for _, block in blocks:
            block.hold_temperatures(floor, block.max_temperature)
        self.model.config["min_temperature"] = floor

    def _schedule(self, config, ckpt):
        """The learning rate schedule: halving every --lr-half-life steps, or decaying over the steps
        the run was planned for (a resumed run's own plan, extended in __init__ if it was given more)."""
        if config.lr_half_life:
            return HalfLifeLR(self.optimizer, config.lr_half_life, config.lr_end)
        planned = config.steps if ckpt is None else json.loads(ckpt["train_args"])["steps"]
        return ExponentialDecayLR(self.optimizer, config.lr_end, planned)

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
        records = [r for r in read_jsonl(self.log) if r["step"] <= self.step]
        with open(self.log, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
        return records

    def _append(self, record):
        self.records.append(record)
        with open(self.log, "a") as f:
            f.write(json.dumps(record) + "\n")

    def checkpoint(self, name, averaged=None):
        """Write the run's state to OUT/name (averaged: the model holds the average of that many states)."""
        state = {"format": FORMAT, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.schedule.state_dict(), "step": self.step,
                 "rng": json.dumps(self.rng.bit_generator.state), "config": json.dumps(self.model.config),
                 "train_args": json.dumps(self.config.to_dict()), "best_val_psnr": float(self.best),
                 "best_val_step": self.best_step, "train_seconds": self.seconds, "crops": self.crops}
        if averaged:
            state["averaged"] = averaged
        elif self.average_count:                  # the average so far, so that a resumed run goes on with it
            state["average"] = {"sum": self.average_sum, "count": self.average_count}
        save(state, os.path.join(self.out, name))

    def samples_average(self, step):
        """Whether the state after this step joins the average (--average-last N): every
        --checkpoint-every steps over the last N steps, and the last step."""
        last = self.config.average_last
        return bool(last) and step >= self.config.steps - last and \
            (step % self.config.checkpoint_every == 0 or step == self.config.steps)

    def _accumulate(self):
        """Add the model's state (parameters and batch-norm statistics) to the average's sum."""
        total = self.average_sum or {}
        self.average_sum = {name: total.get(name, 0.0) + value.astype(np.float64)
                            for name, value in self.model.state_dict().items()}
        self.average_count += 1

    def validate_average(self):
        """Validate the average of the sampled states and keep it in average.npz; if it validates
        best it is best.npz too.  The model keeps its last state."""
        last = self.model.state_dict()
        self.model.load_state_dict({name: (total / self.average_count).astype(last[name].dtype)
                                    for name, total in self.average_sum.items()})
        value = self._val_psnr()
        self._append({"step": self.step, "val_psnr_average": value, "averaged": self.average_count})
        self.checkpoint("average.npz", averaged=self.average_count)   # kept (and tested) even when not best
        if value > self.best:
            self.best, self.best_step = value, self.step
            self.checkpoint("best.npz", averaged=self.average_count)
        self.model.load_state_dict(last)
        return value

    def validates(self, step):
        """Whether the run validates after this step: every --val-every steps and at the last."""
        return step % self.config.val_every == 0 or step == self.config.steps

    def _diverged(self, what):
        """The error that stops a run whose loss or gradients stopped being finite."""
        return TrainingError(f"{what}; the last good state is in {os.path.join(self.out, 'last.npz')} "
                        f"(step {self.last_saved}); start a new run with a lower --lr")

    def train_step(self):
        sigma = self.config.sigma
        clean = self.sampler.sample(self.config.batch_size, self.rng)
        noisy = add_noise(clean, sigma, self.rng)
        self.model.train()
        estimate = self.model.forward(to_device(noisy, self.device))
        loss = float(self.loss_fn.forward(estimate, to_device(clean, self.device)))
        if not np.isfinite(loss):
            raise self._diverged(f"the loss became {loss} at step {self.step + 1}")
        self.model.zero_grad()
        scale = self.config.loss_scale                   # the loss is scale * MSE; MSE is logged
        self.model.backward(self.loss_fn.backward(scale))
        # the N3 blocks' diagnostics and the decay against the data, on the steps that are
        # validated (before clipping)
        self.diagnostics = self._diagnostics() if self.validates(self.step + 1) else None
        self.grad_norm = clip_grad_norm(self.model.parameters(), scale * self.config.clip or math.inf) / scale
        if not np.isfinite(self.grad_norm):         # checked before the update: the weights stay good
            raise self._diverged(f"the gradients became {self.grad_norm} at step {self.step + 1} (loss {loss:.3g})")
        self.optimizer.step()
        self.schedule.step()
        self.step += 1
        self.crops += len(clean)
        return loss

    def _diagnostics(self):
        """For the log: the saturation and weight reports of the N3 blocks, and decay / data
        gradient per parameter group (train/recipe.py)."""
        record = {"decay_to_data": decay_to_data(self.optimizer, self.group_names)}
        if self.has_n3:
            record["n3"] = saturation(self.model)
            record["n3_weights"] = weight_report(self.model)
        return record

    def _val_psnr(self):
        """The model's mean PSNR on the validation crops."""
        return float(np.mean([psnr(clean, denoise(self.model, noisy, self.device))
                              for _, clean, noisy in self.val_images]))

    def validate(self):
        value = self._val_psnr()
        self._append({"step": self.step, "val_psnr": value})
        if value > self.best:
            self.best, self.best_step = value, self.step
            self.checkpoint("best.npz")
        return value

    def train(self):
        if self.step == 0:
            self.checkpoint("last.npz")
        start, budget = time.monotonic(), self.config.minutes
        bar = tqdm(total=self.config.steps, initial=self.step, desc=self.config.model, unit="step",
                   dynamic_ncols=True)
        val_psnr = None
        while self.step < self.config.steps and not self.stop_requested:
            lr = self.optimizer.param_groups[0]["lr"]
            tick = time.monotonic()
            loss = self.train_step()
            self.seconds += time.monotonic() - tick
            record = {"step": self.step, "loss": loss, "lr": lr, "grad_norm": self.grad_norm,
                      "seconds": round(self.seconds, 3)}
            if self.diagnostics:
                record.update(self.diagnostics)
            elif self.step == 1 and self.has_n3:     # the weights' size after the first step, for reference
                record["n3_weights"] = weight_report(self.model)
            self._append(record)
            validated = self.validates(self.step)
            if validated:
                tick = time.monotonic()
                val_psnr = self.validate()
                self.seconds += time.monotonic() - tick
            if self.samples_average(self.step):
                self._accumulate()
            if self.step % self.config.checkpoint_every == 0:
                self.checkpoint("last.npz")
                self.last_saved = self.step
            bar.set_postfix(loss=f"{loss:.2e}", lr=f"{lr:.1e}",
                            val=f"{val_psnr:.2f}dB" if val_psnr is not None else "-")
            bar.update(1)
            if budget is not None and time.monotonic() - start > 60 * budget:
                bar.write(f"time budget of {budget:g} minutes used up at step {self.step}")
                if not validated:
                    self.validate()                  # so that best.npz has seen the last state
                break
        bar.close()
        self.checkpoint("last.npz")
        self.last_saved = self.step
        if self.average_count and self.step == self.config.steps:
            value = self.validate_average()
            print(f"the average of the last {self.config.average_last} steps ({self.average_count} states) "
                  f"validates {value:.2f} dB")

    def finish(self):
        """Curves, and with the best model by validation PSNR (the last one if best.npz is gone: a
        resumed run whose folder kept only last.npz), example pictures and the test evaluation (of
        the average too, into test_average.json, when --average-last's average did not validate
        best); returns the paths written."""
        paths = [os.path.join(self.out, "curves.png")]
        plot_curves(self.records, paths[0])
        chosen, step, which = os.path.join(self.out, "best.npz"), self.best_step, "best"
        chosen_is_average = False                 # last.npz never holds the average
        if os.path.exists(chosen):
            best = load_checkpoint(chosen)
            self.model.load_state_dict(best["model"])
            chosen_is_average = "averaged" in best
        else:
            chosen, step, which = os.path.join(self.out, "last.npz"), self.step, "last"
        examples = [(name, noisy, denoise(self.model, noisy, self.device), clean)
                    for name, clean, noisy in self.val_images]
        paths.append(os.path.join(self.out, "examples.png"))
        plot_examples(examples, paths[1])
        if self.config.test:
            paths.append(self._test(chosen, step, f"{which} model", "test.json"))
            average = os.path.join(self.out, "average.npz")
            if os.path.exists(average) and not chosen_is_average:   # the average lost the validation
                ckpt = load_checkpoint(average)
                self.model.load_state_dict(ckpt["model"])
                which = f"the average of {int(ckpt['averaged'])} states"
                paths.append(self._test(average, int(ckpt["step"]), which, "test_average.json"))
        return paths

    def _test(self, checkpoint, step, which, name):
        """The test evaluation of the model now loaded (from `checkpoint`, at `step`) into OUT/name."""
        results = evaluate_folder(self.model, self.test_dir, self.config.sigma, self.device)
        path = os.path.join(self.out, name)
        with open(path, "w") as f:
            json.dump({"checkpoint": checkpoint, "step": step, **results}, f, indent=1)
        print(f"test images ({self.test_dir}), sigma {self.config.sigma:g}, {which} (step {step}): "
              f"noisy {results['mean_noisy_psnr']:.2f} dB -> denoised {results['mean_psnr']:.2f} dB, "
              f"SSIM {results['mean_ssim']:.3f}")
        return path
