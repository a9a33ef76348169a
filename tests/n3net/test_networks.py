import numpy as np
import pytest

from minigrad import gradcheck, no_grad
from n3net import DnCNN, N3Net, build_model

TINY = dict(depth=3, features=4, k=2, intermediate_channels=2, patch_size=3, stride=2, match_window=3)


def test_parameter_counts_match_the_paper():
    # Plötz and Roth 2018, Table 1 / docs/n3net.md: about 706k, 427k and 556k
    assert build_model("n3net").num_parameters() == 705_511
    assert build_model("n3net-light").num_parameters() == 427_348
    assert build_model("dncnn17").num_parameters() == 556_097


def test_config_rebuilds_the_same_architecture():
    model = build_model("n3net-light", k=5)
    again = build_model(**model.config)
    assert [(n, p.shape) for n, p in model.named_parameters()] == [
        (n, p.shape) for n, p in again.named_parameters()]
    with pytest.raises(ValueError, match="unknown model 'unet'; choose one of dncnn17"):
        build_model("unet")


def test_dncnn_residual_adds_the_input_to_the_first_channels(rng):
    net = DnCNN(2, 3, depth=3, features=4).double()
    x = rng.standard_normal((1, 2, 5, 5))
    y = net.forward(x)
    np.testing.assert_allclose(y[:, :2] - x, net.body.forward(x)[:, :2], rtol=1e-12)
    np.testing.assert_allclose(y[:, 2], net.body.forward(x)[:, 2], rtol=1e-12)


@pytest.mark.parametrize("C_in, C_out", [(1, 1), (2, 3), (3, 2)])
def test_gradcheck_dncnn(rng, C_in, C_out):
    net = DnCNN(C_in, C_out, depth=4, features=3).double()
    gradcheck(net, rng.standard_normal((2, C_in, 5, 6)))


@pytest.mark.parametrize("block", ["n3", "knn"])
def test_gradcheck_n3net(rng, block):
    net = N3Net(n_blocks=3, block=block, **TINY).double()
    gradcheck(net, rng.standard_normal((2, 1, 8, 7)), max_entries=12)


def test_knn_block_network_matches_on_the_noisy_input(rng):
    net = N3Net(n_blocks=2, block="knn", **TINY).double()
    x = rng.random((2, 1, 9, 8))
    first, knn, last = net.stages
    expected = last.forward(knn.forward(first.forward(x), x))
    np.testing.assert_allclose(net.forward(x), expected, rtol=1e-13)


def test_released_init(rng):
    from minigrad import init
    init.manual_seed(0)
    net = build_model("n3net", init="released")
    for name, p in net.named_parameters():
        n3_cnn = ".embedding." in name or ".temperature." in name
        if p.data.ndim == 4:
            if p.data.size < 5000:
                continue
            # DnCNN convolutions: N(0, 2 / (9 out)); the N3 blocks' CNNs keep the layers' default,
            # Kaiming-uniform with a = sqrt(5), RMS 1 / sqrt(3 * 9 in)
            std = np.sqrt(1 / (27 * p.data.shape[1])) if n3_cnn else np.sqrt(2 / (9 * p.data.shape[0]))
            assert abs(p.data.std() / std - 1) < 0.05, name
        elif "weight" in name and "distance_bn" not in name and p.data.size > 1:   # BN scales
            assert p.data.min() >= 0.025 and p.data.max() < 0.3, name
    with pytest.raises(ValueError, match="unknown init 'kaiming'"):
        build_model("dncnn17", init="kaiming")
    # init="he": the N3 blocks' CNN convolutions drawn He fan-out too
    init.manual_seed(0)
    he = dict(build_model("n3net-light", init="he").named_parameters())
    last = he["stages.1.embedding.6.weight"].data                        # 64 -> 8
    assert abs(last.std() / np.sqrt(2 / (9 * 8)) - 1) < 0.05
    # with zero_init_residual the zero last convolutions stay zero: the network starts as the identity
    model = build_model("n3net-light", init="released", zero_init_residual=True, depth=3, features=4).double()
    x = rng.random((1, 1, 80, 80))
    np.testing.assert_allclose(model.forward(x), x, rtol=1e-12, atol=1e-12)


def test_n3net_maps_an_image_to_an_image(rng):
    net = build_model("n3net-light")
    x = rng.random((1, 96, 90)).astype(np.float32)
    with no_grad():
        y = net.eval().forward(x)
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    with pytest.raises(ValueError, match="at least 80x80"):
        net.forward(np.zeros((1, 1, 60, 100), np.float32))


@pytest.mark.parametrize("name", ["n3net", "dncnn17"])
def test_zero_init_residual_starts_as_the_identity(rng, name):
    model = build_model(name, zero_init_residual=True, depth=3, features=4).double()
    x = rng.random((1, 1, 80, 80))
    np.testing.assert_allclose(model.forward(x), x, rtol=1e-12, atol=1e-12)


def test_a_model_built_directly_carries_its_configuration():
    """No attribute attached afterwards: the constructor records every argument."""
    from n3net import N3Net
    from n3net.dncnn import DnCNN
    for model in (N3Net(n_blocks=2, k=5, features=8, depth=3), DnCNN(depth=4, features=8, zero_init_residual=True)):
        again = build_model(**model.config)
        assert again.config == model.config
        assert [(n, p.shape) for n, p in model.named_parameters()] == [
            (n, p.shape) for n, p in again.named_parameters()]
    assert build_model("knn-block").config["block"] == "knn"


@pytest.mark.parametrize("name", ["dncnn17", "n3net-light", "knn-block"])
def test_without_the_input_gradient_the_parameter_gradients_are_the_same(name, rng):
    """set_input_grad(False): backward returns None and adds the same parameter gradients."""
    from layers import MSELoss
    from minigrad import init
    init.manual_seed(0)
    model = build_model(name, depth=3, features=8).double()
    x, target = rng.random((2, 1, 80, 80)), rng.random((2, 1, 80, 80))
    grads = []
    for input_grad in (True, False):
        model.set_input_grad(input_grad)
        loss = MSELoss()
        loss.forward(model.forward(x), target)
        model.zero_grad()
        dx = model.backward(loss.backward())
        assert (dx is None) == (not input_grad) and (dx is None or dx.shape == x.shape)
        grads.append([p.grad.copy() for p in model.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="ReLU cannot skip its input gradient"):
        from layers import ReLU
        ReLU().set_input_grad(False)
