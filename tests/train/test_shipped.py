"""Shipped models (models/, train/shipped.py), their export (train/export.py) and colour images."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from minigrad import load, save
from n3net import build_model
from train import denoise, denoise_image, evaluate, export, shipped
from train.data import DEFAULT_DATA, load_image
from train import inference
from train.errors import UsageError
from train.inference import RGB_TO_YCC, load_model

from .test_cli import TINY, data  # noqa: F401 (the fixture)


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setattr(shipped, "MODELS_DIR", str(folder))
    return folder


def test_names_paths_and_the_default_per_sigma(models_dir, tmp_path):
    (models_dir / "n3net-sigma25.npz").write_bytes(b"x")
    (models_dir / "dncnn17-sigma25.npz").write_bytes(b"x")
    assert shipped.resolve_checkpoint(None, 25)[0] == str(models_dir / "n3net-sigma25.npz")
    path, what = shipped.resolve_checkpoint("dncnn17-sigma25", 50)
    assert path == str(models_dir / "dncnn17-sigma25.npz") and "DnCNN-17" in what
    own = tmp_path / "mine.npz"
    own.write_bytes(b"x")
    assert shipped.resolve_checkpoint(str(own), 25)[0] == str(own)


@pytest.mark.parametrize("checkpoint, sigma, message", [
    (None, 30, "no shipped N3Net for sigma 30: shipped are n3net-sigma25, n3net-sigma50, dncnn17-sigma25"),
    ("n3net-sigma99", 25, "neither a checkpoint file nor a shipped model; shipped models: n3net-sigma25"),
    ("n3net-sigma50", 50, "the shipped model n3net-sigma50 is missing from this checkout"),
])
def test_unknown_or_missing_models_name_the_shipped_ones(models_dir, checkpoint, sigma, message):
    with pytest.raises(FileNotFoundError, match=message):
        shipped.resolve_checkpoint(checkpoint, sigma)


def test_paths_inside_the_repository_are_recorded_relative_to_it(tmp_path, monkeypatch):
    inside = os.path.join(shipped.REPO, "models", "n3net-sigma25.npz")
    assert shipped.repo_relative(inside) == os.path.join("models", "n3net-sigma25.npz")
    assert shipped.repo_relative(str(tmp_path / "best.npz")) == str(tmp_path / "best.npz")   # outside: absolute
    monkeypatch.chdir(tmp_path)                       # read back from anywhere
    assert shipped.repo_relative("best.npz") == str(tmp_path / "best.npz")     # outside, given relative: absolute
    assert shipped.in_repo(shipped.repo_relative(inside)) == inside
    assert shipped.in_repo(str(tmp_path / "best.npz")) == str(tmp_path / "best.npz")


def test_committed_evaluations_name_model_files_of_this_checkout():
    """models/results/*.json (models/report.py's input) hold no machine's absolute path."""
    folder = os.path.join(shipped.REPO, "models", "results")
    paths = [os.path.join(root, f) for root, _, files in os.walk(folder) for f in files if f.endswith(".json")]
    assert paths
    for path in paths:
        with open(path) as f:
            checkpoint = json.load(f)["checkpoint"]
        if "not committed" not in checkpoint:         # the official weights: evaluated locally
            assert not os.path.isabs(checkpoint) and os.path.exists(shipped.in_repo(checkpoint)), (path, checkpoint)


def test_export_keeps_the_weights_and_drops_the_optimiser(data, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    assert denoise.main(TINY + ["--steps", "2", "--no-test", "--data", str(data), "--out", str(out)]) == 0
    target = tmp_path / "model.npz"
    assert export.main([str(out / "last.npz"), str(target)]) == 0
    exported, full = load(target), load(out / "last.npz")
    assert "optimizer" not in exported and exported["step"] == 2
    for name, value in full["model"].items():
        np.testing.assert_array_equal(exported["model"][name], value)
    assert os.path.getsize(target) < os.path.getsize(out / "last.npz") / 2
    model = load_model(str(target))
    assert model.num_parameters() == build_model("dncnn17", depth=3, features=8).num_parameters()


def test_export_if_better_replaces_a_model_only_by_a_better_one(data, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    assert denoise.main(TINY + ["--steps", "2", "--val-every", "1", "--no-test", "--data", str(data),
                                "--out", str(out)]) == 0
    target = tmp_path / "model.npz"
    assert export.main(["--if-better", str(out / "best.npz"), str(target)]) == 0      # none yet: written
    assert "does not exist yet" in capsys.readouterr().out
    shipped_state = load(target)
    worse = dict(shipped_state, best_val_psnr=shipped_state["best_val_psnr"] + 1.0)    # the shipped is better
    save(worse, target)
    assert export.main(["--if-better", str(out / "best.npz"), str(target)]) == 0
    assert "kept" in capsys.readouterr().out and load(target)["best_val_psnr"] == worse["best_val_psnr"]
    save(dict(worse, best_val_psnr=worse["best_val_psnr"] - 2.0), target)             # now it is worse
    assert export.main(["--if-better", str(out / "best.npz"), str(target)]) == 0
    assert "replaced" in capsys.readouterr().out
    assert load(target)["best_val_psnr"] == load(out / "best.npz")["best_val_psnr"]
    other = dict(worse, train_args=json.dumps({**json.loads(worse["train_args"]), "sigma": 50.0}))
    save(other, target)
    with pytest.raises(UsageError, match="do not compare"):
        export.main(["--if-better", str(out / "best.npz"), str(target)])


def test_export_if_better_ships_only_selective_n3_blocks(data, tmp_path, capsys):  # noqa: F811
    """--blocks: a checkpoint that validates better is still not shipped if one of its N3 blocks is past
    issue 16's bound (median n_eff > 128, over 10 % saturated, or collapsed) in its diagnosis."""
    out = tmp_path / "run"
    assert denoise.main(TINY + ["--steps", "2", "--val-every", "1", "--no-test", "--data", str(data),
                                "--out", str(out)]) == 0
    best, target, diagnosis = out / "best.npz", tmp_path / "model.npz", tmp_path / "diagnose.json"
    worse = dict(load(best), best_val_psnr=load(best)["best_val_psnr"] - 1.0)

    def diagnose(**second):
        blocks = [{"block": "stages.1", "n_eff_median": 24.0, "saturated": 0.03, "collapsed": False,
                   "separation_median": 0.6},
                  {"block": "stages.3", "n_eff_median": 5.0, "saturated": 0.05, "collapsed": False,
                   "separation_median": 0.8, **second}]
        diagnosis.write_text(json.dumps({"checkpoint": str(best), "blocks": blocks}))

    for second, said in [({"n_eff_median": 128.4}, "median n_eff 128.4 > 128"),
                         ({"saturated": 0.104}, "10.4 % of its queries saturated > 10 %"),
                         ({"collapsed": True, "separation_median": 0.05}, "collapsed (separation 0.05)")]:
        save(worse, target)
        diagnose(**second)
        assert export.main(["--if-better", "--blocks", str(diagnosis), str(best), str(target)]) == 0
        printed = capsys.readouterr().out
        assert "kept" in printed and "stages.3: " + said in printed and "stages.1" not in printed
        assert load(target)["best_val_psnr"] == worse["best_val_psnr"]                 # not shipped
    diagnose(n_eff_median=128.0)                                                       # at the bound: shipped
    assert export.main(["--if-better", "--blocks", str(diagnosis), str(best), str(target)]) == 0
    assert "replaced" in capsys.readouterr().out and load(target)["best_val_psnr"] == load(best)["best_val_psnr"]
    diagnosis.write_text(json.dumps({"checkpoint": str(out / "last.npz"), "blocks": []}))
    save(worse, target)
    with pytest.raises(UsageError, match="diagnoses .*last.npz, not .*best.npz"):
        export.main(["--if-better", "--blocks", str(diagnosis), str(best), str(target)])
    with pytest.raises(UsageError, match="--blocks goes with --if-better"):
        export.main(["--blocks", str(diagnosis), str(best), str(target)])


def rgb(rng, size=32):
    """A smooth colour image with noise, (H, W, 3) in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size] / size
    clean = np.stack([x, y, 1 - x * y], axis=-1)
    return (clean + 0.1 * rng.standard_normal(clean.shape)).astype(np.float32)


def test_colour_per_channel_and_in_luminance(rng):
    model = build_model("dncnn17", depth=3, features=8)
    noisy = rgb(rng)
    per_channel = inference.denoise_image(model, noisy, "channels")
    for c in range(3):
        np.testing.assert_array_equal(per_channel[..., c], inference.denoise(model, noisy[..., c]))
    luminance = inference.denoise_image(model, noisy, "luminance")
    ycc_in, ycc_out = noisy.astype(np.float64) @ RGB_TO_YCC.T, luminance.astype(np.float64) @ RGB_TO_YCC.T
    np.testing.assert_allclose(ycc_out[..., 1:], ycc_in[..., 1:], atol=1e-5)         # chroma untouched
    np.testing.assert_allclose(ycc_out[..., 0], inference.denoise(model, ycc_in[..., 0].astype(np.float32)), atol=1e-5)


def test_colour_images_stay_colour_and_grey_rgb_reads_as_grey(data, tmp_path, rng, capsys):  # noqa: F811
    out = tmp_path / "run"
    denoise.main(TINY + ["--steps", "1", "--no-test", "--data", str(data), "--out", str(out)])
    colour = tmp_path / "colour.png"
    Image.fromarray(np.round(np.clip(rgb(rng), 0, 1) * 255).astype(np.uint8), "RGB").save(colour)
    target = tmp_path / "denoised.png"
    assert denoise_image.main([str(out / "last.npz"), str(colour), "-o", str(target), "--colour", "luminance"]) == 0
    assert "colour image: the luminance Y" in capsys.readouterr().out
    assert load_image(target).shape == (32, 32, 3)
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((20, 20, 3), 77, np.uint8), "RGB").save(grey)
    assert load_image(grey).shape == (20, 20)


def test_evaluate_takes_the_shipped_n3net_without_a_checkpoint(data, capsys):  # noqa: F811
    if not os.path.exists(shipped.shipped_path("n3net-sigma25")):
        pytest.skip("models/n3net-sigma25.npz is not in this checkout")
    assert evaluate.main(["--images", str(data / "test"), "--sigma", "25"]) == 0
    out = capsys.readouterr().out
    assert "using the shipped model n3net-sigma25" in out and "mean" in out


def test_a_shipped_model_loads_without_subnormal_weights_and_denoises_the_same():
    """minigrad/subnormal.py: a model trained with weight decay may store subnormal weights (the
    first-round n3net-sigma25: 28 % of one convolution's); loaded, it holds none and denoises
    exactly as with the weights as stored."""
    path = shipped.shipped_path("n3net-sigma25")
    stored = load(path)["model"]
    model = load_model(path)
    tiny = np.finfo(np.float32).tiny
    for name, array in model.state_dict().items():
        assert not ((np.abs(array) < tiny) & (array != 0)).any(), name
    noisy = load_image(os.path.join(DEFAULT_DATA, "test", "brick.png"))[:96, :96]
    flushed = inference.denoise(model, noisy)
    for name, p in model.named_parameters():             # the stored values, subnormals and all
        p.data[...] = stored[name]
    for name, b in model.named_buffers():
        b[...] = stored[name]
    np.testing.assert_array_equal(flushed, inference.denoise(model, noisy))
