"""The networks of the paper's Table 1, by name, and rebuilding any model from its configuration.

    model = build_model("n3net")                  # or "n3net-light", "knn-block", "dncnn17", ...
    model.config                                   # {"name": "N3Net", "n_blocks": 3, ...}: every
                                                   # argument it was built with, from its constructor
    build_model(**model.config)                    # the same architecture
    build_model(**N3Net(n_blocks=2, k=5).config)   # a model built directly rebuilds the same way

A configuration names a network of MODELS (with the options that differ from its defaults: the
checkpoints of earlier versions) or a class of CLASSES (with all its arguments).
"""
from .dncnn import DnCNN
from .n3net import N3Net

MODELS = {
    "dncnn17": (DnCNN, dict(depth=17)),
    "dncnn18": (DnCNN, dict(depth=18)),
    "n3net": (N3Net, dict(n_blocks=3)),
    "n3net-light": (N3Net, dict(n_blocks=2)),
    "knn-block": (N3Net, dict(n_blocks=3, block="knn")),
}
CLASSES = {"DnCNN": DnCNN, "N3Net": N3Net}


def build_model(name, **options):
    """Build a model by name (MODELS) or class (CLASSES); options override the defaults (e.g. k=5,
    in_channels=3).  The model keeps its configuration in model.config."""
    if name in CLASSES:
        return CLASSES[name](**options)
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    cls, defaults = MODELS[name]
    return cls(**{**defaults, **options})
