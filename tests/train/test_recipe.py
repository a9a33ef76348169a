import numpy as np
import pytest

from minigrad.optim import Adam, AdamW
from n3net import build_model
from train.recipe import LEGACY_RECIPE, decay_to_data, make_optimizer, parameter_groups

SMALL = dict(depth=3, features=4, k=2, intermediate_channels=2, patch_size=4, stride=2, match_window=4)
RECIPE = dict(lr=1e-3, weight_decay=1e-4, optimizer="adam", decay_scope="all", n3_lr_scale=1.0,
              freeze_n3=False, loss_scale=1.0)


def groups(model, **changes):
    return {name: group for name, group in parameter_groups(model, {**RECIPE, **changes})}


def names(model, group):
    ids = {id(p) for p in group["params"]}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def test_every_parameter_in_exactly_one_group():
    model = build_model("n3net", **SMALL)
    for changes in ({}, {"decay_scope": "backbone"}, {"n3_lr_scale": 10.0}, LEGACY_RECIPE):
        recipe = {**RECIPE, **changes}
        found = [id(p) for _, g in parameter_groups(model, recipe) for p in g["params"]]
        assert sorted(found) == sorted(id(p) for p in model.parameters()), changes


def test_decay_scopes():
    model = build_model("n3net-light", **SMALL)
    everywhere, backbone = groups(model), groups(model, decay_scope="backbone")
    decayed = {name for g in everywhere.values() if g["weight_decay"] for name in names(model, g)}
    assert "stages.1.embedding.0.weight" in decayed and "stages.1.distance_bn.weight" in decayed
    assert "stages.0.body.3.weight" in decayed                       # a DnCNN batch-norm scale
    assert not any(name.endswith("bias") for name in decayed)
    decayed = {name for g in backbone.values() if g["weight_decay"] for name in names(model, g)}
    assert decayed == {n for n, p in model.named_parameters() if p.data.ndim == 4 and ".stages.1." not in f".{n}"}


def test_n3_learning_rate_and_freezing():
    model = build_model("n3net-light", **SMALL)
    scaled = groups(model, n3_lr_scale=10.0)
    assert scaled["n3_weights"]["lr"] == scaled["n3_biases"]["lr"] == 1e-2 and scaled["conv_weights"]["lr"] == 1e-3
    assert names(model, scaled["n3_biases"]) >= {"stages.1.distance_bn.bias", "stages.1.embedding.6.bias"}
    frozen = groups(model, freeze_n3=True)
    left = {name for g in frozen.values() for name in names(model, g)}
    assert not any(".embedding." in n or ".temperature." in n for n in left)
    assert names(model, frozen["n3_weights"]) == {"stages.1.distance_bn.weight"}


def test_dncnn_has_no_n3_groups_and_legacy_has_two():
    assert set(groups(build_model("dncnn17", depth=3, features=4))) == {"conv_weights", "bn_scales", "biases"}
    model = build_model("n3net-light", **SMALL)
    legacy = parameter_groups(model, {**RECIPE, **LEGACY_RECIPE})
    assert [name for name, _ in legacy] == ["decay", "no_decay"]
    assert names(model, legacy[0][1]) == {n for n, _ in model.named_parameters() if n.endswith("weight")}


def test_optimiser_and_decay_ratio():
    model = build_model("n3net-light", **SMALL)
    assert type(make_optimizer(model, RECIPE)) is Adam
    assert type(make_optimizer(model, {**RECIPE, "optimizer": "adamw"})) is AdamW
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        make_optimizer(model, {**RECIPE, "optimizer": "sgd"})
    opt = make_optimizer(model, RECIPE)
    named = [name for name, _ in parameter_groups(model, RECIPE)]
    for p in model.parameters():
        p.grad[...] = 2e-4 * p.data                                    # the data gradient is 2 x the decay
    ratios = decay_to_data(opt, named)
    assert set(ratios) == {"conv_weights", "bn_scales", "n3_weights"}
    np.testing.assert_allclose(list(ratios.values()), 0.5, rtol=1e-6)
