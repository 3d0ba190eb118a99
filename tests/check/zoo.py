"""A zoo of networks for `scratchnet check`: ``Student`` is a plain NumPy MLP written the
way a course teaches it (W (in, out), mean squared error over every element, the twin's
batch order); every other class changes one thing, a loss convention some book or
library uses, or a bug a student makes. ``EXPECTED`` in test_zoo.py says what the card
must find for each.
"""
import os
import random
import warnings

import numpy as np


def activate(name, z):
    if name == "relu":
        return np.maximum(z, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return z


def derivative(name, z, a):
    """f'(z), written from the activation a where that is how it is taught."""
    if name == "relu":
        return (z > 0).astype(float)
    if name == "sigmoid":
        return a * (1 - a)
    if name == "tanh":
        return 1 - a * a
    return np.ones_like(z)


class Student:
    def __init__(self, layer_sizes, activations, seed=0):
        rng = np.random.default_rng(seed)
        self.activations = list(activations)
        self.W = [rng.normal(0, 0.1, (m, n)) for m, n in zip(layer_sizes[:-1], layer_sizes[1:])]
        self.b = [np.zeros(n) for n in layer_sizes[1:]]

    # ---------------------------------------------------------------- weights
    def get_weights(self):
        return [(W.copy(), b.copy()) for W, b in zip(self.W, self.b)]

    def set_weights(self, weights):
        self.W = [np.array(W, dtype=float) for W, _ in weights]
        self.b = [np.array(b, dtype=float) for _, b in weights]

    # ---------------------------------------------------------------- forward
    def forward(self, X):
        self.zs, self.acts = [], [np.asarray(X, dtype=float)]
        for W, b, name in zip(self.W, self.b, self.activations):
            z = self.acts[-1] @ W + b
            self.zs.append(z)
            self.acts.append(activate(name, z))
        return self.acts[-1]

    def predict(self, X):
        return self.forward(X).argmax(axis=1)

    # --------------------------------------------------------------- backward
    def output_delta(self, out, onehot):
        """dL/dz of the output layer: MSE over all N*K elements."""
        da = 2 * (out - onehot) / out.size
        if self.activations[-1] == "softmax":
            return out * (da - (da * out).sum(axis=1, keepdims=True))
        return da * derivative(self.activations[-1], self.zs[-1], out)

    def hidden_delta(self, layer, upstream):
        return upstream * derivative(self.activations[layer], self.zs[layer], self.acts[layer + 1])

    def gradients(self, X, y):
        out = self.forward(X)
        onehot = np.eye(out.shape[1])[y]
        delta = self.output_delta(out, onehot)
        grads = [None] * len(self.W)
        for layer in range(len(self.W) - 1, -1, -1):
            grads[layer] = (self.acts[layer].T @ delta, self.bias_gradient(delta))
            if layer > 0:
                delta = self.hidden_delta(layer - 1, delta @ self.W[layer].T)
        return grads

    def bias_gradient(self, delta):
        return delta.sum(axis=0)

    def update(self, grads, alpha):
        for layer, (dW, db) in enumerate(grads):
            self.W[layer] -= alpha * dW
            self.b[layer] -= alpha * db

    # --------------------------------------------------------------- training
    def epoch_order(self, rng, n):
        return rng.permutation(n)

    def batches(self, order, batch_size):
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]

    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        rng = np.random.default_rng(seed)
        for _ in range(epochs):
            for rows in self.batches(self.epoch_order(rng, len(X)), batch_size):
                self.update(self.gradients(X[rows], y[rows]), alpha)


# ------------------------------------------------------- conventions, correct code
class HalfSumMSE(Student):
    """C = 1/2 ||a - y||^2 per sample, mean over the batch (Nielsen's book)."""

    def output_delta(self, out, onehot):
        return super().output_delta(out, onehot) * out.shape[1] / 2


class SumOverOutputsMSE(Student):
    def output_delta(self, out, onehot):
        return super().output_delta(out, onehot) * out.shape[1]


class SumEverythingMSE(Student):
    """The squared error summed over the outputs and the samples."""

    def output_delta(self, out, onehot):
        return super().output_delta(out, onehot) * out.size


class CrossEntropy(Student):
    """Softmax and cross-entropy, mean over the batch (PyTorch's, scikit-learn's)."""

    def output_delta(self, out, onehot):
        return (out - onehot) / len(out)


class CrossEntropySum(Student):
    def output_delta(self, out, onehot):
        return out - onehot


class OutIn(Student):
    """Stores W as (out, in), as torch.nn.Linear does."""

    def get_weights(self):
        return [(W.T.copy(), b.copy()) for W, b in zip(self.W, self.b)]

    def set_weights(self, weights):
        super().set_weights([(np.array(W).T, b) for W, b in weights])


# ---------------------------------------------------------------------- bugs
class MissingTwo(Student):
    def output_delta(self, out, onehot):
        return super().output_delta(out, onehot) / 2


class SignFlippedLayer(Student):
    """The first layer's update is added."""

    def update(self, grads, alpha):
        super().update([(-dW, -db) if layer == 0 else (dW, db)
                        for layer, (dW, db) in enumerate(grads)], alpha)


class AlphaAdded(Student):
    def update(self, grads, alpha):
        super().update(grads, -alpha)


class BiasAveraged(Student):
    def bias_gradient(self, delta):
        return delta.mean(axis=0)


class DerivativeFromZ(Student):
    """sigmoid'(z) written as z (1 - z)."""

    def hidden_delta(self, layer, upstream):
        z = self.zs[layer]
        if self.activations[layer] == "sigmoid":
            return upstream * z * (1 - z)
        return super().hidden_delta(layer, upstream)


class UpdatesBeforeBackprop(Student):
    """Each layer is updated as soon as its gradient is known, before the error goes on
    through it."""

    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        rng = np.random.default_rng(seed)
        for _ in range(epochs):
            for rows in self.batches(self.epoch_order(rng, len(X)), batch_size):
                out = self.forward(X[rows])
                delta = self.output_delta(out, np.eye(out.shape[1])[y[rows]])
                for layer in range(len(self.W) - 1, -1, -1):
                    self.W[layer] -= alpha * self.acts[layer].T @ delta
                    self.b[layer] -= alpha * delta.sum(axis=0)
                    if layer > 0:
                        delta = self.hidden_delta(layer - 1, delta @ self.W[layer].T)


class WeightDecay(Student):
    decay = 0.01

    def update(self, grads, alpha):
        super().update([(dW + self.decay * W, db) for (dW, db), W in zip(grads, self.W)], alpha)


class Momentum(Student):
    mu = 0.9

    def update(self, grads, alpha):
        if not hasattr(self, "velocity"):
            self.velocity = [(np.zeros_like(W), np.zeros_like(b)) for W, b in zip(self.W, self.b)]
        self.velocity = [(self.mu * vW + dW, self.mu * vb + db)
                         for (vW, vb), (dW, db) in zip(self.velocity, grads)]
        super().update(self.velocity, alpha)


class NoShuffle(Student):
    def epoch_order(self, rng, n):
        return np.arange(n)


class LegacyShuffle(Student):
    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        np.random.seed(seed)
        self.epoch_order = lambda rng, n: np.random.permutation(n)
        super().fit(X, y, epochs, alpha, batch_size, seed)


class PythonShuffle(Student):
    """random.shuffle of the same list every epoch."""

    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        random.seed(seed)
        order = list(range(len(X)))

        def shuffled(rng, n):
            random.shuffle(order)
            return np.array(order)
        self.epoch_order = shuffled
        super().fit(X, y, epochs, alpha, batch_size, seed)


class UnseededShuffle(Student):
    """Shuffles with a generator fit's seed does not reach."""

    def epoch_order(self, rng, n):
        return np.random.default_rng(12345).permutation(n)


class DropLast(Student):
    def batches(self, order, batch_size):
        return [rows for rows in super().batches(order, batch_size) if len(rows) == batch_size]


class FullBatch(Student):
    def batches(self, order, batch_size):
        return [order]


class Float32Weights(Student):
    def set_weights(self, weights):
        super().set_weights(weights)
        self.W = [W.astype(np.float32) for W in self.W]
        self.b = [b.astype(np.float32) for b in self.b]


class BiasColumn(Student):
    def get_weights(self):
        return [(W.copy(), b.reshape(-1, 1).copy()) for W, b in zip(self.W, self.b)]

    def set_weights(self, weights):
        super().set_weights([(W, np.ravel(b)) for W, b in weights])


class WrongHiddenDerivative(Student):
    """relu's derivative taken as 1 everywhere: no variant reproduces this."""

    def hidden_delta(self, layer, upstream):
        return upstream


class BiasesNeverUpdated(Student):
    def update(self, grads, alpha):
        super().update([(dW, np.zeros_like(db)) for dW, db in grads], alpha)


# -------------------------------------------------------------- hostile code
class ExitsWhenBuilt(Student):
    def __init__(self, layer_sizes, activations, seed=0):
        os._exit(0)


class CrashesInFit(Student):
    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        import ctypes
        ctypes.string_at(0)  # reads address 0: SIGSEGV


class SwallowsEverything(Student):
    """A fit that never returns and catches every exception and signal it can."""

    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        import signal
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
            signal.signal(number, signal.SIG_IGN)
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass


class Chatty(Student):
    """Correct, and talks: prints every epoch and warns."""

    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        super().fit(X, y, epochs, alpha, batch_size, seed)
        for epoch in range(epochs):
            print(f"Epoch {epoch} complete")
        warnings.warn("learning rate looks high", UserWarning)


class ExitsInForward(Student):
    def forward(self, X):
        if np.isnan(np.asarray(X)).any():
            raise SystemExit(3)
        return super().forward(X)


class BrokenForward(Student):
    def forward(self, X):
        raise RuntimeError("forward is not written yet")


class FixedDepth(Student):
    """Ignores layer_sizes: always three layers."""

    def __init__(self, layer_sizes, activations, seed=0):
        super().__init__([layer_sizes[0], 16, 16, layer_sizes[-1]], ["relu", "relu", "softmax"], seed)

    def set_weights(self, weights):
        if len(weights) != 3:
            raise ValueError(f"expected 3 (W, b) pairs, got {len(weights)}")
        super().set_weights(weights)
