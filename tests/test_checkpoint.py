"""Checkpoints: round trips within and across frameworks, atomic writes, and
files that must be refused without running anything from them."""
import os
import pickle
import zipfile

import numpy as np
import pytest

from helpers import assert_close
from scratchnet import NeuralNetwork, PrecisionConfig
from scratchnet.checkpoint import load_checkpoint

FLOAT64 = PrecisionConfig(train_dtype="float64", infer_precision="float32")


def trained(model_class, small_data, **kwargs):
    model = model_class([20, 12, 10], ["tanh", "softmax"], loss="cross_entropy", **kwargs)
    model.fit(small_data[0], small_data[1], epochs=2, alpha=0.1, batch_size=32, seed=1)
    return model


def test_round_trip_keeps_everything(model_class, small_data, tmp_path):
    model = trained(model_class, small_data, precision_config=FLOAT64)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = model_class.load(path)
    assert (loaded.layer_sizes, loaded.activations, loaded.loss) == ([20, 12, 10], ["tanh", "softmax"],
                                                                      "cross_entropy")
    assert loaded.precision_config == FLOAT64
    for (W, b), (lW, lb) in zip(model.get_weights(), loaded.get_weights()):
        assert lW.dtype == np.float64
        assert np.array_equal(W, lW) and np.array_equal(b, lb)
    assert_close(loaded.forward(small_data[2]), model.forward(small_data[2]), 0.0, "loaded outputs")


def test_checkpoints_cross_between_frameworks(small_data, tmp_path):
    pytest.importorskip("torch")
    from scratchnet import TorchNeuralNetwork
    for source, target in ((NeuralNetwork, TorchNeuralNetwork), (TorchNeuralNetwork, NeuralNetwork)):
        model = trained(source, small_data, precision_config=FLOAT64)
        path = tmp_path / f"{source.framework}.npz"
        model.save(path)
        assert load_checkpoint(path)["framework"] == source.framework
        loaded = target.load(path)
        assert_close(loaded.forward(small_data[2], precision="float64"),
                     model.forward(small_data[2], precision="float64"), 1e-12,
                     f"{source.framework} checkpoint loaded into {target.framework}")


def test_load_weights_into_an_existing_model(model_class, small_data, tmp_path):
    model = trained(model_class, small_data)
    model.save(tmp_path / "m.npz")
    fresh = model_class([20, 12, 10], ["tanh", "softmax"], loss="cross_entropy", seed=99)
    fresh.load_weights(tmp_path / "m.npz")
    assert_close(fresh.forward(small_data[2]), model.forward(small_data[2]), 0.0, "load_weights")


def test_save_is_atomic(model_class, tmp_path, monkeypatch):
    model = model_class([4, 3], ["softmax"])
    path = tmp_path / "model.npz"
    path.write_bytes(b"previous contents")

    def failing_savez(handle, **arrays):
        handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == b"previous contents"
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind


def test_save_into_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="folder .* does not exist"):
        NeuralNetwork([4, 3], ["softmax"]).save(tmp_path / "nope" / "m.npz")


class Exploit:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_valid(tmp_path):
    path = tmp_path / "good.npz"
    NeuralNetwork([4, 3, 2], ["relu", "softmax"]).save(path)
    return path


def edited(tmp_path, name, **changes):
    """A copy of a valid checkpoint with some entries replaced (None removes one)."""
    with np.load(write_valid(tmp_path)) as archive:
        arrays = {key: archive[key] for key in archive.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    path = tmp_path / name
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def bad_files(tmp_path):
    marker = tmp_path / "pwned"
    good = write_valid(tmp_path)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    raw_pickle = tmp_path / "pickle.npz"
    raw_pickle.write_bytes(pickle.dumps(Exploit(str(marker))))
    object_array = tmp_path / "object.npz"
    with open(object_array, "wb") as handle:
        np.savez(handle, format=np.array("scratchnet-checkpoint"), format_version=np.array(1),
                 W0=np.array([Exploit(str(marker))], dtype=object))
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    zipped = tmp_path / "other.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("readme.txt", "not numpy")
    return marker, {
        "missing": (tmp_path / "absent.npz", "does not exist"),
        "truncated": (truncated, "truncated or not an .npz"),
        "text": (text, "is not an .npz archive"),
        "pickle": (raw_pickle, "is a Python pickle, which scratchnet never loads"),
        "object-array": (object_array, "Object arrays cannot be loaded"),
        "single-npy": (single, "single .npy array"),
        "other-zip": (zipped, "not a readable|truncated or not an .npz|has no 'format'"),
        "foreign-npz": (edited(tmp_path, "foreign.npz", format=np.array("keras")), "has format 'keras'"),
        "no-weights": (edited(tmp_path, "now.npz", W1=None), "has no 'W1' entry"),
        "wrong-shape": (edited(tmp_path, "shape.npz", W0=np.zeros((3, 4))), r"layer 0 has W\(3, 4\)"),
        "nan-weights": (edited(tmp_path, "nan.npz", b1=np.array([np.nan, 0.0])), "NaN or inf"),
        "int-weights": (edited(tmp_path, "int.npz", b1=np.array([1, 0])), "expected floating point"),
        "bad-activation": (edited(tmp_path, "act.npz", activations=np.array(["relu", "gelu"])),
                           "describes an invalid model: unknown activation 'gelu'"),
        "future-version": (edited(tmp_path, "v2.npz", format_version=np.array(2)), "format_version 2"),
    }


def test_bad_checkpoints_are_refused_and_never_run_code(model_class, tmp_path):
    marker, cases = bad_files(tmp_path)
    for name, (path, pattern) in cases.items():
        with pytest.raises(ValueError, match=pattern) as info:
            model_class.load(path)
        assert str(path) in str(info.value) or name == "bad-activation", name
        model = model_class([4, 3, 2], ["relu", "softmax"])
        before = model.get_weights()
        with pytest.raises(ValueError):
            model.load_weights(path)
        assert all(np.array_equal(a, b) for p, q in zip(before, model.get_weights())
                   for a, b in zip(p, q)), name
    assert not marker.exists(), "loading a checkpoint executed code from it"
