"""``scratchnet.compare``, the old name of ``scratchnet.harness.compare``: the same module object, kept
because asv's suite and users' scripts import it by this name (every commit's benchmarks
must find it)."""
import sys

from .harness import compare as _module

sys.modules[__name__] = _module
