"""Whole networks against their PyTorch autograd twins (bench/torch_models.py), in float64.

The twin shares nothing with n3net/ but the weights: its N3 block is a second, independent
reading of docs/n3net.md (its own window geometry, autograd for every gradient).  Outputs, the
input gradient, every parameter gradient and the running statistics must agree to 1e-10
relative (in the 2-norm).  A gradient is compared relative to the larger of its own norm and 1e-3
of the norm of the network's largest gradient: some are zero in exact arithmetic (the softmax ignores a common
shift of its logits, so the distance batch-norm's bias has no effect), and there both sides
are round-off of the other gradients' size.  The weights are drawn from a fixed seed: where
temperatures start near their floor the reference form's logits are -D / t with t ~ 1e-4, and
the problem itself amplifies round-off by 1 / t (seen: 2.5e-6 between the two with seed 0).
"""

import numpy as np
import pytest

from minigrad import init
from n3net import build_model




def relative_error(ours, theirs, floor=0.0):
    """||ours - theirs|| / ||theirs|| (2-norms over the whole array), the norm at least `floor`."""
    return np.linalg.norm(ours - theirs) / max(np.linalg.norm(theirs), floor)


@pytest.mark.torch
@pytest.mark.parametrize("name, options, shape", [
    ("n3net", dict(variant="paper", init="released"), (2, 1, 80, 80)),        # one tile: a training crop
    ("n3net", dict(variant="reference", init="released"), (2, 1, 80, 80)),
    ("n3net", dict(variant="paper", init="released"), (1, 1, 96, 110)),       # several tiles, padding
    ("n3net-light", dict(variant="paper"), (1, 1, 84, 84)),
    ("dncnn17", dict(), (2, 1, 32, 40)),
])
def test_network_matches_pytorch_twin(torch, rng, name, options, shape):
    from bench.torch_models import twin
    init.manual_seed(1)
    model = build_model(name, **options).to(dtype=np.float64)
    theirs = twin(model, torch.float64)
    x = rng.random(shape)
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    y = model.forward(x)
    assert relative_error(y, yt.detach().numpy()) < 1e-10
    dy = rng.standard_normal(y.shape)
    model.zero_grad()
    dx = model.backward(dy)
    yt.backward(torch.tensor(dy))
    assert relative_error(dx, xt.grad.numpy()) < 1e-10
    their_grads = {n: p.grad.numpy() for n, p in theirs.named_parameters()}
    largest = max(np.linalg.norm(g) for g in their_grads.values())
    for n, p in model.named_parameters():
        assert relative_error(p.grad, their_grads[n], 1e-3 * largest) < 1e-10, n
    their_buffers = {n: b.numpy() for n, b in theirs.named_buffers()}
    for n, b in model.named_buffers():
        assert relative_error(b, their_buffers[n]) < 1e-10, n


@pytest.mark.torch
def test_twin_in_evaluation_mode(torch, rng):
    """Running statistics, no_grad, several tiles: the path whole-image denoising takes."""
    from bench.torch_models import twin

    from minigrad import no_grad
    init.manual_seed(1)
    model = build_model("n3net", init="released").to(dtype=np.float64)
    model.forward(rng.random((2, 1, 80, 80)))             # move the running statistics off their start
    model.eval()
    theirs = twin(model, torch.float64).eval()
    x = rng.random((1, 1, 130, 100))
    with no_grad():
        y = model.forward(x)
    with torch.no_grad():
        yt = theirs(torch.tensor(x)).numpy()
    assert relative_error(y, yt) < 1e-10
