"""The commands with --device gpu, the strict backend standing in for CuPy: training, resuming,
evaluating, denoising an image and the diagnostics run on the device from end to end."""
import json

import numpy as np
import pytest
from PIL import Image

from minigrad import load
from tests import strict_device
from train import denoise, denoise_image, diagnose, evaluate

from ..train.test_cli import TINY, data  # noqa: F401 (fixture)

pytestmark = pytest.mark.strict_device
TINY_N3 = ["--model", "n3net-light", "--depth", "3", "--features", "8", "--crop", "80", "--batch-size", "2",
           "--val-crop", "0", "--threads", "1"]


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """train/ val/ test/ folders of one 96 x 100 image each (the N3 blocks need 80 x 80)."""
    root = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        (root / split).mkdir()
        Image.fromarray(rng.integers(0, 255, (96, 100), dtype=np.uint8)).save(root / split / "noise.png")
    return root


def test_train_two_steps_resume_and_evaluate_on_the_device(data, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    assert denoise.main(TINY + ["--device", "gpu", "--steps", "2", "--val-every", "1", "--data", str(data),
                                "--out", str(out)]) == 0
    assert load(out / "last.npz")["step"] == 2
    result = json.loads((out / "test.json").read_text())
    assert 10 < result["mean_psnr"] < 60
    assert strict_device.SYNCS.count > 0              # the run went through the device
    assert evaluate.main(["--checkpoint", str(out / "best.npz"), "--images", str(data / "test"),
                          "--device", "gpu"]) == 0
    assert "mean" in capsys.readouterr().out


def test_n3net_trains_diagnoses_and_denoises_on_the_device(big, tmp_path, capsys):
    out = tmp_path / "n3"
    assert denoise.main(TINY_N3 + ["--device", "gpu", "--steps", "2", "--val-every", "2", "--data", str(big),
                                   "--out", str(out)]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "n3" in r] == [2]
    assert diagnose.main(["--checkpoint", str(out / "best.npz"), "--crops", "2", "--device", "gpu"]) == 0
    noisy = tmp_path / "noisy.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (60, 90, 3), dtype=np.uint8)).save(noisy)
    assert denoise_image.main([str(out / "best.npz"), str(noisy), "-o", str(tmp_path / "d.png"),
                               "--device", "gpu"]) == 0
    assert np.asarray(Image.open(tmp_path / "d.png")).shape == (60, 90, 3)


@pytest.mark.parametrize("model, n3", [("n3net", 2), ("n3net-light", 1), ("dncnn17", 0)])
def test_synchronisations_per_training_step(model, n3, tmp_path, syncs):
    """A training step makes the host wait for the loss and the gradient norm (logged, and checked
    for NaN), and each N3 block for its values check and its distance batch-norm's count: nothing
    more, and nothing inside the tile loop."""
    from train.config import TrainConfig
    from train.run import Run
    config = TrainConfig(model=model, depth=3, features=8, steps=3, test=False, device="gpu", threads=1,
                         out=str(tmp_path / "run")).check()
    run = Run(config)
    run.train_step()                                  # the first step creates the optimiser's state
    syncs.reset()
    run.train_step()
    assert syncs.count == 2 + 2 * n3, syncs.lines
    assert {line.split(":")[0] for line in syncs.lines} <= {"train/run.py", "minigrad/optim.py",
                                                           "n3net/n3block.py", "layers/batch_statistics.py"}


def test_the_gpu_check_runs_its_parity_part_without_a_gpu(capsys, monkeypatch):
    """bench/gpu_check.py on a machine without a GPU: parity on the strict backend, the rest skipped."""
    from bench import gpu_check
    from minigrad import backend
    monkeypatch.setattr(backend, "cupy", None)             # as on a machine without CuPy (this folder's fixture undone)
    assert gpu_check.main(["--no-tests"]) == 0
    out = capsys.readouterr().out
    assert "were SKIPPED" in out and out.count(" ok") == 4


def test_a_run_moves_between_cpu_and_device_and_stops_in_time(data, tmp_path):  # noqa: F811
    """models/train.sh --device gpu continues the committed CPU state on a GPU and brings it back:
    CPU 2 steps, device 2 steps, CPU 2 steps equals 6 CPU steps; --minutes stops a run in time."""
    common = TINY + ["--lr-half-life", "3", "--val-every", "2", "--checkpoint-every", "100", "--no-test",
                     "--data", str(data)]
    assert denoise.main(common + ["--steps", "6", "--out", str(tmp_path / "straight")]) == 0
    moved = str(tmp_path / "moved")
    assert denoise.main(common + ["--steps", "2", "--out", moved]) == 0
    assert denoise.main(["--out", moved, "--resume", "--steps", "4", "--device", "gpu"]) == 0
    assert load(tmp_path / "moved" / "last.npz")["step"] == 4
    assert denoise.main(["--out", moved, "--resume", "--steps", "6", "--device", "cpu"]) == 0
    straight, back = load(tmp_path / "straight" / "last.npz"), load(tmp_path / "moved" / "last.npz")
    def same(a, b, where):
        if isinstance(a, dict):
            assert a.keys() == b.keys(), where
            return sum(same(a[k], b[k], f"{where}.{k}") for k in a)
        np.testing.assert_array_equal(b, a, err_msg=where)
        return 1
    assert same(straight["model"], back["model"], "model") == len(straight["model"])
    assert same(straight["optimizer"], back["optimizer"], "optimizer") > 2 * len(straight["model"])  # the moments
    timed = str(tmp_path / "timed")
    assert denoise.main(common + ["--steps", "50", "--minutes", "0.0001", "--device", "gpu", "--out", timed]) == 0
    assert 1 <= load(tmp_path / "timed" / "last.npz")["step"] < 50    # stopped by the budget (6 ms)


def test_the_gpu_timings_run_our_work_on_the_device():
    """bench/gpu_check.py times bench/vs_pytorch.py's work with device "gpu": on the strict backend
    our training step and evaluation run there (any host array or implicit transfer would raise)."""
    from bench.vs_pytorch import evaluation, training_step
    with strict_device.installed():
        training_step("dncnn17", "ours", "gpu")()
        evaluation(96, "ours", "gpu")()
