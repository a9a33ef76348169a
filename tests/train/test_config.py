"""TrainConfig (train/config.py): each option's default and help defined once, the command line
built from it, and the checkpoint's record of it read back."""
import argparse
import dataclasses

import pytest

from train.config import TrainConfig, add_arguments, given_options


def parser():
    return add_arguments(argparse.ArgumentParser())


def test_the_command_line_has_every_field_with_its_default():
    text = " ".join(parser().format_help().split())
    for f in dataclasses.fields(TrainConfig):
        if f.type is bool:                                   # --no-test, --freeze-n3, --no-distance-bn
            assert f.metadata["flag"] in text
        elif f.default is not None:
            default = f"{f.default:g}" if isinstance(f.default, float) else str(f.default)
            assert f"(default {default}" in text, f.name


def test_parsed_options_make_the_config_and_flags_flip_the_default():
    args = parser().parse_args(["--model", "dncnn17", "--lr", "1e-3", "--no-test", "--freeze-n3"])
    given = given_options(args)
    assert given == {"model": "dncnn17", "lr": 1e-3, "test": False, "freeze_n3": True}
    config = TrainConfig(**given).check()
    assert config.steps == TrainConfig().steps and TrainConfig(**config.to_dict()) == config


@pytest.mark.parametrize("option, value, message", [
    ("steps", 0, "--steps must be positive"), ("clip", -1.0, "--clip must not be negative"),
    ("sigma", 0.0, "--sigma 0 is out of range"), ("threads", 0, "--threads must be positive")])
def test_values_that_cannot_work_are_refused_by_name(option, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{option: value}).check()
