"""scratchnet: a NumPy neural network written from scratch, its PyTorch twin,
and the tools that show they compute the same function and how fast each is.

``import scratchnet`` does not import torch: ``TorchNeuralNetwork`` and
``is_torch_available`` load ``scratchnet.nn.torch_network`` (and torch) on first
use, so NumPy-only work, and the NumPy side of a benchmark, never pays for
torch or shares a process with it.
"""
from .nn.base import TrainingDivergedError
from .nn.batches import batch_order
from .nn.network import NeuralNetwork
from .nn.precision import PrecisionConfig

__version__ = "0.1.0"

__all__ = ["NeuralNetwork", "TorchNeuralNetwork", "PrecisionConfig", "is_torch_available",
           "TrainingDivergedError", "batch_order", "__version__"]

_FROM_PYTORCH_MODEL = ("TorchNeuralNetwork", "is_torch_available")


def __getattr__(name):
    if name in _FROM_PYTORCH_MODEL:
        from .nn import torch_network as pytorch_model
        return getattr(pytorch_model, name)
    raise AttributeError(f"module 'scratchnet' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_FROM_PYTORCH_MODEL))
