"""no_grad(): run forward passes that will not be followed by backward, keeping nothing for it.

    with no_grad():
        y = model.forward(x)      # layers cache nothing; model.backward is not available

Layers normally keep what their backward needs (inputs, normalised values, masks).  When a
whole image is denoised that is one large array per layer; under no_grad they keep none, so
memory holds only the activations in flight; and when the outermost no_grad block ends, the
scratch workspace (workspace.py) lets its buffers go, so that nothing stays alive after it.
"""
import contextlib

_enabled = True


def grad_enabled():
    """False inside a no_grad() block."""
    return _enabled


@contextlib.contextmanager
def no_grad():
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous
        if previous:                     # the outermost block: keep no scratch memory after it
            from .workspace import WORKSPACE
            WORKSPACE.clear()
