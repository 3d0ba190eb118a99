"""The one weight initializer both models use.

He (Kaiming) normal for layers whose activation says "he" (ReLU), std = sqrt(2 / fan_in);
Glorot (Xavier) uniform for every other activation, limit = sqrt(6 / (fan_in + fan_out));
biases zero. Weights are drawn in float64 from ``numpy.random.default_rng(seed)``,
layer by layer, and cast afterwards, so a float32 and a float64 network of the
same seed start from the same values up to rounding, and the PyTorch twin
copies exactly these arrays.
"""
from __future__ import annotations

import numpy as np

from .activations import get_activation


def initial_std(fan_in, fan_out, activation):
    """The standard deviation of a layer's initial weights: sqrt(2 / fan_in) for He normal,
    limit / sqrt(3) = sqrt(2 / (fan_in + fan_out)) for Glorot uniform."""
    he = get_activation(activation).initializer == "he"
    return float(np.sqrt(2.0 / fan_in if he else 2.0 / (fan_in + fan_out)))


def initialize_weights(layer_sizes, activations, seed):
    """Return a list of (W (fan_in, fan_out), b (fan_out,)) float64 arrays."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out, activation in zip(layer_sizes[:-1], layer_sizes[1:], activations):
        if get_activation(activation).initializer == "he":
            W = rng.normal(0.0, initial_std(fan_in, fan_out, activation),
                           size=(fan_in, fan_out))  # (in, out)
        else:
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-limit, limit, size=(fan_in, fan_out))  # (in, out)
        params.append((W, np.zeros(fan_out)))
    return params
