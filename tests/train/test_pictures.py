"""train/inspect_n3.py and train/compare.py: the figures of what N3 matched and of the models side by side."""
import numpy as np
import pytest
from PIL import Image

from n3net.patch_grid import PatchGrid
from train import compare, denoise, inspect_n3
from train.errors import UsageError

from .test_cli import TINY, data  # noqa: F401 (the fixture)

TINY_N3 = ["--model", "n3net-light", "--depth", "2", "--features", "4", "--crop", "80", "--batch-size", "1",
           "--val-crop", "0", "--threads", "1", "--steps", "1", "--no-test"]


@pytest.fixture(scope="module")
def n3_checkpoint(data, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("n3run")
    big = tmp_path_factory.mktemp("big")
    for split in ("train", "val", "test"):
        (big / split).mkdir()
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (96, 100), dtype=np.uint8)).save(big / split / "noise.png")
    assert denoise.main(TINY_N3 + ["--data", str(big), "--out", str(out / "run")]) == 0
    return out / "run" / "last.npz"


def test_the_most_repeated_patch_is_in_the_repeated_texture():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (120, 120))                       # unstructured noise...
    stripes = 0.5 + 0.4 * np.sin(np.arange(60) * 2 * np.pi / 5)
    image[60:, 60:] = stripes[None, :]                          # ...and a repeated texture
    noisy = (image + rng.standard_normal(image.shape) * 10 / 255).astype(np.float32)
    grid = PatchGrid(image.shape, 10, 5, 15)
    i, j = inspect_n3.most_repeated_patch(noisy, grid, 7, 10)
    assert i * 5 >= 60 and j * 5 >= 60


def test_inspect_draws_the_figure(n3_checkpoint, tmp_path, capsys):
    image = tmp_path / "image.png"
    y, x = np.mgrid[0:100, 0:110]
    Image.fromarray((128 + 100 * np.sin(x * 2 * np.pi / 7)).astype(np.uint8)).save(image)
    out = tmp_path / "inspect.png"
    assert inspect_n3.main(["--checkpoint", str(n3_checkpoint), "--image", str(image), "--sigma", "25",
                            "--crop", "90", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "query patch: rows" in printed and "stages.1: t at the query" in printed
    with Image.open(out) as figure:
        assert figure.size[0] > 800
    assert inspect_n3.main(["--checkpoint", str(n3_checkpoint), "--image", str(image), "--sigma", "25",
                            "--query", "40", "50", "--out", str(out)]) == 0
    assert "rows 40-49, columns 50-59 (as given)" in capsys.readouterr().out


def test_inspect_refuses_models_without_n3_and_bad_queries(data, n3_checkpoint, tmp_path):  # noqa: F811
    dncnn = tmp_path / "run"
    denoise.main(TINY + ["--steps", "1", "--no-test", "--data", str(data), "--out", str(dncnn)])
    with pytest.raises(UsageError, match="which has no N3 block to inspect"):
        inspect_n3.main(["--checkpoint", str(dncnn / "last.npz")])
    with pytest.raises(UsageError, match="--query 5000 0: a 10x10 patch there does not fit"):
        inspect_n3.main(["--checkpoint", str(n3_checkpoint), "--query", "5000", "0",
                         "--out", str(tmp_path / "x.png")])


def test_compare_draws_every_model(data, tmp_path, capsys):  # noqa: F811
    run = tmp_path / "run"
    denoise.main(TINY + ["--steps", "1", "--no-test", "--data", str(data), "--out", str(run)])
    image = tmp_path / "image.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50), dtype=np.uint8)).save(image)
    out = tmp_path / "compare.png"
    ckpt = str(run / "last.npz")
    assert compare.main(["--models", ckpt, ckpt, "--image", str(image), "--crop", "5", "6", "30",
                         "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("dB on the whole image") == 2 and out.exists()
    with pytest.raises(UsageError, match="does not fit the 50x40 image"):
        compare.main(["--models", ckpt, "--image", str(image), "--crop", "20", "30", "30"])


def test_curves_of_a_run_stopped_before_its_first_n3_diagnostic(tmp_path):
    """An N3 run stopped at step 1 has logged its weights' size but no saturation diagnostic yet."""
    from train.plots import plot_curves
    weights = [{"block": "stages.1", "embedding_rms": [0.1, 0.02, 0.03], "temperature_rms": [0.1, 0.02, 0.01]}]
    records = [{"step": 1, "loss": 0.3, "n3_weights": weights}, {"step": 1, "val_psnr": 20.1}]
    plot_curves(records, str(tmp_path / "curves.png"))
    assert (tmp_path / "curves.png").stat().st_size > 5_000
