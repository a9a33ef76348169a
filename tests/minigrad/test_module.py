import numpy as np
import pytest

from layers import BatchNorm2d, Conv2d, ReLU
from minigrad import CheckpointMismatchError, Module, Sequential, load, save


class Net(Module):
    def __init__(self, features=4):
        self.body = Sequential(Conv2d(1, features, 3, padding=1), BatchNorm2d(features), ReLU())
        self.head = Conv2d(features, 1, 3, padding=1, bias=False)

    def forward(self, x):
        return self.head.forward(self.body.forward(x))

    def backward(self, dy):
        return self.body.backward(self.head.backward(dy))


def test_named_parameters_and_buffers_follow_pytorch_names():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias", "head.weight"]
    assert [n for n, _ in net.named_buffers()] == ["body.1.running_mean", "body.1.running_var"]
    assert net.num_parameters() == 4 * 9 + 4 + 4 + 4 + 4 * 9


def test_train_eval_and_zero_grad_reach_every_child(rng):
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    y = net.forward(rng.standard_normal((2, 1, 6, 6)).astype(np.float32))
    net.backward(np.ones_like(y))
    assert any(np.abs(p.grad).sum() > 0 for p in net.parameters())
    net.zero_grad()
    assert all(np.abs(p.grad).sum() == 0 for p in net.parameters())


def test_state_dict_round_trip_through_a_file(tmp_path, rng):
    net = Net()
    net.forward(rng.standard_normal((2, 1, 6, 6)).astype(np.float32))  # moves running stats
    save(net.state_dict(), tmp_path / "net.npz")
    other = Net()
    weight = other.head.weight.data                   # loading must write in place
    other.load_state_dict(load(tmp_path / "net.npz"))
    assert other.head.weight.data is weight
    for (name, a), (_, b) in zip(net.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    x = rng.standard_normal((1, 1, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(net.eval().forward(x), other.eval().forward(x))


def test_loading_a_checkpoint_of_another_model_names_what_is_wrong():
    state = Net(features=4).state_dict()
    with pytest.raises(CheckpointMismatchError) as info:
        Net(features=8).load_state_dict(state)
    message = str(info.value)
    assert "body.0.weight has shape (4, 1, 3, 3) in the checkpoint but (8, 1, 3, 3) in the model" in message
    state = Net().state_dict()
    del state["head.weight"]
    state["extra.weight"] = np.zeros(3)
    with pytest.raises(CheckpointMismatchError, match="missing entries: head.weight") as info:
        Net().load_state_dict(state)
    assert "unexpected entries: extra.weight" in str(info.value)


def test_to_dtype_converts_parameters_grads_and_buffers():
    net = Net().double()
    assert all(p.data.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert all(b.dtype == np.float64 for _, b in net.named_buffers())


def test_sequential_backward_runs_in_reverse(rng):
    seq = Sequential(Conv2d(1, 2, 3, rng=rng), ReLU(), Conv2d(2, 1, 1, rng=rng)).double()
    from minigrad import gradcheck
    gradcheck(seq, rng.standard_normal((2, 1, 5, 5)))
    assert len(seq) == 3 and isinstance(seq[1], ReLU)


def test_no_grad_keeps_nothing_and_backward_says_why(rng):
    from minigrad import no_grad
    net = Net().double()
    x = rng.standard_normal((2, 1, 6, 6))
    y = net.forward(x)
    with no_grad():
        np.testing.assert_allclose(net.forward(x), y, rtol=1e-12)   # same values
    assert net.head._x_grid is None and net.body[1]._x_hat is None
    with pytest.raises(RuntimeError, match="no_grad"):
        net.backward(np.ones_like(y))
    net.forward(x)                                                    # caches again
    assert net.backward(np.ones_like(y)).shape == x.shape
