"""single_image_as_batch: the one place a single image (C, H, W) becomes a batch of one."""
import numpy as np

from layers.checks import single_image_as_batch
from minigrad import Module


class Recorder(Module):
    """Records the shapes its forward and backward see."""

    seen = []

    @single_image_as_batch
    def forward(self, x, guide=None):
        self.seen.append((x.shape, None if guide is None else guide.shape))
        return 2 * x

    @single_image_as_batch
    def backward(self, dy):
        self.seen.append((dy.shape, None))
        return 3 * dy


def test_single_images_go_through_as_a_batch_of_one(rng):
    layer, x = Recorder(), rng.standard_normal((2, 4, 5))
    y = layer.forward(x, x[:1])
    assert y.shape == x.shape and np.array_equal(y, 2 * x)
    assert layer.backward(y).shape == x.shape
    assert layer.seen == [((1, 2, 4, 5), (1, 1, 4, 5)), ((1, 2, 4, 5), None)]


def test_batches_pass_unchanged(rng):
    layer, x = Recorder(), rng.standard_normal((3, 2, 4, 5))
    Recorder.seen = []
    assert layer.forward(x).shape == x.shape
    assert layer.seen == [((3, 2, 4, 5), None)]
