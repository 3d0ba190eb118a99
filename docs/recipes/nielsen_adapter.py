"""scratchnet's protocol around Michael Nielsen's network.py (chapter 1 of "Neural
Networks and Deep Learning"): put network.py beside this file, then

    scratchnet check nielsen_adapter.py:Nielsen --layout out_in \
        --activations sigmoid,sigmoid --outputs half_sum

network.py stores W as (out, in) and b as a column, is sigmoid throughout, and its cost
is C = 1/2 ||a - y||^2 per sample, averaged over the mini-batch: what --layout out_in,
--activations sigmoid,sigmoid and --outputs half_sum declare.
"""
import random

import numpy as np

import scratchnet
from network import Network


class Nielsen:
    """network.py as it is, its own SGD loop included (Python's random.shuffle)."""

    def __init__(self, layer_sizes, activations, seed=0):
        self.net = Network(list(layer_sizes))

    def get_weights(self):
        return [(w.copy(), b.ravel().copy()) for w, b in zip(self.net.weights, self.net.biases)]

    def set_weights(self, weights):
        self.net.weights = [np.array(w, dtype=float) for w, _ in weights]
        self.net.biases = [np.array(b, dtype=float).reshape(-1, 1) for _, b in weights]

    def forward(self, X):
        return np.array([self.net.feedforward(x.reshape(-1, 1)).ravel()
                         for x in np.asarray(X, dtype=float)])

    def _data(self, X, y):
        targets = np.eye(self.net.sizes[-1])[np.asarray(y)]
        return [(x.reshape(-1, 1), t.reshape(-1, 1))
                for x, t in zip(np.asarray(X, dtype=float), targets)]

    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        random.seed(seed)  # network.py shuffles with Python's random module
        self.net.SGD(self._data(X, y), epochs, batch_size, alpha)


class NielsenInTwinOrder(Nielsen):
    """network.py's own update_mini_batch, fed the batches in the twin's order, so that
    several epochs can be compared number for number."""

    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        data = self._data(X, y)
        for order in scratchnet.batch_order(seed, len(data), epochs):
            for start in range(0, len(order), batch_size):
                self.net.update_mini_batch([data[i] for i in order[start:start + batch_size]],
                                           alpha)
