"""Conv2d: 2-D convolution (cross-correlation, as in PyTorch) as im2col + one matrix product.

Shape legend
    N batch, C in_channels, O out_channels, H x W input, kH x kW kernel, oH x oW output,
    K = C * kH * kW, Hp x Wp the zero-padded image, G = N * Hp * Wp grid positions.

Two ways to lay out the same computation, both checked against finite differences and PyTorch:

1. General (any stride, padding, dilation), with fold.py's unfold and fold:
       cols = unfold(x)                 (N, K, oH*oW)
       y    = W2 @ cols + b             (N, O, oH*oW),  W2 = weight.reshape(O, K)
       dW2 += sum_n dy_n @ cols_n^T,    dx = fold(W2^T @ dy)

2. "Same" convolutions (stride 1, 2 * padding = dilation * (k - 1), output size = input size),
   which is every convolution in DnCNN and N3Net.  The batch is zero-padded into a channel-major
   grid g (C, G): one row per channel, the padded images one after another.  On that grid,
   shifting the kernel by (i, j) is shifting the row by s = dH*i*Wp + dW*j, so the im2col matrix
   is kH*kW plain slices of g (long contiguous copies), built a block of columns at a time so
   that each block is still in cache when the matrix product reads it:
       col[(i, j, c), q] = g[c, q + s(i, j)]               (kH*kW*C, G)
       y_grid = Wc @ col,   Wc = weight as (O, (i, j, c))  (O, G); y is its top-left oH x oW part
   Output positions that fall on the padding are computed and dropped.  Backward uses the same
   machinery: dx is the convolution of the zero-padded dy with the flipped, transposed kernel,
   and dW = dy_grid @ col^T, where dy_grid is dy on x's grid (zero on the padding).
"""
import math

import numpy as np

from minigrad import init
from minigrad.backend import get_array_module
from minigrad.grad_mode import grad_enabled
from minigrad.fold import _pair, conv_output_size, fold, unfold
from minigrad.module import Module, Parameter
from minigrad.workspace import scratch, zeros

from .checks import as_batch, check_same_shape

CHUNK_ELEMENTS = 1 << 21   # im2col block size (8 MB in float32): small enough to stay in cache


class Conv2d(Module):
    """2-D convolution with PyTorch's arguments, weight layout (O, C, kH, kW) and initialisation.

    Caches the zero-padded input grid (same convolutions) or the unfolded input (otherwise).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True, rng=None, dtype=np.float32):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding = _pair(stride, "stride"), _pair(padding, "padding")
        self.dilation = _pair(dilation, "dilation")
        shape = (out_channels, in_channels) + self.kernel_size
        # PyTorch's default: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(K), 1/sqrt(K)), same for the bias.
        self.weight = Parameter(init.kaiming_uniform(shape, a=math.sqrt(5), rng=rng, dtype=dtype))
        if bias:
            bound = 1 / math.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
            self.bias = Parameter(init.uniform((out_channels,), -bound, bound, rng, dtype))
        else:
            self.bias = None
        self.same = self.stride == (1, 1) and all(
            2 * p == d * (k - 1) for p, d, k in zip(self.padding, self.dilation, self.kernel_size))

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"bias={self.bias is not None}")

    def _geometry(self):
        return dict(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                    dilation=self.dilation)

    def forward(self, x):
        x, self._single = as_batch(self, x, self.in_channels, self.weight.data.dtype)
        N, C, H, W = x.shape
        oH, oW = conv_output_size((H, W), **self._geometry())
        if oH < 1 or oW < 1:
            raise ValueError(f"Conv2d: input of size {H}x{W} is too small for kernel {self.kernel_size} "
                             f"with padding {self.padding} and dilation {self.dilation}")
        self._x_shape, self._out_shape = x.shape, (N, self.out_channels, oH, oW)
        y = self._forward_same(x) if self.same else self._forward_unfold(x)
        if self.bias is not None:
            y += self.bias.data.reshape(1, -1, 1, 1)
        return y[0] if self._single else y

    def backward(self, dy):
        if self._single:
            dy = dy[None]
        check_same_shape(self, dy, self._out_shape)
        if self.bias is not None:
            self.bias.grad += get_array_module(dy).einsum("nchw->c", dy)
        dx = self._backward_same(dy) if self.same else self._backward_unfold(dy)
        return dx[0] if self._single else dx

    # ---- 1. general: unfold + batched matrix products --------------------------------------
    def _forward_unfold(self, x):
        xp = get_array_module(x)
        cols = unfold(x, **self._geometry())                             # (N, K, oH*oW)
        self._cols = cols if grad_enabled() else None
        W2 = self.weight.data.reshape(self.out_channels, -1)             # (O, K)
        return xp.matmul(W2, cols).reshape(self._out_shape)              # (N, O, oH, oW)

    def _backward_unfold(self, dy):
        xp = get_array_module(dy)
        N, O = self._out_shape[:2]
        dy = dy.reshape(N, O, -1)                                        # (N, O, oH*oW)
        W2 = self.weight.data.reshape(O, -1)                             # (O, K)
        dW2 = xp.matmul(dy, self._saved("_cols").transpose(0, 2, 1)).sum(axis=0)  # (O, K)
        self.weight.grad += dW2.reshape(self.weight.data.shape)
        dcols = xp.matmul(W2.T, dy)                                      # (N, K, oH*oW)
        return fold(dcols, self._x_shape[2:], **self._geometry())        # (N, C, H, W)

    # ---- 2. same convolutions on a zero-padded channel-major grid ---------------------------
    def _grid_geometry(self):
        N, _, H, W = self._x_shape
        (pH, pW), (dH, dW), (kH, kW) = self.padding, self.dilation, self.kernel_size
        Hp, Wp = H + 2 * pH, W + 2 * pW
        shifts = [dH * i * Wp + dW * j for i in range(kH) for j in range(kW)]   # (i, j) order
        return N, Hp, Wp, N * Hp * Wp, shifts

    def _to_grid(self, a, g):
        """Write a (N, C, H, W) into the interior of the zero-padded grid g (C, G + slack)."""
        N, Hp, Wp, G, _ = self._grid_geometry()
        (pH, pW), (_, C, H, W) = self.padding, a.shape
        g4 = g[:, :G].reshape(C, N, Hp, Wp)                              # (C, N, Hp, Wp) view
        g4[:, :, pH:pH + H, pW:pW + W] = a.transpose(1, 0, 2, 3)
        return g

    def _grid_shape(self, channels):
        _, _, _, G, shifts = self._grid_geometry()
        return (channels, G + shifts[-1])                                # slack for the last shift

    def _x_grid_buffer(self, x):
        """The grid that keeps x for backward: this layer's own, zeroed once per shape.

        Under no_grad nothing is kept, and the grid is shared like the one for dy."""
        if not grad_enabled():
            self._x_grid = None
            return self._shared_grid("conv_x_grid", x)
        xp, shape = get_array_module(x), self._grid_shape(x.shape[1])
        g = vars(self).get("_x_grid")
        if g is None or g.shape != shape or g.dtype != x.dtype or get_array_module(g) is not xp:
            self._x_grid = g = xp.zeros(shape, x.dtype)
        return g

    def _shared_grid(self, name, a):
        """A zero-bordered grid for a, shared by every layer of this geometry (borders stay zero)."""
        key = (name, self._x_shape, self.padding, self.dilation, self.kernel_size)
        return zeros(repr(key), self._grid_shape(a.shape[1]), a.dtype, get_array_module(a))

    def _col_chunks(self, G, rows):
        """Column ranges [a, b) of the grid, each small enough for its im2col block to stay in cache."""
        step = max(256, CHUNK_ELEMENTS // rows)
        return [(a, min(a + step, G)) for a in range(0, G, step)]

    def _im2col(self, g, a, b, name):
        """Columns [a, b) of the im2col matrix of grid g (channels, G + slack): (kH*kW*channels, b - a)."""
        xp = get_array_module(g)
        _, _, _, _, shifts = self._grid_geometry()
        channels = g.shape[0]
        col = scratch(name, (len(shifts) * channels, b - a), g.dtype, xp)
        for k, s in enumerate(shifts):
            col[k * channels:(k + 1) * channels] = g[:, a + s:b + s]
        return col

    def _from_grid(self, a_grid):
        """(channels, G) on the grid -> (N, channels, H, W), the top-left H x W of every image."""
        N, Hp, Wp, G, _ = self._grid_geometry()
        H, W = self._x_shape[2:]
        a4 = a_grid.reshape(-1, N, Hp, Wp)[:, :, :H, :W]                  # (channels, N, H, W)
        return a4.transpose(1, 0, 2, 3).copy()                           # (N, channels, H, W)

    def _forward_same(self, x):
        xp = get_array_module(x)
        O, C, kH, kW = self.weight.data.shape
        G = self._grid_geometry()[3]
        g = self._to_grid(x, self._x_grid_buffer(x))                     # (C, G + slack)
        Wc = self.weight.data.transpose(0, 2, 3, 1).reshape(O, -1)       # (O, kH*kW*C)
        y_grid = scratch("conv_out", (O, G), x.dtype, xp)                # (O, G)
        for a, b in self._col_chunks(G, Wc.shape[1]):
            xp.matmul(Wc, self._im2col(g, a, b, "conv_col"), out=y_grid[:, a:b])
        return self._from_grid(y_grid)                                   # (N, O, H, W)

    def _backward_same(self, dy):
        xp = get_array_module(dy)
        O, C, kH, kW = self.weight.data.shape
        N, Hp, Wp, G, _ = self._grid_geometry()
        pH, pW = self.padding
        x_grid = self._saved("_x_grid")                                  # (C, G + slack)
        dy_g = self._to_grid(dy, self._shared_grid("conv_dy_grid", dy))  # (O, G + slack)
        # dW: dy on x's grid is dy_g shifted back by the padding; it is zero off the output.
        dy_on_x = dy_g[:, pH * Wp + pW: pH * Wp + pW + G]                # (O, G)
        # dx: correlate the padded dy with the kernel flipped in space, O and C swapped.
        Wt = self.weight.data[:, :, ::-1, ::-1].transpose(1, 2, 3, 0).reshape(C, -1)  # (C, kH*kW*O)
        dWc = xp.zeros((kH * kW * C, O), dtype=dy.dtype)                 # (kH*kW*C, O)
        dx_grid = scratch("conv_out", (C, G), dy.dtype, xp)              # (C, G)
        for a, b in self._col_chunks(G, kH * kW * max(C, O)):
            dWc += xp.matmul(self._im2col(x_grid, a, b, "conv_col"), dy_on_x[:, a:b].T)
            xp.matmul(Wt, self._im2col(dy_g, a, b, "conv_col"), out=dx_grid[:, a:b])
        self.weight.grad += dWc.reshape(kH, kW, C, O).transpose(3, 2, 0, 1)
        return self._from_grid(dx_grid)                                  # (N, C, H, W)
