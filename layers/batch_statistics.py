"""The statistics and the backward of batch normalisation, shared by BatchNorm2d (per channel over
the batch and the image) and the N3 block's distance batch-norm (one statistic over the finite
distances of several tiles).

Shape legend: each of the arrays xs reduces over `axes` to the shape of the statistic S (for
BatchNorm2d, xs = [x (N, C, H, W)], axes (0, 2, 3), S = (C,); for the distances, xs = the tiles
(B, nq, nu), every axis, S = ()).  An optional boolean mask per array marks the entries that count;
n is how many entries count per statistic, over all the arrays together.

Forward (training):  mu = sum x / n,  var = sum (x - mu)^2 / n            (biased)
                     x_hat = (x - mu) / sqrt(var + eps)
Backward (training), with dy the gradient of y = gamma x_hat + beta and scale = gamma / sqrt(var + eps):
                     dbeta = sum dy,   dgamma = sum dy x_hat
                     dx = scale (dy - dbeta / n - x_hat dgamma / n)
Evaluation uses running statistics, so dx = scale dy.  Entries outside the mask get x_hat = 0 and
dx = 0 and do not count in any sum.
"""
import string

from minigrad.backend import get_array_module


def reduce_sum(a, axes, b=None):
    """sum over `axes` of a (or of a * b, without the product's temporary): one einsum."""
    letters = string.ascii_lowercase[:a.ndim]
    kept = "".join(c for i, c in enumerate(letters) if i not in axes)
    if b is None:
        return get_array_module(a).einsum(f"{letters}->{kept}", a)
    return get_array_module(a).einsum(f"{letters},{letters}->{kept}", a, b)


def per_statistic(v, ndim, axes):
    """A statistic of shape S reshaped to broadcast against the arrays: 1 on the reduced axes."""
    shape = [1] * ndim
    kept = [i for i in range(ndim) if i not in axes]
    for i, size in zip(kept, getattr(v, "shape", ())):
        shape[i] = size
    return v.reshape(shape) if kept else v


def batch_moments(xs, axes, masks=None):
    """(mu, var, n, centred): the mean and biased variance over `axes` of the arrays xs together, the
    count n per statistic, and the centred arrays x - mu (0 outside the masks)."""
    xp = get_array_module(xs[0])
    if masks is None:
        n = sum(x.size for x in xs) // max(1, _statistic_size(xs[0], axes))
        mean = sum(reduce_sum(x, axes) for x in xs) / n
        centred = [x - per_statistic(mean, x.ndim, axes) for x in xs]
    else:
        n = int(sum(m.sum() for m in masks)) // max(1, _statistic_size(xs[0], axes))   # one synchronisation
        mean = sum(reduce_sum(xp.where(m, x, 0), axes) for x, m in zip(xs, masks)) / max(n, 1)
        centred = [xp.where(m, x - per_statistic(mean, x.ndim, axes), 0) for x, m in zip(xs, masks)]
    var = sum(reduce_sum(c, axes, c) for c in centred) / max(n, 1)
    return mean, var, n, centred


def _statistic_size(x, axes):
    size = 1
    for i, d in enumerate(x.shape):
        if i not in axes:
            size *= d
    return size


def batch_norm_backward(dys, x_hats, scale, n, axes, training, masks=None):
    """(dxs, dgamma, dbeta) of y = gamma x_hat + beta, given dys and the forward's x_hats (0 outside
    the masks), scale = gamma / sqrt(var + eps) of shape S, n and whether the forward used the
    batch's statistics (training) or running ones."""
    xp = get_array_module(dys[0])
    if masks is not None:
        dys = [xp.where(m, dy, 0) for dy, m in zip(dys, masks)]
    dbeta = sum(reduce_sum(dy, axes) for dy in dys)
    dgamma = sum(reduce_sum(dy, axes, x_hat) for dy, x_hat in zip(dys, x_hats))
    dxs = []
    for dy, x_hat in zip(dys, x_hats):
        s = per_statistic(scale, dy.ndim, axes)
        if training:
            # dx = scale (dy - dbeta / n - x_hat dgamma / n), in three passes
            dx = x_hat * per_statistic(-scale * dgamma / n, dy.ndim, axes)
            dx += dy * s
            dx -= per_statistic(scale * dbeta / n, dy.ndim, axes)
        else:
            dx = dy * s
        dxs.append(dx)
    if masks is not None:
        dxs = [xp.where(m, dx, 0) for dx, m in zip(dxs, masks)]
    return dxs, dgamma, dbeta
