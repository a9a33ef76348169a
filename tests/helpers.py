"""Small helpers for the tests."""
import numpy as np


def copy_to_torch(module, torch_module, torch):
    """Copy a minigrad module's parameters and buffers into a PyTorch module (same names)."""
    ours = {**dict((n, p.data) for n, p in module.named_parameters()), **dict(module.named_buffers())}
    theirs = dict(torch_module.state_dict())
    for name, value in ours.items():
        theirs[name] = torch.tensor(np.asarray(value), dtype=torch.float64)
    torch_module.load_state_dict(theirs, strict=False)
    torch_module.double()


def away_from_zero(rng, shape, margin=0.05):
    """Standard normal values pushed at least `margin` away from 0 (ReLU/L1 kinks)."""
    x = rng.standard_normal(shape)
    return x + np.sign(x) * margin


def assert_matches_torch(module, torch_module, x, rng, torch, rtol=1e-12, atol=1e-12):
    """Forward, input gradient and every parameter gradient of module equal PyTorch's."""
    xt = torch.tensor(x, requires_grad=True)
    yt = torch_module(xt)
    y = module.forward(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=rtol, atol=atol, err_msg="output")
    dy = rng.standard_normal(y.shape)
    dx = module.backward(dy)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=rtol, atol=atol, err_msg="input gradient")
    theirs = dict(torch_module.named_parameters())
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad, theirs[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name)
