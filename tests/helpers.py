"""Comparisons whose failure messages say how far off, and where; the command as a user
runs it, in this process or in its own."""
import contextlib
import io
import os
import subprocess
import sys
import traceback

import numpy as np


def scratchnet(*args, cwd=None, env=None):
    """``scratchnet ARGS`` through ``cli.main`` in this process, as a CompletedProcess with
    its output as text: the exit status main returns (argparse's for a usage error), and 1
    with the traceback on stderr where it raises, as the command would. With ``env``, in a
    process of its own (``scratchnet_process``)."""
    if env is not None:
        return scratchnet_process(*args, cwd=cwd, env=env)
    from scratchnet.cli import main
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main([str(arg) for arg in args])
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:
                traceback.print_exc()
                status = 1
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(["scratchnet", *args], status, out.getvalue(),
                                       err.getvalue())


def scratchnet_process(*args, cwd=None, env=None):
    """``python -m scratchnet ARGS`` in a subprocess: the CompletedProcess, output as text."""
    return subprocess.run([sys.executable, "-m", "scratchnet", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=env)


def one_line(stderr):
    """The only line of ``stderr``; fails on more lines or a traceback."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def assert_close(actual, expected, atol, what):
    """Fail with the largest absolute difference and its index when it exceeds ``atol``."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    diff = np.abs(actual - expected)
    worst = np.unravel_index(np.argmax(diff), diff.shape) if diff.size else ()
    largest = float(diff[worst]) if diff.size else 0.0
    assert largest <= atol, (f"{what}: largest abs difference {largest:.3e} > {atol:.0e} at index "
                             f"{tuple(int(i) for i in worst)} ({actual[worst]!r} vs {expected[worst]!r})")
    return largest


def relative_error(analytic, numeric):
    """Elementwise |a - n| / (|a| + |n|), 0 where both are 0."""
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    denominator = np.abs(analytic) + np.abs(numeric)
    return np.divide(np.abs(analytic - numeric), denominator,
                     out=np.zeros_like(denominator), where=denominator > 0)
