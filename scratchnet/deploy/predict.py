"""Load a checkpoint, read inputs from a file, write predictions: what ``scratchnet predict`` runs.

Inputs: a ``.npy`` file (read with ``allow_pickle=False``; its header is read
first, so an object array is refused before any of it is loaded) holding a
numeric (N, D) array, or one sample (D,); or a ``.csv`` file of numbers, one
sample per line, comma-separated, UTF-8 with or without a byte-order mark. A
first line is a header only if none of its cells is a number and every other
line holds numbers. Every value must be finite and representable in the dtype
the model computes in (``precision``, or the checkpoint's inference
precision): 1e39 overflows float32 and 70000 overflows float16. Outputs:
``.csv`` (a ``prediction`` column, and with ``proba`` one ``p_<class>`` column
per class) or ``.npy`` (the labels (N,) int64, or with ``proba`` the
probabilities (N, K)); never the input file or the checkpoint itself.

Every file is checked in full before anything is written, and the output is
written atomically: a rejected call leaves the output path as it was. Each
error is one line naming the file, the line (or row) and column of the first
bad value, and what would be accepted.
"""
from __future__ import annotations

import csv
import io
import os

import numpy as np

from ..files import atomic_write, atomic_write_text, check_output_path
from ..nn.precision import INFER_PRECISIONS, check_dtype_name
from .train import model_class

INPUT_SUFFIXES = (".npy", ".csv")
OUTPUT_SUFFIXES = (".csv", ".npy")
#: a cell longer than this is shortened in error messages.
SHOWN_CELL_CHARS = 30
#: significant digits that print each dtype's largest value exactly enough to read back.
_DIGITS = {"float16": 5, "float32": 8, "float64": 17}


def load_model(checkpoint, framework="scratch_numpy"):
    """The model saved in ``checkpoint`` (by either framework), built as ``framework``'s class."""
    return model_class(framework).load(checkpoint)


def read_features(path, n_features, dtype=None):
    """The (N, n_features) float64 array in a .npy or .csv file; ValueError naming the file
    and the problem otherwise.

    ``dtype`` (float16, float32 or float64; default float64) is the precision
    the values will be computed in: a value it cannot represent is refused.
    """
    dtype = "float64" if dtype is None else check_dtype_name(dtype, "dtype", INFER_PRECISIONS)
    return _read_features(path, n_features, dtype, f"dtype {dtype}")[0]


def _read_features(path, n_features, dtype, origin):
    """``(X float64 (N, n_features), where)``: ``where(i)`` names sample ``i``'s place in the
    file ("line 3" or "row 3"). ``origin`` says where ``dtype`` came from, for messages."""
    path = _check_input_path(path)
    if path.lower().endswith(".npy"):
        X, where, show = _read_npy(path, n_features)
    else:
        X, where, show = _read_csv(path, n_features)
    _check_values(path, X, dtype, origin, where, show)
    return X.astype(np.float64), lambda i: where(i, None)


def _check_input_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"input must be a file path, got {type(path).__name__}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"input {path!r} is a folder, expected a .npy or .csv file")
    if not path.lower().endswith(INPUT_SUFFIXES):
        raise ValueError(f"input {path!r} must end in .npy or .csv")
    if not os.path.exists(path):
        raise ValueError(f"input {path!r} does not exist; expected a .npy or .csv file")
    if not os.path.isfile(path):
        raise ValueError(f"input {path!r} is not a regular file; expected a .npy or .csv file")
    return path


def _check_values(path, X, dtype, origin, where, show):
    """Refuse NaN, inf and values that overflow ``dtype`` (the first one, in file order)."""
    with np.errstate(over="ignore", invalid="ignore"):
        as_float64 = X.astype(np.float64)
        fits = np.isfinite(as_float64) & np.isfinite(as_float64.astype(dtype))
    if fits.all():
        return
    i, j = np.argwhere(~fits)[0]
    value = X[i, j]
    text = show(i, j)
    # NaN or inf written as such; a number too large for float64 ('1e400') reads as inf too.
    if np.isnan(value) or (np.isinf(value) and "inf" in text.lower()):
        raise ValueError(f"input {path!r} {where(i, j)}: {text} is not finite; every value "
                         f"must be a finite number")
    largest = f"{float(np.finfo(dtype).max):.{_DIGITS[dtype]}g}"
    raise ValueError(f"input {path!r} {where(i, j)}: {text} cannot be represented in {dtype} "
                     f"({origin}); every value must lie between -{largest} and {largest}, "
                     f"the largest {dtype}")


# ------------------------------------------------------------------------ .npy
def _read_npy(path, n_features):
    """(array in the file's own dtype, 2-D), where, show. The header is read first, so
    an object array is refused and a truncated file is named before anything is loaded."""
    accepted = f"expected a numeric array of shape (N, {n_features}) saved with numpy.save"
    try:
        with open(path, "rb") as handle:
            start = handle.read(6)
            handle.seek(0)
            header = _npy_header(handle) if start.startswith(b"\x93NUMPY") else None
            data_bytes = os.fstat(handle.fileno()).st_size - handle.tell()
    except OSError as exc:
        raise ValueError(f"input {path!r} cannot be read: {exc.strerror or exc}") from None
    except (ValueError, EOFError) as exc:  # a .npy header that does not parse
        raise ValueError(f"input {path!r} is not a valid .npy file ({_first_line(exc)}); "
                         f"{accepted}") from None
    if not start:
        raise ValueError(f"input {path!r} is empty (0 bytes); {accepted}")
    if header is None:
        what = ("an .npz archive" if start.startswith(b"PK") else
                "a pickle" if start.startswith(b"\x80") else "not a .npy file")
        raise ValueError(f"input {path!r} is {what}; {accepted}")
    shape, dtype = header
    if dtype.hasobject:
        raise ValueError(f"input {path!r} holds Python objects (dtype {dtype}), which cannot be "
                         f"read without unpickling, and scratchnet never unpickles; {accepted}")
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise ValueError(f"input {path!r} holds dtype {dtype}, expected numbers "
                         f"(a float or integer array of shape (N, {n_features}))")
    if len(shape) not in (1, 2):
        raise ValueError(f"input {path!r} must hold a 2-D array of samples (N, {n_features}), "
                         f"got shape {shape}")
    needed = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if data_bytes < needed:
        raise ValueError(f"input {path!r} is truncated: its header promises shape {shape} "
                         f"{dtype} ({needed} bytes), but only {data_bytes} bytes follow")
    try:
        X = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"input {path!r} is not a valid .npy file ({_first_line(exc)}); "
                         f"{accepted}") from None
    if X.ndim == 1:
        X = X[None, :]  # one sample
    if X.shape[0] == 0:
        raise ValueError(f"input {path!r} holds no samples (shape {shape}); {accepted}")
    if X.shape[1] != n_features:
        width = X.shape[1]
        raise ValueError(f"input {path!r} has {width} column{'s' * (width != 1)}, but the model "
                         f"takes {n_features} features per sample")
    return (X, lambda i, j: f"row {i + 1}" + ("" if j is None else f", column {j + 1}"),
            lambda i, j: str(X[i, j]))


def _npy_header(handle):
    """(shape, dtype) from a .npy header, leaving ``handle`` at the start of the data."""
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    else:  # format 3.0 (utf-8 field names) has no public reader
        shape, _, dtype = np.lib.format._read_array_header(handle, version)
    return tuple(shape), np.dtype(dtype)


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return _shorten(text[0] if text else type(exc).__name__, 80)


# ------------------------------------------------------------------------ .csv
def _read_csv(path, n_features):
    """(float64 array (N, n_features), where, show) from a comma-separated UTF-8 file."""
    accepted = f"expected one line of {n_features} comma-separated numbers per sample"
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ValueError(f"input {path!r} cannot be read: {exc.strerror or exc}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError(f"input {path!r} is not a readable CSV text file: it is UTF-16 text; "
                         f"save it as UTF-8 (Excel: \"CSV UTF-8\"), comma-separated")
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(f"input {path!r} is not a readable CSV text file: line {line} holds "
                         f"byte 0x{data[exc.start]:02x}, which is not UTF-8; {accepted}") from None
    rows = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise ValueError(f"input {path!r} is not a readable CSV text file: line "
                         f"{reader.line_num}: {exc}") from None
    if not rows:
        what = "is empty" if not text else "holds only blank lines"
        raise ValueError(f"input {path!r} holds no samples: the file {what}; {accepted}")

    first_line, first = rows[0]
    header = not any(_is_number(cell) for cell in first)
    samples = rows[1:] if header else rows
    bad = _first_bad_cell(samples)
    if header and (bad is not None or (not samples and _delimiter_hint(first))):
        # not a header after all (or one alone, split on the wrong delimiter): the error is
        # about line 1
        hint = _delimiter_hint(first)
        if not hint:
            line, j, cell, cells = bad
            hint = (f"; line {first_line} is not read as a header because line {line}, column "
                    f"{j + 1} ({_show(cell)}) is not a number either{_delimiter_hint(cells)}")
        raise ValueError(f"input {path!r} line {first_line}, column 1: {_show(first[0])} is not "
                         f"a number{hint}")
    if bad is not None:
        line, j, cell, cells = bad
        raise ValueError(f"input {path!r} line {line}, column {j + 1}: {_show(cell)} is not a "
                         f"number{_delimiter_hint(cells)}")
    if not samples:
        raise ValueError(f"input {path!r} holds no samples: line {first_line} is a header and "
                         f"no lines follow it; {accepted}")
    widths = {len(cells) for _, cells in samples}
    if widths != {n_features}:
        if len(widths) == 1:
            width = widths.pop()
            raise ValueError(f"input {path!r} has {width} column{'s' * (width != 1)}, but the "
                             f"model takes {n_features} features per sample")
        line, cells = next((line, cells) for line, cells in samples if len(cells) != n_features)
        raise ValueError(f"input {path!r} line {line} has {len(cells)} cells, but the model "
                         f"takes {n_features} features per sample; every line must hold "
                         f"{n_features} comma-separated numbers")
    try:
        X = np.array([cells for _, cells in samples], dtype=np.float64)  # NumPy parses the text
    except ValueError:  # a cell Python reads as a number and NumPy does not
        raise ValueError(f"input {path!r} holds a cell NumPy cannot read as a number; "
                         f"{accepted}") from None
    return (X, lambda i, j: f"line {samples[i][0]}" + ("" if j is None else f", column {j + 1}"),
            lambda i, j: _show(samples[i][1][j]))


def _first_bad_cell(rows):
    """``(line, column index, cell, its row's cells)`` of the first cell that is not a
    number, or None."""
    try:
        np.array([cell for _, cells in rows for cell in cells], dtype=np.float64)
        return None  # every cell reads (the usual case, checked at NumPy's speed)
    except ValueError:
        pass
    for line, cells in rows:
        for j, cell in enumerate(cells):
            if not _is_number(cell):
                return line, j, cell, cells
    return None


def _delimiter_hint(cells):
    """A clause saying the separator looks wrong when ``cells`` hold ';' or tabs, else ''."""
    found = [name for char, name in ((";", "';'"), ("\t", "tabs")) if any(char in c for c in cells)]
    if not found:
        return ""
    decimals = ", with '.' as the decimal point" if ";" in "".join(cells) else ""
    return (f"; the cells contain {' and '.join(found)}, so the delimiter looks wrong: the file "
            f"must be comma-separated{decimals}")


def _show(cell):
    """``repr(cell)``, shortened to about SHOWN_CELL_CHARS characters; 'an empty cell' for ''."""
    if not cell.strip():
        return "an empty cell" if not cell else f"a blank cell {cell!r}"
    if len(cell) > SHOWN_CELL_CHARS:  # cut inside the quotes, so they stay balanced
        return repr(cell[:SHOWN_CELL_CHARS - 3] + "...")
    return repr(cell)


def _shorten(text, limit):
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_number(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def predict_array(model, X, proba=False, precision=None):
    """Labels (N,) int64, or with ``proba`` the outputs (N, K) in ``precision``."""
    outputs = model.forward(X, precision=precision)
    return outputs if proba else outputs.argmax(axis=1)


def predictions_csv(outputs, proba):
    """The CSV text of ``predict_array``'s result (labels, or probabilities with their argmax)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    if proba:
        # significant digits that read back to the same value in the outputs' dtype
        digits = {np.dtype(np.float16): 5, np.dtype(np.float32): 9}.get(outputs.dtype, 17)
        writer.writerow(["prediction"] + [f"p_{k}" for k in range(outputs.shape[1])])
        for label, row in zip(outputs.argmax(axis=1), outputs):
            writer.writerow([int(label)] + [f"{float(v):.{digits}g}" for v in row])
    else:
        writer.writerow(["prediction"])
        writer.writerows([int(label)] for label in outputs)
    return text.getvalue()


def predict_file(checkpoint, input_path, output_path=None, proba=False, precision=None,
                 framework="scratch_numpy"):
    """Predict for every sample in ``input_path`` with the model in ``checkpoint``.

    Writes ``output_path`` (.csv or .npy) atomically when given; returns
    ``(result array, CSV text)`` (the text is None for an .npy output). Every
    argument and file is checked first; an output that is the input file or the
    checkpoint (by name, symlink or hard link) is refused, and so is a sample
    whose outputs overflow the precision the model computes in.
    """
    if output_path is not None:
        output_path = check_output_path(output_path, "output", OUTPUT_SUFFIXES)
    if precision is not None:
        precision = check_dtype_name(precision, "precision", INFER_PRECISIONS)
    if not isinstance(proba, bool):
        raise TypeError(f"proba must be True or False, got {proba!r}")
    input_path = _check_input_path(input_path)
    if output_path is not None:
        for argument, path in (("input", input_path), ("checkpoint", checkpoint)):
            if isinstance(path, (str, os.PathLike)) and _same_file(path, output_path):
                raise ValueError(f"output {output_path!r} is the same file as {argument} "
                                 f"{os.fspath(path)!r}; write the predictions to another path")
    model = load_model(checkpoint, framework)
    if precision is not None:
        dtype, origin = precision, "the precision asked for"
    else:
        dtype = model.precision_config.infer_precision
        origin = "the checkpoint's inference precision"
    X, where = _read_features(input_path, model.layer_sizes[0], dtype, origin)
    with np.errstate(over="ignore", invalid="ignore"):
        outputs = model.forward(X, precision=dtype)
    finite = np.isfinite(outputs).all(axis=1)
    if not finite.all():
        i = int(np.argmin(finite))
        wider = [name for name in ("float32", "float64") if np.dtype(name).itemsize >
                 np.dtype(dtype).itemsize]
        remedy = f" or use a wider precision ({' or '.join(wider)})" if wider else ""
        raise ValueError(f"input {input_path!r} {where(i)}: the model's outputs overflow {dtype} "
                         f"({origin}) for this sample; scale the inputs down{remedy}")
    result = outputs if proba else outputs.argmax(axis=1)
    if output_path is not None and output_path.lower().endswith(".npy"):
        atomic_write(output_path, lambda handle: np.save(handle, result, allow_pickle=False))
        return result, None
    text = predictions_csv(result, proba)
    if output_path is not None:
        atomic_write_text(output_path, text)
    return result, text


def _same_file(a, b):
    """Whether paths ``a`` and ``b`` name one file: through a symlink, a hard link, or a
    different spelling of the same path."""
    try:
        if os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b):
            return True
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)
