"""What crosses between ``scratchnet check`` and the worker that runs the user's class:
length-prefixed frames, each one ``.npz`` archive (nothing pickled, so reading a frame
never runs code): a JSON header and the arrays it refers to.

A message is a dict of JSON values, NumPy arrays and lists or tuples of them; an array
crosses as ``{"$a": index}``, a list or tuple as ``{"$l": [...]}``, and anything else the
user's code returned (an object, a dict) as ``{"$o": its type's name}``, which the
parent reads as a value of that type that could not be sent.
"""
from __future__ import annotations

import io
import json
import numbers
import struct

import numpy as np

_LENGTH = struct.Struct(">Q")
#: A frame larger than this is refused (a user's method returning a huge array).
MAX_FRAME = 1 << 31


class Unsendable:
    """A value of the user's that could not cross: only its type's name did."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name}>"


def _pack(value, arrays):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, np.generic):
        return int(value)
    if isinstance(value, float):
        return value  # json writes NaN and Infinity, and reads them back
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        if any(key.startswith("$") for key in value):
            return {"$o": "dict"}
        return {key: _pack(item, arrays) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return {"$l": [_pack(item, arrays) for item in value]}
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "biuf":
        arrays.append(np.asarray(value))
        return {"$a": len(arrays) - 1}
    return {"$o": type(value).__name__}


def _unpack(value, arrays):
    if isinstance(value, dict):
        if "$a" in value:
            return arrays[value["$a"]]
        if "$l" in value:
            return [_unpack(item, arrays) for item in value["$l"]]
        if "$o" in value:
            return Unsendable(value["$o"])
        return {key: _unpack(item, arrays) for key, item in value.items()}
    return value


def encode(message):
    """The bytes of one message (see the module's docstring)."""
    arrays = []
    header = json.dumps(_pack(message, arrays)).encode()
    buffer = io.BytesIO()
    np.savez(buffer, header=np.frombuffer(header, dtype=np.uint8),
             **{f"a{i}": array for i, array in enumerate(arrays)})
    return buffer.getvalue()


def decode(data):
    """The message of ``encode``'s bytes; ValueError if they are not one."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            header = json.loads(archive["header"].tobytes().decode())
            arrays = [archive[f"a{i}"] for i in range(len(archive.files) - 1)]
    except (OSError, KeyError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"a message from the worker could not be read: {exc}") from None
    return _unpack(header, arrays)


def send(sock, message):
    data = encode(message)
    sock.sendall(_LENGTH.pack(len(data)) + data)


def receive(sock):
    """The next message; EOFError when the other side has closed (or died)."""
    (length,) = _LENGTH.unpack(_read(sock, _LENGTH.size))
    if length > MAX_FRAME:
        raise ValueError(f"a message of {length} bytes from the worker was refused")
    return decode(_read(sock, length))


def _read(sock, size):
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the worker closed its end")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
