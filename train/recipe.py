"""The training recipe: which parameters get weight decay and which learning rate, the optimiser,
and the scale of the loss (docs/experiments.md, "The recipe study").

    groups = parameter_groups(model, recipe)     # [(name, {"params": [...], "weight_decay": ..., "lr": ...})]
    optimizer = make_optimizer(model, recipe)    # Adam or AdamW over those groups
    names = group_names(model, recipe)           # the groups' names, in the optimiser's order

recipe is a dict of the training options that shape the update (train/denoise.py's names):

    lr              the learning rate of every group but the N3 blocks' (n3_lr_scale)
    weight_decay    the decay's size
    optimizer       "adam" (L2 decay added to the gradient, as the released code) or "adamw"
                    (decoupled decay, minigrad/optim.py)
    decay_scope     "all": every convolution weight and every batch-norm scale, the N3 blocks'
                    included (the released code); "backbone": only the convolution weights
                    outside the N3 blocks' embedding and temperature CNNs.  The others are
                    scale-invariant (a convolution followed by a batch-norm, the distance
                    batch-norm's scale before a softmax over a temperature) or nearly so, and
                    under Adam's L2 decay they shrink until the normalisation's eps dominates:
                    the N3 blocks die (docs/n3net.md, "Why N3 blocks collapse")
    n3_lr_scale     the N3 blocks' parameters (embedding and temperature CNNs, distance
                    batch-norm) learn at lr * n3_lr_scale
    freeze_n3       the N3 blocks' embedding and temperature CNNs are not trained at all (they stay
                    at their initialisation; their batch-norms' running statistics still follow
                    the data); the distance batch-norm still learns
    loss_scale      the loss is loss_scale * MSE (the released code's per-crop
                    0.5 * SSE * 1600 / crop^2 is 800 * MSE for crops of 80 x 80); with Adam only
                    the decay and eps see the difference

A run saved before these options existed has none of them in its checkpoint: LEGACY_RECIPE is what
it trained with, two groups ("decay": every weight, "no_decay": every bias), so that it resumes.
"""
from minigrad.optim import Adam, AdamW

from n3net.diagnostics import n3_blocks

OPTIMIZERS = {"adam": Adam, "adamw": AdamW}
DECAY_SCOPES = ("all", "backbone")
RECIPE_KEYS = ("optimizer", "decay_scope", "n3_lr_scale", "freeze_n3", "loss_scale")
LEGACY_RECIPE = dict(optimizer="adam", decay_scope=None, n3_lr_scale=1.0, freeze_n3=False, loss_scale=1.0)


def n3_parameter_ids(model, cnns_only=False):
    """ids of the N3 blocks' parameters: embedding and temperature CNNs, and unless cnns_only the
    distance batch-norm."""
    ids = set()
    for _, block in n3_blocks(model):
        modules = [block.embedding, block.temperature]
        if block.normaliser is not None and not cnns_only:
            modules.append(block.normaliser)
        ids |= {id(p) for m in modules for p in m.parameters()}
    return ids


def _named_groups(model, recipe):
    """(name, params, decays, lr scale) of every group, empty ones included."""
    named = list(model.named_parameters())
    if recipe.get("decay_scope") is None:                # LEGACY_RECIPE: the runs before the study
        return [("decay", [p for n, p in named if n.endswith("weight")], True, 1.0),
                ("no_decay", [p for n, p in named if not n.endswith("weight")], False, 1.0)]
    n3 = n3_parameter_ids(model)
    frozen = n3_parameter_ids(model, cnns_only=True) if recipe["freeze_n3"] else set()
    everywhere = recipe["decay_scope"] == "all"
    backbone_conv, backbone_scale, n3_weight, n3_bias, bias = [], [], [], [], []
    for name, p in named:
        if id(p) in frozen:
            continue
        weight = name.endswith("weight")
        if id(p) in n3:
            (n3_weight if weight else n3_bias).append(p)
        elif weight:
            (backbone_conv if p.data.ndim == 4 else backbone_scale).append(p)
        else:
            bias.append(p)
    scale = recipe["n3_lr_scale"]
    return [("conv_weights", backbone_conv, True, 1.0), ("bn_scales", backbone_scale, everywhere, 1.0),
            ("n3_weights", n3_weight, everywhere, scale), ("n3_biases", n3_bias, False, scale),
            ("biases", bias, False, 1.0)]


def parameter_groups(model, recipe):
    """[(name, group)] for the optimiser, the empty groups left out."""
    return [(name, {"params": params, "weight_decay": recipe["weight_decay"] if decays else 0.0,
                    "lr": recipe["lr"] * lr_scale})
            for name, params, decays, lr_scale in _named_groups(model, recipe) if params]


def group_names(model, recipe):
    return [name for name, _ in parameter_groups(model, recipe)]


def make_optimizer(model, recipe):
    """The recipe's optimiser over its parameter groups."""
    if recipe["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {recipe['optimizer']!r}: use one of {', '.join(OPTIMIZERS)}")
    groups = [group for _, group in parameter_groups(model, recipe)]
    return OPTIMIZERS[recipe["optimizer"]](groups, lr=recipe["lr"])


def decay_to_data(optimizer, names):
    """Per group with weight decay: ||weight_decay * p|| / ||dL/dp||, the L2 decay's pull against the
    data gradient (above 1 the decay dominates the step; for AdamW, which keeps the decay out of
    the gradient, the same ratio says what an L2 decay of that size would do).  From the gradients
    of the last backward, before clipping."""
    ratios = {}
    for name, group in zip(names, optimizer.param_groups):
        if not group["weight_decay"]:
            continue
        decay = sum(float((p.data * p.data).sum()) for p in group["params"]) ** 0.5 * group["weight_decay"]
        data = sum(float((p.grad * p.grad).sum()) for p in group["params"]) ** 0.5
        ratios[name] = decay / data if data > 0 else float("inf")
    return ratios
