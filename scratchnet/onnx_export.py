"""ONNX export of a trained network, and an ONNX Runtime model with the same inference API.

``export_onnx(model, path)`` builds the graph straight from the NumPy weights
with the ``onnx`` package (no torch): per layer one ``Gemm`` (z = a @ W + b,
W stored as (fan_in, fan_out) exactly as the network keeps it) and the
activation's own operator (Relu, Sigmoid, Tanh, Softmax over axis 1; a linear
layer needs none). The input ``input`` and output ``output`` have a dynamic
batch dimension ``N``; the file passes ``onnx.checker.check_model`` before it
is written, atomically.

``OnnxRuntimeModel`` wraps an ONNX Runtime session (CPU provider) in the
networks' inference methods (``forward``, ``predict_proba``, ``predict``,
``evaluate``), so the benchmark's primitives measure it exactly like the
other rows.

onnx and onnxruntime are optional (``pip install "scratchnet[onnx]"``);
without them these functions raise ImportError saying so.
"""
from __future__ import annotations

import os

import numpy as np

from .base import BaseNetwork
from .files import atomic_write, check_output_path
from .losses import get_loss
from .precision import INFER_PRECISIONS, check_dtype_name
from .validation import check_features, check_int, check_labels

INSTALL_HINT = 'pip install "onnx==1.23.2" "onnxruntime==1.32.0"  (or: pip install "scratchnet[onnx]")'
#: The opset written when none is asked for: old enough for every current runtime,
#: new enough for Softmax's per-axis definition (opset 13).
DEFAULT_OPSET = 17
MIN_OPSET = 13
#: The dtypes a graph can be exported in (the Gemm weights and the input).
EXPORT_DTYPES = ("float32", "float64")

_ACTIVATION_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax",
                   "linear": None}


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as exc:
        raise ImportError(f"ONNX export needs the onnx package ({exc}); {INSTALL_HINT}") from None
    return onnx, helper, numpy_helper


def _import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(f"running ONNX models needs onnxruntime ({exc}); {INSTALL_HINT}") from None
    return onnxruntime


def is_onnx_available():
    """True when both onnx and onnxruntime import; never raises."""
    try:
        _import_onnx()
        _import_onnxruntime()
        return True
    except ImportError:
        return False


def build_onnx_model(model, opset=DEFAULT_OPSET, dtype="float32"):
    """The network as an ``onnx.ModelProto`` (checked), from ``model.get_weights()``."""
    onnx, helper, numpy_helper = _import_onnx()
    opset = check_int(opset, "opset", minimum=MIN_OPSET)
    if opset > onnx.defs.onnx_opset_version():
        raise ValueError(f"opset must be between {MIN_OPSET} and {onnx.defs.onnx_opset_version()} "
                         f"(the newest the installed onnx {onnx.__version__} knows), got {opset}")
    dtype = check_dtype_name(dtype, "dtype", EXPORT_DTYPES)
    elem_type = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    nodes, initializers = [], []
    current = "input"
    for i, ((W, b), activation) in enumerate(zip(model.get_weights(), model.activations)):
        initializers += [numpy_helper.from_array(np.asarray(W, dtype), f"W{i}"),  # (in, out)
                         numpy_helper.from_array(np.asarray(b, dtype), f"b{i}")]  # (out,)
        op = _ACTIVATION_OPS[activation]
        last = i == len(model.activations) - 1
        z = "output" if last and op is None else f"z{i}"
        nodes.append(helper.make_node("Gemm", [current, f"W{i}", f"b{i}"], [z], name=f"dense{i}"))
        current = z
        if op is not None:
            a = "output" if last else f"a{i}"
            attributes = {"axis": 1} if op == "Softmax" else {}
            nodes.append(helper.make_node(op, [z], [a], name=f"{activation}{i}", **attributes))
            current = a
    graph = helper.make_graph(
        nodes, "scratchnet_mlp",
        [helper.make_tensor_value_info("input", elem_type, ["N", model.layer_sizes[0]])],
        [helper.make_tensor_value_info("output", elem_type, ["N", model.layer_sizes[-1]])],
        initializer=initializers)
    opsets = [helper.make_opsetid("", opset)]
    onnx_model = helper.make_model(
        graph, opset_imports=opsets, producer_name="scratchnet",
        # the oldest IR version that can hold this opset, so older runtimes read it
        ir_version=helper.find_min_ir_version_for(opsets),
        doc_string=f"{'x'.join(map(str, model.layer_sizes))} {','.join(model.activations)}, "
                   f"trained with loss {model.loss} by {model.framework}")
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def export_onnx(model, path, opset=DEFAULT_OPSET, dtype="float32"):
    """Write ``model`` (a NeuralNetwork, a TorchNeuralNetwork, or a checkpoint path) as an
    ONNX file at exactly ``path`` (ending in .onnx); returns the path. Nothing is written
    if anything fails."""
    path = check_output_path(path, "path", (".onnx",))
    if isinstance(model, (str, os.PathLike)):
        from .network import NeuralNetwork
        model = NeuralNetwork.load(model)
    elif not isinstance(model, BaseNetwork):
        raise TypeError(f"model must be a NeuralNetwork, a TorchNeuralNetwork or a checkpoint "
                        f"path, got {type(model).__name__}")
    onnx_model = build_onnx_model(model, opset=opset, dtype=dtype)
    atomic_write(path, lambda handle: handle.write(onnx_model.SerializeToString()))
    return path


class OnnxRuntimeModel:
    """An exported network run by ONNX Runtime on the CPU, with the networks' inference API.

    ``OnnxRuntimeModel(path, loss="mse", threads=None)``: ``threads`` sets the
    session's intra-op threads (default: ONNX Runtime's own choice). The graph
    computes in the dtype it was exported in; ``precision`` only picks the
    dtype of the returned array, as the networks' ``forward`` does.
    """

    framework = "onnxruntime"

    def __init__(self, path, loss="mse", threads=None):
        onnx, _, _ = _import_onnx()
        ort = _import_onnxruntime()
        path = os.fspath(path)
        try:
            checked = onnx.load(path)
            onnx.checker.check_model(checked)
        except Exception as exc:  # onnx raises several kinds for a bad file
            raise ValueError(f"ONNX file {path!r} is not a readable ONNX model: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                             ) from None
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = check_int(threads, "threads")
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        inputs = self.session.get_inputs()
        dtypes = {"tensor(float)": np.float32, "tensor(double)": np.float64}
        if (len(inputs) != 1 or len(inputs[0].shape) != 2 or not isinstance(inputs[0].shape[1], int)
                or inputs[0].type not in dtypes):
            raise ValueError(f"ONNX file {path!r} must take one (N, D) float or double input, as "
                             f"export_onnx writes; it takes "
                             f"{[(i.name, i.shape, i.type) for i in inputs]}")
        self._input = inputs[0]
        self.n_features = self._input.shape[1]
        self.input_dtype = dtypes[self._input.type]
        self.loss = get_loss(loss).name

    def forward(self, X, training=False, precision=None):
        """Output activations (N, K) from ONNX Runtime, returned as ``precision`` (default:
        the graph's dtype)."""
        X = check_features(X, self.n_features)
        outputs = self.session.run(None, {self._input.name: X.astype(self.input_dtype, copy=False)})[0]
        if precision is not None:
            outputs = outputs.astype(check_dtype_name(precision, "precision", INFER_PRECISIONS),
                                     copy=False)
        return outputs

    def predict_proba(self, X, precision=None):
        return self.forward(X, precision=precision)

    def predict(self, X, precision=None):
        return self.forward(X, precision=precision).argmax(axis=1)

    def evaluate(self, X, y, precision=None):
        """``{"loss", "accuracy"}``: the loss is computed from the outputs, so for
        cross-entropy it needs a softmax output (it is then -log of the picked probability)."""
        outputs = self.forward(X, precision=precision).astype(np.float64)
        labels = check_labels(y, outputs.shape[0], outputs.shape[1])
        if self.loss == "cross_entropy":
            picked = outputs[np.arange(len(labels)), labels]
            loss = float(-np.mean(np.log(np.maximum(picked, np.finfo(np.float64).tiny))))
        else:
            loss = float(get_loss("mse").forward(outputs, labels))
        return {"loss": loss, "accuracy": float(np.mean(outputs.argmax(axis=1) == labels))}
