"""The selections (knn.py): ContinuousSelection and HardSelection share one signature, keep
nothing themselves, and give what the modules give; the relaxations are exact without np.errstate."""
import warnings

import numpy as np
import pytest

from n3net.knn import (ContinuousSelection, HardKNN, HardSelection, NeuralNearestNeighbors, log1m_exp,
                       paper_weights, reference_weights)


def problem(rng, B=2, N=3, M=7, F=4):
    D = rng.uniform(0, 3, (B, N, M))
    D[0, 1, 2] = np.inf
    return rng.standard_normal((B, M, F)), D, rng.uniform(0.3, 2, (B, N))


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_continuous_selection_equals_the_module(rng, variant):
    x, D, t = problem(rng)
    select, module = ContinuousSelection(3, variant), NeuralNearestNeighbors(3, variant)
    Z, cache = select.forward(x, D, t)
    np.testing.assert_array_equal(Z, module.forward(x, D, t))
    np.testing.assert_array_equal(cache.weights, module.weights)
    dZ = rng.standard_normal(Z.shape)
    for ours, theirs in zip(select.backward(dZ, cache), module.backward(dZ)):
        np.testing.assert_array_equal(ours, theirs)


def test_hard_selection_has_the_same_signature_and_passes_no_distance_gradient(rng):
    x, D, t = problem(rng)
    Z, cache = HardSelection(3).forward(x, D, t)
    module = HardKNN(3)
    np.testing.assert_array_equal(Z, module.forward(x, D))
    dx, dD, dt = HardSelection(3).backward(np.ones_like(Z), cache)
    np.testing.assert_array_equal(dx, module.backward(np.ones_like(Z))[0])
    assert dD is None and dt is None


def test_weight_one_gives_minus_inf_without_warnings():
    log_w = np.array([0.0, -1e-20, np.log(0.7), np.log(1e-3), -np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(divide="raise", invalid="raise", over="raise"):
            out = log1m_exp(log_w)
    assert out[0] == -np.inf
    np.testing.assert_allclose(out[1:], [np.log(1e-20), np.log(0.3), np.log1p(-1e-3), 0.0], rtol=1e-12)


@pytest.mark.parametrize("weights", [paper_weights, reference_weights])
def test_tiny_temperatures_are_hard_and_silent(rng, weights):
    x, D, t = problem(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(divide="raise", invalid="raise", over="raise"):
            W, _ = weights(D, np.full_like(t, 1e-6), 3)
    nearest = np.argsort(D, axis=-1)[..., :3]
    np.testing.assert_array_equal(W.argmax(axis=-1), nearest)
