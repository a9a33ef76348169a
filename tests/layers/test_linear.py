import numpy as np
import pytest

from layers import Linear
from minigrad import gradcheck
from tests.helpers import assert_matches_torch, copy_to_torch


@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck(rng, shape, bias):
    gradcheck(Linear(3, 2, bias=bias, rng=rng).double(), rng.standard_normal(shape))


def test_known_values_and_errors():
    lin = Linear(2, 1).double()
    lin.weight.data[...] = [[2.0, -1.0]]
    lin.bias.data[...] = 0.5
    np.testing.assert_allclose(lin.forward(np.array([[1.0, 3.0]])), [[2 - 3 + 0.5]])
    with pytest.raises(ValueError, match=r"Linear expects input of shape \(\.\.\., 2\)"):
        lin.forward(np.zeros((4, 3)))


@pytest.mark.torch
def test_matches_torch(torch, rng):
    lin = Linear(4, 3, rng=rng).double()
    ref = torch.nn.Linear(4, 3)
    copy_to_torch(lin, ref, torch)
    assert_matches_torch(lin, ref, rng.standard_normal((2, 5, 4)), rng, torch)
