"""Optimisers (SGD, Adam, AdamW), learning-rate schedules and gradient clipping.

The update rules are PyTorch's (torch.optim.SGD and torch.optim.Adam, with
weight decay added to the gradient; torch.optim.AdamW, with the decay decoupled
from the gradient), so the two take identical steps.
Parameters are given as a list of Parameters or as a list of groups, dicts with
a "params" list and any options that differ for that group, for example no
weight decay on biases:

    Adam([{"params": weights, "weight_decay": 1e-4}, {"params": biases}], lr=1e-3)

Every update writes into p.data in place, and stores subnormal values as zero (subnormal.py).
"""
import math

from .backend import get_array_module
from .subnormal import flush_negligible, flush_subnormals


class Optimizer:
    defaults = {}

    def __init__(self, params, **options):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got no parameters to optimise")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        for group in groups:
            unknown = set(group) - set(options) - {"params"}
            if unknown:
                raise ValueError(f"unknown option(s) in parameter group: {sorted(unknown)}")
            self.param_groups.append({**options, **group, "params": list(group["params"])})
        self.state = {}     # id(param) -> dict of arrays

    def zero_grad(self):
        for group in self.param_groups:
            for p in group["params"]:
                p.grad[...] = 0

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state.setdefault(id(p), {})
                self._update(p, group, state)
                flush_negligible(p.data)           # weights decayed to nothing slow the CPU down
                for buffer in state.values():
                    if getattr(buffer, "ndim", 0):
                        flush_subnormals(buffer)

    def _update(self, p, group, state):
        raise NotImplementedError

    # ---- state for checkpoints: moments by parameter position, options by group ----
    def _indexed_params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self):
        state = {}
        for i, p in enumerate(self._indexed_params()):
            if id(p) in self.state:
                state[str(i)] = dict(self.state[id(p)])
        groups = {str(g): {k: v for k, v in group.items() if k != "params"}
                  for g, group in enumerate(self.param_groups)}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        params = self._indexed_params()
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"optimiser state has {len(groups)} parameter groups, this optimiser "
                             f"has {len(self.param_groups)}")
        for g, group in enumerate(self.param_groups):
            # betas come back from a file as an array: make them Python floats again, since
            # numpy's float64 ** t may differ from Python's in the last bit
            group.update({k: tuple(float(b) for b in v) if k == "betas" else v
                          for k, v in groups[str(g)].items()})
        self.state = {}
        for key, entries in state_dict["state"].items():
            p = params[int(key)]
            xp = get_array_module(p.data)
            self.state[id(p)] = {name: (xp.asarray(v, dtype=p.data.dtype) if getattr(v, "ndim", 0)
                                        else v) for name, v in entries.items()}


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, Nesterov momentum and weight decay.

        g = grad + weight_decay * p
        b = g (first step), else b = momentum * b + (1 - dampening) * g
        g = g + momentum * b (Nesterov), else g = b
        p = p - lr * g
    """

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        if lr <= 0:
            raise ValueError(f"SGD learning rate must be positive, got {lr}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov)

    def _update(self, p, group, state):
        g = p.grad
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        momentum = group["momentum"]
        if momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                b = state["momentum_buffer"]
                b *= momentum
                b += (1 - group["dampening"]) * g
            b = state["momentum_buffer"]
            g = g + momentum * b if group["nesterov"] else b
        p.data -= group["lr"] * g


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with L2 weight decay added to the gradient.

        g = grad + weight_decay * p
        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
        p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if lr <= 0:
            raise ValueError(f"Adam learning rate must be positive, got {lr}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"Adam betas must lie in [0, 1), got {betas}")
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)

    def _update(self, p, group, state):
        g = p.grad
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        self._adam_step(p, g, group, state)

    @staticmethod
    def _adam_step(p, g, group, state):
        """The moment updates and the normalised step for gradient g (decay already applied)."""
        xp = get_array_module(p.data)
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
        b1, b2 = group["betas"]
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        step_size = group["lr"] / (1 - b1 ** t)
        denom = xp.sqrt(v) / math.sqrt(1 - b2 ** t) + group["eps"]
        p.data -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019), as torch.optim.AdamW.

        p = p (1 - lr weight_decay)                    the decay, outside the moments
        m, v and the step as Adam's, on the gradient alone

    With Adam's L2 decay the term weight_decay * p enters the normalised step: a parameter whose
    data gradient is much smaller than it (a convolution followed by batch-norm receives none that
    resists shrinking) moves by about lr per step towards zero whatever the decay's size.  Here it
    shrinks by the factor (1 - lr weight_decay) per step, about 2e-7 with lr 2e-3 and decay 1e-4.
    PyTorch's default decay is 1e-2; this class takes 0 like Adam, so that every recipe says it.
    """

    def _update(self, p, group, state):
        if group["weight_decay"]:
            p.data *= 1 - group["lr"] * group["weight_decay"]
        self._adam_step(p, p.grad, group, state)


def clip_grad_norm(parameters, max_norm):
    """Scale all gradients together so that their global L2 norm is at most max_norm.

    Returns the norm before clipping (as torch.nn.utils.clip_grad_norm_, which
    scales by max_norm / (norm + 1e-6)).
    """
    parameters = list(parameters)
    # the sum on the device, one transfer to the host (a GPU waits once per call, not per parameter)
    total = math.sqrt(float(sum((p.grad.astype("float64") ** 2).sum() for p in parameters)))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for p in parameters:
            p.grad *= scale
    return total


class LRScheduler:
    """Sets every group's lr to base_lr * factor(step); call step() once per optimiser step."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.last_step = 0

    def factor(self, step):
        raise NotImplementedError

    def get_lr(self):
        return [base * self.factor(self.last_step) for base in self.base_lrs]

    def step(self):
        self.last_step += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr

    def state_dict(self):
        return {"last_step": self.last_step, "base_lrs": {str(i): b for i, b in enumerate(self.base_lrs)}}

    def load_state_dict(self, state):
        self.last_step = int(state["last_step"])
        self.base_lrs = [float(state["base_lrs"][str(i)]) for i in range(len(self.base_lrs))]
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (step // step_size), as torch.optim.lr_scheduler.StepLR."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def factor(self, step):
        return self.gamma ** (step // self.step_size)


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** step."""

    def __init__(self, optimizer, gamma):
        self.gamma = gamma
        super().__init__(optimizer)

    def factor(self, step):
        return self.gamma ** step


class ExponentialDecayLR(LRScheduler):
    """Exponential decay from the optimiser's lr to end_lr over total_steps, then constant.

    lr(step) = base_lr * (end_lr / base_lr) ** (min(step, total_steps) / total_steps), the
    paper's schedule (1e-3 to 1e-8).  With several groups every group is scaled by the same
    factor, the one that takes the first group from its lr to end_lr.

    extend(total_steps) re-plans a run that is to go on longer: from the current step s0 and its
    factor f0, the decay continues to end_lr at the new total, so the learning rate neither jumps
    nor restarts:  factor(step) = f0 (end_lr / (base_lr f0)) ** ((step - s0) / (total_steps - s0)).
    (A run planned that long from the start decays more slowly early on: the two differ.)
    """

    def __init__(self, optimizer, end_lr, total_steps):
        if end_lr <= 0 or total_steps <= 0:
            raise ValueError("ExponentialDecayLR needs end_lr > 0 and total_steps > 0")
        self.end_lr, self.total_steps = end_lr, total_steps
        self.start_step, self.start_factor = 0, 1.0      # where the current plan starts
        super().__init__(optimizer)

    def factor(self, step):
        span = self.total_steps - self.start_step
        progress = min(max(step - self.start_step, 0), span) / span if span > 0 else 1.0
        return self.start_factor * (self.end_lr / (self.base_lrs[0] * self.start_factor)) ** progress

    def extend(self, total_steps):
        """Go on to total_steps (> the current step), re-planning the decay from here."""
        if total_steps <= self.last_step:
            raise ValueError(f"cannot extend to {total_steps} steps: the schedule is at step {self.last_step}")
        self.start_factor, self.start_step = self.factor(self.last_step), self.last_step
        self.total_steps = total_steps

    def take_over(self, schedule):
        """Go on from another schedule where it stands: from its step s0 and learning rate, decay to
        end_lr at total_steps, factor(step) = f0 (end_lr / (base_lr f0)) ** ((step - s0) / (total_steps
        - s0)) with schedule's base_lr and factor f0 at s0.  The cool-down branch of a run trained at a
        slowly falling rate (train/denoise.py --cooldown-from): the rate does not jump.  Returns self."""
        if self.total_steps <= schedule.last_step:
            raise ValueError(f"cannot decay to step {self.total_steps}: the schedule taken over is at step "
                             f"{schedule.last_step}")
        self.base_lrs = list(schedule.base_lrs)
        self.start_step = self.last_step = schedule.last_step
        self.start_factor = schedule.factor(schedule.last_step)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        return self

    def state_dict(self):
        return {**super().state_dict(), "total_steps": self.total_steps, "start_step": self.start_step,
                "start_factor": self.start_factor}

    def load_state_dict(self, state):
        # checkpoints from before extend() hold neither: their plan started at step 0
        self.total_steps = int(state.get("total_steps", self.total_steps))
        self.start_step = int(state.get("start_step", 0))
        self.start_factor = float(state.get("start_factor", 1.0))
        super().load_state_dict(state)


class HalfLifeLR(LRScheduler):
    """lr = base_lr * max(0.5 ** (step / half_life), end_lr / base_lr): halves every half_life steps
    down to end_lr, whatever the length of the run, so that a run extended to more steps continues
    exactly as one planned that long (the schedule for budgets that keep growing)."""

    def __init__(self, optimizer, half_life, end_lr):
        if half_life <= 0 or end_lr <= 0:
            raise ValueError("HalfLifeLR needs half_life > 0 and end_lr > 0")
        self.half_life, self.end_lr = half_life, end_lr
        super().__init__(optimizer)

    @staticmethod
    def rate(base_lr, half_life, end_lr, step):
        """The learning rate at `step` of a schedule from base_lr (without building one)."""
        return max(base_lr * 0.5 ** (step / half_life), end_lr)

    def factor(self, step):
        return self.rate(self.base_lrs[0], self.half_life, self.end_lr, step) / self.base_lrs[0]
