"""ONNX export: the graph's structure, ONNX Runtime's outputs against the NumPy forward
for every activation, and bad arguments that must write nothing."""
import os
import re
import shutil

import numpy as np
import pytest

from helpers import assert_close
from scratchnet import NeuralNetwork, PrecisionConfig
from scratchnet.data import load_dataset

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from scratchnet.nn import onnx as onnx_export  # noqa: E402
from scratchnet.nn.onnx import (DEFAULT_OPSET, OnnxRuntimeModel, build_onnx_model, export_onnx,
    external_data_files)


@pytest.fixture(scope="module")
def digits():
    """The embedded digits at their native 8x8 = 64 features: (X_train, y_train, X_test, y_test)."""
    return load_dataset("digits", n_features=64, n_samples=600, seed=5)


def trained(digits, activations, loss="mse", dtype="float32"):
    X_train, y_train = digits[0], digits[1]
    model = NeuralNetwork([64, 32, 16, 10], activations, loss=loss, seed=11,
                          precision_config=PrecisionConfig(dtype, dtype))
    model.fit(X_train, y_train, epochs=3, alpha=0.05, batch_size=32, seed=1)
    return model


# Every activation as a hidden layer, and every one allowed there as the output.
CASES = [([hidden, hidden, "softmax"], "mse") for hidden in ("relu", "sigmoid", "tanh", "linear")]
CASES += [(["relu", "tanh", output], "mse") for output in ("sigmoid", "tanh", "linear", "relu")]
CASES += [(["relu", "relu", "softmax"], "cross_entropy")]


@pytest.mark.parametrize("activations,loss", CASES, ids=lambda case: str(case))
def test_onnxruntime_matches_the_numpy_forward_on_the_test_split(digits, tmp_path, activations, loss):
    model = trained(digits, activations, loss)
    path = export_onnx(model, tmp_path / "model.onnx")
    runtime = OnnxRuntimeModel(path, loss=loss, threads=1)
    X_test = digits[2]
    outputs = runtime.forward(X_test)
    assert outputs.dtype == np.float32 and outputs.shape == (len(X_test), 10)
    assert_close(outputs, model.forward(X_test), 1e-5, f"ONNX Runtime vs forward, {activations}")
    np.testing.assert_array_equal(runtime.predict(X_test), model.predict(X_test))


def test_float64_export_matches_to_rounding(digits, tmp_path):
    model = trained(digits, ["tanh", "sigmoid", "softmax"], dtype="float64")
    runtime = OnnxRuntimeModel(export_onnx(model, tmp_path / "m.onnx", dtype="float64"))
    outputs = runtime.forward(digits[2])
    assert outputs.dtype == np.float64
    assert_close(outputs, model.forward(digits[2], precision="float64"), 1e-12, "float64 export")


def test_a_pytorch_model_exports_the_same_graph(digits, tmp_path):
    pytest.importorskip("torch")
    from scratchnet import TorchNeuralNetwork
    scratch = trained(digits, ["relu", "relu", "softmax"])
    twin = TorchNeuralNetwork(scratch.layer_sizes, scratch.activations, seed=11)
    twin.set_weights(scratch.get_weights())
    outputs = OnnxRuntimeModel(export_onnx(twin, tmp_path / "t.onnx")).forward(digits[2])
    assert_close(outputs, scratch.forward(digits[2]), 1e-5, "exported from the torch twin")


def test_graph_has_named_io_a_dynamic_batch_and_the_expected_operators(digits):
    model = trained(digits, ["relu", "linear", "softmax"])
    graph_model = build_onnx_model(model)
    onnx.checker.check_model(graph_model, full_check=True)
    graph = graph_model.graph
    (inp,), (out,) = graph.input, graph.output
    assert inp.name == "input" and out.name == "output"
    in_dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    out_dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert in_dims == ["N", 64] and out_dims == ["N", 10]
    assert [node.op_type for node in graph.node] == ["Gemm", "Relu", "Gemm", "Gemm", "Softmax"]
    assert graph_model.opset_import[0].version == DEFAULT_OPSET
    weights = {init.name: onnx.numpy_helper.to_array(init) for init in graph.initializer}
    for i, (W, b) in enumerate(model.get_weights()):
        np.testing.assert_array_equal(weights[f"W{i}"], W)  # (fan_in, fan_out), as the network
        np.testing.assert_array_equal(weights[f"b{i}"], b)


def test_batches_of_any_size_run(digits, tmp_path):
    model = trained(digits, ["relu", "relu", "softmax"])
    runtime = OnnxRuntimeModel(export_onnx(model, tmp_path / "m.onnx", opset=13))
    X = np.concatenate([digits[0], digits[2]])  # 600 rows
    for rows in (1, 7, 600):
        assert runtime.forward(X[:rows]).shape == (rows, 10)


def test_export_from_a_checkpoint_path(digits, tmp_path):
    model = trained(digits, ["sigmoid", "relu", "softmax"])
    model.save(tmp_path / "model.npz")
    runtime = OnnxRuntimeModel(export_onnx(str(tmp_path / "model.npz"), tmp_path / "m.onnx"))
    assert_close(runtime.forward(digits[2]), model.forward(digits[2]), 1e-5, "from checkpoint")


@pytest.mark.parametrize("kwargs,error,words", [
    ({"opset": 12}, ValueError, "opset must be an integer >= 13"),
    ({"opset": 10_000}, ValueError, "opset must be between 13 and"),
    ({"opset": "17"}, TypeError, "opset must be an integer"),
    ({"dtype": "float16"}, ValueError, "dtype must be one of ['float32', 'float64']"),
])
def test_bad_arguments_leave_an_existing_file_untouched(digits, tmp_path, kwargs, error, words):
    model = trained(digits, ["relu", "relu", "softmax"])
    path = tmp_path / "model.onnx"
    path.write_bytes(b"previous contents")
    with pytest.raises(error) as info:
        export_onnx(model, path, **kwargs)
    assert words in str(info.value)
    assert path.read_bytes() == b"previous contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no temporary left


@pytest.mark.parametrize("name,words", [("model.npz", "must end in .onnx"),
                                        ("missing/model.onnx", "does not exist")])
def test_bad_paths_are_refused(digits, tmp_path, name, words):
    with pytest.raises(ValueError, match=words):
        export_onnx(trained(digits, ["relu", "relu", "softmax"]), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_onnx_is_refused_by_the_runtime_wrapper(tmp_path):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\x00not a protobuf at all" * 10)
    with pytest.raises(ValueError, match="is not a readable ONNX model"):
        OnnxRuntimeModel(path)


def test_something_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(TypeError, match="model must be a NeuralNetwork, a TorchNeuralNetwork or a "
                                        "checkpoint path, got dict"):
        export_onnx({"W0": 1}, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ external data
def files_in(folder):
    """{name: bytes} of every file and folder in ``folder`` (folders as None)."""
    return {p.name: (p.read_bytes() if p.is_file() else None) for p in folder.iterdir()}


@pytest.fixture
def small_threshold(monkeypatch):
    """Weights over 1000 bytes count as too large for one protobuf message."""
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_THRESHOLD", 1000)


def test_weights_over_the_threshold_go_to_one_data_file_onnxruntime_reads(digits, tmp_path,
                                                                          small_threshold):
    model = trained(digits, ["relu", "tanh", "softmax"])
    path = export_onnx(model, tmp_path / "model.onnx")
    (data,) = external_data_files(path)
    assert re.fullmatch(r"model\.onnx\.[0-9a-f]{8}\.data", data), data
    assert sorted(files_in(tmp_path)) == sorted(["model.onnx", data])  # nothing staged is left
    graph = onnx.load(str(path), load_external_data=False).graph
    assert all(t.data_location == onnx.TensorProto.EXTERNAL for t in graph.initializer)
    weight_bytes = sum(W.size + b.size for W, b in model.get_weights()) * 4
    graph_bytes = (tmp_path / "model.onnx").stat().st_size
    assert (tmp_path / data).stat().st_size >= weight_bytes > graph_bytes
    onnx.checker.check_model(str(path), full_check=True)
    runtime = OnnxRuntimeModel(path, threads=1)
    assert_close(runtime.forward(digits[2]), model.forward(digits[2]), 1e-5, "external data")
    np.testing.assert_array_equal(runtime.predict(digits[2]), model.predict(digits[2]))
    # the graph names its data file relative to itself: the pair works from another folder
    (tmp_path / "moved").mkdir()
    for name in ("model.onnx", data):
        shutil.copy(tmp_path / name, tmp_path / "moved" / name)
    moved = OnnxRuntimeModel(tmp_path / "moved" / "model.onnx").forward(digits[2])
    assert_close(moved, model.forward(digits[2]), 1e-5, "moved pair")


def test_weights_under_the_threshold_stay_in_the_onnx_file(digits, tmp_path):
    path = export_onnx(trained(digits, ["relu", "relu", "softmax"]), tmp_path / "model.onnx")
    assert external_data_files(path) == [] and sorted(files_in(tmp_path)) == ["model.onnx"]


def test_each_export_replaces_the_pair_and_removes_the_data_file_it_replaced(
        digits, tmp_path, monkeypatch):
    first, second = trained(digits, ["relu", "relu", "softmax"]), trained(digits, ["tanh"] * 3)
    path, default = tmp_path / "model.onnx", onnx_export.EXTERNAL_DATA_THRESHOLD
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_THRESHOLD", 1000)
    (old,) = external_data_files(export_onnx(first, path))
    (new,) = external_data_files(export_onnx(second, path))
    assert new != old and sorted(files_in(tmp_path)) == sorted(["model.onnx", new])
    assert_close(OnnxRuntimeModel(path).forward(digits[2]), second.forward(digits[2]), 1e-5,
                 "second export")
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_THRESHOLD", default)
    export_onnx(first, path)  # small enough again: one file, and the old data file goes
    assert sorted(files_in(tmp_path)) == ["model.onnx"] and external_data_files(path) == []
    assert_close(OnnxRuntimeModel(path).forward(digits[2]), first.forward(digits[2]), 1e-5, "third")


def failing_replace_of(suffix):
    real = os.replace

    def replace(source, target):
        if os.fspath(target).endswith(suffix):
            raise OSError(f"disk full while moving {os.path.basename(target)}")
        real(source, target)
    return replace


def failing_after_one_weight():
    """``_external_tensor`` that writes the first weight, then half of the next, then fails."""
    real, calls = onnx_export._external_tensor, []

    def external_tensor(array, name, dtype, data, location):
        calls.append(name)
        if len(calls) > 1:
            data.write(b"half the weights")
            raise OSError("disk full while writing the weights")
        return real(array, name, dtype, data, location)
    return external_tensor


def failing_check(model, *args, **kwargs):
    raise onnx.checker.ValidationError("disk full, so the graph read back differs")


@pytest.mark.parametrize("failure", ["writing the weights", "checking the graph",
                                     "moving the data", "moving the graph"])
def test_a_failed_export_leaves_the_previous_pair_as_it_was(digits, tmp_path, small_threshold,
                                                           monkeypatch, failure):
    before_model = trained(digits, ["relu", "relu", "softmax"])
    path = export_onnx(before_model, tmp_path / "model.onnx")
    before = files_in(tmp_path)
    if failure == "writing the weights":
        monkeypatch.setattr(onnx_export, "_external_tensor", failing_after_one_weight())
    elif failure == "checking the graph":
        monkeypatch.setattr(onnx.checker, "check_model", failing_check)
    else:
        suffix = ".data" if failure == "moving the data" else ".onnx"
        monkeypatch.setattr(os, "replace", failing_replace_of(suffix))
    with pytest.raises(Exception, match="disk full"):
        export_onnx(trained(digits, ["tanh"] * 3), path)
    monkeypatch.undo()
    assert files_in(tmp_path) == before  # the same two files, byte for byte, nothing staged left
    assert_close(OnnxRuntimeModel(path).forward(digits[2]), before_model.forward(digits[2]), 1e-5,
                 "the previous export")


def test_build_onnx_model_refuses_weights_one_message_cannot_hold(digits, small_threshold):
    with pytest.raises(ValueError, match=r"the weights of a 64x32x16x10 network are 11,112 bytes "
                                         r"in float32, more than one protobuf message holds "
                                         r"\(1,000 bytes here\); export_onnx\(model, path\) writes"):
        build_onnx_model(trained(digits, ["relu", "relu", "softmax"]))


def test_the_export_command_runs_a_file_with_external_data(digits, tmp_path, small_threshold,
                                                           capfd):
    from scratchnet.cli import main
    model = trained(digits, ["relu", "relu", "softmax"])
    model.save(tmp_path / "model.npz")
    assert main(["export-onnx", str(tmp_path / "model.npz"), str(tmp_path / "model.onnx")]) == 0
    printed = capfd.readouterr().out
    assert "ONNX Runtime CPUExecutionProvider" in printed, printed  # it ran the exported pair
    assert len(external_data_files(tmp_path / "model.onnx")) == 1
