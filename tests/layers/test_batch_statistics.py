"""layers/batch_statistics.py: the one batch-norm maths of BatchNorm2d and the distance batch-norm.
(Both layers' backward passes are gradchecked in float64 in their own tests.)"""
import numpy as np

from layers.batch_statistics import batch_moments, batch_norm_backward


def test_per_channel_moments_of_several_arrays_are_those_of_their_concatenation(rng):
    xs = [rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((1, 3, 4, 5))]
    mean, var, n, centred = batch_moments(xs, (0, 2, 3))
    together = np.concatenate(xs)
    np.testing.assert_allclose(mean, together.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(var, together.var(axis=(0, 2, 3)), rtol=1e-12)
    assert n == 3 * 4 * 5
    np.testing.assert_allclose(centred[1], xs[1] - mean.reshape(1, 3, 1, 1), rtol=1e-12)


def test_masked_moments_count_only_the_masked_entries(rng):
    xs = [rng.standard_normal((2, 6, 7)), rng.standard_normal((2, 3, 7))]
    masks = [rng.random(x.shape) < 0.6 for x in xs]
    mean, var, n, centred = batch_moments(xs, (0, 1, 2), masks)
    chosen = np.concatenate([x[m] for x, m in zip(xs, masks)])
    assert n == chosen.size
    np.testing.assert_allclose([mean, var], [chosen.mean(), chosen.var()], rtol=1e-12)
    assert all((c[~m] == 0).all() for c, m in zip(centred, masks))


def test_backward_leaves_the_unmasked_entries_out(rng):
    """dx is 0 outside the mask, and what is inside does not depend on what is outside."""
    x = rng.standard_normal((3, 8))
    mask = rng.random(x.shape) < 0.5
    dy = rng.standard_normal(x.shape)
    mean, var, n, (c,) = batch_moments([x], (0, 1), [mask])
    x_hat = c / np.sqrt(var + 1e-5)
    (dx,), dgamma, dbeta = batch_norm_backward([dy], [x_hat], 1.5 / np.sqrt(var + 1e-5), n, (0, 1), True, [mask])
    dy2 = np.where(mask, dy, 1e3)                                    # change the ignored entries
    (dx2,), dgamma2, dbeta2 = batch_norm_backward([dy2], [x_hat], 1.5 / np.sqrt(var + 1e-5), n, (0, 1), True, [mask])
    assert (dx[~mask] == 0).all()
    np.testing.assert_allclose(dx, dx2, rtol=1e-12)
    np.testing.assert_allclose([dgamma, dbeta], [dgamma2, dbeta2], rtol=1e-12)
    assert abs(dx[mask].sum()) < 1e-10                               # dx sums to 0 (the mean is removed)
