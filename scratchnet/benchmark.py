"""``scratchnet.benchmark``, the old name of ``scratchnet.harness.timing``: the same module object, kept
because asv's suite and users' scripts import it by this name (every commit's benchmarks
must find it)."""
import sys

from .harness import timing as _module

sys.modules[__name__] = _module
