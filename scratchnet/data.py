"""Data sets, all served from local files: nothing is downloaded at run time.

``load_dataset(name, n_features=784, n_samples=None, test_fraction=0.2, seed=42)``
returns ``(X_train (N_train, n_features) float32 in [0, 1], y_train (N_train,) int64,
X_test, y_test)`` split per class (stratified) with ``numpy.random.default_rng(seed)``.

- ``"digits"``: the 1,797 real 8x8 handwritten digits that ship inside
  scikit-learn (``sklearn.datasets.load_digits``), resampled bilinearly to a
  square image of ``n_features`` pixels (784 -> 28x28, 1024 -> 32x32, 64 -> native).
- ``"synthetic"``: seeded, learnable 10-class data of any width and size.
- ``"mnist:<folder>"``: the MNIST IDX files (``train-images-idx3-ubyte`` etc.,
  gzipped or not) or a Keras-style ``mnist.npz`` in a local folder; the
  train and t10k parts are pooled, then split like the others.

``n_samples`` is the total before the split; None means everything (synthetic: 2,000).
"""
from __future__ import annotations

import functools
import gzip
import math
import os

import numpy as np

from .nn.validation import check_int, check_seed

N_CLASSES = 10
SYNTHETIC_DEFAULT_SAMPLES = 2000
DATASETS = ("digits", "synthetic", "mnist:<folder>")


def load_dataset(name="digits", n_features=784, n_samples=None, test_fraction=0.2, seed=42):
    """Load a data set and split it; see the module docstring."""
    n_features = check_int(n_features, "n_features")
    if n_samples is not None:
        n_samples = check_int(n_samples, "n_samples", minimum=2)
    seed = check_seed(seed)
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) \
            or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number strictly between 0 and 1, "
                         f"got {test_fraction!r}")
    rng = np.random.default_rng(seed)
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {list(DATASETS)}, got {name!r}")
    if name == "digits":
        images, labels = _digits()
        X, y = _resampled(images, labels, n_features, "digits", 8)
    elif name == "synthetic":
        X, y = _synthetic(n_features, n_samples or SYNTHETIC_DEFAULT_SAMPLES, rng)
    elif name.startswith("mnist:"):
        images, labels = _mnist(name[len("mnist:"):])
        X, y = _resampled(images, labels, n_features, name, 28)
    else:
        raise ValueError(f"unknown dataset {name!r}; available: {list(DATASETS)}")
    if n_samples is not None:
        if n_samples > len(y):
            raise ValueError(f"dataset {name!r} has {len(y)} samples, {n_samples} were asked for; "
                             f"use n_samples <= {len(y)}, or 'synthetic' for any size")
        keep = _stratified_split(y, n_samples / len(y), rng)[1] if n_samples < len(y) \
            else np.arange(len(y))
        X, y = X[keep], y[keep]
    train, test = _stratified_split(y, test_fraction, rng)
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"test_fraction={test_fraction} of {len(y)} samples leaves an empty "
                         f"train or test split; ask for more samples")
    return X[train], y[train], X[test], y[test]


def _stratified_split(labels, fraction, rng):
    """Indices (rest, chosen) with about ``fraction`` of each class chosen, both shuffled.

    Every class gets round(fraction * its count) picks; leftover rounding is
    settled on the classes with the largest remainders so the total is
    round(fraction * N).
    """
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * fraction
    picks = np.floor(exact).astype(int)
    shortfall = int(round(fraction * len(labels))) - picks.sum()
    if shortfall > 0:
        picks[np.argsort(-(exact - picks), kind="stable")[:shortfall]] += 1
    chosen, rest = [], []
    for cls, k in zip(classes, picks):
        members = rng.permutation(np.flatnonzero(labels == cls))
        chosen.append(members[:k])
        rest.append(members[k:])
    chosen, rest = np.concatenate(chosen), np.concatenate(rest)
    return rng.permutation(rest), rng.permutation(chosen)


@functools.lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits  # 1 to 2 s to import; only when asked for
    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)  # (1797, 8, 8) in [0, 1]
    return images, bunch.target.astype(np.int64)


def _resampled(images, labels, n_features, name, native_side):
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(f"dataset {name!r} holds square images, so n_features must be a perfect "
                         f"square (e.g. {native_side ** 2}, 784, 1024), got {n_features}; "
                         f"'synthetic' serves any width")
    if side == images.shape[1]:
        X = images.reshape(len(images), -1)
    else:
        rows = _interpolation_matrix(images.shape[1], side)  # (side, native)
        # Separable bilinear resampling: rows @ image @ rows.T for every image.
        X = np.einsum("ij,njk,lk->nil", rows, images, rows).reshape(len(images), -1)
    return np.ascontiguousarray(np.clip(X, 0, 1), dtype=np.float32), labels


def _interpolation_matrix(size_in, size_out):
    """(size_out, size_in) linear-interpolation weights with pixel centres aligned."""
    centres = (np.arange(size_out) + 0.5) * size_in / size_out - 0.5
    centres = np.clip(centres, 0, size_in - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    frac = centres - low
    matrix = np.zeros((size_out, size_in))
    matrix[np.arange(size_out), low] += 1 - frac
    matrix[np.arange(size_out), high] += frac
    return matrix


def _synthetic(n_features, n_samples, rng):
    """Ten noisy clusters around random prototypes in [0, 1]^D, clipped to [0, 1].

    Learnable at any width: a [D, 64, 10] network separates them within a few epochs.
    """
    prototypes = rng.random((N_CLASSES, n_features))  # (10, D)
    labels = rng.permutation(np.arange(n_samples) % N_CLASSES)  # balanced classes
    X = prototypes[labels] + rng.normal(0.0, 0.3, size=(n_samples, n_features))  # (N, D)
    return np.clip(X, 0, 1).astype(np.float32), labels.astype(np.int64)


_MNIST_PARTS = (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))


def _mnist(folder):
    if not folder or not os.path.isdir(folder):
        raise ValueError(f"MNIST folder {folder!r} does not exist; use 'mnist:<folder>' with a "
                         f"folder holding the IDX files or mnist.npz")
    npz = os.path.join(folder, "mnist.npz")
    if os.path.isfile(npz):
        return _mnist_npz(npz)
    images, labels = [], []
    for image_name, label_name in _MNIST_PARTS:
        image_path, label_path = _find(folder, image_name), _find(folder, label_name)
        if image_path is None and label_path is None:
            continue
        if image_path is None or label_path is None:
            raise ValueError(f"MNIST folder {folder!r} has only one of {image_name} and {label_name}")
        part_images, part_labels = _read_idx(image_path, 3), _read_idx(label_path, 1)
        if len(part_images) != len(part_labels):
            raise ValueError(f"{image_path} has {len(part_images)} images but {label_path} has "
                             f"{len(part_labels)} labels")
        images.append(part_images)
        labels.append(part_labels)
    if not images:
        raise ValueError(f"MNIST folder {folder!r} holds neither mnist.npz nor the IDX files "
                         f"({', '.join(n for pair in _MNIST_PARTS for n in pair)}, optionally .gz)")
    return _mnist_checked(np.concatenate(images), np.concatenate(labels), folder)


def _find(folder, stem):
    for candidate in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                      stem.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def _read_idx(path, ndim):
    """Read an unsigned-byte IDX file (magic 0x0000 08 <ndim>) into a uint8 array."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"cannot read MNIST file {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] != ndim:
        raise ValueError(f"{path} is not an unsigned-byte IDX file with {ndim} dimension(s) "
                         f"(bad magic number {raw[:4].hex() or 'missing'})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: its header is incomplete")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + math.prod(shape)
    if len(raw) != expected:
        raise ValueError(f"{path} should hold {expected} bytes for shape {shape}, has {len(raw)} "
                         f"(truncated or corrupt)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _mnist_npz(path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            parts = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except Exception as exc:
        raise ValueError(f"{path} is not a readable mnist.npz with x_train, y_train, x_test and "
                         f"y_test: {exc}") from None
    images = np.concatenate([parts["x_train"], parts["x_test"]])
    labels = np.concatenate([parts["y_train"], parts["y_test"]])
    return _mnist_checked(images, labels, path)


def _mnist_checked(images, labels, source):
    if images.ndim != 3 or images.shape[1] != images.shape[2] or len(images) != len(labels):
        raise ValueError(f"MNIST data in {source!r} should be (N, side, side) images with N "
                         f"labels, got images {images.shape} and labels {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise ValueError(f"MNIST labels in {source!r} must be 0 to 9, got {labels.min()} to "
                         f"{labels.max()}")
    return (images.astype(np.float32) / 255.0), labels.astype(np.int64)


DIGITS_SAMPLES = 1797


def held_out_size(n_samples):
    """Held-out samples drawn beside ``n_samples`` training samples: a quarter as many
    (20 % of the total), at least one."""
    return max(1, round(n_samples / 4))


def load_config_data(config):
    """(X_train, y_train, X_test, y_test) of a comparison's settings: ``n_samples`` training
    and ``held_out_size(n_samples)`` held-out samples of its ``dataset``, split by its ``seed``."""
    n_test = held_out_size(config["n_samples"])
    total = config["n_samples"] + n_test
    return load_dataset(config["dataset"], n_features=config["layer_sizes"][0], n_samples=total,
                        test_fraction=n_test / total, seed=config["seed"])


def default_dataset(n_features, n_samples):
    """The embedded digits where the width is a square and there are enough digits."""
    side = math.isqrt(n_features)
    fits = n_samples + held_out_size(n_samples) <= DIGITS_SAMPLES
    return "digits" if side * side == n_features and fits else "synthetic"
