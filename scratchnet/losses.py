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

from typing import Callable, NamedTuple

import numpy as np

from .activations import softmax_forward
from .registry import lookup


class Loss(NamedTuple):
    name: str
    forward: Callable[[np.ndarray, np.ndarray], float]
    backward: Callable[[np.ndarray, np.ndarray], np.ndarray]
    #: True when the loss takes the logits z of the last layer, False when it
    #: takes the output activations a.
    on_logits: bool
    #: The loss of a guess that knows nothing, 1/K for every class, as a function of K:
    #: the scale a loss that has blown up is measured against (``base.DIVERGENCE_FACTOR``).
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
