"""Layers built on minigrad, each with a hand-written backward."""
from .activation import LeakyReLU, ReLU, Sigmoid, Tanh
from .batchnorm import BatchNorm2d
from .concat import Concat
from .conv import Conv2d
from .dropout import Dropout
from .linear import Linear
from .loss import L1Loss, MSELoss
from .upsample import Upsampling, UpsamplingNearest2d

__all__ = ["LeakyReLU", "ReLU", "Sigmoid", "Tanh", "BatchNorm2d", "Concat", "Conv2d", "Dropout",
           "L1Loss", "Linear", "MSELoss", "Upsampling", "UpsamplingNearest2d"]
