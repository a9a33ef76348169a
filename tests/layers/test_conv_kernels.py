"""The convolution kernels (layers/conv_kernels.py) as functions, in float64: every method of
grid_correlate against the definition, the grid kernels against the unfold kernels, adjointness."""
import numpy as np
import pytest

from layers import Conv2d
from layers import conv_kernels as kernels
from minigrad import gradcheck

METHODS = kernels.METHODS


def force(monkeypatch, method):
    """Every grid kernel takes `method`, whatever the shapes."""
    monkeypatch.setattr(kernels, "choose_method", lambda c, R, chosen=None: method)


def scratch(name, shape):
    return np.empty(shape)                            # fresh buffers: nothing shared between calls


def direct_convolution(x, weight, padding, dilation):
    """The definition, one tap at a time: y[n, o, h, w] = sum_{c,i,j} weight[o,c,i,j] x_pad[n,c,h+dH i,w+dW j]."""
    N, C, H, W = x.shape
    O, _, kH, kW = weight.shape
    (pH, pW), (dH, dW) = padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (pH, pH), (pW, pW)))
    y = np.zeros((N, O, H, W))
    for i in range(kH):
        for j in range(kW):
            y += np.einsum("oc,nchw->nohw", weight[:, :, i, j], xp[:, :, i * dH:i * dH + H, j * dW:j * dW + W])
    return y


GEOMETRIES = [((3, 3), (1, 1), (1, 1)), ((3, 5), (1, 2), (1, 1)), ((3, 3), (2, 2), (2, 2)), ((1, 1), (0, 0), (1, 1))]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kernel_size, padding, dilation", GEOMETRIES)
def test_same_kernels_match_the_definition_and_unfold(rng, monkeypatch, method, kernel_size, padding, dilation):
    geometry = kernels.ConvGeometry.of(kernel_size, 1, padding, dilation)
    assert geometry.is_same
    N, C, O, H, W = 2, 5, 3, 7, 6
    x = rng.standard_normal((N, C, H, W))
    weight = rng.standard_normal((O, C) + kernel_size)
    dy = rng.standard_normal((N, O, H, W))
    grid = kernels.Grid.of(x.shape, geometry)
    x_grid = grid.write(x, np.zeros(grid.shape(C)))
    dy_grid = grid.write(dy, np.zeros(grid.shape(O)))
    force(monkeypatch, method)
    y = kernels.same_forward(weight, x_grid, grid, np.empty((N, O, H, W)), scratch)
    dx = kernels.same_backward_data(weight, dy_grid, grid, np.empty((N, C, H, W)), scratch)
    dweight = kernels.same_backward_weight(x_grid, dy_grid, grid, kernel_size)
    np.testing.assert_allclose(y, direct_convolution(x, weight, padding, dilation), rtol=1e-12, atol=1e-12)
    y_unfold, cols = kernels.unfold_forward(x, weight, geometry)
    np.testing.assert_allclose(y, y_unfold, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, kernels.unfold_backward_data(dy, weight, geometry, (H, W)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dweight, kernels.unfold_backward_weight(dy, cols, weight.shape), rtol=1e-12, atol=1e-12)
    # backward-data is forward's adjoint: <conv(x), dy> = <x, dx>
    np.testing.assert_allclose(np.vdot(y, dy), np.vdot(x, dx), rtol=1e-12)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("chunk", [1 << 21, 64])           # one block, or one grid row per block
def test_grid_correlate_is_the_sum_of_shifted_products(rng, monkeypatch, method, chunk):
    monkeypatch.setattr(kernels, "CHUNK_ELEMENTS", chunk)
    geometry = kernels.ConvGeometry.of(3, 1, 1, 1)
    N, c, H, W = 3, 4, 5, 6
    grid = kernels.Grid.of((N, c, H, W), geometry)
    taps = rng.standard_normal((9, 3, c))
    bias = rng.standard_normal(3)
    g = rng.standard_normal(grid.shape(c))
    out = kernels.grid_correlate(taps, g, grid, np.empty((N, 3, H, W)), scratch, bias, method=method)
    on_grid = sum(taps[t] @ g[:, s:s + grid.G] for t, s in enumerate(grid.shifts)) + bias[:, None]  # (3, G)
    expected = on_grid.reshape(3, N, grid.Hp, grid.Wp)[:, :, :H, :W].transpose(1, 0, 2, 3)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("chunk", [1 << 21, 64])           # one block, or one grid row per block
def test_backward_weight_is_the_sum_over_the_grid(rng, monkeypatch, method, chunk):
    monkeypatch.setattr(kernels, "CHUNK_ELEMENTS", chunk)
    geometry = kernels.ConvGeometry.of((3, 5), 1, (1, 4), (1, 2))
    N, C, O, H, W = 3, 4, 2, 5, 6
    grid = kernels.Grid.of((N, C, H, W), geometry)
    x_grid, dy_grid = rng.standard_normal(grid.shape(C)), rng.standard_normal(grid.shape(O))
    assert len(grid.row_blocks(O + 15 * C)) == (1 if chunk > 64 else N * grid.Hp)
    offset = grid.pH * grid.Wp + grid.pW
    expected = np.stack([dy_grid[:, offset:offset + grid.G] @ x_grid[:, s:s + grid.G].T for s in grid.shifts],
                        axis=-1).reshape(O, C, 3, 5)                              # (O, C, kH, kW)
    np.testing.assert_allclose(kernels.same_backward_weight(x_grid, dy_grid, grid, (3, 5), scratch, method),
                               expected, rtol=1e-12, atol=1e-12)


def test_row_blocks_cover_the_grid_once():
    grid = kernels.Grid.of((8, 64, 80, 80), kernels.ConvGeometry.of(3, 1, 1, 1))
    blocks = grid.row_blocks(576)
    assert blocks[0][0] == 0 and blocks[-1][1] == grid.N * grid.Hp
    assert all(r1 == next_r0 for (_, r1), (next_r0, _) in zip(blocks, blocks[1:]))
    assert all((r1 - r0) * grid.Wp * 576 <= kernels.CHUNK_ELEMENTS for r0, r1 in blocks)


def test_each_method_chosen_in_a_layer_passes_gradcheck(rng):
    """Conv2d 16 -> 16 (forward, backward-data and backward-weight by rows), 16 -> 2 (thin result:
    forward and weight gradient shifted, backward-data by im2col: 2 input rows) and 2 -> 16."""
    assert [kernels.choose_method(c, r) for c, r in ((16, 16), (16, 2), (2, 16))] == ["rows", "shifted", "im2col"]
    with pytest.raises(ValueError, match="method must be one of"):
        kernels.choose_method(16, 16, "winograd")
    for C, O in ((16, 16), (16, 2), (2, 16)):
        conv = Conv2d(C, O, 3, padding=1, rng=rng).double()
        gradcheck(conv, rng.standard_normal((2, C, 5, 4)))


def test_geometry_is_named():
    geometry = kernels.ConvGeometry.of(3, padding=(1, 2), dilation=(1, 2))
    assert geometry.kernel_size == (3, 3) and geometry.padding == (1, 2) and geometry.is_same
    assert geometry.output_size(10, 9) == (10, 9)
    assert not kernels.ConvGeometry.of(3, stride=2, padding=1).is_same
