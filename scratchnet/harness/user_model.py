"""A user's own network class seen through the API the measurements call.

``UserModel(cls, layer_sizes, activations, precision_config, seed, loss)`` builds
the user's class with the seed's protocol (``precision_config``, ``seed`` and
``loss`` passed only where the constructor takes them), then gives it the
weights of scratchnet's one initializer, so it starts where the NumPy network
and the PyTorch twin start and its outputs can be compared with theirs. Inputs
are cast to the run's precision inside each call, as the built-in networks cast
theirs, so the cast is timed on every side.
"""
from __future__ import annotations

import numpy as np

from ..check.loader import CheckError, build_user_class
from ..check.view import UserView
from ..nn.init import initialize_weights
from ..nn.precision import PrecisionConfig


class UserModel:
    """The user's instance behind ``fit``, ``forward(X, training, precision)``,
    ``predict_proba`` and ``evaluate``, as the workers call them."""

    def __init__(self, cls, layer_sizes, activations, precision_config=None, seed=42,
                 loss="mse", layout="in_out"):
        config = precision_config or PrecisionConfig()
        self.dtype = np.dtype(config.train_dtype)
        self.model = build_user_class(cls, layer_sizes, activations, seed, config.train_dtype,
                                      loss=loss)
        self._view, self.n_layers = UserView(self.model, layout), len(layer_sizes) - 1
        try:
            self._view.set_weights(initialize_weights(layer_sizes, activations, seed))
        except (Exception, SystemExit) as exc:
            raise CheckError(f"{cls.__name__}.set_weights refused scratchnet's initial weights "
                             f"(layout {layout}): {type(exc).__name__}: {exc}; "
                             f"`scratchnet check` says more") from None
        self.n_outputs = layer_sizes[-1]

    def get_weights(self):
        """[(W (fan_in, fan_out), b (fan_out,))] as float64, whatever the class's layout."""
        return self._view.get_weights(self.n_layers)

    def set_weights(self, weights):
        """Give the class [(W (fan_in, fan_out), b (fan_out,))], whatever its layout."""
        self._view.set_weights(weights)

    def fit(self, X, y, epochs, alpha, batch_size, seed=None, **_):
        return self.model.fit(np.asarray(X, dtype=self.dtype), y, epochs=epochs, alpha=alpha,
                              batch_size=batch_size, seed=seed)

    def forward(self, X, training=False, precision=None):
        dtype = self.dtype if precision is None else np.dtype(precision)
        return self.model.forward(np.asarray(X, dtype=dtype))

    def predict_proba(self, X, precision=None):
        """The outputs (N, K) as float64 (torch tensors too); ShapeError on another shape."""
        dtype = self.dtype if precision is None else np.dtype(precision)
        return self._view.forward(np.asarray(X, dtype=dtype), self.n_outputs)

    def evaluate(self, X, y):
        """{"accuracy": share of rows whose largest output is the label}."""
        return {"accuracy": float(np.mean(self.predict_proba(X).argmax(axis=1) == np.asarray(y)))}
