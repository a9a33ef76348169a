"""minigrad: a small deep-learning engine whose every backward pass is written by hand."""
from . import init, optim
from .backend import get_array_module, gpu_available, to_device, to_numpy
from .fold import conv_output_size, fold, unfold
from .grad_mode import grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck
from .module import Module, Parameter, Sequential
from .serialization import CheckpointMismatchError, load, save

__all__ = ["init", "optim", "get_array_module", "gpu_available", "to_device", "to_numpy",
           "conv_output_size", "fold", "unfold", "grad_enabled", "no_grad", "GradcheckError", "gradcheck", "Module",
           "Parameter", "Sequential", "CheckpointMismatchError", "load", "save"]
