"""One training step of the network, written the way it is taught: forward, loss,
backward, update, one formula a line, nothing in place, nothing fused.

Weights are ``W`` (fan_in, fan_out) and ``b`` (fan_out,); a layer computes
``z = a_prev @ W + b`` and ``a = f(z)``. Backward, from the last layer:
``dW = a_prev.T @ dz``, ``db = sum(dz)``, ``da_prev = dz @ W.T`` and
``dz_prev = f'(z_prev) * da_prev``. The loss is the mean over the batch (MSE also over
the outputs, as ``torch.nn.functional.mse_loss``); cross-entropy takes the last layer's
logits, so its gradient with respect to them is ``(softmax(z) - onehot(y)) / B``.

``NeuralNetwork`` (``network.py``) computes exactly this with preallocated buffers, in
place, and (on one BLAS thread) with each update fused into the product that makes its
gradient; the tests hold the two equal to round-off, step by step and over whole fits.
"""
from __future__ import annotations

from .activations import get_activation
from .losses import get_loss


def forward(params, activations, x):
    """The pre-activations ``zs`` and the activations ``As`` (``As[0]`` is ``x``)."""
    zs, As = [], [x]
    for (W, b), name in zip(params, activations):
        z = As[-1] @ W + b  # (B, fan_out)
        zs.append(z)
        As.append(get_activation(name).forward(z))
    return zs, As


def output_gradient(loss, activation, z, a, labels):
    """The loss on the batch and dL/dz of the last layer."""
    loss_fn = get_loss(loss)
    if loss_fn.on_logits:  # cross-entropy: the gradient with respect to the logits directly
        return loss_fn.forward(z, labels), loss_fn.backward(z, labels)
    da = loss_fn.backward(a, labels)  # dL/da (B, K)
    return loss_fn.forward(a, labels), get_activation(activation).backward(da, z, a)


def backward(params, activations, zs, As, dz):
    """[(dW, db)] of every layer, from dL/dz of the last."""
    grads = [None] * len(params)
    for layer in range(len(params) - 1, -1, -1):
        W, _ = params[layer]
        grads[layer] = (As[layer].T @ dz, dz.sum(axis=0))  # (fan_in, fan_out), (fan_out,)
        if layer > 0:
            da_prev = dz @ W.T  # (B, fan_in), with W before its update
            dz = get_activation(activations[layer - 1]).backward(da_prev, zs[layer - 1], As[layer])
    return grads


def sgd_update(params, grads, step):
    """New weights: each minus ``step`` times its gradient."""
    return [(W - step * dW, b - step * db) for (W, b), (dW, db) in zip(params, grads)]


def train_step(params, activations, loss, x, labels, alpha, scale=1.0):
    """One step of mini-batch SGD on (x, labels): (the loss before it, the new weights).
    ``scale`` is the loss convention's factor for this batch (``LossConvention.scale``)."""
    zs, As = forward(params, activations, x)
    value, dz = output_gradient(loss, activations[-1], zs[-1], As[-1], labels)
    grads = backward(params, activations, zs, As, dz)
    return value, sgd_update(params, grads, alpha * scale)
