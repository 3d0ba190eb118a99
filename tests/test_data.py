"""Data sets: shapes, ranges, stratified splits, resampling, and clear refusals."""
import gzip

import numpy as np
import pytest

from helpers import assert_close
from scratchnet.data import load_dataset


def test_digits_at_784_features():
    X_train, y_train, X_test, y_test = load_dataset("digits", n_features=784, seed=42)
    assert X_train.shape == (1438, 784) and X_test.shape == (359, 784)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert X_train.min() >= 0 and X_train.max() <= 1 and X_train.max() > 0.99
    # Stratified: every class's share of the test split is within one sample of 20 %.
    _, counts = np.unique(np.concatenate([y_train, y_test]), return_counts=True)
    assert np.all(np.abs(np.bincount(y_test, minlength=10) - 0.2 * counts) <= 1)


def test_digits_at_native_width_are_sklearns_pixels():
    from sklearn.datasets import load_digits
    X_train, y_train, X_test, y_test = load_dataset("digits", n_features=64, seed=0)
    X, y = np.concatenate([X_train, X_test]), np.concatenate([y_train, y_test])
    order = np.lexsort(X.T[::-1])
    reference = load_digits()
    ref_order = np.lexsort((reference.data / 16).T[::-1])
    assert_close(X[order], reference.data[ref_order] / 16, 1e-7, "digits pixels")
    assert np.array_equal(np.sort(y), np.sort(reference.target))


def test_resampling_keeps_the_picture():
    X_native = load_dataset("digits", n_features=64, seed=1)[0]
    X_big = load_dataset("digits", n_features=1024, seed=1)[0]
    assert X_big.shape[1] == 1024
    # Averaging each 4x4 block of the 32x32 image gives back a slightly blurred
    # copy of the 8x8 one: the two are strongly correlated, digit by digit.
    blocks = X_big.reshape(-1, 8, 4, 8, 4).mean(axis=(2, 4)).reshape(-1, 64)
    correlations = [np.corrcoef(a, b)[0, 1] for a, b in zip(blocks, X_native)]
    assert min(correlations) > 0.9, f"lowest per-image correlation {min(correlations):.3f}"


def test_interpolation_is_exact_on_linear_ramps():
    from scratchnet.data import _interpolation_matrix
    matrix = _interpolation_matrix(8, 28)  # (28, 8)
    assert_close(matrix.sum(axis=1), np.ones(28), 1e-15, "interpolation weights sum to 1")
    ramp = np.arange(8.0)
    centres = (np.arange(28) + 0.5) * 8 / 28 - 0.5
    inside = (centres >= 0) & (centres <= 7)
    assert_close((matrix @ ramp)[inside], centres[inside], 1e-12, "resampled ramp")


def test_seed_and_n_samples():
    a = load_dataset("digits", n_features=64, n_samples=500, seed=3)
    b = load_dataset("digits", n_features=64, n_samples=500, seed=3)
    c = load_dataset("digits", n_features=64, n_samples=500, seed=4)
    assert len(a[1]) + len(a[3]) == 500 and len(a[3]) == 100
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_synthetic_any_width_and_learnable():
    X_train, y_train, X_test, y_test = load_dataset("synthetic", n_features=37, n_samples=300, seed=5)
    assert X_train.shape == (240, 37) and X_test.shape == (60, 37)
    assert set(np.unique(y_train)) == set(range(10))
    assert X_train.min() >= 0 and X_train.max() <= 1
    from scratchnet import NeuralNetwork
    model = NeuralNetwork([37, 32, 10], ["relu", "softmax"], loss="cross_entropy")
    model.fit(X_train, y_train, epochs=20, alpha=0.2, batch_size=16, seed=0)
    assert model.evaluate(X_test, y_test)["accuracy"] > 0.8


@pytest.mark.parametrize("kwargs,pattern", [
    (dict(name="digits", n_features=50), r"n_features must be a perfect square .* got 50"),
    (dict(name="digits", n_samples=5000), r"'digits' has 1797 samples, 5000 were asked for"),
    (dict(name="cifar"), r"unknown dataset 'cifar'; available: \['digits', 'synthetic', 'mnist:<folder>'\]"),
    (dict(name="digits", test_fraction=1.0), r"test_fraction must be a number strictly between 0 and 1"),
    (dict(name="digits", n_features=0), r"n_features must be an integer >= 1"),
    (dict(name="mnist:/no/such/folder"), r"MNIST folder '/no/such/folder' does not exist"),
])
def test_what_cannot_be_served_is_a_clear_error(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_dataset(**kwargs)


def idx_bytes(array, ndim):
    header = bytes([0, 0, 0x08, ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_mnist():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    labels = np.arange(50) % 10
    return images, labels


@pytest.mark.parametrize("compressed", [False, True])
def test_mnist_idx_files(tmp_path, tiny_mnist, compressed):
    images, labels = tiny_mnist
    write = (lambda p, b: gzip.open(p, "wb").write(b)) if compressed else (lambda p, b: p.write_bytes(b))
    suffix = ".gz" if compressed else ""
    write(tmp_path / f"train-images-idx3-ubyte{suffix}", idx_bytes(images[:40], 3))
    write(tmp_path / f"train-labels-idx1-ubyte{suffix}", idx_bytes(labels[:40], 1))
    write(tmp_path / f"t10k-images-idx3-ubyte{suffix}", idx_bytes(images[40:], 3))
    write(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", idx_bytes(labels[40:], 1))
    X_train, y_train, X_test, y_test = load_dataset(f"mnist:{tmp_path}", n_features=784, seed=0)
    assert X_train.shape == (40, 784) and X_test.shape == (10, 784)
    X = np.concatenate([X_train, X_test])
    expected = images.reshape(50, -1) / 255.0
    assert_close(np.sort(X.sum(axis=1)), np.sort(expected.sum(axis=1)), 1e-3, "pixel sums")
    assert load_dataset(f"mnist:{tmp_path}", n_features=196, seed=0)[0].shape == (40, 196)


def test_mnist_npz(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    np.savez(tmp_path / "mnist.npz", x_train=images[:30], y_train=labels[:30],
             x_test=images[30:], y_test=labels[30:])
    X_train, y_train, X_test, y_test = load_dataset(f"mnist:{tmp_path}", seed=0)
    assert len(y_train) + len(y_test) == 50 and X_train.shape[1] == 784


def test_mnist_corrupt_files_are_named(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(images, 3)[:-10])
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels, 1))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte should hold .* \(truncated or corrupt\)"):
        load_dataset(f"mnist:{tmp_path}")
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x01" + bytes(8))
    with pytest.raises(ValueError, match=r"not an unsigned-byte IDX file with 3 dimension"):
        load_dataset(f"mnist:{tmp_path}")
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(images[:7], 3))
    with pytest.raises(ValueError, match=r"has 7 images but .* has 50 labels"):
        load_dataset(f"mnist:{tmp_path}")


def test_mnist_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="holds neither mnist.npz nor the IDX files"):
        load_dataset(f"mnist:{tmp_path}")
