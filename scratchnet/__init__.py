"""scratchnet: a NumPy neural network written from scratch, its PyTorch twin,
and the tools that show they compute the same function and how fast each is."""
from .base import TrainingDivergedError
from .network import NeuralNetwork
from .precision import PrecisionConfig
from .pytorch_model import TorchNeuralNetwork, is_torch_available

__version__ = "0.1.0"

__all__ = ["NeuralNetwork", "TorchNeuralNetwork", "PrecisionConfig", "is_torch_available",
           "TrainingDivergedError", "__version__"]
