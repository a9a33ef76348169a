"""N3Net for denoising: DnCNN blocks interleaved with N3 blocks (N3NET.md section 3).

    N3Net(n_blocks=3): DnCNN(1 -> 8, d=6), N3Block(8 -> 64), DnCNN(64 -> 8, d=6), N3Block(8 -> 64),
                       DnCNN(64 -> 1, d=6); the output is the clean image.     about 706k parameters
    n_blocks=2 ("light"): DnCNN(1 -> 8), N3Block, DnCNN(64 -> 1).              about 427k parameters
    block="knn": the paper's KNN-block baseline, hard 7-NN on the input patches, no embedding.
"""
from minigrad.module import Module

from .dncnn import DnCNN
from .n3block import KNNBlock, N3Block


class N3Net(Module):
    def __init__(self, in_channels=1, out_channels=1, n_blocks=3, depth=6, features=64, k=7,
                 intermediate_channels=8, patch_size=10, stride=5, match_window=15, block="n3",
                 variant="paper", query_tile=8):
        if n_blocks < 2:
            raise ValueError(f"N3Net needs n_blocks >= 2 DnCNN blocks (one N3 block between two), got {n_blocks}")
        if block not in ("n3", "knn"):
            raise ValueError(f"unknown block {block!r}: use 'n3' or 'knn'")
        c, geometry = intermediate_channels, dict(k=k, patch_size=patch_size, stride=stride,
                                                  match_window=match_window, query_tile=query_tile)
        self.in_channels = in_channels
        self.stages = [DnCNN(in_channels, c, depth, features)]
        for i in range(n_blocks - 1):
            if block == "n3":
                self.stages.append(N3Block(c, features=features, variant=variant, **geometry))
            else:
                self.stages.append(KNNBlock(c, **geometry))
            last = i == n_blocks - 2
            self.stages.append(DnCNN(c * (k + 1), out_channels if last else c, depth, features))

    def min_size(self):
        """Smallest image side the N3 blocks accept (80 pixels with the defaults)."""
        return self.stages[1].min_size()

    def forward(self, x):
        for stage in self.stages:
            x = stage.forward(x)
        return x

    def backward(self, dy):
        for stage in reversed(self.stages):
            dy = stage.backward(dy)
        return dy
