"""A user's network seen through the protocol, W always (fan_in, fan_out): the values
its methods return, read as float64 arrays of the shapes the checks compare, and the
weights it is given, written in its own layout. Used on the values a ``check`` worker
sends back and, in a comparison's worker, on a live instance (``UserView``).
"""
from __future__ import annotations

import numpy as np


class WeightsError(ValueError):
    """get_weights returned something other than the network's (W, b) pairs."""


class ShapeError(ValueError):
    """A method returned an array of the wrong shape."""


def as_array(value):
    """float64 NumPy array of a NumPy array, a list or a torch tensor (detached)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def read_weights(pairs, n_layers, layout):
    """[(W (fan_in, fan_out), b (fan_out,))] as float64 from what ``get_weights`` returned,
    a b of shape (fan_out, 1) or (1, fan_out) flattened; WeightsError if it is not a list
    of ``n_layers`` numeric pairs."""
    if not isinstance(pairs, (list, tuple)) or not all(
            isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in pairs):
        raise WeightsError(f"get_weights must return a list of (W, b) pairs, got "
                           f"{type(pairs).__name__}")
    if len(pairs) != n_layers:
        raise WeightsError(f"get_weights returned {len(pairs)} (W, b) pairs, expected "
                           f"{n_layers}, one per layer")
    try:
        return [(as_array(W).T if layout == "out_in" else as_array(W), as_array(b).reshape(-1))
                for W, b in pairs]
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"get_weights returned values that are not numeric arrays: "
                           f"{type(exc).__name__}: {exc}") from None


def raw_shapes(pairs):
    """[(W's shape, b's shape)] exactly as returned, before any reading."""
    return [(np.shape(W), np.shape(b)) for W, b in pairs]


def write_weights(weights, layout):
    """[(W, b)] (W (fan_in, fan_out)) as the class takes them: copies, W transposed for
    ``out_in``."""
    return [(np.array(W.T if layout == "out_in" else W), np.array(b)) for W, b in weights]


def read_outputs(out, n_rows, n_outputs, method="forward"):
    """The outputs (N, K) as float64; ShapeError if ``method`` returned another shape."""
    out = as_array(out)
    if out.shape != (n_rows, n_outputs):
        raise ShapeError(f"{method} returned shape {out.shape}, expected ({n_rows}, {n_outputs})")
    return out


def read_gradients(grads, layout):
    """[(dW (fan_in, fan_out), db (fan_out,))] as float64 from ``loss_and_gradients``."""
    return [(as_array(dW).T if layout == "out_in" else as_array(dW), as_array(db).reshape(-1))
            for dW, db in grads]


class UserView:
    """A live instance behind ``get_weights``/``set_weights`` of (W (fan_in, fan_out), b)
    pairs and ``forward``, whatever its ``layout``."""

    def __init__(self, model, layout):
        self.model, self.layout = model, layout

    def get_weights(self, n_layers):
        return read_weights(self.model.get_weights(), n_layers, self.layout)

    def set_weights(self, weights):
        self.model.set_weights(write_weights(weights, self.layout))

    def forward(self, X, n_outputs):
        return read_outputs(self.model.forward(X), X.shape[0], n_outputs)
