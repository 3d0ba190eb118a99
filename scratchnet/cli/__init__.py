"""The ``scratchnet`` command: one module per command (its flags and what it prints), and
here the parser they make together and ``main``, which turns errors, Ctrl-C and SIGTERM
into exit statuses."""
from __future__ import annotations

import argparse
import sys

from ..nn.base import TrainingDivergedError
from . import asv, check, compare, demo, deploy


def build_parser():
    parser = argparse.ArgumentParser(
        prog="scratchnet",
        description="A NumPy neural network written from scratch, checked against its PyTorch twin.")
    from .. import __version__
    parser.add_argument("--version", action="version", version=f"scratchnet {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    demo.add_parser(commands)
    compare.add_parser(commands)
    deploy.add_parsers(commands)
    check.add_parser(commands)
    asv.add_parsers(commands)
    return parser


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so that temporary files and workers are
    cleaned up on the way out as after Ctrl-C."""


def _raise_terminated(signum, frame):
    raise Terminated()


#: Exit statuses of an interrupted command, as a shell reports a process killed by the signal.
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C)
EXIT_TERMINATED = 143  # SIGTERM


def _out_of_memory(exc):
    """A one-line message for running out of memory: NumPy's names the size asked for;
    PyTorch's allocator raises a RuntimeError that does."""
    if isinstance(exc, MemoryError):
        return f"out of memory: {str(exc) or 'an allocation failed'}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text):
        return f"out of memory: {text}"
    return None


def main(argv=None):
    import signal
    import threading

    from .. import files

    parser = build_parser()
    args = parser.parse_args(argv)
    files.written.clear()
    # SIGTERM handlers can only be set from the main thread (main() may run in another)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        return args.run(args)
    except (ValueError, TypeError, ImportError, OSError, TrainingDivergedError) as exc:
        print(f"scratchnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:
        message = _out_of_memory(exc)
        if message is None:
            raise
        print(f"scratchnet {args.command}: error: {message}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Terminated) as exc:
        kept = (f"written before it: {', '.join(files.written)}" if files.written
                else "nothing written")
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
        print(f"scratchnet {args.command}: {what}; {kept}", file=sys.stderr)
        status = EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_TERMINATED
        if argv is None:  # the command itself, not a call from Python: end now
            _exit_now(status)
        return status
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _exit_now(status):
    """Leave at once, once everything above has cleaned up on the way out: tearing down an
    interpreter that imported torch (and its compiler, which torch.optim loads) takes
    0.8 s here, too long for a command told to stop."""
    import os
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
