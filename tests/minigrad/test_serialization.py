import os

import numpy as np
import pytest

from minigrad import load, save


def test_nested_round_trip_with_scalars_and_strings(tmp_path):
    state = {"model": {"conv.weight": np.arange(6.0).reshape(2, 3)},
             "optim": {"state": {"0": {"step": 3, "exp_avg": np.ones(2, np.float32)}}},
             "config": '{"depth": 17}', "lr": 1e-3}
    save(state, tmp_path / "ckpt.npz")
    back = load(tmp_path / "ckpt.npz")
    np.testing.assert_array_equal(back["model"]["conv.weight"], state["model"]["conv.weight"])
    assert back["optim"]["state"]["0"]["step"] == 3
    assert back["optim"]["state"]["0"]["exp_avg"].dtype == np.float32
    assert back["config"] == '{"depth": 17}' and back["lr"] == 1e-3


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"a": np.zeros(3)}, path)

    class Boom:                       # to_numpy(Boom()) cannot make an array: save must fail
        def __array__(self, *args, **kwargs):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save({"a": np.ones(3), "b": Boom()}, path)
    np.testing.assert_array_equal(load(path)["a"], np.zeros(3))    # the old file survives
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_missing_and_corrupt_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a checkpoint written by this project") as error:
        load(bad)
    assert "pickle" not in str(error.value)          # not NumPy's advice to load it unsafely
    good = tmp_path / "good.npz"
    save({"a": np.ones(100)}, good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a checkpoint written by this project"):
        load(truncated)


def test_keys_with_the_separator_are_refused(tmp_path):
    with pytest.raises(ValueError, match="must not contain"):
        save({"a/b": np.zeros(1)}, tmp_path / "x.npz")
