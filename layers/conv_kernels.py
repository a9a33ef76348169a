"""The convolution kernels, as pure functions: forward, backward-data and backward-weight, for
"same" convolutions on a zero-padded grid and for any convolution with unfold.  Conv2d (conv.py)
picks one and keeps what backward needs; the buffers come from the caller.

Shape legend
    N batch, C in channels, O out channels, H x W input, kH x kW kernel, oH x oW output,
    K = C kH kW, Hp x Wp the zero-padded image, G = N Hp Wp positions of the grid,
    T = kH kW taps (kernel offsets), R rows (channels) of a product's result.

1. General (any stride, padding, dilation), with fold.py's unfold and fold:
       cols = unfold(x)                           (N, K, oH oW)
       y    = W2 @ cols,  W2 = weight (O, K)      (N, O, oH oW)
       dW2  = sum_n dy_n @ cols_n^T,  dx = fold(W2^T @ dy)

2. "Same" convolutions (stride 1, 2 padding = dilation (k - 1): output size = input size), which
   is every convolution of DnCNN and N3Net.  The batch is zero-padded into a channel-major grid
   g (C, G + slack): one row per channel, the padded images one after another.  On the grid,
   kernel tap (i, j) is a shift of the row by s = dH i Wp + dW j, so the convolution is a sum of
   T matrix products over shifted views of the grid (Grid below):
       y_grid[:, q] = sum_(i,j) weight[:, :, i, j] @ g[:, q + s(i, j)]       (O, G)
   y is the top-left H x W of every image of y_grid (positions on the padding are computed and
   dropped).  The grid is done a block of rows at a time, and each block of results is copied
   into y (and the bias added) while it is still in cache: no (O, G) array is ever made.
   dx is the same sum over the zero-padded dy with the kernel flipped in space and O, C swapped;
   dW[:, :, i, j] = dy_on_x @ g[:, s(i, j) : s(i, j) + G]^T, where dy_on_x is dy on x's grid
   (zero on the padding): T products over the whole grid, or, for few input rows, one product per
   block of positions with an im2col block (as below).  grid_correlate evaluates the sum in one of
   three ways (METHODS), chosen by the product's input rows c and result rows R (measured product
   by product with bench/conv_methods.py, docs/performance.md):
     - "im2col", for few input rows (c < MIN_ROWS, e.g. the 1- and 8-channel inputs of N3Net):
       copy the T shifted views of a block of positions into an im2col block (T c rows) and do one
       product per block (inner size T c);
     - "shifted", for a thin result (R < MIN_ROWS: 64 -> 8, 64 -> 1): T products straight from the
       shifted views (no copy; BLAS reads a row stride), accumulated block by block so that the
       partial sums stay in cache.  3-10x faster than im2col there, whose copy then dominates;
     - "rows", for the rest (64 -> 64): copy the kW shifts along a grid row into one block (kW c
       rows, a third of im2col's copy for 3 x 3), then one product per kernel row (inner size kW c),
       read from that block shifted by whole grid rows (views again): kH products and kH - 1
       accumulation passes instead of T and T - 1.  For 64 -> 64 about 1.2x faster than "shifted"
       on an AVX-512 machine, whose BLAS does poorly at inner size 64.
   The weight gradient has the same three ways (same_backward_weight).
"""
from dataclasses import dataclass

from minigrad.backend import get_array_module
from minigrad.fold import _pair, conv_output_size, fold, unfold

METHODS = ("im2col", "shifted", "rows")     # the ways of evaluating a grid correlation (above)
MIN_ROWS = 16                  # input rows from which a copy's share is small; result rows likewise
CHUNK_ELEMENTS = 1 << 20       # block size (4 MB in float32): small enough to stay in cache


@dataclass(frozen=True)
class ConvGeometry:
    """kernel_size, stride, padding, dilation of a convolution, each an (H, W) pair."""
    kernel_size: tuple
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)

    @classmethod
    def of(cls, kernel_size, stride=1, padding=0, dilation=1):
        return cls(_pair(kernel_size, "kernel_size"), _pair(stride, "stride"), _pair(padding, "padding"),
                   _pair(dilation, "dilation"))

    @property
    def is_same(self):
        """Stride 1 and output size = input size: the grid kernels apply."""
        return self.stride == (1, 1) and all(
            2 * p == d * (k - 1) for p, d, k in zip(self.padding, self.dilation, self.kernel_size))

    def output_size(self, H, W):
        return conv_output_size((H, W), self.kernel_size, self.stride, self.padding, self.dilation)

    def as_kwargs(self):
        return dict(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                    dilation=self.dilation)


@dataclass(frozen=True)
class Grid:
    """The zero-padded, channel-major grid of one batch for a same convolution."""
    N: int
    H: int
    W: int
    pH: int
    pW: int
    Hp: int
    Wp: int
    shifts: tuple          # grid shift of each kernel tap, in (i, j) order
    kW: int                # taps per kernel row

    @classmethod
    def of(cls, x_shape, geometry):
        N, _, H, W = x_shape
        (pH, pW), (dH, dW), (kH, kW) = geometry.padding, geometry.dilation, geometry.kernel_size
        Hp, Wp = H + 2 * pH, W + 2 * pW
        return cls(N, H, W, pH, pW, Hp, Wp, tuple(dH * i * Wp + dW * j for i in range(kH) for j in range(kW)), kW)

    @property
    def row_shifts(self):
        """The shift of each kernel row (i, 0): whole grid rows."""
        return self.shifts[::self.kW]

    @property
    def column_shifts(self):
        """The shift of each tap (0, j) of a kernel row; tap (i, j) = row_shifts[i] + column_shifts[j]."""
        return self.shifts[:self.kW]

    @property
    def G(self):
        return self.N * self.Hp * self.Wp

    def shape(self, channels):
        """(channels, G + slack): the slack lets the last tap's shifted view stay in bounds."""
        return (channels, self.G + self.shifts[-1])

    def write(self, a, g):
        """Write a (N, c, H, W) into the interior of the grid g (c, G + slack); returns g."""
        g4 = g[:, :self.G].reshape(a.shape[1], self.N, self.Hp, self.Wp)      # (c, N, Hp, Wp) view
        g4[:, :, self.pH:self.pH + self.H, self.pW:self.pW + self.W] = a.transpose(1, 0, 2, 3)
        return g

    def row_blocks(self, rows):
        """Ranges [r0, r1) of grid rows (of the N Hp rows of Wp positions), each small enough for a
        (rows, (r1 - r0) Wp) block of results to stay in cache."""
        step = max(1, CHUNK_ELEMENTS // (rows * self.Wp))
        total = self.N * self.Hp
        return [(r0, min(r0 + step, total)) for r0 in range(0, total, step)]

    def write_rows(self, block, r0, r1, out):
        """Copy the image part of a block of grid rows [r0, r1) (R, (r1 - r0) Wp) into out (N, R, H, W).

        Grid row r is row r % Hp of image r // Hp; rows and columns on the padding are dropped."""
        block = block.reshape(block.shape[0], r1 - r0, self.Wp)
        for n in range(r0 // self.Hp, (r1 - 1) // self.Hp + 1):
            h0, h1 = max(r0 - n * self.Hp, 0), min(r1 - n * self.Hp, self.H)
            if h0 < h1:
                out[n, :, h0:h1] = block[:, n * self.Hp + h0 - r0:n * self.Hp + h1 - r0, :self.W]


def im2col_block(g, grid, a, b, col):
    """The T shifted views of grid positions [a, b) of g (c, G + slack), one under the other, in
    col (T c, b - a): row t c + i is g[i, a + s_t : b + s_t].  Returns col."""
    c = g.shape[0]
    for t, s in enumerate(grid.shifts):
        col[t * c:(t + 1) * c] = g[:, a + s:b + s]
    return col


def row_block(g, grid, a, b, col):
    """The kW shifts along a kernel row of grid positions [a, b + row_shifts[-1]) of g, one under
    the other, in col (kW c, b - a + row_shifts[-1]): row j c + i is g[i, a + column_shifts[j] + q].
    col[:, r : r + b - a] is then kernel row i's kW shifted views of [a, b), for r = row_shifts[i]."""
    c, span = g.shape[0], b - a + grid.row_shifts[-1]
    for j, s in enumerate(grid.column_shifts):
        col[j * c:(j + 1) * c] = g[:, a + s:a + s + span]
    return col


def choose_method(c, R, method=None):
    """The way to evaluate a grid correlation with c input rows and R result rows (module docstring)."""
    if method is not None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        return method
    return "im2col" if c < MIN_ROWS else "shifted" if R < MIN_ROWS else "rows"


def grid_correlate(taps, g, grid, out, scratch, bias=None, method=None):
    """out[n, :, h, w] = sum_t taps[t] @ g[:, q + shifts[t]] (+ bias), q the grid position of (n, h, w).

    taps (T, R, c), g (c, G + slack), out (N, R, H, W), written and returned.  The grid is done
    in blocks of rows; each block's result is copied into out while it is still in cache.
    scratch(name, shape) gives reusable buffers (minigrad.workspace); method is one of METHODS
    (default: choose_method's)."""
    xp = get_array_module(g)
    T, R, c = taps.shape
    method = choose_method(c, R, method)
    kH, kW = T // grid.kW, grid.kW
    if method == "im2col":
        taps_col = taps.transpose(1, 0, 2).reshape(R, T * c)                # (R, (t, c))
        copied_rows = T * c
    elif method == "rows":
        taps_row = taps.reshape(kH, kW, R, c).transpose(0, 2, 1, 3).reshape(kH, R, kW * c)   # (kH, R, (j, c))
        copied_rows = kW * c
    else:
        copied_rows = R
    for r0, r1 in grid.row_blocks(max(R, copied_rows)):
        a, b = r0 * grid.Wp, r1 * grid.Wp                                    # grid positions [a, b)
        block = scratch("conv_block", (R, b - a))
        if method == "im2col":                       # copy the T shifted views, one product
            col = im2col_block(g, grid, a, b, scratch("conv_col", (T * c, b - a)))   # (T c, b - a)
            xp.matmul(taps_col, col, out=block)
        else:
            if method == "rows":                     # copy the kW shifts of a row, kH products
                col = row_block(g, grid, a, b, scratch("conv_row_col", (kW * c, b - a + grid.row_shifts[-1])))
                products = [(taps_row[i], col[:, r:r + b - a]) for i, r in enumerate(grid.row_shifts)]
            else:                                    # T products straight from the shifted views
                products = [(taps[t], g[:, a + s:b + s]) for t, s in enumerate(grid.shifts)]
            xp.matmul(*products[0], out=block)
            partial = scratch("conv_partial", (R, b - a))
            for weights, view in products[1:]:
                xp.matmul(weights, view, out=partial)
                block += partial
        if bias is not None:
            block += bias[:, None]
        grid.write_rows(block, r0, r1, out)
    return out


def same_forward(weight, x_grid, grid, out, scratch, bias=None):
    """y (N, O, H, W), written into out, from x already written on x_grid (C, G + slack)."""
    O, C, kH, kW = weight.shape
    taps = weight.transpose(2, 3, 0, 1).reshape(kH * kW, O, C)                 # taps[(i, j)] = weight[:, :, i, j]
    return grid_correlate(taps, x_grid, grid, out, scratch, bias)


def same_backward_data(weight, dy_grid, grid, out, scratch):
    """dx (N, C, H, W), written into out, from dy on a zero-bordered grid of x's geometry (O, G + slack):
    the correlation of the zero-padded dy with the kernel flipped in space, O and C swapped."""
    O, C, kH, kW = weight.shape
    taps = weight[:, :, ::-1, ::-1].transpose(2, 3, 1, 0).reshape(kH * kW, C, O)   # (T, C, O)
    return grid_correlate(taps, dy_grid, grid, out, scratch)


def same_backward_weight(x_grid, dy_grid, grid, kernel_size, scratch=None, method=None):
    """dL/dweight (O, C, kH, kW) = per tap, dy_on_x @ x_grid[:, s : s + G]^T, in one of the ways of
    grid_correlate, chosen the same way for C input rows and O result rows:
      - "shifted": one product (O, G) @ (G, C) per tap, straight from the shifted view;
      - "im2col": block by block, the T shifted views of the block copied into an im2col block
        (T C, b - a), one (O, T C) product per block (for 8 -> 64 1.3-1.7x faster than T products
        only C wide);
      - "rows": block by block, the kW shifts along a kernel row copied (row_block), one (O, kW C)
        product per kernel row."""
    xp = get_array_module(x_grid)
    offset = grid.pH * grid.Wp + grid.pW                 # dy on x's grid: dy's grid shifted back
    dy_on_x = dy_grid[:, offset:offset + grid.G]                                 # (O, G)
    (O, C), T, kW = (dy_grid.shape[0], x_grid.shape[0]), len(grid.shifts), grid.kW
    kH = T // kW
    method = choose_method(C, O, method)
    if method == "shifted":
        taps = xp.stack([xp.matmul(dy_on_x, x_grid[:, s:s + grid.G].T) for s in grid.shifts])   # (T, O, C)
        return taps.transpose(1, 2, 0).reshape(O, C, *kernel_size)
    scratch = scratch or (lambda name, shape: xp.empty(shape, x_grid.dtype))
    products, copied_rows = (1, T * C) if method == "im2col" else (kH, kW * C)
    dweight = xp.zeros((products, O, copied_rows), x_grid.dtype)     # (1, O, (i, j, c)) or (kH, O, (j, c))
    partial = scratch("conv_weight_partial", (O, copied_rows))
    for r0, r1 in grid.row_blocks(O + copied_rows):
        a, b = r0 * grid.Wp, r1 * grid.Wp                                        # grid positions [a, b)
        if method == "im2col":
            col = im2col_block(x_grid, grid, a, b, scratch("conv_weight_col", (T * C, b - a)))   # (T C, b - a)
            views = [col]
        else:
            col = row_block(x_grid, grid, a, b, scratch("conv_weight_row_col", (kW * C, b - a + grid.row_shifts[-1])))
            views = [col[:, r:r + b - a] for r in grid.row_shifts]                # kernel row i: (kW C, b - a)
        for i, view in enumerate(views):
            xp.matmul(dy_on_x[:, a:b], view.T, out=partial)
            dweight[i] += partial
    if method == "im2col":
        return dweight[0].reshape(O, kH, kW, C).transpose(0, 3, 1, 2)                     # (O, C, kH, kW)
    return dweight.reshape(kH, O, kW, C).transpose(1, 3, 0, 2)                            # (O, C, kH, kW)


def unfold_forward(x, weight, geometry):
    """y (N, O, oH, oW) and the unfolded input cols (N, K, oH oW) that backward needs."""
    xp = get_array_module(x)
    N, _, H, W = x.shape
    O = weight.shape[0]
    cols = unfold(x, **geometry.as_kwargs())                                     # (N, K, oH oW)
    y = xp.matmul(weight.reshape(O, -1), cols)                                   # (N, O, oH oW)
    return y.reshape(N, O, *geometry.output_size(H, W)), cols


def unfold_backward_data(dy, weight, geometry, input_size):
    """dx (N, C, H, W) = fold(W2^T @ dy)."""
    N, O = dy.shape[:2]
    dcols = get_array_module(dy).matmul(weight.reshape(O, -1).T, dy.reshape(N, O, -1))   # (N, K, oH oW)
    return fold(dcols, input_size, **geometry.as_kwargs())


def unfold_backward_weight(dy, cols, weight_shape):
    """dL/dweight (O, C, kH, kW) = sum_n dy_n @ cols_n^T."""
    N, O = dy.shape[:2]
    dW2 = get_array_module(dy).matmul(dy.reshape(N, O, -1), cols.transpose(0, 2, 1)).sum(axis=0)
    return dW2.reshape(weight_shape)

