"""The geometric self-ensemble (train/inference.py, denoise(..., self_ensemble=True)): the eight
orientations are undone exactly, and the mean turns with the image although the model does not."""
import numpy as np

from minigrad import init
from n3net import build_model
from train.inference import SYMMETRIES, denoise, denoise_image, turn, turn_back


def test_the_eight_orientations_are_distinct_and_undone(rng):
    image = rng.random((7, 11))                                           # not square: turns swap H and W
    turned = [turn(image, k, mirror) for k, mirror in SYMMETRIES]
    assert len({t.tobytes() + bytes(t.shape) for t in turned}) == 8
    for (k, mirror), t in zip(SYMMETRIES, turned):
        assert np.array_equal(turn_back(t, k, mirror), image)


class AddsAColumnRamp:
    """A 'model' that adds 0 at its input's left column rising to 1 at its right: not equivariant."""
    def eval(self):
        return self

    def forward(self, x):                                                 # (1, 1, H, W)
        return x + np.linspace(0, 1, x.shape[-1], dtype=x.dtype)


def test_the_ramps_of_the_eight_orientations_average_to_a_half(rng):
    # turned back, the ramp runs left->right, right->left, top->bottom and bottom->top, twice each:
    # their mean is 0.5 everywhere, and the image itself comes back unturned
    noisy = rng.random((40, 57)).astype(np.float32)
    out = denoise(AddsAColumnRamp(), noisy, self_ensemble=True)
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert np.abs(out - (noisy + 0.5)).max() < 1e-6
    assert np.abs(denoise(AddsAColumnRamp(), noisy) - noisy - 0.5).max() > 0.49     # one orientation: the ramp


def small_n3net(rng):
    init.manual_seed(0)
    model = build_model(name="n3net", depth=3, features=8, patch_size=6, stride=3, match_window=7, k=3,
                        query_tile=24)
    for p in model.parameters():                                          # trained-looking, not identity-like
        p.data += 0.05 * rng.standard_normal(p.data.shape).astype(p.data.dtype)
    return model


def test_the_ensemble_turns_with_the_image_though_n3net_does_not(rng):
    model = small_n3net(rng)
    noisy = rng.random((45, 38)).astype(np.float32)
    plain, mean = denoise(model, noisy), denoise(model, noisy, self_ensemble=True)
    for k, mirror in SYMMETRIES[1:]:
        turned = np.ascontiguousarray(turn(noisy, k, mirror))
        assert np.abs(denoise(model, turned) - turn(plain, k, mirror)).max() > 1e-3     # the model alone: not
        assert np.abs(denoise(model, turned, self_ensemble=True) - turn(mean, k, mirror)).max() < 1e-6


def test_colour_and_progress_count_every_orientation(rng):
    model = small_n3net(rng)
    noisy = rng.random((30, 33, 3)).astype(np.float32)
    calls = []
    out = denoise_image(model, noisy, progress=calls.append, self_ensemble=True)
    assert len(calls) == 3 * 8                                            # channels x orientations, one tile each
    for c in range(3):
        assert np.array_equal(out[..., c], denoise(model, noisy[..., c], self_ensemble=True))
