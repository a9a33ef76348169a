"""Finite-difference gradient checking for any Module: the ground truth for every backward.

For a module with output y = f(x_1, ..., x_n; params), draw a random upstream
gradient g and take the scalar L = <g, y>.  Then backward(g) must return dL/dx_i
and add dL/dp into every p.grad; each is compared with the central difference

    dL/dz ~ (L(z + eps) - L(z - eps)) / (2 eps)

entry by entry, in float64.  Inputs and every parameter are checked on their own,
and a failure names the tensor, the worst entry and both values.  Buffers (e.g.
BatchNorm's running statistics) are restored after every evaluation, so a module
in training mode can be checked too.
"""
import numpy as np

from .backend import get_array_module, to_numpy


class GradcheckError(AssertionError):
    pass


def _as_tuple(v):
    return v if isinstance(v, tuple) else (v,)


def _entries(size, max_entries, rng):
    if max_entries is None or size <= max_entries:
        return np.arange(size)
    return np.sort(rng.choice(size, max_entries, replace=False))


def gradcheck(module, inputs, wrt=None, eps=1e-6, atol=1e-6, rtol=1e-5, max_entries=None,
              check_params=True, seed=0):
    """Check module.backward against central differences; raise GradcheckError on mismatch.

    inputs:      tuple of float64 arrays passed to module.forward (or one array).
    wrt:         indices of the inputs to check (default: all); backward must return one
                 gradient per input in forward's order (a single array for one input).
    max_entries: check at most this many randomly chosen entries of each tensor.
    Returns a dict name -> max abs error, for reports.
    """
    inputs = _as_tuple(inputs)
    for i, x in enumerate(inputs):
        if x.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 inputs (input {i} is {x.dtype}): a float32 "
                            f"finite difference cannot resolve gradient errors")
    params = dict(module.named_parameters()) if check_params else {}
    for name, p in params.items():
        if p.data.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 parameters ({name} is {p.data.dtype}): "
                            f"call module.double() first")
    wrt = tuple(range(len(inputs)) if wrt is None else wrt)
    rng = np.random.default_rng(seed)
    xp = get_array_module(inputs[0])
    buffers = [(m, name, getattr(m, name).copy()) for m in module.modules()
               for name in vars(m).get("_buffer_names", [])]

    def restore_buffers():
        for m, name, value in buffers:
            getattr(m, name)[...] = value

    module.zero_grad()
    outputs = _as_tuple(module.forward(*inputs))
    restore_buffers()
    upstream = tuple(xp.asarray(rng.standard_normal(y.shape)) for y in outputs)
    grads = tuple(None if g is None else g.copy() for g in _as_tuple(module.backward(*upstream)))

    def loss():
        ys = _as_tuple(module.forward(*inputs))
        restore_buffers()
        return sum(float((g * y).sum()) for g, y in zip(upstream, ys))

    if wrt and len(grads) <= max(wrt):
        raise GradcheckError(f"{type(module).__name__}.backward returned {len(grads)} gradient(s), "
                             f"but input {max(wrt)} is to be checked")

    targets = [(f"input {i}", inputs[i], grads[i]) for i in wrt]
    targets += [(f"parameter {name}", p.data, p.grad.copy()) for name, p in params.items()]
    report, failures = {}, []
    for name, array, analytic in targets:
        if analytic is None or tuple(analytic.shape) != tuple(array.shape):
            got = None if analytic is None else tuple(analytic.shape)
            failures.append(f"{name}: gradient has shape {got}, expected {tuple(array.shape)}")
            continue
        if not array.flags.c_contiguous:
            raise GradcheckError(f"{name} is not C-contiguous, so it cannot be perturbed in place")
        flat, analytic = array.reshape(-1), to_numpy(analytic).reshape(-1)   # flat: a view
        worst = (0.0, None, 0.0, 0.0)
        for idx in _entries(array.size, max_entries, rng):
            original = float(flat[idx])
            flat[idx] = original + eps
            plus = loss()
            flat[idx] = original - eps
            minus = loss()
            flat[idx] = original
            numeric = (plus - minus) / (2 * eps)
            err = abs(numeric - analytic[idx])
            excess = err - (atol + rtol * abs(numeric))
            if not np.isfinite(excess):        # NaN or inf on either side is a failure, never a pass
                excess = np.inf
            if worst[1] is None or excess > worst[0]:
                worst = (excess, idx, analytic[idx], numeric)
        report[name] = worst
        excess, idx, a, n = worst
        if idx is not None and excess > 0:
            where = np.unravel_index(idx, array.shape)
            failures.append(f"{name}: at index {tuple(int(i) for i in where)} backward gives {a:.10g}, "
                            f"finite differences give {n:.10g} (|diff| = {abs(a - n):.3g}, "
                            f"allowed {atol + rtol * abs(n):.3g})")
    if failures:
        raise GradcheckError(f"gradcheck failed for {type(module).__name__}:\n  " + "\n  ".join(failures))
    return {name: abs(w[2] - w[3]) for name, w in report.items()}
