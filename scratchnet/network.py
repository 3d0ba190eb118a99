"""The NumPy multilayer perceptron, written from scratch.

Each dense layer is a ``dense_forward``/``dense_backward`` pair; activations and
losses are pure forward/backward pairs from their registries. Weights are
stored as ``W`` (fan_in, fan_out) and ``b`` (fan_out,), so a layer computes
``z = a_prev @ W + b``.
"""
from __future__ import annotations

import numpy as np

from .activations import get_activation
from .base import BaseNetwork
from .losses import get_loss
from .validation import check_features, check_labels


def dense_forward(a_prev, W, b):
    """(N, in) @ (in, out) + (out,) -> z (N, out)."""
    return a_prev @ W + b  # (N, out)


def dense_backward(dz, a_prev, W):
    """Gradients of z = a_prev @ W + b: returns (da_prev (N, in), dW (in, out), db (out,))."""
    dW = a_prev.T @ dz  # (in, out)
    db = dz.sum(axis=0)  # (out,)
    da_prev = dz @ W.T  # (N, in)
    return da_prev, dW, db


class NeuralNetwork(BaseNetwork):
    """A fully connected network in NumPy, trained with mini-batch SGD.

    ``NeuralNetwork(layer_sizes=[784, 64, 10], activations=["relu", "softmax"],
    precision_config=PrecisionConfig(), seed=42, loss="mse")``
    """

    framework = "scratch_numpy"

    def __init__(self, layer_sizes, activations, precision_config=None, seed=42, loss="mse"):
        super().__init__(layer_sizes, activations, precision_config, seed, loss)
        self._activation_fns = [get_activation(name) for name in self.activations]
        self._loss_fn = get_loss(self.loss)

    def _set_params(self, params):
        self._params = [(np.array(W, dtype=self.train_dtype), np.array(b, dtype=self.train_dtype))
                        for W, b in params]
        self._cast_cache = {}

    def _get_params(self):
        return self._params

    def _prepare_training_data(self, X, labels):
        self._cast_cache = {}  # fit changes the weights; casts made before are stale
        return X, labels

    def _forward_cached(self, X, params):
        """Run every layer; return the per-layer caches [(a_prev, z, a)], last layer last."""
        caches = []
        a = X  # (N, D)
        for (W, b), activation in zip(params, self._activation_fns):
            z = dense_forward(a, W, b)  # (N, out)
            out = activation.forward(z)  # (N, out)
            caches.append((a, z, out))
            a = out
        return caches

    def _loss_and_gradients(self, xb, yb):
        """Forward and backward pass on one batch with the current weights.

        Returns (loss, output activations (B, K), [(dW (in, out), db (out,)), ...]);
        the gradients are None when the loss is not finite.
        """
        caches = self._forward_cached(xb, self._params)
        _, z_last, a_last = caches[-1]
        loss_input = z_last if self._loss_fn.on_logits else a_last
        loss = self._loss_fn.forward(loss_input, yb)
        if not np.isfinite(loss):
            return loss, a_last, None
        dloss = self._loss_fn.backward(loss_input, yb)  # (B, K)
        if self._loss_fn.on_logits:
            dz = dloss  # closed form: d(loss)/d(logits), softmax backward skipped
        else:
            dz = self._activation_fns[-1].backward(dloss, z_last, a_last)  # (B, K)
        grads = [None] * len(self._params)
        for layer in range(len(self._params) - 1, -1, -1):
            da_prev, dW, db = dense_backward(dz, caches[layer][0], self._params[layer][0])
            grads[layer] = (dW, db)
            if layer > 0:
                _, z_prev, a_prev = caches[layer - 1]
                dz = self._activation_fns[layer - 1].backward(da_prev, z_prev, a_prev)  # (B, in)
        return loss, a_last, grads

    def loss_and_gradients(self, X, y):
        """The loss on (X, y) and its gradient for every layer, without changing the weights.

        Returns (loss, [(dW (fan_in, fan_out), db (fan_out,)), ...]) in ``train_dtype``:
        what one SGD step of ``fit`` on this batch would use.
        """
        X = check_features(X, self.layer_sizes[0])
        labels = check_labels(y, X.shape[0], self.layer_sizes[-1])
        with np.errstate(over="ignore", invalid="ignore"):
            loss, _, grads = self._loss_and_gradients(X.astype(self.train_dtype, copy=False), labels)
        return loss, grads

    def _train_step(self, data, batch, alpha):
        X, labels = data
        with np.errstate(over="ignore", invalid="ignore"):
            loss, outputs, grads = self._loss_and_gradients(X[batch], labels[batch])
            if grads is None:
                return loss, 0
            for (W, b), (dW, db) in zip(self._params, grads):
                W -= alpha * dW
                b -= alpha * db
        return loss, int(np.count_nonzero(outputs.argmax(axis=1) == labels[batch]))

    def _params_in(self, dtype):
        if dtype == self.train_dtype:
            return self._params
        if dtype not in self._cast_cache:
            self._cast_cache[dtype] = [(W.astype(dtype), b.astype(dtype)) for W, b in self._params]
        return self._cast_cache[dtype]

    def _logits_and_outputs(self, X, dtype):
        with np.errstate(over="ignore", invalid="ignore"):
            _, z, a = self._forward_cached(X.astype(dtype, copy=False), self._params_in(dtype))[-1]
        return z, a

    def _loss_value(self, logits, outputs, labels):
        loss_input = logits if self._loss_fn.on_logits else outputs
        return self._loss_fn.forward(loss_input.astype(np.float64), labels)
