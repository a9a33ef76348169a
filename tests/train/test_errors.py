"""Every command's answer to the usual mistakes: a file that is not a checkpoint, a checkpoint of
another model (or one whose weights do not fit its configuration), a missing file, an image too
small, a sigma out of range.  Each is one line `error: ...` on stderr, exit status 2, no traceback
and nothing quoted from a library's internals."""
import json

import numpy as np
import pytest
from PIL import Image

from minigrad import load, save
from train import compare, denoise, denoise_image, diagnose, evaluate, export, inspect_n3
from train.errors import run_cli

from .test_cli import TINY, data  # noqa: F401 (fixture)

INTERNALS = ("Traceback", "allow_pickle", "pickle", "numpy", "PIL", "Errno")


@pytest.fixture(scope="module")
def files(data, tmp_path_factory):  # noqa: F811
    """Paths of the mistaken inputs, and of a good DnCNN checkpoint."""
    root = tmp_path_factory.mktemp("mistakes")
    run = root / "run"
    assert denoise.main(TINY + ["--steps", "1", "--no-test", "--data", str(data), "--out", str(run)]) == 0
    (root / "notes.npz").write_text("not a checkpoint")
    np.savez(root / "arrays.npz", x=np.zeros(3))                      # an npz, but not ours
    ckpt = load(run / "last.npz")
    config = json.loads(ckpt["config"])
    save({**ckpt, "config": json.dumps({**config, "depth": config["depth"] + 2})}, root / "mismatch.npz")
    (root / "tiny").mkdir()
    Image.fromarray(np.zeros((6, 5), np.uint8)).save(root / "tiny" / "tiny.png")
    image = root / "image.png"
    Image.fromarray(np.full((96, 96), 128, np.uint8)).save(image)
    return {"dncnn": str(run / "last.npz"), "junk": str(root / "notes.npz"), "arrays": str(root / "arrays.npz"),
            "mismatch": str(root / "mismatch.npz"), "missing": str(root / "missing.npz"),
            "tiny_dir": str(root / "tiny"), "tiny": str(root / "tiny" / "tiny.png"), "image": str(image),
            "root": root}


def fails(main, argv, capsys, *expected):
    """main(argv) as the command runs it: exit status 2, one line of error naming `expected`."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run_cli(main, argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert not any(word in err for word in INTERNALS), err
    for text in expected:
        assert text in err, (text, err)


NOT_OURS = "is not a checkpoint written by"
CASES = {                    # command: [(args with {placeholders}, text the message must hold)]
    "evaluate": [
        (["--checkpoint", "{junk}"], NOT_OURS), (["--checkpoint", "{arrays}"], NOT_OURS),
        (["--checkpoint", "{mismatch}"], "cannot rebuild its model"),
        (["--checkpoint", "{missing}"], "is neither a checkpoint file nor a shipped model"),
        (["--checkpoint", "{dncnn}", "--images", "{root}/nowhere"], "does not exist"),
        (["--checkpoint", "{dncnn}", "--sigma", "300"], "--sigma 300 is out of range"),
        (["--checkpoint", "{dncnn}", "--sigma", "-1"], "--sigma -1 is out of range"),
        (["--checkpoint", "{dncnn}", "--images", "{tiny_dir}"], "tiny.png is 5x6 pixels"),
    ],
    "denoise_image": [
        (["{junk}", "{image}", "-o", "{root}/o.png"], NOT_OURS),
        (["{mismatch}", "{image}", "-o", "{root}/o.png"], "cannot rebuild its model"),
        (["{missing}", "{image}", "-o", "{root}/o.png"], "is neither a checkpoint file nor a shipped model"),
        (["{dncnn}", "{root}/missing.png", "-o", "{root}/o.png"], "missing.png does not exist"),
        (["{dncnn}", "{junk}", "-o", "{root}/o.png"], "is not an image"),
        (["{dncnn}", "{image}", "-o", "{root}/o.png", "--sigma", "0"], "--sigma 0 is out of range"),
    ],
    "diagnose": [
        (["--checkpoint", "{junk}"], NOT_OURS), (["--checkpoint", "{mismatch}"], "cannot rebuild its model"),
        (["--checkpoint", "{dncnn}"], "which has no N3 block"),
        (["--checkpoint", "{missing}"], "is neither a checkpoint file nor a shipped model"),
        (["--checkpoint", "{dncnn}", "--sigma", "256"], "--sigma 256 is out of range"),
        (["--checkpoint", "{dncnn}", "--images", "{tiny_dir}"], "which has no N3 block"),
    ],
    "inspect_n3": [
        (["--checkpoint", "{junk}"], NOT_OURS), (["--checkpoint", "{dncnn}"], "which has no N3 block"),
        (["--checkpoint", "{missing}"], "is neither a checkpoint file nor a shipped model"),
        (["--checkpoint", "{dncnn}", "--sigma", "1000"], "--sigma 1000 is out of range"),
        (["--checkpoint", "{dncnn}", "--image", "{root}/missing.png"], "which has no N3 block"),
    ],
    "compare": [
        (["--models", "{junk}"], NOT_OURS), (["--models", "{mismatch}"], "cannot rebuild its model"),
        (["--models", "{missing}"], "is neither a checkpoint file nor a shipped model"),
        (["--models", "{dncnn}", "--image", "{root}/missing.png"], "missing.png does not exist"),
        (["--models", "{dncnn}", "--image", "{tiny}"], "tiny.png is 5x6 pixels"),
        (["--models", "{dncnn}", "--sigma", "-3"], "--sigma -3 is out of range"),
    ],
    "export": [
        (["{junk}", "{root}/e.npz"], NOT_OURS), (["{missing}", "{root}/e.npz"], "missing.npz does not exist"),
        (["{mismatch}", "{root}/e.npz"], "cannot rebuild its model"),
    ],
    "denoise": [
        (TINY + ["--data", "{tiny_dir}", "--out", "{root}/t1"], "tiny.png is 5x6 pixels, smaller than the 24x24 crop"),
        (TINY + ["--data", "{root}/nowhere", "--out", "{root}/t2"], "does not exist"),
        (TINY + ["--sigma", "300", "--out", "{root}/t3"], "--sigma 300 is out of range"),
        (TINY + ["--out", "{root}/t4", "--resume"], "nothing to resume"),
        (["--model", "n3net-light", "--crop", "40", "--out", "{root}/t5"], "--crop 40 is too small for n3net-light"),
    ],
}
COMMANDS = {"evaluate": evaluate, "denoise_image": denoise_image, "diagnose": diagnose, "inspect_n3": inspect_n3,
            "compare": compare, "export": export, "denoise": denoise}


@pytest.mark.parametrize("command, args, expected",
                         [(c, a, e) for c, cases in CASES.items() for a, e in cases],
                         ids=[f"{c}-{i}" for c, cases in CASES.items() for i in range(len(cases))])
def test_one_line_and_status_2(command, args, expected, files, capsys):
    argv = [a.format(**files) for a in args]
    fails(COMMANDS[command].main, argv, capsys, expected)


def test_images_smaller_than_a_model_needs_are_denoised(files, capsys):
    """Not an error: a DnCNN takes any size, an N3Net mirrors a small image up to its match window."""
    out = files["root"] / "tiny-out.png"
    assert run_cli(denoise_image.main, [files["dncnn"], files["tiny"], "-o", str(out)]) == 0
    assert np.asarray(Image.open(out)).shape == (6, 5)


def test_resuming_a_file_that_is_not_a_checkpoint(files, capsys):
    out = files["root"] / "resume-junk"
    out.mkdir()
    (out / "last.npz").write_text("garbage")
    fails(denoise.main, TINY + ["--out", str(out), "--resume"], capsys, NOT_OURS)


def test_resuming_with_another_model(files, data, capsys):  # noqa: F811
    out = files["root"] / "run"
    fails(denoise.main, ["--model", "n3net-light", "--out", str(out), "--resume"], capsys,
          "--model n3net-light differs from the resumed run's dncnn17")
