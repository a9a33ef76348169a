import os

import numpy as np
import pytest

from minigrad import init
from n3net import build_model
from n3net.diagnostics import diagnose, n3_blocks, saturation, selection_statistics
from train.data import DEFAULT_DATA, CropSampler, add_noise, load_folder

SMALL = dict(depth=3, features=8, k=3, intermediate_channels=2, patch_size=4, stride=2, match_window=5)


def training_crops(batch, crop=80, seed=0):
    """(noisy, clean) crops of the embedded training images as train/denoise.py draws them."""
    rng = np.random.default_rng(seed)
    sampler = CropSampler(load_folder(os.path.join(DEFAULT_DATA, "train"), min_size=crop).values(), crop)
    clean = sampler.sample(batch, rng)
    return add_noise(clean, 25, rng), clean


@pytest.mark.parametrize("name", ["n3net-light", "n3net"])
def test_fresh_n3_blocks_are_not_saturated(name):
    # the fix this diagnostic pins: with the distance batch-norm, at initialisation (as training
    # builds the model) fewer than 10 % of the queries have a first weight above 0.99; without
    # it about 9 in 10 do
    noisy, clean = training_crops(2)
    for distance_bn, bound in ((True, lambda s: s < 0.10), (False, lambda s: s > 0.5)):
        init.manual_seed(0)
        model = build_model(name, zero_init_residual=True, distance_bn=distance_bn)
        report = diagnose(model, noisy, clean)
        assert len(report) == len(n3_blocks(model)) == (2 if name == "n3net" else 1)
        for block in report:
            assert bound(block["saturated"]), (distance_bn, block)
            assert (block["gap_median"] < 5) == distance_bn


def test_statistics_agree_with_the_weights(rng):
    init.manual_seed(0)
    model = build_model("n3net", **SMALL).double()
    x = rng.random((2, 1, 14, 13))
    model.forward(x)
    for _, block in n3_blocks(model):
        w1, n_eff, logit_std, gap, t, _ = selection_statistics(block)
        B, n1, n2 = block.temperatures().shape
        assert w1.shape == n_eff.shape == logit_std.shape == gap.shape == t.shape == (B * n1 * n2,)
        assert np.all(logit_std > 0)
        assert np.all(n_eff >= 1) and np.all(n_eff <= 1 / w1 ** 2 + 1e-9)   # sum w^2 >= max(w)^2
        assert np.all(gap >= 0) and np.all((w1 > 0) & (w1 <= 1))
        np.testing.assert_allclose(np.sort(t), np.sort(block.temperatures().ravel()))
        # the paper form's first weights are softmax(-D_hat / t): its largest is 1 / sum exp(-gap...)
        # and so at most 1 / (1 + exp(-gap)), with equality when only two candidates matter
        assert np.all(w1 <= 1 / (1 + np.exp(-gap)) + 1e-12)


def test_diagnose_restores_the_model(rng):
    init.manual_seed(0)
    model = build_model("n3net-light", **SMALL).double().eval()
    for p in model.parameters():
        p.grad[...] = 1.5
    before = {k: v.copy() for k, v in model.state_dict().items()}
    x = rng.random((2, 1, 12, 12))
    report = diagnose(model, x + 0.1 * rng.standard_normal(x.shape), x)
    assert report[0]["grad_rest"] > 0 and report[0]["grad_embedding"] > 0
    assert report[0]["grad_temperature"] > 0 and report[0]["t_min"] <= report[0]["t_median"] <= report[0]["t_max"]
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert all((p.grad == 1.5).all() for p in model.parameters())
    assert not model.training


def test_saturation_without_a_forward_says_why():
    model = build_model("n3net-light", **SMALL)
    with pytest.raises(RuntimeError, match="needs the cache of a forward pass"):
        saturation(model)
