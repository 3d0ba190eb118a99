"""Loss functions as forward/backward pairs of pure functions.

``"mse"`` compares the network's output activations with one-hot targets and
takes the mean over *all* N*K elements, exactly like
``torch.nn.functional.mse_loss(output, target)`` (reduction="mean").

``"cross_entropy"`` takes the *logits* (the last layer's pre-activation, the
input of its softmax) and integer labels and returns the mean over the N
samples of -log softmax(logits)[label], exactly like
``torch.nn.functional.cross_entropy(logits, labels)``. Its backward is the
closed form (softmax(z) - onehot) / N with respect to the logits, so the
softmax backward is skipped for it.

forward(inputs (N, K), labels (N,) int) -> scalar float
backward(inputs (N, K), labels (N,) int) -> dL/dinputs (N, K), dtype of inputs
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from .activations import softmax_forward
from .activations import lookup


class Loss(NamedTuple):
    name: str
    forward: Callable[[np.ndarray, np.ndarray], float]
    backward: Callable[[np.ndarray, np.ndarray], np.ndarray]
    #: True when the loss takes the logits z of the last layer, False when it
    #: takes the output activations a.
    on_logits: bool
    #: The loss of a guess that knows nothing, 1/K for every class, as a function of K:
    #: the scale a loss that has blown up is measured against (``divergence.DIVERGENCE_FACTOR``).
    chance: Callable[[int], float]
    #: The PyTorch twin's function of the same name in ``torch.nn.functional``; it takes
    #: one-hot float targets when the loss is on the outputs, integer labels when on logits.
    torch_function: str = ""


def one_hot(labels, n_classes, dtype=np.float64):
    """(N,) integer labels -> (N, n_classes) one-hot matrix of ``dtype``."""
    out = np.zeros((labels.shape[0], n_classes), dtype=dtype)  # (N, K)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


def mse_forward(output, labels):
    diff = output - one_hot(labels, output.shape[1], output.dtype)  # (N, K)
    return float(np.mean(diff * diff))


def mse_backward(output, labels):
    diff = output - one_hot(labels, output.shape[1], output.dtype)  # (N, K)
    return diff * (2 / output.size)  # (N, K)


def log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)  # (N, K)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, K)


def cross_entropy_forward(logits, labels):
    log_probs = log_softmax(logits)  # (N, K)
    return float(-log_probs[np.arange(labels.shape[0]), labels].mean())


def cross_entropy_backward(logits, labels):
    dz = softmax_forward(logits)  # (N, K)
    dz[np.arange(labels.shape[0]), labels] -= 1
    dz /= labels.shape[0]
    return dz  # (N, K)


LOSSES: dict[str, Loss] = {
    # mse of 1/K everywhere against one-hot targets: ((1 - 1/K)^2 + (K - 1)/K^2) / K
    "mse": Loss("mse", mse_forward, mse_backward, on_logits=False,
                chance=lambda k: (k - 1) / k ** 2, torch_function="mse_loss"),
    "cross_entropy": Loss("cross_entropy", cross_entropy_forward, cross_entropy_backward,
                          on_logits=True, chance=lambda k: float(np.log(k)),
                          torch_function="cross_entropy"),
}


def get_loss(name) -> Loss:
    """Return the loss registered under ``name`` (``"mse"`` or ``"cross_entropy"``)."""
    return lookup(LOSSES, "loss", name)


#: How a loss may reduce over the samples of a batch.
SAMPLE_REDUCTIONS = ("mean", "sum")
#: How the MSE may reduce the squared errors of one sample over its outputs: ``mean`` is
#: torch's ``mse_loss``; ``half_sum`` is the textbook C = 1/2 ||a - y||^2.
OUTPUT_REDUCTIONS = ("mean", "sum", "half_sum")
_OUTPUT_SCALE = {"mean": lambda k: 1.0, "sum": lambda k: float(k), "half_sum": lambda k: k / 2}


@dataclass(frozen=True)
class LossConvention:
    """A loss and how it reduces: over the batch's samples (``samples``) and, for MSE, over
    each sample's outputs (``outputs``). The default, mean and mean, is PyTorch's.

    Every convention is the default loss times a factor (``scale``), so its gradient is
    the default gradient times the same factor: training under it is SGD whose step is
    ``alpha * scale(batch rows, outputs)``. ``samples="sum"`` makes the factor depend on
    the batch's rows (a last partial batch takes a smaller step).
    """

    loss: str = "mse"
    samples: str = "mean"
    outputs: str = "mean"

    def __post_init__(self):
        object.__setattr__(self, "loss", get_loss(self.loss).name)
        for field, valid in (("samples", SAMPLE_REDUCTIONS), ("outputs", OUTPUT_REDUCTIONS)):
            value = getattr(self, field)
            if not isinstance(value, str) or value not in valid:
                raise ValueError(f"{field} must be one of {list(valid)}, got {value!r}")
        if get_loss(self.loss).on_logits and self.outputs != "mean":
            raise ValueError(f"outputs={self.outputs!r} is for the MSE only: cross-entropy "
                             f"sums over the classes by definition; leave outputs='mean'")

    def scale(self, n_rows, n_outputs):
        """This convention's loss (and gradient) over the default's, for a batch of
        ``n_rows`` samples and ``n_outputs`` outputs."""
        return ((n_rows if self.samples == "sum" else 1.0)
                * _OUTPUT_SCALE[self.outputs](n_outputs))

    @property
    def is_default(self):
        return self.samples == "mean" and self.outputs == "mean"

    @property
    def text(self):
        """``"mse"``, or ``"mse(samples=sum,outputs=half_sum)"``: what a checkpoint and a
        report keep, and what ``parse`` reads back."""
        extra = [f"{field}={getattr(self, field)}" for field in ("samples", "outputs")
                 if getattr(self, field) != "mean"]
        return self.loss + (f"({','.join(extra)})" if extra else "")

    def flags(self):
        """The command-line flags that declare this convention (empty for the default)."""
        parts = [] if self.loss == "mse" else [f"--loss {self.loss}"]
        parts += [f"--{field} {getattr(self, field)}" for field in ("samples", "outputs")
                  if getattr(self, field) != "mean"]
        return " ".join(parts)

    def describe(self):
        """In words, e.g. "MSE, half the sum over the outputs, mean over the samples"."""
        if self.loss == "mse":
            outputs = {"mean": "mean over the outputs", "sum": "summed over the outputs",
                       "half_sum": "half the sum over the outputs"}[self.outputs]
            head = f"MSE, {outputs}"
        else:
            head = "cross-entropy"
        return f"{head}, {'mean over' if self.samples == 'mean' else 'summed over'} the samples"

    @classmethod
    def parse(cls, value):
        """A convention from itself, a loss name, or its ``text``; ValueError naming what
        is accepted otherwise."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise TypeError(f"loss must be a name from {sorted(LOSSES)} or a "
                            f"scratchnet.nn.losses.LossConvention, got {type(value).__name__} {value!r}")
        match = _CONVENTION_TEXT.fullmatch(value)
        if match is None:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, optionally followed by "
                             f"(samples=mean|sum,outputs=mean|sum|half_sum), got {value!r}")
        fields = dict(item.split("=", 1) for item in filter(None, (match["extra"] or "").split(",")))
        unknown = set(fields) - {"samples", "outputs"}
        if unknown:
            raise ValueError(f"loss {value!r}: unknown reduction {sorted(unknown)[0]!r}; "
                             f"accepted: samples, outputs")
        return cls(match["name"], **fields)


_CONVENTION_TEXT = re.compile(r"(?P<name>[a-z_]+)(?:\((?P<extra>[a-z_=,]*)\))?")
