"""End to end: the three commands on tiny settings (a small DnCNN, small images)."""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from minigrad import load, save
from train import denoise, denoise_image, diagnose, evaluate, run
from train.data import DEFAULT_DATA, list_images, load_grayscale
from train.errors import CheckpointError, TrainingError, UsageError
from train.evaluation import evaluate_folder
from train.inference import model_from_checkpoint
from train.records import read_jsonl

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--model", "dncnn17", "--depth", "3", "--features", "8", "--crop", "24", "--batch-size", "4",
        "--val-crop", "0", "--threads", "1"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """train/ val/ test/ folders of small crops of the embedded images."""
    root = tmp_path_factory.mktemp("data")
    for split, count, size in (("train", 3, 48), ("val", 1, 40), ("test", 2, 40)):
        (root / split).mkdir()
        for path in list_images(os.path.join(DEFAULT_DATA, split))[:count]:
            image = load_grayscale(path)[100:100 + size, 100:100 + size]
            Image.fromarray(np.round(image * 255).astype(np.uint8)).save(root / split / os.path.basename(path))
    return root


def run_cli(module, args):
    """Run a command as a user would: a separate process; returns (status, stdout, stderr)."""
    done = subprocess.run([sys.executable, os.path.join(ROOT, "train", module)] + args,
                          capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


def params(path):
    return load(path)["model"]


def test_training_writes_checkpoints_metrics_and_pictures(data, tmp_path):
    out = tmp_path / "run"
    assert denoise.main(TINY + ["--steps", "6", "--val-every", "3", "--checkpoint-every", "2",
                                "--data", str(data), "--out", str(out)]) == 0
    for name in ("last.npz", "best.npz", "metrics.jsonl", "curves.png", "examples.png", "test.json"):
        assert (out / name).exists(), name
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in records if "val_psnr" in r] == [3, 6]
    assert load(out / "last.npz")["step"] == 6
    result = json.loads((out / "test.json").read_text())
    assert set(result["images"]) == {os.path.basename(p) for p in list_images(data / "test")}
    with pytest.raises(UsageError, match="already holds a run"):    # never overwrite a run
        denoise.main(TINY + ["--steps", "6", "--data", str(data), "--out", str(out)])


def test_resume_continues_exactly(data, tmp_path, monkeypatch):
    common = TINY + ["--steps", "6", "--val-every", "3", "--checkpoint-every", "100", "--no-test",
                     "--data", str(data)]
    assert denoise.main(common + ["--out", str(tmp_path / "straight")]) == 0

    real_step = run.Run.train_step

    def interrupted_step(run):                   # Ctrl-C arrives during step 4
        loss = real_step(run)
        if run.step == 4:
            os.kill(os.getpid(), signal.SIGINT)
        return loss

    monkeypatch.setattr(run.Run, "train_step", interrupted_step)
    assert denoise.main(common + ["--out", str(tmp_path / "split")]) == 130
    assert load(tmp_path / "split" / "last.npz")["step"] == 4      # saved on the way out
    monkeypatch.setattr(run.Run, "train_step", real_step)
    assert denoise.main(["--out", str(tmp_path / "split"), "--resume"]) == 0
    straight, split = params(tmp_path / "straight" / "last.npz"), params(tmp_path / "split" / "last.npz")
    for name in straight:
        np.testing.assert_array_equal(straight[name], split[name], err_msg=name)
    log = (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in log if "loss" in line] == [1, 2, 3, 4, 5, 6]


def test_a_resumed_run_without_best_npz_reports_its_last_model(data, tmp_path):
    """models/train.sh keeps only last.npz between sessions: the test evaluation then says which."""
    out = tmp_path / "run"
    assert denoise.main(TINY + ["--steps", "4", "--val-every", "2", "--data", str(data), "--out", str(out)]) == 0
    from minigrad import save
    (out / "best.npz").unlink()
    state = load(out / "last.npz")
    save(dict(state, best_val_psnr=1e9), out / "last.npz")      # so that no later validation is a new best
    assert denoise.main(["--out", str(out), "--resume", "--steps", "6"]) == 0
    assert not (out / "best.npz").exists()
    result = json.loads((out / "test.json").read_text())
    assert result["step"] == 6 and result["checkpoint"].endswith("last.npz")


def assert_stops_keeping_step_2(data, out, message):
    """A 6-step run checkpointing every 2 steps stops with `message` and keeps step 2's state."""
    with pytest.raises(TrainingError, match=message):
        denoise.main(TINY + ["--steps", "6", "--checkpoint-every", "2", "--val-every", "100",
                             "--no-test", "--data", str(data), "--out", str(out)])
    assert load(out / "last.npz")["step"] == 2


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(data, tmp_path, monkeypatch):
    real_noise = run.add_noise
    calls = []

    def noise_turning_nan(clean, sigma, rng):
        noisy = real_noise(clean, sigma, rng)
        if clean.ndim == 4:                                          # a training batch
            calls.append(1)
            if len(calls) > 3:                                       # steps 1-3 fine, then NaN
                return noisy * np.nan
        return noisy

    monkeypatch.setattr(run, "add_noise", noise_turning_nan)
    assert_stops_keeping_step_2(data, tmp_path / "nan", r"the loss became nan at step 4; .*last.npz \(step 2\)")


def test_non_finite_gradients_stop_before_the_update(data, tmp_path, monkeypatch):
    real_clip = run.clip_grad_norm
    calls = []

    def clip_turning_inf(params, max_norm):
        calls.append(1)
        norm = real_clip(params, max_norm)
        return np.inf if len(calls) == 3 else norm

    monkeypatch.setattr(run, "clip_grad_norm", clip_turning_inf)
    assert_stops_keeping_step_2(data, tmp_path / "inf", r"the gradients became inf at step 3 .*last.npz \(step 2\)")


def test_evaluate_after_a_short_training_beats_the_noisy_input(data, tmp_path):
    out = tmp_path / "short"
    assert denoise.main(TINY + ["--steps", "60", "--lr", "3e-3", "--val-every", "100", "--no-test",
                                "--data", str(data), "--out", str(out)]) == 0
    report = tmp_path / "eval.json"
    assert evaluate.main(["--checkpoint", str(out / "last.npz"), "--images", str(data / "test"),
                          "--json", str(report), "--save-dir", str(tmp_path / "denoised")]) == 0
    result = json.loads(report.read_text())
    assert len(result["images"]) == 2
    for name, r in result["images"].items():
        assert r["psnr"] > r["noisy_psnr"] + 1, name           # really denoised
        assert r["ssim"] > r["noisy_ssim"], name
        assert (tmp_path / "denoised" / (os.path.splitext(name)[0] + "_denoised.png")).exists()
    noisy = tmp_path / "noisy.png"
    Image.open(list_images(data / "test")[0]).save(noisy)
    assert denoise_image.main([str(out / "best.npz"), str(noisy), "-o", str(tmp_path / "clean.png")]) == 0
    assert load_grayscale(tmp_path / "clean.png").shape == load_grayscale(noisy).shape
    # the self-ensemble: recorded, and (averaging 8 estimates whose errors differ) not worse here
    assert evaluate.main(["--checkpoint", str(out / "last.npz"), "--images", str(data / "test"),
                          "--json", str(tmp_path / "eval8.json"), "--self-ensemble"]) == 0
    ensemble = json.loads((tmp_path / "eval8.json").read_text())
    assert ensemble["self_ensemble"] == 8 and "self_ensemble" not in result
    assert ensemble["mean_psnr"] > result["mean_psnr"]
    assert denoise_image.main([str(out / "best.npz"), str(noisy), "-o", str(tmp_path / "clean8.png"),
                               "--self-ensemble"]) == 0
    assert load_grayscale(tmp_path / "clean8.png").shape == load_grayscale(noisy).shape


def test_evaluate_images_reports_each_image_once_and_equals_the_folder(data):
    from minigrad import init
    from n3net import build_model
    from train.evaluation import evaluate_folder, evaluate_images
    init.manual_seed(0)
    model = build_model("dncnn17", depth=3, features=8, zero_init_residual=True)
    paths, calls = list_images(data / "test"), []
    one_by_one = evaluate_images(model, paths, 25, progress=calls.append)
    assert calls == [1] * len(paths)
    whole = evaluate_folder(model, data / "test", 25)
    assert [r["psnr"] for r in whole["images"].values()] == [r["psnr"] for r in one_by_one["images"].values()]
    with pytest.raises(ValueError, match="no images"):
        evaluate_images(model, [], 25)


@pytest.mark.parametrize("case", ["missing folder", "not an image", "too small", "other model", "bad value",
                                  "not a checkpoint", "no gpu"])
def test_bad_inputs_exit_with_one_line(data, tmp_path, case):
    if case == "missing folder":
        status, _, err = run_cli("denoise.py", TINY + ["--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
        expected = "does not exist"
    elif case == "not an image":
        bad = tmp_path / "bad"
        (bad / "train").mkdir(parents=True)
        (bad / "train" / "readme.png").write_text("hello")
        status, _, err = run_cli("denoise.py", TINY + ["--data", str(bad), "--out", str(tmp_path / "o")])
        expected = "readme.png is not an image Pillow can read"
    elif case == "too small":
        status, _, err = run_cli("denoise.py", TINY[:6] + ["--crop", "64", "--data", str(data),
                                                           "--out", str(tmp_path / "o")])
        expected = "smaller than the 64x64 crop"
    elif case == "other model":
        out = tmp_path / "run"
        denoise.main(TINY + ["--steps", "1", "--no-test", "--data", str(data), "--out", str(out)])
        status, _, err = run_cli("denoise.py", ["--model", "n3net", "--out", str(out), "--resume"])
        expected = "--model n3net differs from the resumed run's dncnn17"
    elif case == "bad value":
        status, _, err = run_cli("denoise.py", TINY + ["--val-every", "0", "--out", str(tmp_path / "o")])
        expected = "--val-every must be positive, got 0"
    elif case == "not a checkpoint":
        fake = tmp_path / "fake.npz"
        np.savez(fake, weights=np.zeros(3))
        status, _, err = run_cli("evaluate.py", ["--checkpoint", str(fake), "--images", str(data / "test")])
        expected = "is not a checkpoint written by train/denoise.py"
    else:
        status, _, err = run_cli("denoise.py", TINY + ["--device", "gpu", "--data", str(data),
                                                       "--out", str(tmp_path / "o")])
        expected = "device 'gpu' was requested but"
        if status == 0:
            pytest.skip("a GPU is present")
    assert status == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert expected in err


def test_evaluate_compares_with_bm3d_when_installed(data, tmp_path, capsys):
    pytest.importorskip("bm3d")
    out = tmp_path / "run"
    denoise.main(TINY + ["--steps", "1", "--no-test", "--data", str(data), "--out", str(out)])
    capsys.readouterr()
    report = tmp_path / "bm3d.json"
    assert evaluate.main(["--checkpoint", str(out / "last.npz"), "--images", str(data / "test"), "--bm3d",
                          "--json", str(report)]) == 0
    assert "BM3D PSNR / SSIM" in capsys.readouterr().out
    for r in json.loads(report.read_text())["images"].values():
        assert r["bm3d_psnr"] > r["noisy_psnr"] + 3                # BM3D really denoises


def test_time_budget_stops_early_and_still_finishes(data, tmp_path):
    out = tmp_path / "budget"
    assert denoise.main(TINY + ["--steps", "500", "--minutes", "1e-6", "--no-test", "--data", str(data),
                                "--out", str(out)]) == 0
    assert 1 <= load(out / "last.npz")["step"] < 500
    assert (out / "curves.png").exists() and (out / "examples.png").exists()
    assert load(out / "best.npz")["step"] == load(out / "last.npz")["step"]    # validated at the stop


def test_n3net_run_logs_the_saturation_diagnostic(data, tmp_path):
    out = tmp_path / "n3"
    args = ["--model", "n3net-light", "--depth", "3", "--features", "8", "--crop", "80", "--batch-size", "2",
            "--val-crop", "0", "--threads", "1", "--steps", "2", "--val-every", "2", "--no-test",
            "--no-distance-bn", "--variant", "reference", "--max-temperature", "0.2", "--data", str(DEFAULT_DATA),
            "--out", str(out)]
    assert denoise.main(args) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    diagnosed = [r for r in records if "n3" in r]
    assert [r["step"] for r in diagnosed] == [2]
    (block,) = diagnosed[0]["n3"]
    assert block["block"] == "stages.1" and 0 <= block["saturated"] <= 1 and 0 < block["t_min"]
    assert block["t_max"] <= 0.2 * (1 + 1e-6)                          # held at --max-temperature
    config = json.loads(load(out / "last.npz")["config"])
    assert config["distance_bn"] is False and config["variant"] == "reference" and config["max_temperature"] == 0.2
    # a cool-down branch may raise the temperature floor; the branch's checkpoints keep it
    branch = ["--cooldown-from", str(out / "last.npz"), "--cooldown", "1", "--min-temperature", "0.05",
              "--out", str(tmp_path / "floor")]
    assert denoise.main(branch) == 0
    config = json.loads(load(tmp_path / "floor" / "last.npz")["config"])
    assert config["min_temperature"] == 0.05 and config["max_temperature"] == 0.2
    (block,) = [r for r in read_jsonl(str(tmp_path / "floor" / "metrics.jsonl")) if "n3" in r][0]["n3"]
    assert 0.05 * (1 - 1e-6) <= block["t_min"] and block["t_max"] <= 0.2 * (1 + 1e-6)
    # and so may a resumed run
    assert denoise.main(["--out", str(out), "--resume", "--steps", "4", "--min-temperature", "0.03"]) == 0
    assert json.loads(load(out / "last.npz")["config"])["min_temperature"] == 0.03
    (block,) = [r for r in read_jsonl(str(out / "metrics.jsonl")) if "n3" in r][-1]["n3"]
    assert 0.03 * (1 - 1e-6) <= block["t_min"]
    # the trained model's diagnostic on the test images, in evaluation mode
    assert diagnose.main(["--checkpoint", str(out / "best.npz"), "--crops", "2", "--json", str(out / "d.json")]) == 0
    report = json.loads((out / "d.json").read_text())
    assert report["mode"] == "evaluation" and report["sigma"] == 25 and len(report["blocks"]) == 1
    with pytest.raises(UsageError, match="too small"):
        diagnose.main(["--checkpoint", str(out / "best.npz"), "--crop", "40"])


def test_n3_options_are_refused_for_dncnn(data, tmp_path):
    for option in (["--variant", "reference"], ["--distance-norm", "query"], ["--max-temperature", "0.2"],
                   ["--min-temperature", "0.01"]):
        with pytest.raises(ValueError, match="--min-temperature and --no-distance-bn apply to the N3 block"):
            denoise.main(TINY + option + ["--data", str(data), "--out", str(tmp_path / "x")])


def test_checkpoint_of_the_old_n3_layout_is_refused_with_a_reason(tmp_path):
    from minigrad import save
    from train.inference import load_model
    path = tmp_path / "old.npz"
    save({"format": "n3net-minigrad training checkpoint, version 1", "model": {"w": np.zeros(1)},
          "config": json.dumps({"name": "n3net-light", "zero_init_residual": True})}, path)
    with pytest.raises(CheckpointError, match="older layout.*distance batch-norm.*train the model again"):
        load_model(str(path))


def test_loss_scale_and_clipping_are_on_the_mse(data, tmp_path):
    # --loss-scale multiplies the loss the gradients come from; the log keeps the MSE and the
    # gradient norm of the MSE, and --clip applies to that, so the two runs log the same first step
    logs = []
    for scale in ("1", "800"):
        out = tmp_path / scale
        denoise.main(TINY + ["--steps", "1", "--loss-scale", scale, "--no-test", "--data", str(data),
                             "--out", str(out)])
        logs.append([json.loads(line) for line in open(out / "metrics.jsonl")][0])
    assert logs[0]["loss"] == logs[1]["loss"]
    assert logs[1]["grad_norm"] == pytest.approx(logs[0]["grad_norm"], rel=1e-5)
    # the decay against the data gradient is 800 times smaller with the scaled loss
    ratio = logs[0]["decay_to_data"]["conv_weights"] / logs[1]["decay_to_data"]["conv_weights"]
    assert ratio == pytest.approx(800, rel=1e-4)


def test_n3_runs_log_the_collapse_diagnostic(data, tmp_path):
    out = tmp_path / "n3"
    denoise.main(["--model", "n3net-light", "--depth", "3", "--features", "8", "--crop", "80",
                  "--batch-size", "2", "--val-crop", "0", "--threads", "1", "--steps", "2", "--val-every", "2",
                  "--decay-scope", "backbone", "--n3-lr-scale", "10", "--optimizer", "adamw", "--no-test",
                  "--out", str(out)])                                  # the embedded images
    records = [json.loads(line) for line in open(out / "metrics.jsonl")]
    assert "n3_weights" in records[0] and "n3" not in records[0]            # step 1: the weights only
    last = [r for r in records if "n3" in r][-1]
    assert last["step"] == 2 and set(last["decay_to_data"]) == {"conv_weights"}
    assert {"separation_median", "collapsed"} <= set(last["n3"][0])
    assert len(last["n3_weights"][0]["embedding_rms"]) == 3


def test_a_half_life_run_extended_from_n_to_2n_steps_equals_a_2n_step_run(data, tmp_path):
    """--lr-half-life does not depend on --steps: extending a finished run is exact."""
    common = TINY + ["--lr-half-life", "2", "--val-every", "2", "--checkpoint-every", "100", "--no-test",
                     "--data", str(data)]
    assert denoise.main(common + ["--steps", "6", "--out", str(tmp_path / "straight")]) == 0
    assert denoise.main(common + ["--steps", "3", "--out", str(tmp_path / "extended")]) == 0
    assert denoise.main(["--out", str(tmp_path / "extended"), "--resume", "--steps", "6"]) == 0
    straight, extended = params(tmp_path / "straight" / "last.npz"), params(tmp_path / "extended" / "last.npz")
    for name in straight:
        np.testing.assert_array_equal(straight[name], extended[name], err_msg=name)
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "extended" / "metrics.jsonl").read_text().splitlines()
           if "loss" in line]
    np.testing.assert_allclose(lrs, 2e-3 * 0.5 ** (np.arange(6) / 2))


def test_a_half_life_run_resumed_with_a_new_floor_holds_its_rate_without_a_jump(data, tmp_path):
    """--lr-end on --resume: a half-life run's floor may change (models/train.sh holds its runs' rates
    from some step on); the rate goes on from where it was, never up; other changes are refused."""
    common = TINY + ["--val-every", "2", "--checkpoint-every", "100", "--no-test", "--data", str(data)]
    out = tmp_path / "run"
    assert denoise.main(common + ["--lr-half-life", "2", "--lr-end", "1e-5", "--steps", "4", "--out", str(out)]) == 0
    # after step 4 the rate is 2e-3 / 4 = 5e-4: a floor above it would be a jump
    with pytest.raises(UsageError, match=r"above the learning rate the run has reached \(0.0005 at step 4\)"):
        denoise.main(["--out", str(out), "--resume", "--steps", "8", "--lr-end", "6e-4"])
    assert denoise.main(["--out", str(out), "--resume", "--steps", "8", "--lr-end", "3e-4"]) == 0
    lrs = [json.loads(line)["lr"] for line in (out / "metrics.jsonl").read_text().splitlines() if "loss" in line]
    np.testing.assert_allclose(lrs, np.maximum(2e-3 * 0.5 ** (np.arange(8) / 2), np.r_[[1e-5] * 4, [3e-4] * 4]))
    assert json.loads(load(out / "last.npz")["train_args"])["lr_end"] == 3e-4
    assert denoise.main(["--out", str(out), "--resume", "--steps", "9"]) == 0      # the floor is kept
    last = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if "loss" in line][-1]
    assert last["step"] == 9 and last["lr"] == pytest.approx(3e-4)
    planned = tmp_path / "planned"
    assert denoise.main(common + ["--steps", "2", "--out", str(planned)]) == 0
    with pytest.raises(UsageError, match="only a run with --lr-half-life can change its floor"):
        denoise.main(["--out", str(planned), "--resume", "--steps", "4", "--lr-end", "1e-5"])


def test_a_resumed_run_may_tighten_its_clip_and_keeps_it(data, tmp_path):
    """--clip on --resume (models/README.md: the sigma-25 runs' gradient spikes pass --clip 1.0): the new
    clip is recorded and applied from the next step on, and a later resume keeps it."""
    common = TINY + ["--val-every", "2", "--checkpoint-every", "100", "--no-test", "--data", str(data)]
    for name in ("same", "tight"):
        assert denoise.main(common + ["--steps", "2", "--out", str(tmp_path / name)]) == 0
    assert denoise.main(["--out", str(tmp_path / "same"), "--resume", "--steps", "3"]) == 0
    assert denoise.main(["--out", str(tmp_path / "tight"), "--resume", "--steps", "3", "--clip", "1e-9"]) == 0
    assert json.loads(load(tmp_path / "tight" / "last.npz")["train_args"])["clip"] == 1e-9
    logs = {name: [{k: v for k, v in json.loads(line).items() if k != "seconds"}      # wall time differs
                   for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines() if "loss" in line]
            for name in ("same", "tight")}
    assert logs["same"][:2] == logs["tight"][:2]                    # steps 1-2: the same run
    assert logs["same"][2]["grad_norm"] == logs["tight"][2]["grad_norm"] > 1e-6   # logged before clipping
    same, tight = params(tmp_path / "same" / "last.npz"), params(tmp_path / "tight" / "last.npz")
    assert any(not np.array_equal(same[k], tight[k]) for k in same)   # step 3 clipped to a norm of 1e-9
    assert denoise.main(["--out", str(tmp_path / "tight"), "--resume", "--steps", "4"]) == 0
    assert json.loads(load(tmp_path / "tight" / "last.npz")["train_args"])["clip"] == 1e-9


def test_no_test_holds_for_one_invocation_only(data, tmp_path):
    """A run trained once with --no-test tests again when resumed or branched without it (models/train.sh's
    branches lost their test points when the trunk had once been continued with --no-test)."""
    common = TINY + ["--val-every", "2", "--checkpoint-every", "100", "--data", str(data)]
    trunk = tmp_path / "trunk"
    assert denoise.main(common + ["--steps", "2", "--no-test", "--out", str(trunk)]) == 0
    assert not (trunk / "test.json").exists()
    assert denoise.main(["--out", str(trunk), "--resume", "--steps", "3"]) == 0
    assert json.loads((trunk / "test.json").read_text())["step"] >= 2
    assert json.loads(load(trunk / "last.npz")["train_args"])["test"] is True
    assert denoise.main(["--out", str(trunk), "--resume", "--steps", "4", "--no-test"]) == 0
    branch = tmp_path / "branch"
    assert denoise.main(["--cooldown-from", str(trunk / "last.npz"), "--cooldown", "1", "--out", str(branch)]) == 0
    assert json.loads((branch / "test.json").read_text())["step"] == 5


def test_a_cooldown_branch_falls_from_the_trunks_rate_and_leaves_the_trunk_alone(data, tmp_path):
    """--cooldown-from: the branch's rate starts at the trunk's (no jump) and falls geometrically to
    --lr-end over --cooldown steps; its best is its own; the trunk's files are untouched and the
    trunk goes on as if never branched; an interrupted branch resumes exactly."""
    common = TINY + ["--val-every", "2", "--checkpoint-every", "100", "--no-test", "--data", str(data)]
    trunk = tmp_path / "trunk"
    assert denoise.main(common + ["--lr-half-life", "2", "--steps", "4", "--out", str(trunk)]) == 0
    before = {p.name: p.read_bytes() for p in trunk.iterdir() if p.is_file()}
    branch = ["--cooldown-from", str(trunk / "last.npz"), "--cooldown", "4", "--lr-end", "1e-4"]
    assert denoise.main(common + branch + ["--out", str(tmp_path / "branch")]) == 0
    assert {p.name: p.read_bytes() for p in trunk.iterdir() if p.is_file()} == before
    records = [json.loads(line) for line in (tmp_path / "branch" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r]
    assert [r["step"] for r in steps] == [5, 6, 7, 8]
    trunk_lr = 2e-3 * 0.5 ** (4 / 2)                                   # the trunk's rate after its step 4
    np.testing.assert_allclose([r["lr"] for r in steps], trunk_lr * (1e-4 / trunk_lr) ** (np.arange(4) / 4))
    ckpt = load(tmp_path / "branch" / "last.npz")
    assert int(ckpt["step"]) == 8 and int(ckpt["best_val_step"]) > 4          # its own best, not the trunk's
    assert json.loads(ckpt["train_args"])["cooldown_from"] == str(trunk / "last.npz")
    # the trunk's time budget is not the branch's
    assert denoise.main(common + ["--lr-half-life", "2", "--steps", "2", "--minutes", "1e-9",
                                  "--out", str(tmp_path / "short")]) == 0
    assert denoise.main(common + ["--cooldown-from", str(tmp_path / "short" / "last.npz"), "--cooldown", "3",
                                  "--out", str(tmp_path / "short-branch")]) == 0
    short = int(load(tmp_path / "short" / "last.npz")["step"])
    assert int(load(tmp_path / "short-branch" / "last.npz")["step"]) == short + 3
    # interrupted after its first step (a tiny time budget), then resumed: the same branch
    assert denoise.main(common + branch + ["--minutes", "1e-9", "--out", str(tmp_path / "cut")]) == 0
    assert int(load(tmp_path / "cut" / "last.npz")["step"]) == 5
    assert denoise.main(["--out", str(tmp_path / "cut"), "--resume", "--minutes", "60"]) == 0
    whole, cut = params(tmp_path / "branch" / "last.npz"), params(tmp_path / "cut" / "last.npz")
    for name in whole:
        np.testing.assert_array_equal(whole[name], cut[name], err_msg=name)
    with pytest.raises(UsageError, match="needs --cooldown STEPS"):
        denoise.main(common + ["--cooldown-from", str(trunk / "last.npz"), "--out", str(tmp_path / "x")])
    with pytest.raises(UsageError, match="without --cooldown-from"):
        denoise.main(branch + ["--out", str(tmp_path / "branch"), "--resume"])
    with pytest.raises(UsageError, match="--model n3net differs from the branched run's dncnn17"):
        denoise.main(branch + ["--model", "n3net", "--out", str(tmp_path / "y")])


def record_drawn_crops(monkeypatch):
    """The list that every batch of training crops drawn from now on joins (a copy each, in order)."""
    drawn = []
    sample = run.CropSampler.sample

    def recording(self, batch, rng):
        crops = sample(self, batch, rng)
        drawn.append(crops.copy())
        return crops
    monkeypatch.setattr(run.CropSampler, "sample", recording)
    return drawn


def test_a_branch_may_take_larger_batches_and_crops_and_a_resumed_run_may_not(data, tmp_path, monkeypatch):
    """--batch-size and --crop in a cool-down branch: its steps draw that many crops of that size (the
    trunk's 4 of 24 x 24 before); they are recorded in the branch's options, the checkpoints count
    the crops seen (the trunk's, then the branch's), and the trunk itself cannot change them on
    --resume."""
    common = TINY + ["--val-every", "100", "--checkpoint-every", "100", "--no-test", "--data", str(data)]
    trunk = tmp_path / "trunk"
    assert denoise.main(common + ["--lr-half-life", "2", "--steps", "2", "--out", str(trunk)]) == 0
    drawn = record_drawn_crops(monkeypatch)
    assert denoise.main(common + ["--cooldown-from", str(trunk / "last.npz"), "--cooldown", "2",
                                  "--batch-size", "8", "--crop", "32", "--out", str(tmp_path / "branch")]) == 0
    assert [crops.shape for crops in drawn] == [(8, 1, 32, 32)] * 2
    branched = load(tmp_path / "branch" / "last.npz")
    assert json.loads(branched["train_args"])["batch_size"] == 8
    assert json.loads(branched["train_args"])["crop"] == 32
    assert int(load(trunk / "last.npz")["crops"]) == 2 * 4 and int(branched["crops"]) == 2 * 4 + 2 * 8
    # a trunk written before the count: its steps times its batch size
    old = tmp_path / "old.npz"
    save({k: v for k, v in load(trunk / "last.npz").items() if k != "crops"}, old)
    assert denoise.main(common + ["--cooldown-from", str(old), "--cooldown", "1", "--batch-size", "8",
                                  "--out", str(tmp_path / "from-old")]) == 0
    assert int(load(tmp_path / "from-old" / "last.npz")["crops"]) == 2 * 4 + 8
    with pytest.raises(UsageError, match="--batch-size 8 differs from the resumed run's 4"):
        denoise.main(["--out", str(trunk), "--resume", "--steps", "4", "--batch-size", "8"])
    with pytest.raises(UsageError, match="--crop 32 differs from the resumed run's 24"):
        denoise.main(["--out", str(trunk), "--resume", "--steps", "4", "--crop", "32"])


def test_a_branch_seed_gives_a_branch_its_own_crops_and_noise(data, tmp_path, monkeypatch):
    """--branch-seed S: the branch draws from a new generator seeded S instead of going on with the
    trunk's, so two branches of one checkpoint see different crops; the same seed gives the same
    branch; an interrupted seeded branch resumes exactly; a run that is not a branch refuses it."""
    common = TINY + ["--val-every", "100", "--checkpoint-every", "100", "--no-test", "--data", str(data)]
    trunk = tmp_path / "trunk"
    assert denoise.main(common + ["--lr-half-life", "2", "--steps", "2", "--out", str(trunk)]) == 0
    drawn = record_drawn_crops(monkeypatch)

    def branch(name, *extra):
        drawn.clear()
        assert denoise.main(common + ["--cooldown-from", str(trunk / "last.npz"), "--cooldown", "2",
                                      *extra, "--out", str(tmp_path / name)]) == 0
        return np.stack(drawn)
    plain, seeded, again, other = branch("plain"), branch("s1", "--branch-seed", "1"), \
        branch("s1-again", "--branch-seed", "1"), branch("s2", "--branch-seed", "2")
    np.testing.assert_array_equal(seeded, again)
    assert not np.array_equal(plain, seeded) and not np.array_equal(seeded, other)
    assert json.loads(load(tmp_path / "s1" / "last.npz")["train_args"])["branch_seed"] == 1
    whole = params(tmp_path / "s1" / "last.npz")
    assert denoise.main(common + ["--cooldown-from", str(trunk / "last.npz"), "--cooldown", "2", "--branch-seed",
                                  "1", "--minutes", "1e-9", "--out", str(tmp_path / "cut")]) == 0
    assert int(load(tmp_path / "cut" / "last.npz")["step"]) == 3
    assert denoise.main(["--out", str(tmp_path / "cut"), "--resume", "--minutes", "60"]) == 0
    cut = params(tmp_path / "cut" / "last.npz")
    for name in whole:
        np.testing.assert_array_equal(whole[name], cut[name], err_msg=name)
    with pytest.raises(ValueError, match="--branch-seed applies to a cool-down branch"):
        denoise.main(common + ["--steps", "1", "--branch-seed", "1", "--out", str(tmp_path / "new")])


def test_a_branch_averages_its_last_states_and_resumes_the_average_exactly(data, tmp_path, monkeypatch):
    """--average-last 4 with --checkpoint-every 2 over steps 5-10: the states after steps 6, 8 and
    10 are averaged (weights and batch-norm statistics); the average is validated at the end and,
    validating best, is best.npz; last.npz keeps the last state; an interrupted branch resumes with
    its average so far and ends with the same one."""
    common = TINY + ["--val-every", "100", "--checkpoint-every", "2", "--no-test", "--data", str(data)]
    trunk = tmp_path / "trunk"
    assert denoise.main(common + ["--lr-half-life", "2", "--steps", "4", "--out", str(trunk)]) == 0
    branch = common + ["--cooldown-from", str(trunk / "last.npz"), "--cooldown", "6", "--average-last", "4"]
    states, real_step, real_validate = {}, run.Run.train_step, run.Run.validate

    def recording_step(r):
        loss = real_step(r)
        states[r.step] = r.model.state_dict()
        if r.step == 7 and r.out.endswith("cut") and not os.path.exists(os.path.join(r.out, "resumed")):
            os.kill(os.getpid(), signal.SIGINT)                    # Ctrl-C in step 7: after the first sample
        return loss

    def losing_validate(r):                    # the regular validations never win: the average is the best
        r._append({"step": r.step, "val_psnr": -1.0})
        return -1.0

    monkeypatch.setattr(run.Run, "train_step", recording_step)
    monkeypatch.setattr(run.Run, "validate", losing_validate)
    assert denoise.main(branch + ["--out", str(tmp_path / "whole")]) == 0
    best, last = load(tmp_path / "whole" / "best.npz"), load(tmp_path / "whole" / "last.npz")
    assert int(best["averaged"]) == 3 and int(best["best_val_step"]) == 10 and "average" not in best
    for name, value in best["model"].items():
        mean = np.mean([states[s][name].astype(np.float64) for s in (6, 8, 10)], axis=0)
        np.testing.assert_allclose(value, mean, rtol=1e-6, atol=1e-7, err_msg=name)
        np.testing.assert_array_equal(last["model"][name], states[10][name], err_msg=name)
    assert any("running_var" in name for name in best["model"])      # the batch-norm statistics too
    record = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()][-1]
    assert record["step"] == 10 and record["averaged"] == 3
    assert record["val_psnr_average"] == float(best["best_val_psnr"])
    assert denoise.main(branch + ["--out", str(tmp_path / "cut")]) == 130
    cut = load(tmp_path / "cut" / "last.npz")
    assert int(cut["step"]) == 7 and int(cut["average"]["count"]) == 1
    (tmp_path / "cut" / "resumed").touch()
    assert denoise.main(["--out", str(tmp_path / "cut"), "--resume"]) == 0
    resumed = load(tmp_path / "cut" / "best.npz")
    for name, value in best["model"].items():
        np.testing.assert_array_equal(resumed["model"][name], value, err_msg=name)
    # extended to 12 steps: its last 4 are steps 8-12, of which it trains 11 and 12: one new sample, no old one
    assert denoise.main(["--out", str(tmp_path / "whole"), "--resume", "--steps", "12"]) == 0
    record = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()][-1]
    assert record["step"] == 12 and record["averaged"] == 1
    monkeypatch.setattr(run.Run, "validate", real_validate)
    with pytest.raises(ValueError, match="--average-last must be positive"):
        denoise.main(branch + ["--average-last", "0", "--out", str(tmp_path / "z")])


def test_a_branch_keeps_and_tests_its_average_when_the_average_does_not_validate_best(data, tmp_path,
                                                                                      monkeypatch):
    """The average of --average-last is average.npz whatever it validates; when a regular
    validation beat it, best.npz is that state, test.json its test and test_average.json the
    average's (the same evaluation of average.npz's weights)."""
    common = TINY + ["--val-every", "100", "--checkpoint-every", "2", "--data", str(data)]
    trunk = tmp_path / "trunk"
    assert denoise.main(common + ["--lr-half-life", "2", "--steps", "4", "--no-test", "--out", str(trunk)]) == 0
    real_val_psnr = run.Run._val_psnr

    def averages_lose(r):                      # the average's validation (after step 10's own) never wins
        return -1.0 if r.average_count and r.step == r.config.steps and "val_psnr" in r.records[-1] \
            else real_val_psnr(r)

    monkeypatch.setattr(run.Run, "_val_psnr", averages_lose)
    out = tmp_path / "branch"
    assert denoise.main(common + ["--cooldown-from", str(trunk / "last.npz"), "--cooldown", "6",
                                  "--average-last", "4", "--out", str(out)]) == 0
    best, average = load(out / "best.npz"), load(out / "average.npz")
    assert "averaged" not in best and int(average["averaged"]) == 3 and int(average["step"]) == 10
    record = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][-1]
    assert record == {"step": 10, "val_psnr_average": -1.0, "averaged": 3}
    tested, tested_average = (json.loads((out / name).read_text()) for name in ("test.json", "test_average.json"))
    assert tested["checkpoint"].endswith("best.npz") and tested_average["checkpoint"].endswith("average.npz")
    assert tested_average["step"] == 10
    model = model_from_checkpoint(average)
    again = evaluate_folder(model, str(data / "test"), 25.0, "cpu")
    assert again["mean_psnr"] == pytest.approx(tested_average["mean_psnr"], abs=1e-9)
    assert again["mean_psnr"] != pytest.approx(tested["mean_psnr"], abs=1e-6)


def test_a_planned_decay_extended_goes_on_without_a_jump(data, tmp_path):
    """Without --lr-half-life the decay is re-planned from where the run is: a finished run given
    more steps goes on at --lr-end (it does not restart; docs: a run planned that long from the start
    would differ)."""
    out = tmp_path / "run"
    common = TINY + ["--val-every", "2", "--checkpoint-every", "100", "--no-test", "--data", str(data)]
    assert denoise.main(common + ["--steps", "4", "--out", str(out)]) == 0
    with pytest.raises(UsageError, match="is at step 4 of 4 already"):
        denoise.main(["--out", str(out), "--resume"])
    assert denoise.main(["--out", str(out), "--resume", "--steps", "8"]) == 0
    lrs = [json.loads(line)["lr"] for line in (out / "metrics.jsonl").read_text().splitlines() if "loss" in line]
    np.testing.assert_allclose(lrs[:4], 2e-3 * (1e-4 / 2e-3) ** (np.arange(4) / 4))   # the first plan
    np.testing.assert_allclose(lrs[4:], 1e-4)                                      # where it ended
    assert json.loads(load(out / "last.npz")["train_args"])["steps"] == 8


def test_extra_training_images_join_the_run_and_a_resumed_run_or_branch_may_add_them(data, tmp_path, capsys):
    """--extra-train FOLDER: its images are sampled with --data's training images (by area); a resumed
    run or a branch may add the folder, which the run then keeps; a missing folder is a clear error."""
    extra = tmp_path / "extra"
    extra.mkdir()
    for k, path in enumerate(list_images(os.path.join(DEFAULT_DATA, "test"))[:2]):
        image = load_grayscale(path)[:40 + 8 * k, :32]
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(extra / f"extra{k}.png")
    images = run.training_images(str(data / "train"), str(extra), 24)
    assert [im.shape for im in images] == [(48, 48)] * 3 + [(40, 32), (48, 32)]
    assert run.training_images(str(data / "train"), None, 24)[0].shape == (48, 48)
    assert len(run.training_images(str(data / "train"), None, 24)) == 3

    common = TINY + ["--val-every", "100", "--checkpoint-every", "100", "--no-test", "--data", str(data)]
    out = tmp_path / "run"
    assert denoise.main(common + ["--steps", "2", "--out", str(out)]) == 0
    assert "on 3 images" in capsys.readouterr().out
    assert json.loads(load(out / "last.npz")["train_args"])["extra_train"] is None
    assert denoise.main(["--out", str(out), "--resume", "--steps", "4", "--extra-train", str(extra)]) == 0
    assert "on 5 images" in capsys.readouterr().out
    assert denoise.main(["--out", str(out), "--resume", "--steps", "5"]) == 0     # kept without the option
    assert "on 5 images" in capsys.readouterr().out
    assert json.loads(load(out / "last.npz")["train_args"])["extra_train"] == str(extra)
    # a branch of the run without them may add them
    plain = tmp_path / "plain"
    assert denoise.main(common + ["--steps", "2", "--lr-half-life", "2", "--out", str(plain)]) == 0
    assert denoise.main(["--cooldown-from", str(plain / "last.npz"), "--cooldown", "2", "--extra-train", str(extra),
                         "--no-test", "--out", str(tmp_path / "branch")]) == 0
    assert "on 5 images" in capsys.readouterr().out
    status, _, err = run_cli("denoise.py", ["--out", str(out), "--resume", "--steps", "6",
                                            "--extra-train", str(tmp_path / "missing")])
    assert status != 0 and "missing does not exist" in err and "Traceback" not in err
