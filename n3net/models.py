"""The networks of the paper's Table 1, by name, with the configuration to rebuild them.

    model = build_model("n3net")                  # or "n3net-light", "knn-block", "dncnn17", ...
    model.config                                   # {"name": "n3net", ...}: enough to rebuild it
    build_model(**model.config)                    # the same architecture
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


def build_model(name, **options):
    """Build a model by name; options override the defaults (e.g. k=5, in_channels=3)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    cls, defaults = MODELS[name]
    model = cls(**{**defaults, **options})
    model.config = {"name": name, **options}
    return model
