"""Neural Nearest Neighbors Networks (Plötz and Roth, NeurIPS 2018) on minigrad."""
from .dncnn import DnCNN
from .knn import HardKNN, NeuralNearestNeighbors, hard_knn_weights, knn_weights
from .models import MODELS, build_model
from .n3block import KNNBlock, N3Block
from .n3net import N3Net
from .n3set import N3SetBlock

__all__ = ["DnCNN", "HardKNN", "NeuralNearestNeighbors", "hard_knn_weights", "knn_weights", "MODELS",
           "build_model", "KNNBlock", "N3Block", "N3Net", "N3SetBlock"]
