"""Denoising in overlapping tiles (train/inference.py, plan_tiles) gives the whole image's result:
N3Net, N3Net-light and DnCNN-17 (small patch geometry and features, to keep the test fast; the
margins come from each model's receptive_radius, so the geometry is what is tested), grayscale and
colour, sizes that are multiples of nothing.  Measured differences are at float32 rounding (below 1e-5 on [0, 1] images;
the BLAS sums in another order on another shape)."""
import json

import numpy as np
import pytest

from minigrad import init, load
from n3net import build_model
from train.inference import BYTES_PER_PIXEL, _forward, denoise, denoise_image, plan_tiles, tile_spans


def budget_for(model, core):
    """A memory budget whose tiles have cores of about `core` pixels."""
    side = core + 2 * model.receptive_radius() + 2 * (model.tile_stride() if hasattr(model, "tile_stride") else 1)
    return side * side * BYTES_PER_PIXEL / 1e9


def test_spans_cover_the_axis_once_and_keep_the_grid():
    for size, core, margin, stride in [(103, 20, 7, 5), (1000, 333, 50, 5), (97, 30, 0, 1), (12, 50, 9, 5)]:
        spans = tile_spans(size, core, margin, stride)
        covered = np.zeros(size, int)
        for start, stop, a, b in spans:
            covered[a:b] += 1
            assert start <= max(0, a - margin) and stop >= min(size, b + margin)      # the margins
            assert start % stride == 0 and (stop - start) % stride == size % stride   # the patch grid
        assert (covered == 1).all()


MODELS = {
    "dncnn17": dict(name="dncnn17", features=8),
    "n3net-light": dict(name="n3net-light", depth=3, features=8, patch_size=5, stride=3, match_window=6, k=3,
                        query_tile=24),
    "n3net": dict(name="n3net", depth=3, features=8, patch_size=6, stride=3, match_window=7, k=3, query_tile=24),
}


@pytest.mark.parametrize("name", MODELS)
def test_tiles_equal_the_whole_image(name, rng):
    init.manual_seed(0)
    model = build_model(**MODELS[name])
    for p in model.parameters():                              # trained-looking, not identity-like
        p.data += 0.05 * rng.standard_normal(p.data.shape).astype(p.data.dtype)
    shape, core = {"dncnn17": ((123, 101), 50), "n3net-light": ((161, 149), 60), "n3net": ((263, 241), 90)}[name]
    noisy = rng.random(shape).astype(np.float32)
    memory = budget_for(model, core)
    tiles = plan_tiles(model, shape, memory)
    assert len(tiles) >= 4
    whole = _forward(model, noisy, "cpu")
    calls = []
    tiled = denoise(model, noisy, memory_gb=memory, progress=calls.append)
    assert len(calls) == len(tiles)
    assert np.abs(tiled - whole).max() < 1e-5


def test_colour_images_tile_per_channel(rng):
    init.manual_seed(0)
    model = build_model(**MODELS["n3net-light"])
    noisy = rng.random((150, 140, 3)).astype(np.float32)
    memory = budget_for(model, 75)
    whole = denoise_image(model, noisy, "channels")
    calls = []
    tiled = denoise_image(model, noisy, "channels", memory_gb=memory, progress=calls.append)
    assert len(calls) == 3 * len(plan_tiles(model, noisy.shape[:2], memory))
    assert np.abs(tiled - whole).max() < 1e-5


def test_the_commands_tile_and_write_atomically(tmp_path, capsys, rng):
    """denoise_image.py with a small --memory-gb tiles and says so; evaluate.py takes the option too;
    a failure leaves nothing at the output path; an image Pillow refuses as a decompression bomb is a
    one-line error."""
    from PIL import Image

    from train import denoise, denoise_image as command, evaluate
    from train.data import save_image
    from train.errors import run_cli
    from .test_cli import TINY
    data = tmp_path / "data"
    for split in ("train", "val", "test"):
        (data / split).mkdir(parents=True)
        save_image(str(data / split / "a.png"), rng.random((60, 70)))
    run = tmp_path / "run"
    assert denoise.main(TINY + ["--steps", "1", "--no-test", "--data", str(data), "--out", str(run)]) == 0
    model = build_model(**json.loads(load(run / "last.npz")["config"]))
    memory = budget_for(model, 20)
    out = tmp_path / "out.png"
    assert command.main([str(run / "last.npz"), str(data / "test" / "a.png"), "-o", str(out),
                         "--memory-gb", f"{memory:.9f}"]) == 0
    assert "overlapping tiles" in capsys.readouterr().out and out.exists()
    assert not list(tmp_path.glob(".*partial*"))
    assert evaluate.main(["--checkpoint", str(run / "last.npz"), "--images", str(data / "test"),
                          "--memory-gb", f"{memory:.9f}"]) == 0
    Image.MAX_IMAGE_PIXELS, limit = 1000, Image.MAX_IMAGE_PIXELS          # Pillow's guard, made small
    try:
        with pytest.raises(SystemExit):
            run_cli(command.main, [str(run / "last.npz"), str(data / "test" / "a.png"), "-o", str(tmp_path / "b.png")])
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    assert "too large to decode safely" in capsys.readouterr().err and not (tmp_path / "b.png").exists()
