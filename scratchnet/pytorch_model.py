"""``scratchnet.pytorch_model``, the old name of ``scratchnet.nn.torch_network``: the same module object, kept
because asv's suite and users' scripts import it by this name (every commit's benchmarks
must find it)."""
import sys

from .nn import torch_network as _module

sys.modules[__name__] = _module
