"""One checkpoint format for both models: a NumPy ``.npz`` file.

Keys: ``format`` ("scratchnet-checkpoint"), ``format_version`` (1), ``framework``
(which model saved it, informational), ``layer_sizes`` (int64), ``activations``,
``loss``, ``train_dtype``, ``infer_precision`` (unicode arrays, never objects),
and ``W0, b0, W1, b1, ...`` with every ``W`` shaped (fan_in, fan_out).

Files are written atomically (a temporary file in the same folder, then
``os.replace``) and read with ``allow_pickle=False``, so loading never runs
code from a file.
"""
from __future__ import annotations

import os
import zipfile

import numpy as np

from .files import atomic_write

FORMAT = "scratchnet-checkpoint"
FORMAT_VERSION = 1
_TEXT_KEYS = ("framework", "loss", "train_dtype", "infer_precision")


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
    a complete scratchnet checkpoint whose weights match its architecture.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"checkpoint {path!r} does not exist or is not a file")
    with open(path, "rb") as handle:
        start = handle.read(8)
    if start[:1] == b"\x80":  # the PROTO opcode every pickle since protocol 2 begins with
        raise ValueError(f"checkpoint {path!r} is a Python pickle, which scratchnet never loads "
                         f"(unpickling can run code); save models with model.save(...)")
    if not start.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):
        raise ValueError(f"checkpoint {path!r} is not an .npz archive (it starts with {start!r})")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single .npy array, not an .npz archive")
        with archive:
            contents = {key: archive[key] for key in archive.files}
    except ValueError as exc:
        # numpy says "Object arrays cannot be loaded when allow_pickle=False" for pickles.
        raise ValueError(f"checkpoint {path!r} is not a readable scratchnet checkpoint: {exc}") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"checkpoint {path!r} is truncated or not an .npz file: {exc}") from None

    if any(key.endswith("data.pkl") for key in contents):
        raise ValueError(f"checkpoint {path!r} is a torch.save file (a zipped pickle); scratchnet "
                         f"never unpickles files (it can run code): save models with model.save(...), "
                         f"which writes .npz for either framework")

    def field(key):
        if key not in contents:
            raise ValueError(f"checkpoint {path!r} has no {key!r} entry; it was not written by "
                             f"scratchnet (entries found: {sorted(contents)[:10]})")
        return contents[key]

    if str(field("format")) != FORMAT:
        raise ValueError(f"checkpoint {path!r} has format {str(field('format'))!r}, "
                         f"expected {FORMAT!r}")
    version = int(field("format_version"))
    if version != FORMAT_VERSION:
        raise ValueError(f"checkpoint {path!r} has format_version {version}; this scratchnet "
                         f"reads version {FORMAT_VERSION}")
    result = {key: str(field(key)) for key in _TEXT_KEYS}
    sizes = field("layer_sizes")
    if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer):
        raise ValueError(f"checkpoint {path!r} has malformed layer_sizes {sizes!r}")
    result["layer_sizes"] = [int(s) for s in sizes]
    result["activations"] = [str(a) for a in np.atleast_1d(field("activations"))]
    weights = []
    for i, (fan_in, fan_out) in enumerate(zip(result["layer_sizes"][:-1], result["layer_sizes"][1:])):
        W, b = field(f"W{i}"), field(f"b{i}")
        if W.shape != (fan_in, fan_out) or b.shape != (fan_out,):
            raise ValueError(f"checkpoint {path!r} layer {i} has W{W.shape} and b{b.shape}, but its "
                             f"layer_sizes {result['layer_sizes']} need W({fan_in}, {fan_out}) and "
                             f"b({fan_out},)")
        if not (np.issubdtype(W.dtype, np.floating) and np.issubdtype(b.dtype, np.floating)):
            raise ValueError(f"checkpoint {path!r} layer {i} weights are {W.dtype}/{b.dtype}, "
                             f"expected floating point")
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise ValueError(f"checkpoint {path!r} layer {i} holds NaN or inf weights")
        weights.append((W, b))
    extra = {f"W{i}" for i in range(len(weights), len(contents))} & set(contents)
    if extra:
        raise ValueError(f"checkpoint {path!r} has more layers ({sorted(extra)}) than its "
                         f"layer_sizes {result['layer_sizes']} describe")
    result["weights"] = weights
    return result
