"""scratchnet's protocol around scikit-learn's MLPClassifier, as plain SGD (no momentum,
no L2 penalty, a constant learning rate):

    scratchnet check sklearn_adapter.py:SklearnMLP --loss cross_entropy

MLPClassifier trains softmax outputs with cross-entropy averaged over the batch, and
stores W as (in, out): --loss cross_entropy declares it.
"""
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

import scratchnet

HIDDEN = {"relu": "relu", "sigmoid": "logistic", "tanh": "tanh", "linear": "identity"}


class SklearnMLP:
    """MLPClassifier's own fit loop (it shuffles with NumPy's legacy RandomState)."""

    def __init__(self, layer_sizes, activations, seed=0):
        self.sizes = list(layer_sizes)
        self.clf = MLPClassifier(
            hidden_layer_sizes=tuple(layer_sizes[1:-1]), activation=HIDDEN[activations[0]],
            solver="sgd", momentum=0.0, nesterovs_momentum=False, alpha=0.0,
            learning_rate="constant", warm_start=True, random_state=seed)

    def set_weights(self, weights):
        if not hasattr(self.clf, "coefs_"):  # one partial_fit makes every attribute fit needs
            classes = np.arange(self.sizes[-1])
            self.clf.partial_fit(np.zeros((len(classes), self.sizes[0])), classes, classes=classes)
        self.clf.coefs_ = [np.array(W, dtype=float) for W, _ in weights]
        self.clf.intercepts_ = [np.array(b, dtype=float) for _, b in weights]

    def get_weights(self):
        return [(W.copy(), b.copy()) for W, b in zip(self.clf.coefs_, self.clf.intercepts_)]

    def forward(self, X):
        return self.clf.predict_proba(X)

    def predict(self, X):
        return self.clf.predict(X)

    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        self.clf.set_params(max_iter=epochs, learning_rate_init=alpha, batch_size=batch_size,
                            random_state=seed)
        with warnings.catch_warnings():  # max_iter is reached on purpose
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.clf.fit(X, y)


class SklearnInTwinOrder(SklearnMLP):
    """The same classifier fed the twin's batch order: one epoch per fit, unshuffled."""

    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        self.clf.set_params(max_iter=1, learning_rate_init=alpha, batch_size=batch_size,
                            shuffle=False)
        X, y = np.asarray(X), np.asarray(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for order in scratchnet.batch_order(seed, len(X), epochs):
                self.clf.fit(X[order], y[order])
