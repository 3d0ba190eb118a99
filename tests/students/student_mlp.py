"""A network written the way a student writes one, to be checked by ``scratchnet check``:
the seed's interface, plain NumPy, float64, MSE on softmax or sigmoid outputs.

``StudentNetwork`` is correct; each subclass below plants one bug a student makes.
"""
import numpy as np


def _activate(name, z):
    if name == "relu":
        return np.maximum(z, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return z


class StudentNetwork:
    def __init__(self, layer_sizes, activations, seed=42):
        rng = np.random.default_rng(seed)
        self.activations = activations
        self.W = [rng.normal(0, 0.1, (a, b)) for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]
        self.b = [np.zeros(b) for b in layer_sizes[1:]]

    def get_weights(self):
        return [(W.copy(), b.copy()) for W, b in zip(self.W, self.b)]

    def set_weights(self, weights):
        self.W = [np.array(W, dtype=float) for W, _ in weights]
        self.b = [np.array(b, dtype=float) for _, b in weights]

    def forward(self, X, training=False, precision=None):
        self._a = [np.asarray(X, dtype=float)]
        for W, b, name in zip(self.W, self.b, self.activations):
            self._a.append(_activate(name, self._a[-1] @ W + b))
        return self._a[-1]

    def predict(self, X):
        return self.forward(X).argmax(axis=1)

    def _output_delta(self, out, target):
        delta = 2 * (out - target) / out.size  # dL/da of the mean squared error
        if self.activations[-1] == "softmax":  # through the softmax's Jacobian
            delta = out * (delta - (delta * out).sum(axis=1, keepdims=True))
        elif self.activations[-1] == "sigmoid":
            delta = delta * out * (1 - out)
        return delta

    def _hidden_delta(self, name, a, upstream):
        if name == "relu":
            return upstream * (a > 0)
        if name == "sigmoid":
            return upstream * a * (1 - a)
        return upstream

    def _gradients(self, X, target):
        """[(dW, db)] per layer, first layer first."""
        out = self.forward(X, training=True)
        delta = self._output_delta(out, target)
        grads = []
        for layer in range(len(self.W) - 1, -1, -1):
            grads.insert(0, (self._a[layer].T @ delta, delta.sum(axis=0)))
            if layer > 0:
                delta = self._hidden_delta(self.activations[layer - 1], self._a[layer],
                                           delta @ self.W[layer].T)
        return grads

    def _loss(self, out, target):
        return np.mean((out - target) ** 2)

    def loss_and_gradients(self, X, y):
        X = np.asarray(X, dtype=float)
        target = np.eye(self.W[-1].shape[1])[np.asarray(y)]
        grads = self._gradients(X, target)
        return self._loss(self._a[-1], target), grads

    def _step(self, X, target, alpha):
        for layer, (dW, db) in enumerate(self._gradients(X, target)):
            self._update(layer, dW, db, alpha)

    def _update(self, layer, dW, db, alpha):
        self.W[layer] -= alpha * dW
        self.b[layer] -= alpha * db

    def _order(self, rng, n):
        return rng.permutation(n)

    def _batches(self, n, batch_size):
        return range(0, n, batch_size)

    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        X = np.asarray(X, dtype=float)
        target = np.eye(self.W[-1].shape[1])[np.asarray(y)]
        rng = np.random.default_rng(seed)
        for _ in range(epochs):
            order = self._order(rng, len(X))
            for start in self._batches(len(X), batch_size):
                rows = order[start:start + batch_size]
                self._step(X[rows], target[rows], alpha)


class MissingMseFactor(StudentNetwork):
    def _output_delta(self, out, target):
        return super()._output_delta(out, target) / 2


class SigmoidDerivativeOff(StudentNetwork):
    def _hidden_delta(self, name, a, upstream):
        if name == "sigmoid":
            return upstream * a  # should be a * (1 - a)
        return super()._hidden_delta(name, a, upstream)


class BiasesNeverUpdated(StudentNetwork):
    def _update(self, layer, dW, db, alpha):
        self.W[layer] -= alpha * dW


class LastBatchDropped(StudentNetwork):
    def _batches(self, n, batch_size):
        return range(0, n - batch_size + 1, batch_size)


class OwnShuffle(StudentNetwork):
    def _order(self, rng, n):
        return np.random.default_rng(0).permutation(n)


class TransposedStudent(StudentNetwork):
    """Stores W as (fan_out, fan_in), as torch's Linear does."""

    def get_weights(self):
        return [(W.T.copy(), b.copy()) for W, b in zip(self.W, self.b)]

    def set_weights(self, weights):
        super().set_weights([(np.asarray(W).T, b) for W, b in weights])

    def loss_and_gradients(self, X, y):
        loss, grads = super().loss_and_gradients(X, y)
        return loss, [(dW.T, db) for dW, db in grads]


class NaNAfterFit(StudentNetwork):
    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        super().fit(X, y, epochs, alpha, batch_size, seed)
        self.W[0][0, 0] = np.nan


class FirstLayerOnly(StudentNetwork):
    def get_weights(self):
        return super().get_weights()[:1]


class ExitsInFit(StudentNetwork):
    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        raise SystemExit("done")


class ProbabilitiesFromPredict(StudentNetwork):
    def predict(self, X):
        return self.forward(X)


class OneColumnForward(StudentNetwork):
    def forward(self, X, training=False, precision=None):
        return super().forward(X)[:, :1]


class NeverReturns(StudentNetwork):
    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        while True:
            pass


class Float32Student(StudentNetwork):
    def set_weights(self, weights):
        self.W = [np.array(W, dtype=np.float32) for W, _ in weights]
        self.b = [np.array(b, dtype=np.float32) for _, b in weights]


class LossIsASum(StudentNetwork):
    def _loss(self, out, target):
        return np.sum((out - target) ** 2)


class FitRaises(StudentNetwork):
    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        raise ValueError("the student's own error")
