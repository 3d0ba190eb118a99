"""The worker side of ``scratchnet check``: ``python -m scratchnet.check.worker FD
PARENT_PID`` loads the user's class and runs its methods when asked, over the socket FD
(``scratchnet.check.protocol``), so that whatever the user's code does (crash, exit,
hang, catch every signal) happens in this process and not in the one printing the card.

It only executes: every comparison and every verdict is the parent's. Once its own
imports are done it sends ``{"ready": true}``, so that the user's time limit does not
count the interpreter's start on a busy machine. Requests:

- ``{"op": "load", "spec", "python_path"}`` -> the class's name, which protocol methods
  it has, and its constructor's parameters;
- ``{"op": "build", "handle", "layer_sizes", "activations", "seed", "loss", "dtype"}``
  builds an instance (``loader.build_user_class``) and keeps it under ``handle``;
- ``{"op": "call", "handle", "method", "args", "kwargs"}`` -> ``{"value": what it
  returned}``; ``{"op": "drop", "handle"}`` forgets an instance.

A call that raises replies ``{"raised": "Type: message", "type", "where"}`` (``"exit"``
for SystemExit). What the user's code prints goes to this process's stdout and stderr,
which the parent keeps apart from the card.
"""
from __future__ import annotations

import os
import socket
import sys
import traceback

from ..lifetime import die_with_parent
from . import loader, protocol

#: The methods the checks may call, and report as present or not.
METHODS = ("fit", "forward", "get_weights", "set_weights", "predict", "loss_and_gradients")


def _where(exc):
    """``file:line`` of the innermost frame in the user's code (or, where none is, of the
    innermost frame at all)."""
    frame = loader.user_frame(exc) or next(reversed(traceback.extract_tb(exc.__traceback__)), None)
    return f"{os.path.basename(frame.filename)}:{frame.lineno}" if frame else ""


def _raised(exc):
    reply = {"raised": loader.describe(exc), "type": type(exc).__name__, "where": _where(exc)}
    if isinstance(exc, SystemExit):
        reply["exit"] = exc.code if isinstance(exc.code, (int, type(None))) else str(exc.code)
    return reply


class Worker:
    def __init__(self):
        self.cls, self.instances = None, {}

    def handle(self, request):
        op = request.get("op")
        if op == "load":
            return self.load(request["spec"], request.get("python_path") or [])
        if op == "build":
            try:
                self.instances[request["handle"]] = loader.build_user_class(
                    self.cls, request["layer_sizes"], request["activations"], request["seed"],
                    request["dtype"], loss=request["loss"])
            except loader.CheckError as exc:
                return {"raised": str(exc), "type": "CheckError", "where": ""}
            return {"value": None}
        if op == "call":
            method = getattr(self.instances[request["handle"]], request["method"])
            return {"value": method(*request.get("args", []), **request.get("kwargs", {}))}
        if op == "drop":
            self.instances.pop(request["handle"], None)
            return {"value": None}
        return {"raised": f"unknown request {op!r}", "type": "ValueError", "where": ""}

    def load(self, spec, python_path):
        sys.path[:0] = [entry for entry in python_path if entry not in sys.path]
        try:
            self.cls = loader.load_class(spec)
        except loader.CheckError as exc:
            return {"raised": str(exc), "type": "CheckError", "where": ""}
        names, takes_any = loader.constructor_parameters(self.cls)
        return {"value": {"name": self.cls.__name__,
                          "methods": [m for m in METHODS if callable(getattr(self.cls, m, None))],
                          "parameters": list(names), "takes_any": takes_any}}


def main(fd, parent_pid):
    die_with_parent(int(parent_pid))
    os.environ[loader.IN_WORKER] = "1"
    sock = socket.socket(fileno=int(fd))
    protocol.send(sock, {"ready": True})  # our own imports are done: the time limit starts now
    worker = Worker()
    while True:
        try:
            request = protocol.receive(sock)
        except EOFError:
            return
        try:
            reply = worker.handle(request)
        except BaseException as exc:  # the user's code: SystemExit, KeyboardInterrupt too
            reply = _raised(exc)
        try:
            protocol.send(sock, reply)
        except (TypeError, ValueError) as exc:  # a value JSON or npz could not take
            protocol.send(sock, {"raised": f"its return value could not be sent: {exc}",
                                 "type": type(exc).__name__, "where": ""})
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    main(*sys.argv[1:3])
