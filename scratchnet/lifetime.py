"""A worker process's lifetime, for every worker scratchnet starts (the comparison's, the
instruction counts', ``check``'s): it ends when the process that started it does."""
from __future__ import annotations

import os
import sys


def die_with_parent(parent_pid):
    """Have the kernel kill this process when its parent ends (Linux: prctl's
    PR_SET_PDEATHSIG), and end now if the parent ``parent_pid`` has already gone: a worker
    whose parent was killed must not go on using a core for nobody. Elsewhere, nothing."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)
