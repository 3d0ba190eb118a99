"""The parent's side of the ``check`` worker (``scratchnet.check.worker``): start it,
send it a request, wait for the reply for at most the time limit, and tell what
happened when none came (an exit, a crash, a hang). A worker that died is started
again, lazily, for the next request; what its code printed is kept in one file.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile

from . import protocol
from .loader import IN_WORKER, CheckError

#: Seconds a worker may take to start Python and import numpy and scratchnet, before
#: the user's code runs (and the user's --time-limit starts): minutes only on a machine
#: so busy that nothing would be measured anyway.
STARTUP_LIMIT = 120.0


class WorkerDied(Exception):
    """No reply: the worker exited, crashed or was stopped at the time limit."""


class UserRaised(Exception):
    """The user's code raised (or called sys.exit) in the worker."""

    def __init__(self, reply, during=""):
        super().__init__(reply["raised"])
        self.during = during  # the call, e.g. "fit"
        self.text, self.type = reply["raised"], reply.get("type", "")
        self.where, self.exit = reply.get("where", ""), reply.get("exit", False)
        self.is_exit = "exit" in reply


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Session:
    """One user class in a worker process; ``request`` is the only way to reach it."""

    def __init__(self, spec, time_limit, python_path=()):
        self.spec, self.time_limit, self.python_path = spec, time_limit, list(python_path)
        self.process = self.sock = None
        self.info = None  # the load reply: name, methods, parameters
        self.output = tempfile.TemporaryFile(prefix="scratchnet-check-output-")
        self.starts = 0

    # ------------------------------------------------------------ lifetime
    def start(self):
        """Start the worker and load the class; CheckError if it cannot be loaded."""
        self.launch()
        self.loaded()

    def launch(self):
        """Start the worker and ask it to load the class, without waiting for it (its
        imports run while this process builds the twin)."""
        ours, theirs = socket.socketpair()
        env = dict(os.environ, **{IN_WORKER: "1"})
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scratchnet.check.worker", str(theirs.fileno()),
                 str(os.getpid())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=self.output,
                stderr=self.output, env=env, start_new_session=True)  # Ctrl-C is ours alone
        finally:
            theirs.close()
        self.sock, self.starts = ours, self.starts + 1
        protocol.send(self.sock, {"op": "load", "spec": self.spec, "python_path": self.python_path})

    def loaded(self):
        """Wait for the class to be loaded; CheckError if it cannot be."""
        try:
            self._reply("starting the worker", STARTUP_LIMIT)
            self.info = self._reply("importing the class")
        except UserRaised as exc:
            self.close()
            raise CheckError(exc.text) from None
        except WorkerDied as exc:
            raise CheckError(f"cannot import {self.spec.split(':')[0]!r}: {exc}") from None

    def close(self):
        """Stop the worker now, whatever its code catches (SIGKILL to its process group)."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
            self.process = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def printed(self):
        """What the user's code wrote to stdout and stderr, in every worker so far."""
        self.output.flush()
        self.output.seek(0)
        return self.output.read().decode(errors="replace")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        self.output.close()

    # ------------------------------------------------------------ requests
    def request(self, message, during):
        """The reply's value; UserRaised if the user's code raised, WorkerDied (the worker
        stopped, to be started again on the next request) if no reply came."""
        if self.process is None:
            try:
                self.start()
            except CheckError as exc:
                raise WorkerDied(f"a fresh worker could not load the class again: {exc}") from None
        return self._exchange(message, during)

    def _exchange(self, message, during):
        try:
            protocol.send(self.sock, message)
        except OSError:
            raise WorkerDied(f"{during}: {self._ended()}") from None
        return self._reply(during)

    def _reply(self, during, limit=None):
        try:
            self.sock.settimeout(limit or self.time_limit)
            reply = protocol.receive(self.sock)
        except socket.timeout:
            self.close()
            which = f"{limit:g} s" if limit else f"{self.time_limit:g} s (--time-limit)"
            raise WorkerDied(f"{during} did not return within {which}; "
                             f"its process was stopped") from None
        except (EOFError, OSError, ValueError):
            raise WorkerDied(f"{during}: {self._ended()}") from None
        if "raised" in reply:
            raise UserRaised(reply, during)
        return reply.get("value")

    def _ended(self):
        """How the worker ended, in words, once it has."""
        try:
            status = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.close()
            return "its process stopped answering and was stopped"
        self.process = None
        self.sock.close()
        self.sock = None
        if status < 0:
            name = _signal_name(-status)
            crash = " (a crash in native code)" if -status in (
                signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT) else ""
            return f"its process was killed by {name}{crash}"
        return f"its process exited with status {status} (os._exit or a native exit)"
