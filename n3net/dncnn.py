"""DnCNN (Zhang et al. 2017) as N3Net uses it (docs/n3net.md, section 5).

Shape legend: B batch, C_in / C_out channels, H x W image.

    body = conv3x3(C_in -> 64, bias) + ReLU,
           (depth - 2) x [conv3x3(64 -> 64, no bias) + BN + ReLU],
           conv3x3(64 -> C_out, bias)
    y    = body(x), plus, with residual=True, x added to the first min(C_in, C_out) channels

Zhang et al. write the denoiser as clean = noisy - noise(noisy); body here learns -noise, the
same network with the last convolution's sign flipped, so that one residual rule serves both the
plain DnCNN-17 (1 -> 1) and the blocks inside N3Net (1 -> 8, 64 -> 8, 64 -> 1).

zero_init_residual=True starts the last convolution at zero, so that a residual DnCNN starts as
the identity on its first channels (as torchvision's ResNets offer): training then does not
spend its first steps undoing a random residual.  It changes the initial weights only.
init="released" draws the other weights as the released N3Net code does (init.py).
"""
from layers import BatchNorm2d, Conv2d, ReLU
from layers.conv import conv_radius
from layers.checks import check_images, single_image_as_batch
from minigrad.module import Module, Sequential

from .init import initialise


class DnCNN(Module):
    def __init__(self, in_channels=1, out_channels=1, depth=17, features=64, residual=True,
                 zero_init_residual=False, init="default"):
        if depth < 2:
            raise ValueError(f"DnCNN needs depth >= 2 (first and last convolution), got {depth}")
        # enough to rebuild it: build_model(**model.config) (n3net/models.py)
        self.config = dict(name="DnCNN", in_channels=in_channels, out_channels=out_channels, depth=depth,
                           features=features, residual=residual, zero_init_residual=zero_init_residual,
                           init=init)
        self.in_channels, self.out_channels, self.residual = in_channels, out_channels, residual
        layers = [Conv2d(in_channels, features, 3, padding=1), ReLU()]
        for _ in range(depth - 2):
            layers += [Conv2d(features, features, 3, padding=1, bias=False), BatchNorm2d(features), ReLU()]
        layers.append(Conv2d(features, out_channels, 3, padding=1))
        if zero_init_residual:
            layers[-1].weight.data[...] = 0
            layers[-1].bias.data[...] = 0
        self.body = Sequential(*layers)
        initialise(self, init, zero_last=zero_init_residual)

    def receptive_radius(self):
        """How far (in pixels) an output pixel sees: one per 3 x 3 convolution."""
        return conv_radius(self)

    def extra_repr(self):
        return f"{self.in_channels} -> {self.out_channels}, residual={self.residual}"

    @single_image_as_batch
    def forward(self, x):
        check_images(self, x, self.in_channels)
        y = self.body.forward(x)                                   # (B, C_out, H, W), a new array
        if self.residual:
            c = min(self.in_channels, self.out_channels)
            y[:, :c] += x[:, :c]
        return y

    def set_input_grad(self, enabled):
        """False: backward fills the parameters' gradients and returns None (training on data)."""
        self.body.set_input_grad(enabled)
        return self

    @single_image_as_batch
    def backward(self, dy):
        dx = self.body.backward(dy)                                # (B, C_in, H, W), or None
        if dx is not None and self.residual:
            c = min(self.in_channels, self.out_channels)
            dx[:, :c] += dy[:, :c]
        return dx
