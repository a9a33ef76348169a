"""TrainConfig: every option of a training run, its default and its help text, defined once.

train/denoise.py builds its command line from these fields, Run (train/run.py) reads them, and
the checkpoint records them (train_args) so that a run resumes with exactly its own options.

    config = TrainConfig(model="dncnn17", steps=2000)         # in Python
    python train/denoise.py --model dncnn17 --steps 2000      # the same run from the shell
"""
import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Optional

from n3net import MODELS

from .cli import HELP, check_sigma
from .recipe import DECAY_SCOPES, OPTIMIZERS


def option(default, help, flag=None, **argparse_options):
    """A field of TrainConfig: its default and help text ("(default ...)" is added unless the help
    says it), and how the command line spells it (flag, choices, ...)."""
    return field(default=default, metadata=dict(help=help, flag=flag, **argparse_options))


@dataclass(frozen=True)
class TrainConfig:
    # the network
    model: str = option("n3net-light", "network to train", choices=sorted(MODELS))
    depth: Optional[int] = option(None, "layers of each DnCNN (default: the model's own, 17 for dncnn17, "
                                  "6 per block for n3net)")
    features: Optional[int] = option(None, "feature channels of the convolutions (default 64)")
    init: Optional[str] = option(None, "initial weights: default (the layers' own, with every DnCNN starting as "
                                 "the identity), released (the released N3Net code's) or he (released, with the "
                                 "N3 blocks' CNNs drawn He fan-out too) (default: released for n3net and "
                                 "n3net-light, default for the others)", choices=["default", "released", "he"])
    variant: str = option("paper", "relaxation of the N3 blocks: paper (Eqs. 8-11) or reference (the released "
                          "code's)", choices=["paper", "reference"])
    distance_norm: str = option("batch", "how the N3 blocks normalise their distances: batch (one batch-norm over "
                                "the batch, as the released code) or query (each query's distances over its own "
                                "candidates)", choices=["batch", "query"])
    distance_bn: bool = option(True, "N3 blocks without the batch-norm of their distances (for comparison)",
                               flag="--no-distance-bn")
    max_temperature: Optional[float] = option(None, "hold the N3 blocks' temperatures at most this (they start at "
                                              "about 0.1; 0.2 keeps a block from averaging its whole window) "
                                              "(default: no bound)")
    min_temperature: Optional[float] = option(None, "hold the N3 blocks' temperatures at least this (a floor keeps "
                                              "a block's selection from becoming hard; a resumed run or a cool-down "
                                              "branch may change it) (default 1e-4)")
    # the data
    sigma: float = option(25.0, "noise standard deviation on the 0-255 scale")
    crop: int = option(80, "side of the square training crops in pixels (N3 blocks need at least 80; a "
                           "cool-down branch may change it)")
    batch_size: int = option(4, "crops per step (a cool-down branch may change it)")
    data: Optional[str] = option(None, "image folder: with train/ val/ test/ subfolders, or a flat folder of "
                                 "training images (then validation and test use the embedded images) "
                                 "(default: the embedded data/images)")
    extra_train: Optional[str] = option(None, "a second folder of training images, sampled with the training "
                                        "images of --data (each image by its area); a resumed run or a "
                                        "cool-down branch may add one (e.g. data/images/extra) (default: none)")
    # the optimisation
    steps: int = option(800, "training steps; the learning rate decays over them (unless --lr-half-life); a "
                        "resumed run may be given more, and goes on (its decay re-planned from where it is)")
    minutes: Optional[float] = option(None, "stop after this much training time even if steps remain "
                                      "(default: no limit)")
    lr: float = option(2e-3, "initial learning rate")
    lr_end: float = option(1e-4, "learning rate at the last step; it decays exponentially from --lr (with "
                                 "--lr-half-life: the floor, which a resumed run may change if that does not "
                                 "raise its rate)")
    lr_half_life: Optional[int] = option(None, "halve the learning rate every this many steps, down to --lr-end, "
                                         "whatever --steps: a run extended to more steps then continues exactly "
                                         "as one planned that long (default: decay over --steps)")
    cooldown_from: Optional[str] = option(None, "a cool-down branch: start from this checkpoint of another run "
                                          "(its weights, optimiser state, step and random state; that run is "
                                          "left as it is) and decay the learning rate from the checkpoint's "
                                          "to --lr-end over --cooldown steps (models/README.md) (default: none)")
    cooldown: Optional[int] = option(None, "steps of the cool-down branch (with --cooldown-from)")
    branch_seed: Optional[int] = option(None, "a cool-down branch draws its crops and noise from a new generator "
                                        "with this seed (two branches of one checkpoint then see different "
                                        "data) (default: the checkpoint's generator goes on)")
    average_last: Optional[int] = option(None, "average the weights and batch-norm statistics of the run's last this "
                                         "many steps, one sample every --checkpoint-every steps and the last step "
                                         "(Izmailov et al. 2018); the average is validated at the end and is "
                                         "best.npz if it validates best (models/README.md) (default: none)")
    optimizer: str = option("adam", "adam (weight decay added to the gradient, as the released code) or adamw "
                            "(decoupled weight decay)", choices=list(OPTIMIZERS))
    weight_decay: float = option(1e-4, "size of the weight decay, on the parameters --decay-scope names")
    decay_scope: str = option("backbone", "what the weight decay applies to: all (every convolution weight and "
                              "batch-norm scale, the N3 blocks' too) or backbone (the convolution weights outside "
                              "the N3 blocks' embedding and temperature CNNs; under all, the N3 blocks collapse: "
                              "docs/experiments.md)", choices=list(DECAY_SCOPES))
    n3_lr_scale: float = option(1.0, "the N3 blocks' parameters learn at --lr times this (10 helped N3Net-light "
                                "and hurt the full N3Net: docs/experiments.md)")
    freeze_n3: bool = option(False, "keep the N3 blocks' embedding and temperature CNNs at their initial "
                             "weights (for comparison)", flag="--freeze-n3")
    loss_scale: float = option(1.0, "train on this times the mean squared error (800: the released code's loss "
                               "for 80x80 crops); --clip applies to the MSE's gradient")
    clip: float = option(1.0, "clip the gradients' global L2 norm to this value, 0 for no clipping (it stops "
                         "the rare loss spikes of small batches; a resumed run may change it)")
    seed: int = option(0, "seed for the initial weights, the crops and the noise")
    # where and how
    device: str = option("cpu", HELP["device"], choices=["cpu", "gpu"])
    threads: Optional[int] = option(None, HELP["threads"])
    out: str = option("runs/denoise", "output folder for checkpoints, logs and pictures")
    val_every: int = option(50, "validate every this many steps")
    val_crop: int = option(256, "validate on the central crop of this size of each validation image, 0 for "
                           "whole images")
    checkpoint_every: int = option(25, "write last.npz every this many steps")
    test: bool = option(True, "skip the evaluation on the test images at the end", flag="--no-test")

    def check(self):
        """self, if every value can work; ValueError naming the option otherwise."""
        positive = ["crop", "batch_size", "steps", "val_every", "checkpoint_every", "lr", "lr_end",
                    "n3_lr_scale", "loss_scale"]
        optional = [k for k in ("depth", "features", "threads", "minutes", "lr_half_life", "max_temperature",
                                "min_temperature", "cooldown", "average_last")
                    if getattr(self, k) is not None]
        for key in positive + optional:
            if not getattr(self, key) > 0:
                raise ValueError(f"--{flag_name(key)} must be positive, got {getattr(self, key)}")
        if (self.cooldown is None) != (self.cooldown_from is None):
            raise ValueError("a cool-down branch needs both --cooldown-from CHECKPOINT and --cooldown STEPS")
        if self.branch_seed is not None and self.cooldown is None:
            raise ValueError("--branch-seed applies to a cool-down branch (--cooldown-from): a new run takes --seed")
        if self.cooldown is not None and self.lr_half_life is not None:
            raise ValueError("a cool-down branch decays over --cooldown steps: drop --lr-half-life")
        check_sigma(self.sigma)
        for key in ("weight_decay", "val_crop", "clip"):
            if getattr(self, key) < 0:
                raise ValueError(f"--{flag_name(key)} must not be negative, got {getattr(self, key)}")
        return self

    def to_dict(self):
        return dataclasses.asdict(self)


# options that a resumed run may change; all others come from its checkpoint
RESUMABLE = {"minutes", "device", "val_every", "checkpoint_every", "test", "threads", "steps", "min_temperature",
             "lr_end",          # --lr-end: a half-life run's floor, not above the rate reached (denoise.py)
             "extra_train",     # more training images for a run that goes on (models/README.md)
             "clip"}            # a tighter clip for a run whose gradients spike (models/README.md)
# options that a cool-down branch (--cooldown-from) may set besides those: its schedule, its averaging,
# its batch size and crop size (a branch with larger batches or crops, the trunk's state otherwise:
# models/README.md)
BRANCHABLE = RESUMABLE | {"cooldown_from", "cooldown", "lr_end", "average_last", "batch_size", "crop",
                          "branch_seed"}
# options of one invocation only: a resumed run or a branch takes them as given, or their defaults,
# never from its checkpoint (a run once continued with --no-test would otherwise never test again)
PER_INVOCATION = {"test"}


def flag_name(key):
    return key.replace("_", "-")


def add_arguments(parser):
    """One command-line option per field of TrainConfig; unset options parse as None (so that a
    resumed run can tell what was given)."""
    for f in dataclasses.fields(TrainConfig):
        meta = dict(f.metadata)
        help_text, flag = meta.pop("help"), meta.pop("flag") or f"--{flag_name(f.name)}"
        if f.type is bool:                          # a flag that sets the opposite of the default
            parser.add_argument(flag, dest=f.name, action="store_const", const=not f.default, help=help_text)
            continue
        if "(default" not in help_text:
            help_text += f" (default {f.default:g})" if isinstance(f.default, float) else f" (default {f.default})"
        kind = next(t for t in typing.get_args(f.type) or (f.type,) if t is not type(None))   # Optional[int] -> int
        parser.add_argument(flag, dest=f.name, type=kind, help=help_text, **meta)
    return parser


def given_options(args):
    """{field: value} of the options given on the command line."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}
