"""DnCNN-17 and N3Net written the obvious way in PyTorch (autograd): the benchmark's anchor and
the parity test's reference.  Never imported by the framework; needs `pip install torch==2.13.0`.

Same architecture, same parameter and buffer names as ours (n3net/), so that
`load_ours(torch_model, our_model.state_dict())` gives the same network.  The N3 block follows
docs/n3net.md, section 3, with the same tiling as n3net/n3block.py (queries in tiles of
query_tile x query_tile patches, each against the union of its queries' windows), so that
PyTorch's memory, like ours, grows linearly with the image.  It is written independently of
n3net/ (its own window geometry), so that the parity test checks ours against a second reading
of the definition.  Candidates outside a query's window get the logit -BIG instead of -inf:
their weight is exactly 0 and autograd's 0 * inf never happens.

Shape legend: B batch, C channels, H x W image, p patch, s stride, w match window, k neighbours,
n1 x n2 patch grid, nq queries and nu candidates of a tile, F = C p p, F_e = C_e p p.
"""
import inspect
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from n3net.dncnn import DnCNN as OurDnCNN
from n3net.n3net import N3Net as OurN3Net

BIG = 1e20            # the logit of a non-candidate is -BIG / t: its weight is exactly 0


class DnCNN(nn.Module):
    def __init__(self, in_channels=1, out_channels=1, depth=17, features=64, residual=True):
        super().__init__()
        self.in_channels, self.out_channels, self.residual = in_channels, out_channels, residual
        layers = [nn.Conv2d(in_channels, features, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(features, features, 3, padding=1, bias=False), nn.BatchNorm2d(features),
                       nn.ReLU()]
        layers.append(nn.Conv2d(features, out_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        y = self.body(x)
        if self.residual:
            c = min(self.in_channels, self.out_channels)
            y = torch.cat([y[:, :c] + x[:, :c], y[:, c:]], dim=1)
        return y


def embedding_cnn(in_channels, out_channels, features=64):
    return nn.Sequential(nn.Conv2d(in_channels, features, 3, padding=1, bias=False), nn.BatchNorm2d(features),
                         nn.ReLU(), nn.Conv2d(features, features, 3, padding=1, bias=False),
                         nn.BatchNorm2d(features), nn.ReLU(), nn.Conv2d(features, out_channels, 3, padding=1))


class DistanceBatchNorm(nn.Module):
    """BatchNorm1d(1) over the finite distances (those where `mask` is True) of every tile."""

    def __init__(self, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1))
        self.register_buffer("running_mean", torch.zeros(1))
        self.register_buffer("running_var", torch.ones(1))

    def forward(self, distances, masks):
        """distances: list of (B, nq, nu), masks: list of (nq, nu) -> the normalised -alpha^1 per tile."""
        if self.training:
            B = distances[0].shape[0]
            n = sum(int(m.sum()) for m in masks) * B
            mean = -sum((D * m).sum() for D, m in zip(distances, masks)) / n
            var = sum((((-D - mean) * m) ** 2).sum() for D, m in zip(distances, masks)) / n
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * n / (n - 1))
        else:
            mean, var = self.running_mean, self.running_var
        scale = self.weight / torch.sqrt(var + self.eps)
        return [-(scale * (-D - mean) + self.bias) for D in distances]


def window_start(i, n, w):
    return min(max(i - w // 2, 0), n - w)


def axis_tiles(n, tile, w):
    """(first query, end query, first candidate, end candidate) along one axis of the patch grid."""
    if n <= w:
        return [(0, n, 0, n)]
    return [(q0, min(q0 + tile, n), window_start(q0, n, w), window_start(min(q0 + tile, n) - 1, n, w) + w)
            for q0 in range(0, n, tile)]


def in_window(rows, cols, n1, n2, w, device):
    """(nq, nu) True where a tile's candidate lies in its query's window and is not the query."""
    def axis(q0, q1, u0, u1, n):
        q = torch.arange(q0, q1, device=device)[:, None]
        u = torch.arange(u0, u1, device=device)[None, :]
        start = (q - w // 2).clamp(0, n - w)
        return (u >= start) & (u < start + w), q == u
    inside_r, self_r = axis(*rows, n1)
    inside_c, self_c = axis(*cols, n2)
    inside = inside_r[:, None, :, None] & inside_c[None, :, None, :]
    itself = self_r[:, None, :, None] & self_c[None, :, None, :]
    return (inside & ~itself).reshape((rows[1] - rows[0]) * (cols[1] - cols[0]), -1)


def continuous_knn(logits, Yu, t, k, variant):
    """Eqs. 8-11 (paper) or the released code's form: logits alpha^1 (B, nq, nu) -> Z (B, nq, k, F)."""
    t = t[..., None]
    alpha = logits if variant == "paper" else logits / t
    Z = []
    for _ in range(k):
        log_w = torch.log_softmax(alpha / t if variant == "paper" else alpha, dim=-1)
        w = torch.exp(log_w)
        Z.append(w @ Yu)
        # log(1 - w), accurate for w near 0 and near 1 (as n3net/knn.py)
        alpha = alpha + torch.where(w < 0.5, torch.log1p(-w), torch.log(-torch.expm1(log_w)))
    return torch.stack(Z, dim=2)


class N3Block(nn.Module):
    def __init__(self, in_channels, k=7, patch_size=10, stride=5, match_window=15, features=64,
                 variant="paper", query_tile=8, min_temperature=1e-4, max_temperature=1e4):
        super().__init__()
        self.C, self.k, self.p, self.s, self.w = in_channels, k, patch_size, stride, match_window
        self.variant, self.query_tile = variant, query_tile
        self.min_temperature, self.max_temperature = min_temperature, max_temperature
        self.distance_bn = DistanceBatchNorm()
        self.embedding = embedding_cnn(in_channels, in_channels, features)
        self.temperature = embedding_cnn(in_channels, 1, features)

    def forward(self, Y):
        B, C, H, W = Y.shape
        p, s, w, k = self.p, self.s, self.w, self.k
        pads = [((-(n - p)) % s) for n in (H, W)]
        top, left = pads[0] // 2, pads[1] // 2
        pad = (left, pads[1] - left, top, pads[0] - top)                 # F.pad order: W then H
        Hp, Wp = H + pads[0], W + pads[1]
        n1, n2 = (Hp - p) // s + 1, (Wp - p) // s + 1

        def patches(a):                                                  # (B, c, H, W) -> (B, n1, n2, c p p)
            return F.unfold(F.pad(a, pad), p, stride=s).transpose(1, 2).reshape(B, n1, n2, -1)

        y, e = patches(Y), patches(self.embedding(Y))
        floor, ceiling = math.log(self.min_temperature / 0.1), math.log(self.max_temperature / 0.1)
        t = 0.1 * torch.exp(patches(self.temperature(Y)).mean(-1).clamp(floor, ceiling))   # (B, n1, n2)
        tiles = [(r, c) for r in axis_tiles(n1, self.query_tile, w) for c in axis_tiles(n2, self.query_tile, w)]
        D, masks = [], []
        for (q0, q1, u0, u1), (c0, c1, v0, v1) in tiles:
            Q = e[:, q0:q1, c0:c1].reshape(B, -1, e.shape[-1])            # (B, nq, F_e)
            X = e[:, u0:u1, v0:v1].reshape(B, -1, e.shape[-1])            # (B, nu, F_e)
            D.append((Q * Q).sum(-1)[..., None] + (X * X).sum(-1)[:, None] - 2 * Q @ X.transpose(1, 2))
            masks.append(in_window((q0, q1, u0, u1), (c0, c1, v0, v1), n1, n2, w, Y.device))
        D_hat = self.distance_bn(D, masks)
        neighbours = Y.new_zeros(B, k * C, Hp, Wp)
        for ((q0, q1, u0, u1), (c0, c1, v0, v1)), Dn, mask in zip(tiles, D_hat, masks):
            logits = torch.where(mask, -Dn, -BIG)                         # alpha^1 (B, nq, nu)
            Yu = y[:, u0:u1, v0:v1].reshape(B, -1, y.shape[-1])            # (B, nu, F)
            Z = continuous_knn(logits, Yu, t[:, q0:q1, c0:c1].reshape(B, -1), k, self.variant)
            size = ((q1 - q0 - 1) * s + p, (c1 - c0 - 1) * s + p)
            cols = Z.permute(0, 2, 3, 1).reshape(B, k * y.shape[-1], -1)    # (B, k F, nq): (j, c, i, i')
            folded = F.fold(cols, size, p, stride=s)                       # (B, k C, size)
            neighbours[:, :, q0 * s:q0 * s + size[0], c0 * s:c0 * s + size[1]] += folded
        count = F.fold(torch.ones(1, p * p, n1 * n2, dtype=Y.dtype, device=Y.device), (Hp, Wp), p, stride=s)
        neighbours = (neighbours / count)[:, :, top:top + H, left:left + W].reshape(B, k, C, H, W)
        return torch.cat([Y[:, None], neighbours - Y[:, None]], dim=1).reshape(B, (k + 1) * C, H, W)


class N3Net(nn.Module):
    def __init__(self, in_channels=1, out_channels=1, n_blocks=3, depth=6, features=64, k=7,
                 intermediate_channels=8, variant="paper", **block):
        super().__init__()
        c = intermediate_channels
        stages = [DnCNN(in_channels, c, depth, features)]
        for i in range(n_blocks - 1):
            stages.append(N3Block(c, k=k, features=features, variant=variant, **block))
            stages.append(DnCNN(c * (k + 1), out_channels if i == n_blocks - 2 else c, depth, features))
        self.stages = nn.Sequential(*stages)

    def forward(self, x):
        return self.stages(x)


def load_ours(torch_model, state, dtype=torch.float32):
    """Load one of our state_dicts (name -> NumPy array) into the PyTorch twin; returns it."""
    theirs = torch_model.state_dict()
    missing = sorted(set(theirs) - set(state) - {n for n in theirs if n.endswith("num_batches_tracked")})
    if missing or set(state) - set(theirs):
        raise KeyError(f"state_dicts differ: missing {missing}, unexpected {sorted(set(state) - set(theirs))}")
    theirs.update({name: torch.tensor(np.asarray(value)) for name, value in state.items()})
    torch_model.load_state_dict(theirs)
    return torch_model.to(dtype)


def twin(our_model, dtype=torch.float32):
    """The PyTorch network with our model's architecture (build_model config) and weights."""
    config = dict(our_model.config)
    name = config.pop("name")
    ours = {"DnCNN": (DnCNN, OurDnCNN), "N3Net": (N3Net, OurN3Net)}
    if name not in ours or config.get("block", "n3") != "n3":
        raise ValueError(f"no PyTorch twin for {name!r} {config}")
    theirs, our_class = ours[name]
    defaults = {k: p.default for k, p in inspect.signature(our_class).parameters.items()}
    config = {k: v for k, v in config.items() if v != defaults[k]}     # the options, as build_model takes them
    for option in ("init", "zero_init_residual"):          # they choose the initial weights only
        config.pop(option, None)
    model = theirs(**config)
    return load_ours(model, our_model.state_dict(), dtype)
