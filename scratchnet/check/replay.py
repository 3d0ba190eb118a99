"""The twin's training, replayed in float64 NumPy under a variant: what ``check`` uses
to find the variant that reproduces a user's numbers.

``Variant()`` is the twin exactly: its batch order (``numpy.random.default_rng(seed)
.permutation(N)`` each epoch), the last partial batch trained on, plain SGD with the
declared loss convention, backpropagation through the weights from before the step.
Each field changes one thing a real network may do differently, on purpose or by
mistake; ``train`` and ``gradients`` read them. The step is written out as a student
would write it (forward, output delta, back through each layer), so a variant is one
``if`` where it acts; tests hold ``Variant()`` equal to the PyTorch twin to round-off.
"""
from __future__ import annotations

import dataclasses
import random

import numpy as np

from ..nn.activations import get_activation
from ..nn.losses import LossConvention, one_hot
from ..nn.step import forward  # the forward pass as it is taught; the variants are in the backward

#: The batch orders a variant may take, and what each is in words.
ORDERS = {
    "twin": "numpy.random.default_rng(seed).permutation(N) each epoch (the twin's)",
    "none": "no shuffle: the samples in their given order every epoch",
    "reseeded": "the same permutation every epoch (default_rng(seed) made anew each epoch)",
    "twin_in_place": "default_rng(seed).shuffle of the previous epoch's order, in place",
    "legacy": "NumPy's legacy RandomState(seed).permutation(N) each epoch "
              "(np.random.seed(seed); np.random.permutation)",
    "legacy_in_place": "NumPy's legacy RandomState(seed).shuffle of the previous epoch's order "
                       "(np.random.shuffle in place; scikit-learn's MLP)",
    "python": "Python's random.Random(seed).shuffle of range(N) each epoch",
    "python_in_place": "Python's random.shuffle, seeded with fit's seed, of the previous epoch's "
                       "order, in place (Nielsen's network.py)",
}


@dataclasses.dataclass(frozen=True)
class Variant:
    """One way of training; the defaults are the twin's."""

    order: str = "twin"  # a key of ORDERS
    drop_last: bool = False  # the last partial batch is not trained on
    full_batch: bool = False  # one step on all samples per epoch, whatever batch_size says
    momentum: float = 0.0  # PyTorch's SGD momentum: v = mu * v + g; W -= alpha * v
    weight_decay: float = 0.0  # L2: g += lambda * W
    decay_bias: bool = False  # ... and g_b += lambda * b
    updated_backprop: bool = False  # the error is sent back through W after its update
    bias_mean: bool = False  # db is the mean over the batch's rows, not the sum
    flip_layer: int = 0  # this layer's (1-based) update is added instead of subtracted
    derivative_from_z: bool = False  # f'(a) computed from z: sigmoid z(1 - z), tanh 1 - z^2
    loss: LossConvention | None = None  # another convention than the declared one
    scale: float = 1.0  # every step times this (a scaled learning rate, or loss)


def epoch_orders(order, seed, n_samples, epochs):
    """The sample order of each epoch under ``order`` (a key of ``ORDERS``)."""
    if order == "twin":
        rng = np.random.default_rng(seed)
        return [rng.permutation(n_samples) for _ in range(epochs)]
    if order == "none":
        return [np.arange(n_samples)] * epochs
    if order == "reseeded":
        return [np.random.default_rng(seed).permutation(n_samples)] * epochs
    if order in ("legacy", "legacy_in_place", "twin_in_place"):
        rng = (np.random.default_rng(seed) if order == "twin_in_place"
               else np.random.RandomState(seed))
        index, orders = np.arange(n_samples), []
        for _ in range(epochs):
            if order == "legacy":
                index = rng.permutation(n_samples)
            else:
                rng.shuffle(index)
            orders.append(index.copy())
        return orders
    if order in ("python", "python_in_place"):
        rng, index, orders = random.Random(seed), list(range(n_samples)), []
        for _ in range(epochs):
            if order == "python":
                index = list(range(n_samples))
            rng.shuffle(index)
            orders.append(np.array(index))
        return orders
    raise ValueError(f"order must be one of {list(ORDERS)}, got {order!r}")


#: The activations whose derivative is written from their output a, where a student may
#: write it from z by mistake.
FROM_A = ("sigmoid", "tanh")


def _derivative(name, da, z, a, from_z):
    """dL/dz of a layer from dL/da; ``from_z`` puts z where a sigmoid's or tanh's
    derivative wants a."""
    return get_activation(name).backward(da, z, z if from_z and name in FROM_A else a)


def _output_delta(zs, acts, labels, convention, activations, from_z):
    """dL/dz of the output layer (B, K) for the convention's loss on this batch."""
    z, a = zs[-1], acts[-1]
    rows, outputs = a.shape
    scale = convention.scale(rows, outputs)
    if convention.loss == "cross_entropy":  # softmax + cross-entropy: (p - y) / B
        return (a - one_hot(labels, outputs)) * (scale / rows)
    da = (a - one_hot(labels, outputs)) * (2 * scale / a.size)  # (B, K)
    return _derivative(activations[-1], da, z, a, from_z)


def loss_value(weights, X, labels, convention, activations):
    """The convention's loss of the batch."""
    _, acts = forward(weights, activations, X)
    a, rows, outputs = acts[-1], X.shape[0], acts[-1].shape[1]
    if convention.loss == "cross_entropy":
        base = -np.mean(np.log(a[np.arange(rows), labels]))
    else:
        base = np.mean((a - one_hot(labels, outputs)) ** 2)
    return float(base * convention.scale(rows, outputs))


def gradients(weights, X, labels, convention, activations, variant=Variant()):
    """[(dW, db)] of the convention's loss on (X, labels), with the variant's derivative
    and bias reduction."""
    grads, _ = _step(weights, X, labels, convention, activations, variant, alpha=None)
    return grads


def _step(weights, X, labels, convention, activations, variant, alpha, velocity=None):
    """One batch: the gradients, and with ``alpha`` the weights after the SGD step."""
    convention = variant.loss or convention
    from_z = variant.derivative_from_z
    zs, acts = forward(weights, activations, X)
    delta = _output_delta(zs, acts, labels, convention, activations, from_z)  # (B, K)
    new = [(W.copy(), b.copy()) for W, b in weights]
    grads = [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        W, b = weights[layer]
        dW = acts[layer].T @ delta  # (in, out)
        db = delta.mean(axis=0) if variant.bias_mean else delta.sum(axis=0)  # (out,)
        dW, db = dW + variant.weight_decay * W, db + (variant.weight_decay * b
                                                      if variant.decay_bias else 0)
        grads[layer] = (dW, db)
        if alpha is not None:
            if velocity is not None:  # PyTorch's momentum: v = mu v + g, the step alpha v
                vW, vb = velocity[layer]
                dW = velocity[layer][0] = variant.momentum * vW + dW
                db = velocity[layer][1] = variant.momentum * vb + db
            step = alpha * variant.scale * (-1.0 if variant.flip_layer == layer + 1 else 1.0)
            new[layer] = (W - step * dW, b - step * db)
        if layer > 0:
            through = new[layer][0] if variant.updated_backprop else W
            delta = _derivative(activations[layer - 1], delta @ through.T, zs[layer - 1],
                                acts[layer], from_z)  # (B, in)
    return grads, new


def train(weights, X, labels, convention, activations, variant, *, epochs, alpha, batch_size,
          seed):
    """The weights after ``fit(X, labels, epochs, alpha, batch_size, seed)`` under the
    variant, from ``weights`` (a list of (W (in, out), b (out,)) float64)."""
    weights = [(np.array(W, np.float64), np.array(b, np.float64)) for W, b in weights]
    X = np.asarray(X, np.float64)
    n_samples = X.shape[0]
    velocity = ([[np.zeros_like(W), np.zeros_like(b)] for W, b in weights]
                if variant.momentum else None)
    for order in epoch_orders(variant.order, seed, n_samples, epochs):
        size = n_samples if variant.full_batch else batch_size
        for start in range(0, n_samples, size):
            rows = order[start:start + size]
            if variant.drop_last and len(rows) < size:
                break
            _, weights = _step(weights, X[rows], labels[rows], convention, activations, variant,
                               alpha, velocity)
    return weights
