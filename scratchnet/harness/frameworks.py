"""The frameworks a comparison measures: one ``Framework`` entry each in ``REGISTRY``,
and a user's own class as one more (``user_framework``).

An entry says how a worker builds its model (``model_class``), whether it trains or
only runs inference, its device, why it cannot run on this machine (``unavailable``),
whose matrix products it uses (``blas``), whether valgrind can count it, and its
colour in the plots. Everything that runs, counts, reports or offers a framework
(``compare``, the workers, ``train``/``predict``, the CLI's help, the PNGs) reads it
from here, so adding a framework is one entry.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable

from ..check import loader
from ..nn.losses import LossConvention


@dataclass(frozen=True)
class Framework:
    """One row kind of the comparison."""

    name: str
    summary: str  # what the row is, in a few words (the CLI's help)
    model_class: Callable[[], type]  # imports what it needs; run inside the worker
    unavailable: Callable[[], "str | None"] = lambda: None  # why it cannot run here, or None
    blas: Callable[[], str] = lambda: ""  # whose matrix products it uses, in words
    trains: bool = True  # False: inference only (a scratch network trained untimed, exported)
    device: str = "cpu"
    counted: bool = True  # valgrind can count its instructions (it runs on the CPU)
    default: bool = False  # a row of a comparison that names no frameworks
    checkpoints: bool = False  # ``train``/``predict`` can use it
    color: str = "#7f7f7f"
    build_kwargs: dict = field(default_factory=dict)  # passed to the class besides the settings
    spec: str | None = None  # a user class: "module:Class" or "file.py:Class"
    layout: str = "in_out"  # a user class: how it stores W
    samples: str = "mean"  # a user class: how its loss reduces over a batch's samples
    outputs: str = "mean"  # ... and, for MSE, over a sample's outputs (LossConvention)
    takes_loss: bool = True  # a user class: its constructor takes ``loss``


def _numpy_network():
    from ..nn.network import NeuralNetwork
    return NeuralNetwork


def _torch_network():
    from ..nn.torch_network import INSTALL_HINT, TorchNeuralNetwork, is_torch_available
    if not is_torch_available():
        raise ImportError(f"framework 'pytorch' needs torch: {INSTALL_HINT}")
    return TorchNeuralNetwork


def _onnxruntime_model():
    from ..nn.onnx import OnnxRuntimeModel
    return OnnxRuntimeModel


def _torch_missing():
    from ..nn.torch_network import is_torch_available
    return None if is_torch_available() else "torch not installed"


def _cuda_missing():
    return _torch_missing() or (None if cuda_available() else
                                "CUDA not available (torch.cuda.is_available() is False)")


def _onnx_missing():
    from ..nn.onnx import INSTALL_HINT, is_onnx_available
    return None if is_onnx_available() else f"onnx/onnxruntime not installed ({INSTALL_HINT})"


def _numpy_blas():
    from .timing import numpy_blas
    return numpy_blas()


def _scratch_blas():
    """NumPy's BLAS, and SciPy's, whose gemm and gemv run the network's fused SGD update."""
    from .timing import numpy_blas, scipy_blas
    return f"{numpy_blas()}; fused SGD update (one thread): SciPy's {scipy_blas()}"


def _torch_blas():
    from .timing import torch_blas
    return torch_blas()


def cuda_available():
    """torch imports and sees a CUDA device."""
    try:
        import torch
        return torch.cuda.is_available()
    except Exception:
        return False


#: The reference every other row's speed ratio and parity are taken against.
TWIN = "pytorch"
#: The hand-written network scratchnet ships.
SCRATCH = "scratch_numpy"

REGISTRY = {framework.name: framework for framework in (
    Framework(SCRATCH, "scratchnet's NumPy network", _numpy_network, blas=_scratch_blas,
              default=True, checkpoints=True, color="#1f77b4"),
    Framework(TWIN, "its PyTorch twin on the CPU", _torch_network, _torch_missing, _torch_blas,
              default=True, checkpoints=True, color="#ff7f0e"),
    Framework("pytorch_cuda", "the twin on a CUDA GPU",
              _torch_network, _cuda_missing, _torch_blas, device="cuda", counted=False,
              color="#2ca02c", build_kwargs={"device": "cuda"}),
    Framework("onnxruntime", "the NumPy network exported to ONNX and run by ONNX Runtime, "
                             "inference only", _onnxruntime_model, _onnx_missing,
              lambda: "ONNX Runtime's own kernels (MLAS)", trains=False, color="#9467bd"),
)}
#: Colours of user rows, in the order they are named.
USER_COLORS = ("#d62728", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def names():
    """Every registered framework's name, in the report's order."""
    return tuple(REGISTRY)


def checkpoint_names():
    """The frameworks ``train`` and ``predict`` can use."""
    return tuple(name for name, framework in REGISTRY.items() if framework.checkpoints)


def default_names():
    """The rows of a comparison that names none: the defaults that can run here (pytorch_cuda
    only where CUDA is available)."""
    return [name for name, framework in REGISTRY.items()
            if framework.default or (framework.device == "cuda" and cuda_available())]


def get(name, models=None):
    """The entry of ``name``: a registered framework or one of ``models`` (user frameworks)."""
    if models and name in models:
        return models[name]
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown framework {name!r}; valid: {list(REGISTRY)}") from None


def color(name, models=None):
    """The colour of a row in the PNGs."""
    if name in REGISTRY:
        return REGISTRY[name].color
    order = list(models or [])
    return USER_COLORS[order.index(name) % len(USER_COLORS)] if name in order else "#7f7f7f"


def load_user_class(spec):
    """The class of a user framework, in the worker (``scratchnet.check.loader``)."""
    return loader.load_class(spec)


IN_WORKER = loader.IN_WORKER
class_spec = loader.class_spec


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")


def check_model_name(name):
    """A user row's name: a letter, then up to 39 letters, digits, '_', '.' or '-', and
    not a registered framework's name."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"models: a row name must be a letter followed by up to 39 letters, "
                         f"digits, '_', '.' or '-', got {name!r}")
    if name.lower() in {built_in.lower() for built_in in REGISTRY}:
        raise ValueError(f"models: {name!r} is a built-in framework's name; give your class "
                         f"another (built-ins: {list(REGISTRY)})")
    return name


def user_framework(name, model, layout="in_out", samples="mean", outputs="mean"):
    """The entry of a user's class: ``model`` is a class or its spec, ``"package.module:Class"``
    or ``"path/to/file.py:Class"``; ``samples`` and ``outputs`` declare its loss's
    reductions (``scratchnet.nn.losses.LossConvention``). A class must be importable again in
    a fresh worker process: from its module, or from the file of the script that defined it
    (run there under another name, so its ``if __name__ == "__main__":`` block does not run)."""
    name = check_model_name(name)
    if layout not in loader.LAYOUTS:
        raise ValueError(f"layout must be one of {list(loader.LAYOUTS)}, got {layout!r}")
    LossConvention("mse", samples, outputs)  # ValueError naming what is accepted
    if isinstance(model, str):
        if model.count(":") == 1 and model.split(":")[0].endswith(".py"):
            where, cls_name = model.split(":")
            model = f"{os.path.abspath(where)}:{cls_name}"  # the worker may run elsewhere
        cls = loader.load_class(model)  # fails here, naming the spec, not in every worker
        spec = model
    else:
        cls, spec = model, class_spec(model, name)
    parameters, _ = loader.constructor_parameters(cls)
    return user_entry(name, spec, layout, samples, outputs, takes_loss="loss" in parameters)


def user_entry(name, spec, layout="in_out", samples="mean", outputs="mean", takes_loss=True):
    """The registry entry of a user class already checked by ``user_framework``."""
    return Framework(name, f"your class {spec}", lambda: _user_factory(spec, layout),
                     blas=_numpy_blas, counted=False, spec=spec, layout=layout,
                     samples=samples, outputs=outputs, takes_loss=takes_loss)


#: The options a --model value may end with after "@": a layout, and the reductions.
_MODEL_OPTIONS = re.compile(r"(?:(?:in_out|out_in|samples=\w+|outputs=\w+),?)+")


def parse_model_value(value, layout="in_out"):
    """``(name, spec, options)`` of a --model value ``[NAME=]SPEC[@OPTIONS]``: OPTIONS are
    comma-separated ``out_in`` (or ``in_out``), ``samples=mean|sum`` and
    ``outputs=mean|sum|half_sum``; NAME defaults to the class's name, the layout to
    ``layout``."""
    spec, _, tail = value.rpartition("@")
    if not spec or not _MODEL_OPTIONS.fullmatch(tail):
        spec, tail = value, ""
    name, spec = (spec.split("=", 1) if "=" in spec.split(":")[0]
                  else (spec.split(":")[-1], spec))
    options = {"layout": layout}
    for item in filter(None, tail.split(",")):
        key, _, setting = item.partition("=")
        options.update({key: setting} if setting else {"layout": key})
    return name, spec, options


def _user_factory(spec, layout):
    """A callable with the built-in networks' constructor that builds ``UserModel``s."""
    from .user_model import UserModel
    cls = load_user_class(spec)

    def build(layer_sizes, activations, precision_config=None, seed=42, loss="mse"):
        return UserModel(cls, layer_sizes, activations, precision_config, seed, loss, layout)
    return build
