"""One checkpoint format for both models: a NumPy ``.npz`` file.

Keys: ``format`` ("scratchnet-checkpoint"), ``format_version`` (1), ``framework``
(which model saved it, informational), ``layer_sizes`` (int64), ``activations``,
``loss``, ``train_dtype``, ``infer_precision`` (unicode arrays, never objects),
and ``W0, b0, W1, b1, ...`` with every ``W`` shaped (fan_in, fan_out).

Files are written atomically (a temporary file in the same folder, then
``os.replace``). Reading never runs code from a file (no entry is unpickled;
an object array is refused from its header) and never decompresses more than
the architecture allows: every entry's declared size is checked before it is
read (the metadata entries against ``METADATA_MAX_BYTES``; each weight entry,
once ``layer_sizes`` is known, against fan_in x fan_out float64 values and a
header), and an entry is read into an array of exactly the size its header
declares, so an archive whose sizes lie fails its CRC check instead of
filling memory.
"""
from __future__ import annotations

import io
import math
import os
import re
import zipfile
import zlib

import numpy as np

from ..files import atomic_write

FORMAT = "scratchnet-checkpoint"
FORMAT_VERSION = 1
_TEXT_KEYS = ("framework", "loss", "train_dtype", "infer_precision")
_METADATA_KEYS = ("format", "format_version", *_TEXT_KEYS, "layer_sizes", "activations")
#: The largest uncompressed size of a metadata entry (format, layer_sizes, activations, ...):
#: enough for thousands of layers; such an entry is read before the architecture is known.
METADATA_MAX_BYTES = 1 << 20
#: The largest .npy header (magic, version, length and the header text) an entry may have;
#: numpy writes about 128 bytes for the arrays of a checkpoint.
NPY_HEADER_MAX_BYTES = 4096
#: The weight dtypes a checkpoint may hold; a weight entry's size is bounded by the widest.
WEIGHT_DTYPES = ("float16", "float32", "float64")
_WIDEST_WEIGHT = max(np.dtype(name).itemsize for name in WEIGHT_DTYPES)
_READ_CHUNK = 16 << 20
# What zipfile, zlib and the file system raise for a damaged entry (RuntimeError: an
# encrypted entry, NotImplementedError: an unknown compression method).
_DAMAGED = (zipfile.BadZipFile, EOFError, OSError, zlib.error, RuntimeError)


def save_checkpoint(path, *, framework, layer_sizes, activations, loss, train_dtype,
                    infer_precision, weights):
    """Write one checkpoint to exactly ``path`` (no extension is added)."""
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "framework": np.array(framework),
        "layer_sizes": np.asarray(layer_sizes, dtype=np.int64),
        "activations": np.array(list(activations), dtype=str),
        "loss": np.array(loss),
        "train_dtype": np.array(train_dtype),
        "infer_precision": np.array(infer_precision),
    }
    for i, (W, b) in enumerate(weights):
        arrays[f"W{i}"] = np.asarray(W)
        arrays[f"b{i}"] = np.asarray(b)
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


def load_checkpoint(path):
    """Read and check a checkpoint; return a dict of its fields with ``weights`` as (W, b) pairs.

    Raises ValueError naming the file and the problem for anything that is not
    a complete scratchnet checkpoint whose weights match its architecture,
    including an entry whose declared uncompressed size is more than the
    checkpoint's architecture allows (checked before anything is decompressed).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"checkpoint {path!r} does not exist or is not a file")
    with open(path, "rb") as handle:
        start = handle.read(8)
    if start[:1] == b"\x80":  # the PROTO opcode every pickle since protocol 2 begins with
        raise ValueError(f"checkpoint {path!r} is a Python pickle, which scratchnet never loads "
                         f"(unpickling can run code); save models with model.save(...)")
    if start.startswith(b"\x93NUMPY"):
        raise ValueError(f"checkpoint {path!r} is not a readable scratchnet checkpoint: it holds a "
                         f"single .npy array, not an .npz archive")
    if not start.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise ValueError(f"checkpoint {path!r} is not an .npz archive (it starts with {start!r})")
    try:
        archive = zipfile.ZipFile(path)
    except (*_DAMAGED, ValueError) as exc:
        raise ValueError(f"checkpoint {path!r} is truncated or not an .npz file: {exc}") from None
    with archive:
        return _Archive(archive, path).checkpoint()


class _Archive:
    """The entries of one open .npz file, read only after their declared sizes are checked."""

    def __init__(self, archive, path):
        self.archive, self.path = archive, path
        self.infos = {}
        for info in archive.infolist():  # np.savez names every entry <key>.npy
            name = info.filename
            self.infos[name[:-4] if name.endswith(".npy") else name] = info
        if any(key.endswith("data.pkl") for key in self.infos):
            raise ValueError(f"checkpoint {path!r} is a torch.save file (a zipped pickle); "
                             f"scratchnet never unpickles files (it can run code): save models "
                             f"with model.save(...), which writes .npz for either framework")

    def checkpoint(self):
        path = self.path
        # The metadata is read first, to learn the architecture: bound those entries first.
        for key in _METADATA_KEYS:
            if key in self.infos:
                self._check_size(key, METADATA_MAX_BYTES,
                                 "a metadata entry of a scratchnet checkpoint holds at most")
        if str(self._metadata("format")) != FORMAT:
            raise ValueError(f"checkpoint {path!r} has format {str(self._metadata('format'))!r}, "
                             f"expected {FORMAT!r}")
        version = self._metadata("format_version")
        if version.shape != () or not np.issubdtype(version.dtype, np.integer):
            raise ValueError(f"checkpoint {path!r} has malformed format_version {version!r}; this "
                             f"scratchnet reads version {FORMAT_VERSION}")
        if int(version) != FORMAT_VERSION:
            raise ValueError(f"checkpoint {path!r} has format_version {int(version)}; this "
                             f"scratchnet reads version {FORMAT_VERSION}")
        result = {key: str(self._metadata(key)) for key in _TEXT_KEYS}
        sizes = self._metadata("layer_sizes")
        if (sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer)
                or not (sizes >= 1).all()):
            raise ValueError(f"checkpoint {path!r} has malformed layer_sizes {sizes!r}: expected "
                             f"a 1-D integer array of positive layer widths")
        sizes = result["layer_sizes"] = [int(s) for s in sizes]
        result["activations"] = [str(a) for a in np.atleast_1d(self._metadata("activations"))]

        layers = list(zip(sizes[:-1], sizes[1:]))
        extra = sorted((key for key in self.infos
                        if re.fullmatch(r"W\d+", key) and int(key[1:]) >= len(layers)),
                       key=lambda key: int(key[1:]))
        if extra:
            raise ValueError(f"checkpoint {path!r} has more layers ({extra}) than its "
                             f"layer_sizes {sizes} describe")
        # Every weight entry's declared size against the architecture, before any is read.
        for i, (fan_in, fan_out) in enumerate(layers):
            for key, shape in ((f"W{i}", (fan_in, fan_out)), (f"b{i}", (fan_out,))):
                self._check_size(key, math.prod(shape) * _WIDEST_WEIGHT + NPY_HEADER_MAX_BYTES,
                                 f"layer {i} of layer_sizes {sizes} needs at most",
                                 f" ({'x'.join(map(str, shape))} {WEIGHT_DTYPES[-1]} values and a "
                                 f".npy header)")
        weights = []
        for i, (fan_in, fan_out) in enumerate(layers):
            W_entry, b_entry = _NpyEntry(self, f"W{i}"), _NpyEntry(self, f"b{i}")
            with W_entry, b_entry:
                if W_entry.shape != (fan_in, fan_out) or b_entry.shape != (fan_out,):
                    raise ValueError(f"checkpoint {path!r} layer {i} has W{W_entry.shape} and "
                                     f"b{b_entry.shape}, but its layer_sizes {sizes} need "
                                     f"W({fan_in}, {fan_out}) and b({fan_out},)")
                if not {W_entry.dtype.name, b_entry.dtype.name} <= set(WEIGHT_DTYPES):
                    raise ValueError(f"checkpoint {path!r} layer {i} weights are "
                                     f"{W_entry.dtype}/{b_entry.dtype}, expected floating point "
                                     f"({', '.join(WEIGHT_DTYPES)})")
                W, b = W_entry.read(), b_entry.read()
            if not (np.isfinite(W).all() and np.isfinite(b).all()):
                raise ValueError(f"checkpoint {path!r} layer {i} holds NaN or inf weights")
            weights.append((W, b))
        result["weights"] = weights
        return result

    def info(self, key):
        """The entry ``key``'s ZipInfo; ValueError if it is missing or stored in a way no
        numpy writes."""
        if key not in self.infos:
            raise ValueError(f"checkpoint {self.path!r} has no {key!r} entry; it was not written "
                             f"by scratchnet (entries found: {sorted(self.infos)[:10]})")
        info = self.infos[key]
        if (info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
                or info.flag_bits & 1):
            raise ValueError(f"checkpoint {self.path!r} entry {info.filename!r} is encrypted or "
                             f"compressed with method {info.compress_type}; a checkpoint's entries "
                             f"are stored or deflated, as numpy.savez and numpy.savez_compressed "
                             f"write them")
        return info

    def _check_size(self, key, limit, allowed, why=""):
        info = self.info(key)
        if info.file_size > limit:
            raise ValueError(f"checkpoint {self.path!r} entry {info.filename!r} declares "
                             f"{info.file_size:,} bytes uncompressed, but {allowed} {limit:,} "
                             f"bytes{why}; refusing to decompress it")

    def _metadata(self, key):
        with _NpyEntry(self, key) as entry:
            return entry.read()


class _NpyEntry:
    """One .npy entry opened with its header read: ``shape`` and ``dtype``, then ``read()``.

    The header must account for exactly the entry's declared size, and ``read``
    fills an array of that size, so no more than the declared size (already
    checked) is ever decompressed or allocated; zipfile stops at the declared
    size and checks the CRC there.
    """

    def __init__(self, owner, key):
        self.path, self.info = owner.path, owner.info(key)
        self.name = self.info.filename
        self.handle = None
        with self._reading():
            self.handle = owner.archive.open(self.info)
            try:
                self._read_header()
            except BaseException:
                self.handle.close()
                raise

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.handle.close()

    def _reading(self):
        return _Reading(self.path, self.name)

    def _refuse(self, problem):
        return ValueError(f"checkpoint {self.path!r} is not a readable scratchnet checkpoint: "
                          f"entry {self.name!r} {problem}")

    def _read_header(self):
        magic = self.handle.read(8)
        if len(magic) < 8 or not magic.startswith(b"\x93NUMPY"):
            raise self._refuse(f"is not a .npy array (it starts with {magic[:8]!r})")
        version = (magic[6], magic[7])
        if version not in ((1, 0), (2, 0)):
            raise self._refuse(f"uses .npy format version {version[0]}.{version[1]}; checkpoints "
                               f"use 1.0 or 2.0")
        length_field = self.handle.read(2 if version == (1, 0) else 4)
        length = int.from_bytes(length_field, "little")
        header_bytes = len(magic) + len(length_field) + length
        if header_bytes > NPY_HEADER_MAX_BYTES:
            raise self._refuse(f"has a .npy header of {header_bytes:,} bytes; at most "
                               f"{NPY_HEADER_MAX_BYTES:,} are accepted")
        header = self.handle.read(length)
        parse = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                 else np.lib.format.read_array_header_2_0)
        try:
            shape, fortran_order, dtype = parse(io.BytesIO(length_field + header),
                                                max_header_size=NPY_HEADER_MAX_BYTES)
        except ValueError as exc:
            raise self._refuse(f"has a malformed .npy header: {exc}") from None
        if dtype.hasobject:
            # numpy's own words for it; such an array could only be read by unpickling
            raise self._refuse("holds Python objects: Object arrays cannot be loaded when "
                               "allow_pickle=False, and scratchnet never unpickles")
        self.shape, self.dtype, self.fortran_order = tuple(shape), dtype, fortran_order
        self.data_bytes = math.prod(self.shape) * dtype.itemsize
        if header_bytes + self.data_bytes != self.info.file_size:
            raise ValueError(f"checkpoint {self.path!r} entry {self.name!r} declares "
                             f"{self.info.file_size:,} bytes uncompressed, but its .npy header "
                             f"describes {header_bytes:,} + {self.data_bytes:,} ({self.shape} "
                             f"{dtype})")

    def read(self):
        """The entry's array: exactly ``data_bytes`` decompressed into a fresh array."""
        shape = self.shape[::-1] if self.fortran_order else self.shape
        try:
            array = np.empty(shape, dtype=self.dtype)
        except MemoryError:
            raise ValueError(f"checkpoint {self.path!r} entry {self.name!r} holds a {self.shape} "
                             f"{self.dtype} array ({self.data_bytes:,} bytes), more than this "
                             f"process can allocate") from None
        if self.data_bytes:
            target = memoryview(array.reshape(-1).view(np.uint8))
            done = 0
            with self._reading():
                while done < self.data_bytes:
                    chunk = self.handle.read(min(_READ_CHUNK, self.data_bytes - done))
                    if not chunk:
                        raise EOFError(f"the data ends after {done:,} of its "
                                       f"{self.data_bytes:,} bytes")
                    target[done:done + len(chunk)] = chunk
                    done += len(chunk)
        return array.T if self.fortran_order else array


class _Reading:
    """Turns what zipfile and zlib raise for a damaged entry into a ValueError naming it."""

    def __init__(self, path, name):
        self.path, self.name = path, name

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if kind is not None and issubclass(kind, _DAMAGED):
            raise ValueError(f"checkpoint {self.path!r} is truncated or not an .npz file: entry "
                             f"{self.name!r}: {exc}") from None
        return False
