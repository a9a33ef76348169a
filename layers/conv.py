"""Conv2d: 2-D convolution (cross-correlation, as in PyTorch): a thin module over the kernels of
conv_kernels.py, which holds the maths, the shape legend and the two methods:

    "same" convolutions (stride 1, output size = input size: every convolution of DnCNN and N3Net)
        run on a zero-padded channel-major grid: same_forward, same_backward_data,
        same_backward_weight;
    any other geometry runs with unfold: unfold_forward, unfold_backward_data, unfold_backward_weight.

The module checks the input, picks the method, owns what backward needs (x's grid, or the
unfolded input) and takes its temporary buffers from minigrad.workspace.
"""
import math

import numpy as np

from minigrad import init
from minigrad.backend import get_array_module
from minigrad.grad_mode import grad_enabled
from minigrad.module import Module, Parameter
from minigrad.workspace import scratch, zeros

from . import conv_kernels as kernels
from .checks import check_images, check_same_shape, single_image_as_batch


class Conv2d(Module):
    """2-D convolution with PyTorch's arguments, weight layout (O, C, kH, kW) and initialisation.

    Caches the zero-padded input grid (same convolutions) or the unfolded input (otherwise).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True, rng=None, dtype=np.float32):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.geometry = kernels.ConvGeometry.of(kernel_size, stride, padding, dilation)
        self.kernel_size, self.stride = self.geometry.kernel_size, self.geometry.stride
        self.padding, self.dilation = self.geometry.padding, self.geometry.dilation
        shape = (out_channels, in_channels) + self.kernel_size
        # PyTorch's default: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(K), 1/sqrt(K)), same for the bias.
        self.weight = Parameter(init.kaiming_uniform(shape, a=math.sqrt(5), rng=rng, dtype=dtype))
        if bias:
            bound = 1 / math.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
            self.bias = Parameter(init.uniform((out_channels,), -bound, bound, rng, dtype))
        else:
            self.bias = None
        self.same = self.geometry.is_same
        self.input_grad = True                   # set_input_grad(False): backward returns None

    def set_input_grad(self, enabled):
        """False: backward adds the weight (and bias) gradients and returns None, skipping the
        backward-data product (the first layer of a network trained on data)."""
        self.input_grad = bool(enabled)
        return self

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"bias={self.bias is not None}")

    @single_image_as_batch
    def forward(self, x):
        check_images(self, x, self.in_channels, self.weight.data.dtype)
        xp = get_array_module(x)
        N, C, H, W = x.shape
        oH, oW = self.geometry.output_size(H, W)
        if oH < 1 or oW < 1:
            raise ValueError(f"Conv2d: input of size {H}x{W} is too small for kernel {self.kernel_size} "
                             f"with padding {self.padding} and dilation {self.dilation}")
        self._x_shape, self._out_shape = x.shape, (N, self.out_channels, oH, oW)
        if self.same:
            grid = kernels.Grid.of(x.shape, self.geometry)
            x_grid = grid.write(x, self._x_grid_buffer(x, grid))                 # (C, G + slack)
            self._x_grid = x_grid if grad_enabled() else None
            bias = None if self.bias is None else self.bias.data
            y = kernels.same_forward(self.weight.data, x_grid, grid, xp.empty(self._out_shape, x.dtype),
                                     self._buffers(x), bias)
        else:
            y, cols = kernels.unfold_forward(x, self.weight.data, self.geometry)
            self._cols = cols if grad_enabled() else None
            if self.bias is not None:
                y += self.bias.data.reshape(1, -1, 1, 1)
        return y

    @single_image_as_batch
    def backward(self, dy):
        check_same_shape(self, dy, self._out_shape)
        xp = get_array_module(dy)
        if self.bias is not None:
            self.bias.grad += xp.einsum("nchw->c", dy)
        if self.same:
            grid, x_grid = kernels.Grid.of(self._x_shape, self.geometry), self._saved("_x_grid")
            dy_grid = grid.write(dy, self._shared_grid("conv_dy_grid", grid, dy))          # (O, G + slack)
            self.weight.grad += kernels.same_backward_weight(x_grid, dy_grid, grid, self.kernel_size,
                                                             self._buffers(dy))
            if not self.input_grad:
                return None
            dx = kernels.same_backward_data(self.weight.data, dy_grid, grid, xp.empty(self._x_shape, dy.dtype),
                                            self._buffers(dy))
        else:
            cols = self._saved("_cols")
            self.weight.grad += kernels.unfold_backward_weight(dy, cols, self.weight.data.shape)
            if not self.input_grad:
                return None
            dx = kernels.unfold_backward_data(dy, self.weight.data, self.geometry, self._x_shape[2:])
        return dx

    # ---- buffers ---------------------------------------------------------------------------------
    def _x_grid_buffer(self, x, grid):
        """The grid that keeps x for backward: this layer's own, zeroed once per shape.

        Under no_grad nothing is kept, and the grid is shared like the one for dy."""
        if not grad_enabled():
            return self._shared_grid("conv_x_grid", grid, x)
        xp, shape = get_array_module(x), grid.shape(x.shape[1])
        g = vars(self).get("_x_grid")
        if g is None or g.shape != shape or g.dtype != x.dtype or get_array_module(g) is not xp:
            g = xp.zeros(shape, x.dtype)
        return g

    def _shared_grid(self, name, grid, a):
        """A zero-bordered grid for a (N, c, H, W), shared by every layer of this geometry (borders stay zero)."""
        key = (name, self._x_shape, self.padding, self.dilation, self.kernel_size)
        return zeros(repr(key), grid.shape(a.shape[1]), a.dtype, get_array_module(a))

    def _buffers(self, a):
        """scratch(name, shape) for the kernels: workspace buffers in a's dtype and array module."""
        xp = get_array_module(a)
        return lambda name, shape: scratch(name, shape, a.dtype, xp)


def conv_radius(module):
    """The receptive radius (in pixels) of a chain of convolutions, as module.modules() lists them:
    the sum of their kernels' reach, (kernel - 1) / 2 x dilation each (on the first axis)."""
    return sum((c.kernel_size[0] - 1) // 2 * c.dilation[0] for c in module.modules() if isinstance(c, Conv2d))
