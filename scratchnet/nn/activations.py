"""Activation functions as forward/backward pairs of pure functions.

Every forward takes the pre-activation ``z`` of shape (N, D) and returns
``a`` of the same shape and dtype. Every backward takes the upstream gradient
``da = dL/da`` (N, D) together with ``z`` and ``a`` from the forward pass and
returns ``dz = dL/dz`` (N, D). Nothing is stored between calls.

Each also has an in-place twin for the training engine, which reuses
preallocated buffers instead of allocating per batch: ``forward_(z)`` turns
the buffer ``z`` into ``a``; ``backward_(d, a, scratch)`` turns ``d = dL/da``
into ``dL/dz`` using only the output ``a`` (every derivative here can be
written in terms of it) and a scratch buffer of the same shape. The twins
compute the same values as the pure pairs (tests/test_activations.py).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np


def lookup(registry, kind, name):
    """``registry[name]``, or TypeError/ValueError naming ``kind`` and the valid names."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} names must be strings, got {type(name).__name__} {name!r}; "
                        f"valid: {sorted(registry)}")
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"unknown {kind} {name!r}; valid: {sorted(registry)}") from None


class Activation(NamedTuple):
    """One activation, and its name in every backend: this table is the only place an
    activation name is translated."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    forward_: Callable[[np.ndarray], None]
    backward_: Callable[[np.ndarray, np.ndarray, np.ndarray], None]
    torch_module: str  # the torch.nn class of the PyTorch twin's layer
    onnx_op: str | None  # the ONNX operator of the exported graph (None: no node)
    initializer: str  # "he" (normal, sqrt(2 / fan_in)) or "glorot" (uniform); see init.py
    torch_kwargs: dict = {}
    onnx_attributes: dict = {}


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


# ------------------------------------------------------------- in-place twins
# A Python scalar operand makes NumPy 2 work out its type on every call (NEP 50), and a
# comparison into a float array casts through a buffer: on an 8 x 64 batch
# ``np.greater(a, 0, out=float_scratch)`` took 4.7 us, against 2.5 us with a 0-d
# array of a's own dtype. The in-place twins take their constants from here.
_ZEROS = {}


def _zero(dtype):
    """A 0-d zero of ``dtype``, made once per dtype."""
    zero = _ZEROS.get(dtype)
    if zero is None:
        zero = _ZEROS[dtype] = np.zeros((), dtype)
    return zero


def relu_forward_(z):
    np.maximum(z, _zero(z.dtype), out=z)


#: relu's in-place backward takes its 0/1 mask from np.sign below this many elements, from a
#: comparison above. A comparison writes bools, cast to floats through a buffer; sign has no
#: SIMD loop. Measured here, sign then multiply over greater then multiply: 0.56 at 8 x 16,
#: 0.67 at 8 x 64, 0.87 at 32 x 64, 1.03-1.17 at 4096 elements, 1.85 at 128 x 256.
RELU_SIGN_BELOW = 3000


def relu_backward_(d, a, scratch):
    if a.size < RELU_SIGN_BELOW:
        np.sign(a, out=scratch)  # a = relu(z) >= 0: its sign is 1 exactly where z > 0, else 0
    else:
        np.greater(a, _zero(a.dtype), out=scratch)  # a > 0 exactly where z > 0
    d *= scratch


def sigmoid_forward_(z):
    with np.errstate(over="ignore"):
        np.negative(z, out=z)
        np.exp(z, out=z)
    z += 1
    np.reciprocal(z, out=z)


def sigmoid_backward_(d, a, scratch):
    np.subtract(1, a, out=scratch)
    scratch *= a
    d *= scratch


def tanh_forward_(z):
    np.tanh(z, out=z)


def tanh_backward_(d, a, scratch):
    np.multiply(a, a, out=scratch)
    np.subtract(1, scratch, out=scratch)
    d *= scratch


def linear_forward_(z):
    pass


def linear_backward_(d, a, scratch):
    pass


# ufunc.reduce directly: ndarray.max/sum add a Python wrapper that costs as much
# as the reduction itself on a (32, 10) batch.
def softmax_forward_(z):
    z -= np.maximum.reduce(z, axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= np.add.reduce(z, axis=1, keepdims=True)


def softmax_backward_(d, a, scratch):
    np.multiply(d, a, out=scratch)
    d -= np.add.reduce(scratch, axis=1, keepdims=True)
    d *= a


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", relu_forward, relu_backward, relu_forward_, relu_backward_,
                       "ReLU", "Relu", "he"),
    "sigmoid": Activation("sigmoid", sigmoid_forward, sigmoid_backward, sigmoid_forward_,
                          sigmoid_backward_, "Sigmoid", "Sigmoid", "glorot"),
    "tanh": Activation("tanh", tanh_forward, tanh_backward, tanh_forward_, tanh_backward_,
                       "Tanh", "Tanh", "glorot"),
    "linear": Activation("linear", linear_forward, linear_backward, linear_forward_,
                         linear_backward_, "Identity", None, "glorot"),
    "softmax": Activation("softmax", softmax_forward, softmax_backward, softmax_forward_,
                          softmax_backward_, "Softmax", "Softmax", "glorot",
                          torch_kwargs={"dim": 1}, onnx_attributes={"axis": 1}),
}

#: Activations allowed only on the last layer (they normalise across a row).
OUTPUT_ONLY = frozenset({"softmax"})


def get_activation(name) -> Activation:
    """Return the activation registered under ``name`` (lowercase, e.g. ``"relu"``)."""
    return lookup(ACTIVATIONS, "activation", name)
