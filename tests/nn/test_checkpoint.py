"""Checkpoints: round trips within and across frameworks, atomic writes, and
files that must be refused without running anything from them."""
import os
import pickle
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

from helpers import assert_close
from scratchnet import NeuralNetwork, PrecisionConfig
from scratchnet.nn.checkpoint import load_checkpoint

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


def test_checkpoints_numpy_writes_in_other_layouts_still_load(tmp_path):
    model = NeuralNetwork([4, 3, 2], ["relu", "softmax"], seed=5)
    model.save(tmp_path / "plain.npz")
    with np.load(tmp_path / "plain.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    np.savez_compressed(tmp_path / "compressed.npz", **arrays)
    np.savez(tmp_path / "fortran.npz", **{**arrays, "W0": np.asfortranarray(arrays["W0"]),
                                          "b1": arrays["b1"].astype(np.float16)})
    for name in ("compressed.npz", "fortran.npz"):
        loaded = load_checkpoint(tmp_path / name)
        for (W, b), (lW, lb) in zip(model.get_weights(), loaded["weights"]):
            np.testing.assert_array_equal(lW, W)
            np.testing.assert_allclose(lb, b, rtol=1e-3)


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
        "object-array": (edited(tmp_path, "object-weights.npz",
                                W0=np.array([Exploit(str(marker))], dtype=object)),
                         "Object arrays cannot be loaded"),
        "object-metadata": (edited(tmp_path, "object-loss.npz",
                                   loss=np.array([Exploit(str(marker))], dtype=object)),
                            "Object arrays cannot be loaded"),
        "object-array-incomplete": (object_array, "has no 'framework' entry"),
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
        "extra-layer": (edited(tmp_path, "extra.npz", W2=np.zeros((2, 2))),
                        r"has more layers \(\['W2'\]\) than its layer_sizes \[4, 3, 2\]"),
        "long-double": (edited(tmp_path, "long.npz", b1=np.zeros(2, dtype=np.longdouble)),
                        r"expected floating point \(float16, float32, float64\)"),
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


# ------------------------------------------------------------ decompression bombs
BOMB_SHAPE = (4, 6_553_600)  # 200 MiB of float64 zeros, about 0.9 MB deflated
NPY_HEADER = 128  # what numpy writes before the data of a small 1-D or 2-D array


def write_bomb(path, good, key, shape, declared=None):
    """A copy of checkpoint ``good`` whose entry ``key`` is a deflated .npy of float64 zeros
    shaped ``shape``; with ``declared``, the archive states that uncompressed size for the
    entry (in its local header and its central directory) instead of the true one."""
    name = f"{key}.npy"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(
            path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info, source.read(info))
        with target.open(name, "w", force_zip64=np.prod(shape) * 8 >= 2**31) as entry:
            np.lib.format.write_array_header_1_0(
                entry, {"descr": "<f8", "fortran_order": False, "shape": shape})
            zeros, left = bytes(8 << 20), int(np.prod(shape)) * 8
            while left:
                entry.write(zeros[:min(left, len(zeros))])
                left -= min(left, len(zeros))
    if declared is not None:
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as archive:
            local = archive.getinfo(name).header_offset
        data[local + 22:local + 26] = declared.to_bytes(4, "little")
        central = data.find(b"PK\x01\x02")
        while data[central + 46:central + 46 + len(name)] != name.encode():
            central = data.find(b"PK\x01\x02", central + 4)
        data[central + 24:central + 28] = declared.to_bytes(4, "little")
        path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """Checkpoints of a [4, 3, 2] network with an entry that decompresses to 32 to 200 MiB."""
    folder = tmp_path_factory.mktemp("bombs")
    good = write_valid(folder)
    return {
        "weights": write_bomb(folder / "bomb.npz", good, "W0", BOMB_SHAPE),
        "metadata": write_bomb(folder / "metadata-bomb.npz", good, "layer_sizes", (4_194_304,)),
        # declares the 96 bytes of a (4, 3) W0 and its header, holds 64 MiB behind them
        "lying": write_bomb(folder / "lying.npz", good, "W0", (4, 2_097_152),
                            declared=NPY_HEADER + 4 * 3 * 8),
    }


@pytest.fixture
def opened_entries(monkeypatch):
    """The names of the archive entries opened (decompression starts only at an open)."""
    names = []
    original = zipfile.ZipFile.open

    def recording_open(self, name, *args, **kwargs):
        names.append(getattr(name, "filename", name))
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", recording_open)
    return names


def refused_untouched(model_class, path):
    """The one-line ValueError load_weights raises for ``path``, after checking that the
    model kept its weights."""
    model = model_class([4, 3, 2], ["relu", "softmax"], seed=7)
    before = model.get_weights()
    with pytest.raises(ValueError) as info:
        model.load_weights(path)
    assert all(np.array_equal(a, b) for p, q in zip(before, model.get_weights())
               for a, b in zip(p, q))
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_a_weight_entry_larger_than_its_layer_is_refused_before_it_is_decompressed(
        model_class, bombs, opened_entries):
    message = refused_untouched(model_class, bombs["weights"])
    declared = NPY_HEADER + int(np.prod(BOMB_SHAPE)) * 8
    assert (f"entry 'W0.npy' declares {declared:,} bytes uncompressed, but layer 0 of layer_sizes "
            f"[4, 3, 2] needs at most {4 * 3 * 8 + 4096:,} bytes (4x3 float64 values and a .npy "
            f"header); refusing to decompress it") in message
    assert "W0.npy" not in opened_entries and "b0.npy" not in opened_entries
    with pytest.raises(ValueError, match="entry 'W0.npy' declares"):
        model_class.load(bombs["weights"])


def test_a_metadata_entry_is_bounded_before_the_architecture_is_read(model_class, bombs,
                                                                     opened_entries):
    message = refused_untouched(model_class, bombs["metadata"])
    assert (f"entry 'layer_sizes.npy' declares {NPY_HEADER + 4_194_304 * 8:,} bytes "
            f"uncompressed, but a metadata entry of a scratchnet checkpoint holds at most "
            f"1,048,576 bytes; refusing to decompress it") in message
    assert opened_entries == []  # refused before any entry, even 'format', was read


def test_an_entry_hiding_more_data_than_it_declares_is_read_no_further(model_class, bombs):
    tracemalloc.start()
    try:
        message = refused_untouched(model_class, bombs["lying"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "is truncated or not an .npz file: entry 'W0.npy': Bad CRC-32" in message
    assert peak < 16 << 20, f"reading the 224-byte entry allocated {peak:,} bytes"


def test_the_predict_command_refuses_a_bomb_with_one_line(bombs, tmp_path):
    (tmp_path / "X.csv").write_text("0.1,0.2,0.3,0.4\n")
    result = subprocess.run([sys.executable, "-m", "scratchnet", "predict", str(bombs["weights"]),
                             "--input", str(tmp_path / "X.csv")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"scratchnet predict: error: checkpoint {str(bombs['weights'])!r} "
                               f"entry 'W0.npy' declares "), lines[0]
    assert result.stdout == ""
