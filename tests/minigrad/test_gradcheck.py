import numpy as np
import pytest

from minigrad import GradcheckError, Module, Parameter, gradcheck


class Scale(Module):
    """y = w * x with a deliberately configurable mistake in backward."""

    def __init__(self, wrong_input=False, wrong_param=False):
        self.w = Parameter(np.array([1.5, -0.5]))
        self.wrong_input, self.wrong_param = wrong_input, wrong_param

    def forward(self, x):
        self._x = x
        return self.w.data * x

    def backward(self, dy):
        self.w.grad += (dy * self._x).sum(axis=0) * (1.01 if self.wrong_param else 1)
        return dy * self.w.data * (1.01 if self.wrong_input else 1)


class Product(Module):
    """Two inputs: y = a * b."""

    def forward(self, a, b):
        self._a, self._b = a, b
        return a * b

    def backward(self, dy):
        return dy * self._b, dy * self._a


def test_passes_a_correct_backward(rng):
    errors = gradcheck(Scale(), rng.standard_normal((3, 2)))
    assert set(errors) == {"input 0", "parameter w"}
    assert max(errors.values()) < 1e-8


def test_passes_several_inputs(rng):
    gradcheck(Product(), (rng.standard_normal((2, 3)), rng.standard_normal((2, 3))))


def test_catches_a_wrong_input_gradient(rng):
    with pytest.raises(GradcheckError, match="input 0") as info:
        gradcheck(Scale(wrong_input=True), rng.standard_normal((3, 2)))
    assert "parameter w" not in str(info.value)


def test_catches_a_wrong_parameter_gradient_and_names_it(rng):
    with pytest.raises(GradcheckError, match="parameter w: at index") as info:
        gradcheck(Scale(wrong_param=True), rng.standard_normal((3, 2)))
    assert "input 0" not in str(info.value)


def test_refuses_float32(rng):
    with pytest.raises(TypeError, match="float64"):
        gradcheck(Scale(), rng.standard_normal((3, 2)).astype(np.float32))
