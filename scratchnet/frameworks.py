"""``scratchnet.frameworks``, the old name of ``scratchnet.harness.frameworks``: the same module object, kept
because asv's suite and users' scripts import it by this name (every commit's benchmarks
must find it)."""
import sys

from .harness import frameworks as _module

sys.modules[__name__] = _module
