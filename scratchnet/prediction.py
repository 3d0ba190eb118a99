"""Load a checkpoint, read inputs from a file, write predictions: what ``scratchnet predict`` runs.

Inputs: a ``.npy`` file (read with ``allow_pickle=False``) holding a numeric
(N, D) array, or one sample (D,); or a ``.csv`` file of numbers, one sample
per row, comma-separated, whose first row may be a header (a first row with
no number in it is skipped). Outputs: ``.csv`` (a ``prediction`` column, and
with ``proba`` one ``p_<class>`` column per class) or ``.npy`` (the labels
(N,) int64, or with ``proba`` the probabilities (N, K)).

Every file is checked in full before anything is written, and the output is
written atomically: a rejected call leaves the output path as it was.
"""
from __future__ import annotations

import csv
import io
import os

import numpy as np

from .files import atomic_write, atomic_write_text, check_output_path
from .precision import INFER_PRECISIONS, check_dtype_name
from .training import model_class

INPUT_SUFFIXES = (".npy", ".csv")
OUTPUT_SUFFIXES = (".csv", ".npy")


def load_model(checkpoint, framework="scratch_numpy"):
    """The model saved in ``checkpoint`` (by either framework), built as ``framework``'s class."""
    return model_class(framework).load(checkpoint)


def read_features(path, n_features):
    """The (N, n_features) float64 array in a .npy or .csv file; ValueError naming the file
    and the problem otherwise."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"input must be a file path, got {type(path).__name__}")
    path = os.fspath(path)
    if not path.lower().endswith(INPUT_SUFFIXES):
        raise ValueError(f"input {path!r} must end in .npy or .csv")
    if not os.path.isfile(path):
        raise ValueError(f"input {path!r} does not exist or is not a file")
    X = _read_npy(path) if path.lower().endswith(".npy") else _read_csv(path)
    if X.ndim == 1:
        X = X[None, :]  # one sample
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"input {path!r} must hold a 2-D array of samples (N, {n_features}), "
                         f"got shape {X.shape}")
    if X.shape[1] != n_features:
        raise ValueError(f"input {path!r} has {X.shape[1]} columns, but the model takes "
                         f"{n_features} features per sample")
    if not np.isfinite(X).all():
        row, col = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"input {path!r} holds {X[row, col]} at row {row + 1}, column {col + 1}; "
                         f"every value must be a finite number")
    return X


def _read_npy(path):
    try:
        X = np.load(path, allow_pickle=False)
    except ValueError as exc:  # numpy's words for a pickle or an object array
        raise ValueError(f"input {path!r} cannot be read without unpickling: {exc}") from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"input {path!r} is truncated or not a .npy file: {exc}") from None
    if not isinstance(X, np.ndarray):
        raise ValueError(f"input {path!r} is an .npz archive, expected one .npy array")
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
        raise ValueError(f"input {path!r} holds dtype {X.dtype}, expected numbers")
    return X.astype(np.float64)


def _read_csv(path):
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [(number, row) for number, row in enumerate(csv.reader(handle), start=1)
                    if any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"input {path!r} is not a readable CSV text file: {exc}") from None
    if rows and not any(_is_number(cell) for cell in rows[0][1]):
        rows = rows[1:]  # a header
    if not rows:
        raise ValueError(f"input {path!r} holds no samples")
    width = len(rows[0][1])
    for number, row in rows:
        if len(row) != width:
            raise ValueError(f"input {path!r} line {number} has {len(row)} cells, the first "
                             f"sample has {width}")
    try:
        return np.array([row for _, row in rows], dtype=np.float64)  # NumPy parses the text
    except ValueError:
        pass
    for number, row in rows:  # find the cell NumPy could not read, to name it
        for j, cell in enumerate(row):
            if not _is_number(cell):
                raise ValueError(f"input {path!r} line {number}, column {j + 1}: {cell!r} is not "
                                 f"a number")
    raise ValueError(f"input {path!r} holds a cell NumPy cannot read as a number")


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
    argument and file is checked first.
    """
    if output_path is not None:
        output_path = check_output_path(output_path, "output", OUTPUT_SUFFIXES)
    if precision is not None:
        precision = check_dtype_name(precision, "precision", INFER_PRECISIONS)
    if not isinstance(proba, bool):
        raise TypeError(f"proba must be True or False, got {proba!r}")
    model = load_model(checkpoint, framework)
    X = read_features(input_path, model.layer_sizes[0])
    result = predict_array(model, X, proba=proba, precision=precision)
    if output_path is not None and output_path.lower().endswith(".npy"):
        atomic_write(output_path, lambda handle: np.save(handle, result, allow_pickle=False))
        return result, None
    text = predictions_csv(result, proba)
    if output_path is not None:
        atomic_write_text(output_path, text)
    return result, text
