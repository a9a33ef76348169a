"""train/official.py and train/import_official.py: an official N3Net checkpoint, written by the test
in the official layout (names, shapes, the unused bn1, torch.save of {"net": ..., "epoch": ...}),
maps onto our N3Net entry by entry; what does not map is named."""
import json

import numpy as np
import pytest

from minigrad import load
from n3net import build_model
from train import import_official
from train.errors import run_cli
from train.official import OfficialCheckpointError, map_state


def official_layout(rng, n_blocks=3, depth=6, features=64, interm=8):
    """{name: array} with the official code's names and shapes (src_denoising/models/n3net.py)."""
    state = {}

    def bn(prefix, n):
        for key in ("weight", "bias", "running_mean", "running_var"):
            state[f"{prefix}.{key}"] = rng.standard_normal(n).astype(np.float32) ** 2 + 0.1
        state[f"{prefix}.num_batches_tracked"] = np.array(1000)
    for i in range(n_blocks):
        c_in = 1 if i == 0 else interm * 8
        c_out = 1 if i == n_blocks - 1 else interm
        state[f"blocks.{i}.conv1.weight"] = rng.standard_normal((features, c_in, 3, 3)).astype(np.float32)
        state[f"blocks.{i}.conv1.bias"] = rng.standard_normal(features).astype(np.float32)
        bn(f"blocks.{i}.bn1", features)                                # built, never used
        for j in range(depth - 2):
            state[f"blocks.{i}.layer1.{3 * j}.weight"] = rng.standard_normal((features, features, 3, 3)).astype(np.float32)
            bn(f"blocks.{i}.layer1.{3 * j + 1}", features)
        state[f"blocks.{i}.conv2.weight"] = rng.standard_normal((c_out, features, 3, 3)).astype(np.float32)
        state[f"blocks.{i}.conv2.bias"] = rng.standard_normal(c_out).astype(np.float32)
    for i in range(n_blocks - 1):
        for cnn, out in (("embedcnn", 8), ("tempcnn", 1)):
            state[f"nls.{i}.{cnn}.0.weight"] = rng.standard_normal((64, interm, 3, 3)).astype(np.float32)
            bn(f"nls.{i}.{cnn}.1", 64)
            state[f"nls.{i}.{cnn}.3.weight"] = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
            bn(f"nls.{i}.{cnn}.4", 64)
            state[f"nls.{i}.{cnn}.6.weight"] = rng.standard_normal((out, 64, 3, 3)).astype(np.float32)
            state[f"nls.{i}.{cnn}.6.bias"] = rng.standard_normal(out).astype(np.float32)
        bn(f"nls.{i}.n3aggregation.aggregation.nnn.bn", 1)
    return state


def test_every_entry_lands_in_its_place(rng):
    official = official_layout(rng)
    ours = map_state(official)
    model = build_model("n3net", variant="reference")
    model.load_state_dict(ours)                                   # every entry of ours, every shape
    pairs = {"blocks.0.conv1.weight": "stages.0.body.0.weight", "blocks.0.layer1.0.weight": "stages.0.body.2.weight",
             "blocks.1.layer1.10.running_var": "stages.2.body.12.running_var",
             "blocks.2.conv2.bias": "stages.4.body.14.bias", "nls.1.embedcnn.6.weight": "stages.3.embedding.6.weight",
             "nls.0.tempcnn.4.running_mean": "stages.1.temperature.4.running_mean",
             "nls.1.n3aggregation.aggregation.nnn.bn.weight": "stages.3.distance_bn.weight"}
    for theirs, mine in pairs.items():
        np.testing.assert_array_equal(ours[mine], official[theirs], err_msg=theirs)
    unused = sum(1 for k in official if ".bn1." in k or k.endswith("num_batches_tracked"))
    assert len(ours) == len(official) - unused


def test_what_does_not_map_is_named(rng):
    official = official_layout(rng)
    official["nls.0.extra.weight"] = np.zeros(3)
    del official["blocks.1.conv2.bias"]
    official["blocks.0.conv1.weight"] = official["blocks.0.conv1.weight"][:32]
    with pytest.raises(OfficialCheckpointError) as error:
        map_state(official)
    message = str(error.value)
    assert "nls.0.extra.weight: no counterpart" in message
    assert "blocks.0.conv1.weight -> stages.0.body.0.weight: shape (32, 1, 3, 3), ours (64, 1, 3, 3)" in message
    assert "not in the checkpoint: " in message and "stages.2.body.14.bias" in message


@pytest.mark.torch
def test_the_command_converts_a_t7(torch, rng, tmp_path, capsys):
    official = official_layout(rng)
    torch.save({"net": {k: torch.from_numpy(np.asarray(v)) for k, v in official.items()}, "epoch": 51},
               tmp_path / "051_ckpt.t7")
    out = tmp_path / "official.npz"
    assert import_official.main([str(tmp_path / "051_ckpt.t7"), str(out), "--sigma", "25"]) == 0
    saved = load(out)
    assert json.loads(saved["config"]) == {"name": "n3net", "variant": "reference"}
    assert json.loads(saved["train_args"])["sigma"] == 25
    np.testing.assert_array_equal(saved["model"]["stages.3.distance_bn.running_var"],
                                  official["nls.1.n3aggregation.aggregation.nnn.bn.running_var"])
    (tmp_path / "junk.t7").write_text("not a checkpoint")
    with pytest.raises(SystemExit):
        run_cli(import_official.main, [str(tmp_path / "junk.t7"), str(out), "--sigma", "25"])
    assert "is not a PyTorch checkpoint" in capsys.readouterr().err
