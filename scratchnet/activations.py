"""Activation functions as forward/backward pairs of pure functions.

Every forward takes the pre-activation ``z`` of shape (N, D) and returns
``a`` of the same shape and dtype. Every backward takes the upstream gradient
``da = dL/da`` (N, D) together with ``z`` and ``a`` from the forward pass and
returns ``dz = dL/dz`` (N, D). Nothing is stored between calls.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .registry import lookup


class Activation(NamedTuple):
    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def relu_forward(z):
    return np.maximum(z, 0)  # (N, D)


def relu_backward(da, z, a):
    # The derivative at exactly 0 is taken as 0, as torch does.
    return da * (z > 0)  # (N, D)


def sigmoid_forward(z):
    # exp(-z) overflows to inf for z < -709 (float64); 1/(1+inf) is the right limit 0.
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))  # (N, D)


def sigmoid_backward(da, z, a):
    return da * a * (1 - a)  # (N, D)


def tanh_forward(z):
    return np.tanh(z)  # (N, D)


def tanh_backward(da, z, a):
    return da * (1 - a * a)  # (N, D)


def linear_forward(z):
    return z


def linear_backward(da, z, a):
    return da


def softmax_forward(z):
    """Row-wise softmax; the row maximum is subtracted first so exp never overflows."""
    shifted = z - z.max(axis=1, keepdims=True)  # (N, D)
    exp = np.exp(shifted)  # (N, D)
    return exp / exp.sum(axis=1, keepdims=True)  # (N, D)


def softmax_backward(da, z, a):
    """Jacobian-vector product of softmax: dz_i = a_i (da_i - sum_j da_j a_j)."""
    return a * (da - (da * a).sum(axis=1, keepdims=True))  # (N, D)


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", relu_forward, relu_backward),
    "sigmoid": Activation("sigmoid", sigmoid_forward, sigmoid_backward),
    "tanh": Activation("tanh", tanh_forward, tanh_backward),
    "linear": Activation("linear", linear_forward, linear_backward),
    "softmax": Activation("softmax", softmax_forward, softmax_backward),
}

#: Activations allowed only on the last layer (they normalise across a row).
OUTPUT_ONLY = frozenset({"softmax"})


def get_activation(name) -> Activation:
    """Return the activation registered under ``name`` (lowercase, e.g. ``"relu"``)."""
    return lookup(ACTIVATIONS, "activation", name)
