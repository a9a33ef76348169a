"""The continuous KNN, the N3 and KNN blocks and every network of build_model on the strict device:
gradchecked in float64, equal to the CPU, and without synchronisations inside the tile loop."""
import json

import numpy as np
import pytest

from layers import MSELoss
from minigrad import gradcheck, init, load, no_grad, save, to_device, to_numpy
from minigrad.optim import Adam
from n3net import MODELS, KNNBlock, N3Block, NeuralNearestNeighbors, build_model
from n3net.collapse import weight_report
from n3net.diagnostics import diagnose, n3_blocks

pytestmark = pytest.mark.strict_device

SMALL = dict(k=2, patch_size=3, stride=2, match_window=3, query_tile=2)
TINY_NET = dict(depth=3, features=8)
# the lines allowed to make the host wait, once per block call: the N3 block's check of its embedding
# and temperatures, and the distance batch-norm's count of finite distances (training only)
PER_CALL = ("n3net/n3block.py", "layers/batch_statistics.py")


def on_device(module):
    return module.to("gpu")


def assert_no_sync_in_the_tile_loop(syncs, blocks):
    assert all(line.startswith(PER_CALL) for line in syncs.lines), syncs.lines
    assert syncs.count <= 2 * blocks, syncs.lines


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_continuous_knn_gradcheck(variant, rng, strict):
    knn = NeuralNearestNeighbors(k=3, variant=variant)
    x = rng.standard_normal((2, 6, 3))
    D = rng.random((2, 4, 6)) * 3
    D[:, 0, 1] = np.inf                                           # a non-candidate
    t = rng.uniform(0.5, 2, (2, 4))
    gradcheck(knn, tuple(to_device(a, "gpu") for a in (x, D, t)), wrt=(0, 1, 2))


@pytest.mark.parametrize("options", [dict(variant="paper"), dict(variant="reference"),
                                     dict(distance_bn=False), dict(distance_norm="query")],
                         ids=["paper", "reference", "no-distance-bn", "query-norm"])
def test_n3_block_gradcheck_and_cpu_parity(options, rng, syncs):
    init.manual_seed(0)
    cpu = N3Block(2, features=4, **SMALL, **options).double()
    device = N3Block(2, features=4, **SMALL, **options).double()
    device.load_state_dict(cpu.state_dict())
    on_device(device)
    Y = rng.standard_normal((2, 2, 9, 8))
    gradcheck(device, to_device(Y, "gpu"), max_entries=20)
    dout = rng.standard_normal(cpu.forward(Y).shape)
    syncs.reset()
    out = device.forward(to_device(Y, "gpu"))
    dY = device.backward(to_device(dout, "gpu"))
    assert_no_sync_in_the_tile_loop(syncs, 1)
    np.testing.assert_allclose(to_numpy(out), cpu.forward(Y), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_numpy(dY), cpu.backward(dout), rtol=1e-10, atol=1e-12)


def test_knn_block_gradcheck(rng):
    block = on_device(KNNBlock(2, **SMALL).double())
    Y, guide = rng.standard_normal((2, 2, 9, 8)), rng.standard_normal((2, 1, 9, 8))
    gradcheck(block, (to_device(Y, "gpu"), to_device(guide, "gpu")), wrt=(0,), max_entries=20)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_training_step_of_every_model_equals_the_cpu(name, rng, syncs):
    init.manual_seed(0)
    cpu = build_model(name, **TINY_NET).double()
    device = on_device(build_model(name, **TINY_NET).double())
    device.load_state_dict(cpu.state_dict())
    noisy, clean = rng.random((2, 1, 80, 80)), rng.random((2, 1, 80, 80))
    results = []
    for model, to in ((cpu, lambda a: a), (device, lambda a: to_device(a, "gpu"))):
        loss_fn, opt = MSELoss(), Adam(model.parameters(), lr=1e-3)
        syncs.reset()
        loss = loss_fn.forward(model.forward(to(noisy)), to(clean))
        model.zero_grad()
        model.backward(loss_fn.backward())
        opt.step()
        if model is device:
            assert_no_sync_in_the_tile_loop(syncs, len(n3_blocks(device)) + (name == "knn-block") * 2)
        results.append([to_numpy(p.data) for p in model.parameters()] + [to_numpy(loss)])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


def test_whole_image_evaluation_through_the_tiles(rng, syncs):
    init.manual_seed(0)
    cpu = build_model("n3net", **TINY_NET).double().eval()
    device = on_device(build_model("n3net", **TINY_NET).double()).eval()
    device.load_state_dict(cpu.state_dict())
    image = rng.random((1, 1, 130, 97))                          # several tiles, sizes of no multiple
    with no_grad():
        expected = cpu.forward(image)
        syncs.reset()
        out = device.forward(to_device(image, "gpu"))
    assert syncs.count <= 2 and all(line.startswith("n3net/n3block.py") for line in syncs.lines)
    np.testing.assert_allclose(to_numpy(out), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_diagnostics_on_the_device(training, rng):
    init.manual_seed(0)
    cpu = build_model("n3net-light", **TINY_NET).double()
    device = on_device(build_model("n3net-light", **TINY_NET).double())
    device.load_state_dict(cpu.state_dict())
    noisy, clean = rng.random((2, 1, 80, 80)), rng.random((2, 1, 80, 80))
    expected = diagnose(cpu, noisy, clean, training=training)
    report = diagnose(device, to_device(noisy, "gpu"), to_device(clean, "gpu"), training=training)
    for a, b in zip(expected, report):
        assert a.keys() == b.keys()
        for key in a:
            expected = a[key] if isinstance(a[key], (str, bool)) else pytest.approx(a[key], rel=1e-8)
            assert b[key] == expected, key
    assert json.dumps(weight_report(device)) == json.dumps(weight_report(cpu))


def test_checkpoint_save_and_load_from_the_device(tmp_path, rng):
    init.manual_seed(0)
    model = on_device(build_model("n3net-light", **TINY_NET))
    optimizer = Adam(model.parameters(), lr=1e-3)
    loss_fn = MSELoss()
    x = to_device(rng.random((2, 1, 80, 80)).astype(np.float32), "gpu")
    loss_fn.forward(model.forward(x), x)
    model.backward(loss_fn.backward())
    optimizer.step()
    save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "c.npz")
    ckpt = load(tmp_path / "c.npz")
    again = on_device(build_model("n3net-light", **TINY_NET))
    again.load_state_dict(ckpt["model"])
    for (name, p), (_, q) in zip(model.named_parameters(), again.named_parameters()):
        assert type(q.data) is type(p.data)
        np.testing.assert_array_equal(to_numpy(q.data), to_numpy(p.data), err_msg=name)
    restored = Adam(again.parameters(), lr=1e-3)
    restored.load_state_dict(ckpt["optimizer"])
    assert restored.state_dict().keys() == optimizer.state_dict().keys()
