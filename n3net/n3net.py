"""N3Net for denoising: DnCNN blocks interleaved with N3 blocks (docs/n3net.md, section 5).

    N3Net(n_blocks=3): DnCNN(1 -> 8, d=6), N3Block(8 -> 64), DnCNN(64 -> 8, d=6), N3Block(8 -> 64),
                       DnCNN(64 -> 1, d=6); the output is the clean image.     about 706k parameters
    n_blocks=2 ("light"): DnCNN(1 -> 8), N3Block, DnCNN(64 -> 1).              about 427k parameters
    block="knn": the paper's KNN-block baseline (Table 1): hard 7-NN matched on the patches of the
    noisy input image, aggregating the block's input features; no embedding, no temperature.
    distance_bn=False: N3 blocks without the distance batch-norm (distance_bn.py), for comparison;
    distance_norm="query": the distances normalised per query instead (query_norm.py).
    max_temperature: the N3 blocks' temperatures are held at most this (N3Block; 1e4, no real
    bound, by default; 0.2 keeps a block from averaging its whole window: docs/experiments.md);
    min_temperature: and at least this (1e-4 by default; a higher floor keeps a block's selection
    from becoming hard: models/README.md).
    zero_init_residual=True: every DnCNN starts as the identity, so the whole network starts by
    returning its input (see dncnn.py).
    init="released": the released code's initialisation (init.py), after the layers' defaults.
"""
from minigrad.module import Module, Sequential

from .dncnn import DnCNN
from .init import initialise
from .n3block import KNNBlock, N3Block


class N3Net(Module):
    def __init__(self, in_channels=1, out_channels=1, n_blocks=3, depth=6, features=64, k=7,
                 intermediate_channels=8, patch_size=10, stride=5, match_window=15, block="n3",
                 variant="paper", query_tile=8, zero_init_residual=False,
                 distance_bn=True, init="default", distance_norm="batch", max_temperature=1e4,
                 min_temperature=1e-4):
        if n_blocks < 2:
            raise ValueError(f"N3Net needs n_blocks >= 2 DnCNN blocks (one N3 block between two), got {n_blocks}")
        if block not in ("n3", "knn"):
            raise ValueError(f"unknown block {block!r}: use 'n3' or 'knn'")
        # enough to rebuild it: build_model(**model.config) (n3net/models.py)
        self.config = dict(name="N3Net", in_channels=in_channels, out_channels=out_channels, n_blocks=n_blocks,
                           depth=depth, features=features, k=k, intermediate_channels=intermediate_channels,
                           patch_size=patch_size, stride=stride, match_window=match_window, block=block,
                           variant=variant, query_tile=query_tile, zero_init_residual=zero_init_residual,
                           distance_bn=distance_bn, init=init, distance_norm=distance_norm,
                           max_temperature=max_temperature, min_temperature=min_temperature)
        c, geometry = intermediate_channels, dict(k=k, patch_size=patch_size, stride=stride,
                                                  match_window=match_window, query_tile=query_tile)
        self.in_channels = in_channels
        dncnn = dict(depth=depth, features=features, zero_init_residual=zero_init_residual)
        stages = [DnCNN(in_channels, c, **dncnn)]
        for i in range(n_blocks - 1):
            if block == "n3":
                stages.append(N3Block(c, features=features, variant=variant, distance_bn=distance_bn,
                                      distance_norm=distance_norm, max_temperature=max_temperature,
                                      min_temperature=min_temperature, **geometry))
            else:
                stages.append(KNNBlock(c, **geometry))
            last = i == n_blocks - 2
            stages.append(DnCNN(c * (k + 1), out_channels if last else c, **dncnn))
        self.stages = Sequential(*stages)
        initialise(self, init, zero_last=zero_init_residual)

    def min_size(self):
        """Smallest image side the N3 blocks accept (80 pixels with the defaults)."""
        return self.stages[1].min_size()

    def receptive_radius(self):
        """How far (in pixels) an output pixel sees: the stages' reaches added."""
        return sum(stage.receptive_radius() for stage in self.stages)

    def tile_stride(self):
        """Crops whose offsets are multiples of this (and whose sizes are the image's modulo it) put
        the N3 blocks' patches where they lie in the whole image."""
        return self.stages[1].stride

    def forward(self, x):
        y = x
        for stage in self.stages:          # a KNN block matches on the noisy input image x
            y = stage.forward(y, x) if isinstance(stage, KNNBlock) else stage.forward(y)
        return y

    def backward(self, dy):
        return self.stages.backward(dy)

    def set_input_grad(self, enabled):
        """False: backward returns None (the first DnCNN skips its input gradient; the KNN blocks'
        guide, the input image, takes none anyway)."""
        self.stages.set_input_grad(enabled)
        return self
