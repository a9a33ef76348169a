import os

import numpy as np
import pytest

from layers import Conv2d
from minigrad import init
from n3net import build_model
from n3net.collapse import COLLAPSE_SEPARATION, default_init_rms, weight_report
from n3net.diagnostics import diagnose, n3_blocks
from train.inference import load_checkpoint, model_from_checkpoint
from train.shipped import REPO

from .test_diagnostics import training_crops

# the first round's shipped n3net-sigma25 (models/README.md of that round), kept as a specimen
COLLAPSED = os.path.join(REPO, "experiments", "weights", "n3net-sigma25-collapsed.npz")


def fresh(name="n3net-light"):
    init.manual_seed(0)
    return build_model(name, init="released", zero_init_residual=True)


def test_a_fresh_block_is_not_collapsed():
    # in training mode, as a training step sees it (in evaluation mode a model that never trained
    # normalises with the initial running statistics, mean 0 and variance 1, which do not fit
    # its distances: the diagnostic in evaluation mode is for trained models)
    noisy, clean = training_crops(2)
    for block in diagnose(fresh(), noisy, clean, training=True):
        assert block["separation_median"] > 3 * COLLAPSE_SEPARATION and not block["collapsed"], block


@pytest.mark.parametrize("training", [True, False])
def test_a_block_whose_embedding_weights_shrank_is_collapsed(training):
    # what the L2 decay does over thousands of steps, done at once: the running statistics are
    # stale (they still say variance 1), which the rule must not trust
    model = fresh()
    _, block = n3_blocks(model)[0]
    for conv in (m for m in block.embedding.modules() if isinstance(m, Conv2d)):
        conv.weight.data *= 1e-6
    noisy, clean = training_crops(2)
    report = diagnose(model, noisy, clean, training=training)[0]
    assert report["separation_median"] < 1e-3 * COLLAPSE_SEPARATION and report["collapsed"], report
    assert report["n_eff_median"] > 220                  # of 224: a uniform window average


def test_a_block_whose_distance_scale_decayed_is_collapsed():
    # the other way the decay kills a block: the distance batch-norm's scale gamma (0.06 in a run
    # with decay on every scale and the N3 blocks at 10x the learning rate)
    model = fresh()
    _, block = n3_blocks(model)[0]
    block.distance_bn.weight.data[...] = 0.05
    noisy, clean = training_crops(2)
    report = diagnose(model, noisy, clean)[0]
    assert report["separation_median"] < COLLAPSE_SEPARATION and report["collapsed"], report


def test_a_block_that_carries_its_scale_in_the_temperature_is_not_collapsed():
    # the softmax sees D_hat / t only: the distance scale of the test above, with the temperatures
    # lowered by as much (the temperature CNN's last bias: t = 0.1 exp(logT)), selects as a fresh block
    model = fresh()
    name, block = n3_blocks(model)[0]
    noisy, clean = training_crops(2)
    before = diagnose(model, noisy, clean)[0]
    block.distance_bn.weight.data[...] *= 0.05
    last = [m for m in block.temperature.modules() if isinstance(m, Conv2d)][-1]
    last.bias.data[...] += np.log(0.05)
    report = diagnose(model, noisy, clean)[0]
    assert report["separation_median"] < COLLAPSE_SEPARATION and not report["collapsed"], report
    assert report["logit_std_median"] == pytest.approx(before["logit_std_median"], rel=1e-3)
    assert report["n_eff_median"] == pytest.approx(before["n_eff_median"], rel=1e-3)


def test_the_first_rounds_shipped_n3net_is_collapsed():
    # its second block: embedding weights of RMS 1e-5..1e-8, distance batch-norm running variance
    # 1e-14 (eps 1e-5); its first block is alive
    model = model_from_checkpoint(load_checkpoint(COLLAPSED))
    noisy, clean = training_crops(4, seed=1)
    report = diagnose(model, noisy, clean, training=False)
    assert [b["collapsed"] for b in report] == [False, True]
    weights = weight_report(model)
    assert weights[1]["distance_bn_var"] < 1e-6 * weights[1]["eps"]
    assert max(w / w0 for w, w0 in zip(weights[1]["embedding_rms"], weights[1]["embedding_rms_init"])) < 1e-3


def test_weight_report_of_a_fresh_model():
    model = fresh("n3net")
    report = weight_report(model)
    assert [r["block"] for r in report] == ["stages.1", "stages.3"]
    for r in report:
        # the released initialisation leaves the N3 CNNs at the layers' default
        np.testing.assert_allclose(r["embedding_rms"], r["embedding_rms_init"], rtol=0.1)
        np.testing.assert_allclose(r["temperature_rms"][:2], r["temperature_rms_init"][:2], rtol=0.1)
        assert r["embedding_bn_var"] == [1.0, 1.0] and r["distance_bn_var"] == 1.0
        assert r["distance_bn_scale"] == 1.0 and r["eps"] == 1e-5
    conv = Conv2d(64, 8, 3)
    assert default_init_rms(conv) == pytest.approx(float(np.sqrt((conv.weight.data ** 2).mean())), rel=0.05)
