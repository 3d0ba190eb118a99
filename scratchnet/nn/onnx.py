"""ONNX export of a trained network, and an ONNX Runtime model with the same inference API.

``export_onnx(model, path)`` builds the graph straight from the NumPy weights
with the ``onnx`` package (no torch): per layer one ``Gemm`` (z = a @ W + b,
W stored as (fan_in, fan_out) exactly as the network keeps it) and the
activation's own operator (Relu, Sigmoid, Tanh, Softmax over axis 1; a linear
layer needs none). The input ``input`` and output ``output`` have a dynamic
batch dimension ``N``; the file passes ``onnx.checker.check_model`` before it
is written, atomically.

Protobuf cannot serialize a message of 2 GB or more, so when the weights
exceed ``EXTERNAL_DATA_THRESHOLD`` bytes they are written as ONNX external
data: the graph in the ``.onnx`` file and every initializer in one file beside
it, ``<name>.onnx.<8 hex digits>.data``, which the graph names (ONNX Runtime
reads it from the ``.onnx`` file's folder). The weights go from NumPy straight
into that file, never into a protobuf message. The pair is written in a
temporary folder beside ``path``, checked there by path, and moved into place
data file first and graph last; the data file's name is new at every export,
so the ``.onnx`` file always names a complete data file written with it, and
the data file of the export it replaced is removed after the switch.

``OnnxRuntimeModel`` wraps an ONNX Runtime session (CPU provider) in the
networks' inference methods (``forward``, ``predict_proba``, ``predict``,
``evaluate``), so the benchmark's primitives measure it exactly like the
other rows.

onnx and onnxruntime are optional (the ``onnx`` extra: ``pip install ".[onnx]"``);
without them these functions raise ImportError saying so.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile

import numpy as np

from .activations import get_activation
from .base import BaseNetwork, Predictor
from ..files import atomic_write, check_output_path
from .losses import get_loss
from .precision import INFER_PRECISIONS, check_dtype_name
from .validation import check_features, check_int, check_labels

INSTALL_HINT = ('pip install "onnx==1.23.2" "onnxruntime==1.32.0" (or, in scratchnet\'s checkout: '
                'pip install ".[onnx]")')
#: The opset written when none is asked for: old enough for every current runtime,
#: new enough for Softmax's per-axis definition (opset 13).
DEFAULT_OPSET = 17
MIN_OPSET = 13
#: The dtypes a graph can be exported in (the Gemm weights and the input).
EXPORT_DTYPES = ("float32", "float64")
#: Initializer bytes above which the weights are written as external data: protobuf
#: serializes no message of 2 GiB or more, and 1 MiB is left for the rest of the graph.
EXTERNAL_DATA_THRESHOLD = 2**31 - 2**20
# An .onnx file that names its external data is this small; a larger one is not read
# to find the data file it replaces.
_GRAPH_ONLY_MAX_BYTES = 16 << 20
# Each weight starts at a multiple of this in the data file, so it can be memory-mapped.
_EXTERNAL_ALIGNMENT = 4096
_WRITE_CHUNK_BYTES = 64 << 20


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
    """The network as an ``onnx.ModelProto`` holding its weights, from ``model.get_weights()``,
    checked by ``onnx.checker.check_model(..., full_check=True)``.

    Raises ValueError when the weights exceed ``EXTERNAL_DATA_THRESHOLD`` bytes:
    protobuf cannot hold them in one message; ``export_onnx`` writes such a
    network with its weights as external data.
    """
    onnx, _, numpy_helper = _import_onnx()
    opset, dtype = _check_options(opset, dtype)
    weight_bytes = _weight_bytes(model, dtype)
    if weight_bytes > EXTERNAL_DATA_THRESHOLD:
        raise ValueError(f"the weights of a {'x'.join(map(str, model.layer_sizes))} network are "
                         f"{weight_bytes:,} bytes in {dtype}, more than one protobuf message holds "
                         f"({EXTERNAL_DATA_THRESHOLD:,} bytes here); export_onnx(model, path) "
                         f"writes them as external data beside the .onnx file")
    onnx_model = _graph(model, opset, dtype,
                        lambda array, name: numpy_helper.from_array(np.asarray(array, dtype), name))
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def _check_options(opset, dtype):
    onnx, _, _ = _import_onnx()
    opset = check_int(opset, "opset", minimum=MIN_OPSET)
    if opset > onnx.defs.onnx_opset_version():
        raise ValueError(f"opset must be between {MIN_OPSET} and {onnx.defs.onnx_opset_version()} "
                         f"(the newest the installed onnx {onnx.__version__} knows), got {opset}")
    return opset, check_dtype_name(dtype, "dtype", EXPORT_DTYPES)


def _weight_bytes(model, dtype):
    """The bytes of every W and b of ``model`` in ``dtype``, from its layer sizes alone."""
    sizes = model.layer_sizes
    return sum(n * m + m for n, m in zip(sizes[:-1], sizes[1:])) * np.dtype(dtype).itemsize


def _graph(model, opset, dtype, initializer):
    """The graph (unchecked); ``initializer(array, name)`` makes each weight's TensorProto."""
    _, helper, _ = _import_onnx()
    elem_type = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    nodes, initializers = [], []
    current = "input"
    for i, ((W, b), activation) in enumerate(zip(model.get_weights(), model.activations)):
        initializers += [initializer(W, f"W{i}"),  # (fan_in, fan_out), as the network keeps it
                         initializer(b, f"b{i}")]  # (fan_out,)
        del W, b  # written: a copy of a large model need not live until the graph is done
        op = get_activation(activation).onnx_op
        last = i == len(model.activations) - 1
        z = "output" if last and op is None else f"z{i}"
        nodes.append(helper.make_node("Gemm", [current, f"W{i}", f"b{i}"], [z], name=f"dense{i}"))
        current = z
        if op is not None:
            a = "output" if last else f"a{i}"
            nodes.append(helper.make_node(op, [z], [a], name=f"{activation}{i}",
                                          **get_activation(activation).onnx_attributes))
            current = a
    graph = helper.make_graph(
        nodes, "scratchnet_mlp",
        [helper.make_tensor_value_info("input", elem_type, ["N", model.layer_sizes[0]])],
        [helper.make_tensor_value_info("output", elem_type, ["N", model.layer_sizes[-1]])],
        initializer=initializers)
    opsets = [helper.make_opsetid("", opset)]
    return helper.make_model(
        graph, opset_imports=opsets, producer_name="scratchnet",
        # the oldest IR version that can hold this opset, so older runtimes read it
        ir_version=helper.find_min_ir_version_for(opsets),
        doc_string=f"{'x'.join(map(str, model.layer_sizes))} {','.join(model.activations)}, "
                   f"trained with loss {model.loss} by {model.framework}")


def export_onnx(model, path, opset=DEFAULT_OPSET, dtype="float32"):
    """Write ``model`` (a NeuralNetwork, a TorchNeuralNetwork, or a checkpoint path) as an
    ONNX file at exactly ``path`` (ending in .onnx); returns the path. Nothing is written
    if anything fails.

    Weights over ``EXTERNAL_DATA_THRESHOLD`` bytes go to one external data file
    beside ``path``; ``external_data_files(path)`` names it."""
    path = check_output_path(path, "path", (".onnx",))
    if isinstance(model, (str, os.PathLike)):
        from .network import NeuralNetwork
        model = NeuralNetwork.load(model)
    elif not isinstance(model, BaseNetwork):
        raise TypeError(f"model must be a NeuralNetwork, a TorchNeuralNetwork or a checkpoint "
                        f"path, got {type(model).__name__}")
    opset, dtype = _check_options(opset, dtype)
    replaced = _own_data_files(path)
    if _weight_bytes(model, dtype) > EXTERNAL_DATA_THRESHOLD:
        written = _write_with_external_data(model, path, opset, dtype)
    else:
        onnx_model = build_onnx_model(model, opset=opset, dtype=dtype)
        atomic_write(path, lambda handle: handle.write(onnx_model.SerializeToString()))
        written = None
    folder = os.path.dirname(os.path.abspath(path))
    for name in replaced:
        if name != written:
            try:
                os.unlink(os.path.join(folder, name))
            except FileNotFoundError:
                pass
    return path


def external_data_files(path):
    """The external data files the ONNX file at ``path`` names, relative to its folder, in
    order of first use; ``[]`` for a file that holds all its weights."""
    onnx, _, _ = _import_onnx()
    graph = onnx.load(os.fspath(path), load_external_data=False).graph
    names = []
    for tensor in graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            location = {entry.key: entry.value for entry in tensor.external_data}.get("location")
            if location and location not in names:
                names.append(location)
    return names


def _own_data_files(path):
    """The data files an earlier export wrote for ``path`` and its .onnx file still names."""
    try:
        if os.path.getsize(path) > _GRAPH_ONLY_MAX_BYTES:
            return []
        names = external_data_files(path)
    except Exception:  # no file there, or not one this module wrote: nothing of ours to remove
        return []
    pattern = re.escape(os.path.basename(path)) + r"\.[0-9a-f]{8}\.data"  # as written below
    return [name for name in names if re.fullmatch(pattern, name)]


def _write_with_external_data(model, path, opset, dtype):
    """Write the graph to ``path`` and every weight to one new data file beside it; return
    the data file's name. Both are written and checked in a staging folder first, and no
    weight is ever held in a protobuf message (one of 2 GB cannot be serialized)."""
    onnx, _, _ = _import_onnx()
    folder, name = os.path.split(os.path.abspath(path))
    while True:
        data_name = f"{name}.{os.urandom(4).hex()}.data"
        if not os.path.lexists(os.path.join(folder, data_name)):
            break
    staging = tempfile.mkdtemp(dir=folder, prefix=".tmp-")
    data_path, moved = os.path.join(folder, data_name), False
    try:
        staged, staged_data = os.path.join(staging, name), os.path.join(staging, data_name)
        with open(staged_data, "wb") as data:
            onnx_model = _graph(model, opset, dtype, lambda array, tensor_name: _external_tensor(
                array, tensor_name, dtype, data, data_name))
            data.flush()
            os.fsync(data.fileno())
        with open(staged, "wb") as handle:
            handle.write(onnx_model.SerializeToString())
            handle.flush()
            os.fsync(handle.fileno())
        onnx.checker.check_model(staged, full_check=True)  # by path: it reads the data file
        if os.path.exists(path):
            os.chmod(staged, os.stat(path).st_mode & 0o777)
        os.replace(staged_data, data_path)
        moved = True
        os.replace(staged, path)
    except BaseException:
        if moved:
            os.unlink(data_path)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return data_name


def _external_tensor(array, name, dtype, data, location):
    """Append ``array`` as little-endian ``dtype`` to the open file ``data`` (at an offset
    aligned for memory mapping) and return the TensorProto that points there."""
    onnx, helper, _ = _import_onnx()
    array = np.asarray(array)
    data.write(b"\0" * (-data.tell() % _EXTERNAL_ALIGNMENT))
    offset = data.tell()
    target = np.dtype(dtype).newbyteorder("<")
    row_bytes = array.size // max(len(array), 1) * target.itemsize  # W and b are never 0-d
    step = max(1, _WRITE_CHUNK_BYTES // max(row_bytes, 1))
    for start in range(0, len(array), step):  # in blocks: a cast copies one block at a time
        block = np.ascontiguousarray(array[start:start + step], dtype=target)
        data.write(memoryview(block).cast("B"))
    tensor = onnx.TensorProto(name=name, dims=array.shape,
                              data_type=helper.np_dtype_to_tensor_dtype(np.dtype(dtype)),
                              data_location=onnx.TensorProto.EXTERNAL)
    for key, value in (("location", location), ("offset", offset),
                       ("length", data.tell() - offset)):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, str(value)
    return tensor


def check_with_onnxruntime(model, path, dtype="float32", n=256, seed=0):
    """(largest |difference| between ONNX Runtime's outputs for the file at ``path`` and
    ``model.forward`` in ``dtype``, on ``n`` random inputs in [0, 1); ONNX Runtime's
    execution provider): what ``scratchnet export-onnx`` prints after writing a file."""
    X = np.random.default_rng(seed).random((n, model.layer_sizes[0]))  # (n, D)
    runtime = OnnxRuntimeModel(path, loss=model.loss)
    diff = np.abs(runtime.forward(X).astype(np.float64)
                  - model.forward(X, precision=dtype).astype(np.float64)).max()
    return float(diff), runtime.session.get_providers()[0]


class OnnxRuntimeModel(Predictor):
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
            # by path: a graph whose weights are external data (over 2 GB) is checked
            # without loading them, and ONNX Runtime reads them from the file's folder
            onnx.checker.check_model(path)
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
