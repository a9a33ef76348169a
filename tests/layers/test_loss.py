import numpy as np
import pytest

from layers import L1Loss, MSELoss
from minigrad import gradcheck
from tests.helpers import away_from_zero


@pytest.mark.parametrize("make", [MSELoss, L1Loss])
def test_gradcheck_wrt_prediction(rng, make):
    pred = rng.standard_normal((2, 1, 3, 3))
    target = pred - away_from_zero(rng, pred.shape)          # keep L1 away from its kink
    gradcheck(make(), (pred, target), wrt=(0,))


def test_known_values():
    pred, target = np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0])
    mse = MSELoss()
    assert mse.forward(pred, target) == pytest.approx((0 + 4 + 9) / 3)
    np.testing.assert_allclose(mse.backward(), [0, 4 / 3, 6 / 3])
    l1 = L1Loss()
    assert l1.forward(pred, target) == pytest.approx(5 / 3)
    np.testing.assert_allclose(l1.backward(), [0, 1 / 3, 1 / 3])
    np.testing.assert_allclose(l1.backward(2.0), [0, 2 / 3, 2 / 3])


def test_shape_mismatch():
    with pytest.raises(ValueError, match=r"prediction has shape \(2,\) but target has shape \(3,\)"):
        MSELoss().forward(np.zeros(2), np.zeros(3))
