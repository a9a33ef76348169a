import numpy as np
import pytest

from minigrad import Parameter
from minigrad.optim import (SGD, Adam, AdamW, ExponentialDecayLR, ExponentialLR, StepLR,
                            clip_grad_norm)


def param(value, grad):
    p = Parameter(np.array(value, dtype=np.float64))
    p.grad[...] = grad
    return p


def test_sgd_plain_step_with_weight_decay():
    p = param([1.0, -2.0], [0.5, 0.5])
    SGD([p], lr=0.1, weight_decay=0.01).step()
    np.testing.assert_allclose(p.data, [1 - 0.1 * (0.5 + 0.01), -2 - 0.1 * (0.5 - 0.02)])


def test_sgd_momentum_and_nesterov_closed_form():
    # constant gradient g: buffers are g, (1 + m) g; Nesterov steps use g + m b
    g, lr, m = 2.0, 0.1, 0.9
    p = param([0.0], [g])
    opt = SGD([p], lr=lr, momentum=m)
    opt.step()
    opt.step()
    np.testing.assert_allclose(p.data, [-lr * g - lr * (1 + m) * g])
    q = param([0.0], [g])
    opt = SGD([q], lr=lr, momentum=m, nesterov=True)
    opt.step()
    opt.step()
    np.testing.assert_allclose(q.data, [-lr * (g + m * g) - lr * (g + m * (1 + m) * g)])


def test_adam_first_step_is_lr_times_sign():
    g = np.array([3.0, -0.2, 1e-3])
    p = param([1.0, 1.0, 1.0], g)
    Adam([p], lr=0.01).step()
    # m = (1-b1) g, v = (1-b2) g^2 -> step = lr * g / (|g| + eps)
    np.testing.assert_allclose(p.data, 1 - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12)


def test_parameter_groups_take_their_own_options():
    w, b = param([1.0], [1.0]), param([1.0], [1.0])
    SGD([{"params": [w], "weight_decay": 0.5}, {"params": [b]}], lr=0.1).step()
    np.testing.assert_allclose(w.data, [1 - 0.1 * 1.5])
    np.testing.assert_allclose(b.data, [1 - 0.1])
    with pytest.raises(ValueError, match="unknown option"):
        SGD([{"params": [w], "wd": 1}], lr=0.1)
    with pytest.raises(ValueError, match="no parameters"):
        Adam([])


def test_schedules():
    opt = SGD([param([0.0], [0.0])], lr=1.0)
    step = StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        step.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25]
    opt = SGD([param([0.0], [0.0])], lr=2.0)
    ExponentialLR(opt, 0.5).step()
    assert opt.param_groups[0]["lr"] == 1.0
    opt = Adam([param([0.0], [0.0])], lr=1e-3)
    decay = ExponentialDecayLR(opt, end_lr=1e-8, total_steps=10)
    lrs = []
    for _ in range(12):
        decay.step()
        lrs.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs[4], 1e-3 * 1e-5 ** 0.5)      # half way: geometric mean
    np.testing.assert_allclose(lrs[9:], [1e-8] * 3)              # then constant


def test_clip_grad_norm():
    a, b = param([0.0, 0.0], [3.0, 0.0]), param([0.0], [4.0])
    norm = clip_grad_norm([a, b], max_norm=1.0)
    assert norm == pytest.approx(5.0)
    total = np.sqrt((a.grad ** 2).sum() + (b.grad ** 2).sum())
    assert total == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(a.grad / b.grad[0], [0.75, 0.0])   # direction kept
    c = param([0.0], [0.5])
    clip_grad_norm([c], max_norm=1.0)
    assert c.grad[0] == 0.5                                       # below the bound: untouched


def test_state_dict_resumes_exactly(rng):
    def run(steps, resume_at=None):
        p = param(np.ones(3), np.zeros(3))
        opt = Adam([p], lr=0.1, weight_decay=0.01)
        sched = StepLR(opt, 2, 0.5)
        for i in range(steps):
            if i == resume_at:
                saved = (p.data.copy(), opt.state_dict(), sched.state_dict())
                p = param(saved[0], np.zeros(3))
                opt = Adam([p], lr=0.1, weight_decay=0.01)
                opt.load_state_dict(saved[1])
                sched = StepLR(opt, 2, 0.5)
                sched.load_state_dict(saved[2])
            p.grad[...] = np.sin(np.arange(3) + i)
            opt.step()
            sched.step()
        return p.data

    np.testing.assert_array_equal(run(6), run(6, resume_at=3))


def test_adamw_decay_is_decoupled():
    # a weight that gets no data gradient (a convolution before a batch-norm, at its scale):
    # Adam's L2 decay enters the normalised step and moves it by about lr per step, whatever the
    # decay's size (here from 1 to below 0.3 in 100 steps of lr 0.01); AdamW shrinks it by exactly
    # (1 - lr * weight_decay) per step
    lr, wd, steps = 1e-2, 1e-4, 100
    params = {cls: Parameter(np.ones(3)) for cls in (Adam, AdamW)}
    for cls, p in params.items():
        opt = cls([p], lr=lr, weight_decay=wd)
        for _ in range(steps):
            opt.step()                                   # p.grad stays 0
    assert (params[Adam].data < 0.3).all()
    np.testing.assert_allclose(params[AdamW].data, (1 - lr * wd) ** steps, rtol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["sgd", "nesterov", "adam", "adamw"])
def test_steps_match_torch(torch, rng, kind):
    w0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(5)]
    p = Parameter(w0.copy())
    t = torch.nn.Parameter(torch.tensor(w0))
    if kind == "adam":
        ours, theirs = Adam([p], lr=0.01, weight_decay=0.1), torch.optim.Adam([t], lr=0.01, weight_decay=0.1)
    elif kind == "adamw":
        ours, theirs = AdamW([p], lr=0.01, weight_decay=0.1), torch.optim.AdamW([t], lr=0.01, weight_decay=0.1)
    else:
        opts = dict(lr=0.05, momentum=0.9, weight_decay=0.1, nesterov=kind == "nesterov")
        ours, theirs = SGD([p], **opts), torch.optim.SGD([t], **opts)
    for g in grads:
        p.grad[...] = g
        t.grad = torch.tensor(g)
        ours.step()
        theirs.step()
    np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-13, atol=1e-13)


def test_exponential_decay_extended_mid_run_replans_from_where_it_is():

    opt = SGD([Parameter(np.zeros(1))], lr=1.0)
    decay = ExponentialDecayLR(opt, end_lr=1e-2, total_steps=10)
    for _ in range(4):
        decay.step()
    lr4 = opt.param_groups[0]["lr"]
    assert lr4 == pytest.approx(1e-2 ** 0.4)
    decay.extend(20)
    state = decay.state_dict()
    lrs = []
    for _ in range(16):
        decay.step()
        lrs.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, lr4 * (1e-2 / lr4) ** (np.arange(1, 17) / 16))   # from lr4 to 1e-2 at 20
    again = ExponentialDecayLR(SGD([Parameter(np.zeros(1))], lr=1.0), end_lr=1e-2, total_steps=10)
    again.load_state_dict(state)                                  # the re-plan is in the checkpoint
    assert again.total_steps == 20 and again.get_lr()[0] == pytest.approx(lr4)
    with pytest.raises(ValueError, match="cannot extend to 3 steps"):
        decay.extend(3)


def test_half_life_does_not_depend_on_the_length():
    from minigrad.optim import HalfLifeLR
    opt = SGD([Parameter(np.zeros(1))], lr=1.0)
    schedule = HalfLifeLR(opt, half_life=2, end_lr=0.1)
    lrs = []
    for _ in range(10):
        schedule.step()
        lrs.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, np.maximum(0.5 ** (np.arange(1, 11) / 2), 0.1))


def test_a_decay_taking_over_from_a_half_life_starts_at_its_rate_and_ends_at_end_lr():
    from minigrad.optim import HalfLifeLR
    opt = SGD([Parameter(np.zeros(1))], lr=1.0)
    trunk = HalfLifeLR(opt, half_life=2, end_lr=1e-3)
    for _ in range(4):
        trunk.step()                                                # rate 0.25 at step 4
    branch = ExponentialDecayLR(opt, end_lr=1e-2, total_steps=8).take_over(trunk)
    assert branch.last_step == 4 and opt.param_groups[0]["lr"] == pytest.approx(0.25)
    lrs = []
    for _ in range(6):
        branch.step()
        lrs.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, 0.25 * (1e-2 / 0.25) ** (np.minimum(np.arange(1, 7), 4) / 4))
    with pytest.raises(ValueError, match="cannot decay to step 3"):
        ExponentialDecayLR(opt, end_lr=1e-2, total_steps=3).take_over(trunk)
