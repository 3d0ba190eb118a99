"""scratchnet's protocol around ML-From-Scratch's MultilayerPerceptron (one sigmoid hidden
layer, softmax outputs): its fit draws fresh weights, so the adapter keeps the ones
set_weights gave; its fit runs n_iterations full-batch steps, so epochs become them."""
import numpy as np

from mlfromscratch_mlp import MultilayerPerceptron


class MLFromScratch:
    def __init__(self, layer_sizes, activations, seed=0):
        self.n_outputs = layer_sizes[-1]
        self.mlp = MultilayerPerceptron(n_hidden=layer_sizes[1])
        self.mlp._initialize_weights = lambda X, y: None  # keep what set_weights gave

    def get_weights(self):
        m = self.mlp
        return [(m.W.copy(), m.w0.ravel().copy()), (m.V.copy(), m.v0.ravel().copy())]

    def set_weights(self, weights):
        (W, w0), (V, v0) = weights
        self.mlp.W, self.mlp.V = np.array(W, dtype=float), np.array(V, dtype=float)
        self.mlp.w0 = np.array(w0, dtype=float).reshape(1, -1)
        self.mlp.v0 = np.array(v0, dtype=float).reshape(1, -1)

    def forward(self, X):
        return self.mlp.predict(np.asarray(X, dtype=float))

    def fit(self, X, y, epochs, alpha, batch_size, seed=None):
        self.mlp.n_iterations, self.mlp.learning_rate = epochs, alpha
        self.mlp.fit(np.asarray(X, dtype=float), np.eye(self.n_outputs)[np.asarray(y)])
