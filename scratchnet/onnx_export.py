"""``scratchnet.onnx_export``, the old name of ``scratchnet.nn.onnx``: the same module object, kept
because asv's suite and users' scripts import it by this name (every commit's benchmarks
must find it)."""
import sys

from .nn import onnx as _module

sys.modules[__name__] = _module
