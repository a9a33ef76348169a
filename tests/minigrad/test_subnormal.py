"""Subnormal numbers are stored as zero (minigrad/subnormal.py): exactly those values, after every
optimiser step and on every load, without changing what a model computes."""
import numpy as np
import pytest

from layers import Conv2d
from minigrad import Parameter, no_grad
from minigrad.optim import SGD, Adam, AdamW
from minigrad.subnormal import flush_negligible, flush_subnormals


def subnormal(x):
    return (np.abs(x) < np.finfo(x.dtype).tiny) & (x != 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flush_sets_exactly_the_subnormal_values_to_zero(dtype):
    tiny = np.finfo(dtype).tiny
    x = np.array([tiny, -tiny, tiny / 2, -tiny / 4, np.nextafter(tiny, 0), 0, 1, -1e-30, np.inf, np.nan], dtype)
    expected = x.copy()
    expected[[2, 3, 4]] = 0
    flushed = flush_subnormals(x)
    assert flushed is x
    np.testing.assert_array_equal(x, expected)              # the normal ones, inf and nan untouched
    ints = np.array([0, 1], np.int64)
    assert flush_subnormals(ints) is ints


def test_loading_stores_subnormal_weights_as_zero_and_computes_the_same(rng):
    conv = Conv2d(8, 8, 3, padding=1)
    weights = conv.weight.data.copy()
    weights[:4] *= 1e-38                                    # four filters that decay made subnormal
    assert subnormal(weights).any()
    x = rng.standard_normal((1, 8, 16, 16)).astype(np.float32)
    conv.weight.data[...] = weights                         # as they were trained (not loaded)
    with no_grad():
        before = conv.forward(x).copy()
    state = conv.state_dict()
    state["weight"] = weights
    conv.load_state_dict(state)
    assert not subnormal(conv.weight.data).any() and (conv.weight.data[:4] == 0).all()
    with no_grad():
        after = conv.forward(x)
    assert np.abs(after - before).max() < 1e-30             # a few times 1e-38 at most


@pytest.mark.parametrize("optimizer", [SGD, Adam, AdamW])
def test_optimiser_steps_store_subnormal_parameters_and_moments_as_zero(optimizer):
    p = Parameter(np.array([3e-38, 1.0, -2e-38], np.float32))
    options = dict(lr=0.5, weight_decay=1.0) if optimizer is SGD else dict(lr=1e-3, weight_decay=0.0)
    opt = optimizer([p], **options)
    p.grad[...] = 0 if optimizer is SGD else np.array([1e-20, 0, 0], np.float32)
    opt.step()
    assert not subnormal(p.data).any()
    if optimizer is SGD:            # 1.5e-38 is normal but negligible beside 0.5 (flush_negligible)
        np.testing.assert_array_equal(p.data, np.array([0, 0.5, 0], np.float32))
    else:                                                   # v = (1 - 0.999) * 1e-40 is subnormal
        state = opt.state[id(p)]
        assert state["exp_avg_sq"][0] == 0 and state["exp_avg"][0] == np.float32(1e-21)
        for name in ("exp_avg", "exp_avg_sq"):
            assert not subnormal(state[name]).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_negligible_weights_are_those_below_eps_squared_of_the_largest(dtype):
    eps2 = float(np.finfo(dtype).eps) ** 2
    x = np.array([-2.0, 2.0 * eps2 * 1.01, -2.0 * eps2 * 0.99, 1e-30, 0, np.finfo(dtype).tiny / 2], dtype)
    expected = np.array([-2.0, x[1], 0, 1e-30 if dtype == np.float64 else 0, 0, 0], dtype)
    assert flush_negligible(x) is x
    np.testing.assert_array_equal(x, expected)
    small = np.array([1e-30, 1e-31, np.finfo(dtype).tiny / 4], dtype)          # all tiny: relative to 1e-30
    np.testing.assert_array_equal(flush_negligible(small), np.array([1e-30, 1e-31, 0], dtype))
    for bad in (np.inf, np.nan):                            # a diverged weight: only subnormals go
        y = np.array([bad, 1e-30, np.finfo(dtype).tiny / 2], dtype)
        flush_negligible(y)
        assert y[1] == dtype(1e-30) and y[2] == 0 and (np.isinf(y[0]) if bad == np.inf else np.isnan(y[0]))


def test_dead_channel_weights_are_flushed_on_load_and_by_steps_without_changing_outputs(rng):
    """A filter that reads a channel a ReLU switched off keeps weights of 1e-35 (decay, no data):
    not subnormal, but its products with gradients are; they are stored as zero."""
    conv = Conv2d(8, 8, 3, padding=1)
    weights = conv.weight.data.copy()
    weights[:, :3] *= 1e-33                                 # three dead input channels
    x = rng.standard_normal((1, 8, 16, 16)).astype(np.float32)
    x[:, :3] = 0                                            # what a dead ReLU passes on
    conv.weight.data[...] = weights
    with no_grad():
        before = conv.forward(x).copy()
    state = conv.state_dict()
    state["weight"] = weights
    conv.load_state_dict(state)
    assert (conv.weight.data[:, :3] == 0).all() and (conv.weight.data[:, 3:] == weights[:, 3:]).all()
    with no_grad():
        np.testing.assert_array_equal(conv.forward(x), before)
    conv.weight.data[...] = weights
    opt = Adam(conv.parameters(), lr=1e-3)
    conv.weight.grad[...] = 0
    opt.step()
    assert (conv.weight.data[:, :3] == 0).all()
