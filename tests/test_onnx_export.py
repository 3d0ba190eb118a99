"""ONNX export: the graph's structure, ONNX Runtime's outputs against the NumPy forward
for every activation, and bad arguments that must write nothing."""
import numpy as np
import pytest

from helpers import assert_close
from scratchnet import NeuralNetwork, PrecisionConfig
from scratchnet.data import load_dataset

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from scratchnet.onnx_export import (DEFAULT_OPSET, OnnxRuntimeModel, build_onnx_model,  # noqa: E402
                                    export_onnx)


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
