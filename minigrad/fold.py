"""unfold (im2col) and fold (col2im): the primitive shared by Conv2d and the N3 block.

Shape legend
    N batch, C channels, H x W image, kH x kW kernel (patch), oH x oW positions of
    the kernel (patches), L = oH * oW, K = C * kH * kW.

    unfold: x (N, C, H, W) -> cols (N, K, L), row index (c, i, j) in C-order,
            cols[n, (c, i, j), (p, q)] = x_pad[n, c, p*sH + i*dH, q*sW + j*dW]
    fold:   cols (N, K, L) -> x (N, C, H, W), the sum of every patch back into place.

Both follow torch.nn.functional.unfold / fold exactly (same layout, same
arguments), and fold is unfold's adjoint: <unfold(x), g> = <x, fold(g)>.
Both loop over the kH * kW kernel offsets and move one strided slice of the
whole batch at a time, which NumPy and CuPy both do well and which needs no
scatter (np.add.at) at all.
"""
from .backend import get_array_module


def _pair(v, name):
    if isinstance(v, int):
        v = (v, v)
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v}")
    return v


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """(oH, oW) of a convolution / unfold over an image of size (H, W)."""
    (H, W), (kH, kW) = _pair(size, "size"), _pair(kernel_size, "kernel_size")
    (sH, sW), (pH, pW), (dH, dW) = (_pair(stride, "stride"), _pair(padding, "padding"),
                                    _pair(dilation, "dilation"))
    oH = (H + 2 * pH - dH * (kH - 1) - 1) // sH + 1
    oW = (W + 2 * pW - dW * (kW - 1) - 1) // sW + 1
    return oH, oW


def _geometry(size, kernel_size, stride, padding, dilation):
    oH, oW = conv_output_size(size, kernel_size, stride, padding, dilation)
    if oH < 1 or oW < 1:
        raise ValueError(f"a {tuple(_pair(kernel_size, 'kernel_size'))} kernel with padding "
                         f"{padding} and dilation {dilation} does not fit an image of size {tuple(size)}")
    return (_pair(kernel_size, "kernel_size"), _pair(stride, "stride"), _pair(padding, "padding"),
            _pair(dilation, "dilation"), (oH, oW))


def _window(offset, count, step):
    """Slice selecting `count` positions, `step` apart, starting at `offset`."""
    return slice(offset, offset + step * (count - 1) + 1, step)


def unfold(x, kernel_size, stride=1, padding=0, dilation=1, out=None):
    """Extract sliding patches: x (N, C, H, W) -> cols (N, C*kH*kW, oH*oW).

    `out`, if given, is a preallocated (N, C*kH*kW, oH*oW) array to write into.
    """
    xp = get_array_module(x)
    if x.ndim != 4:
        raise ValueError(f"unfold expects x of shape (N, C, H, W), got {tuple(x.shape)}")
    N, C, H, W = x.shape
    (kH, kW), (sH, sW), (pH, pW), (dH, dW), (oH, oW) = _geometry((H, W), kernel_size, stride,
                                                                  padding, dilation)
    if pH or pW:
        x = xp.pad(x, ((0, 0), (0, 0), (pH, pH), (pW, pW)))        # (N, C, H+2pH, W+2pW)
    if out is None:
        out = xp.empty((N, C * kH * kW, oH * oW), dtype=x.dtype)
    cols = out.reshape(N, C, kH, kW, oH, oW)                        # a view of out
    for i in range(kH):
        for j in range(kW):
            cols[:, :, i, j] = x[:, :, _window(i * dH, oH, sH), _window(j * dW, oW, sW)]
    return out


def fold(cols, output_size, kernel_size, stride=1, padding=0, dilation=1):
    """Sum patches back into an image: cols (N, C*kH*kW, oH*oW) -> x (N, C, H, W).

    Overlapping patches add up (this is the adjoint of unfold, not an average).
    """
    xp = get_array_module(cols)
    H, W = _pair(output_size, "output_size")
    (kH, kW), (sH, sW), (pH, pW), (dH, dW), (oH, oW) = _geometry((H, W), kernel_size, stride,
                                                                  padding, dilation)
    if cols.ndim != 3 or cols.shape[1] % (kH * kW) or cols.shape[2] != oH * oW:
        raise ValueError(f"fold expects cols of shape (N, C*{kH}*{kW}, {oH * oW}) for output size "
                         f"{(H, W)}, got {tuple(cols.shape)}")
    N, C = cols.shape[0], cols.shape[1] // (kH * kW)
    cols = cols.reshape(N, C, kH, kW, oH, oW)
    x = xp.zeros((N, C, H + 2 * pH, W + 2 * pW), dtype=cols.dtype)  # padded image
    for i in range(kH):
        for j in range(kW):
            x[:, :, _window(i * dH, oH, sH), _window(j * dW, oW, sW)] += cols[:, :, i, j]
    return x[:, :, pH:pH + H, pW:pW + W]
