"""The user's class as the checks see it, from the parent: instances that live in the
worker (``session.Session``), their values read through ``view`` (W always (fan_in,
fan_out), float64), errors kept as what they are (``UserRaised``, ``WorkerDied``,
``ShapeError``, ``WeightsError``) for the checks to turn into lines.
"""
from __future__ import annotations

import itertools

import numpy as np

from . import view
from .loader import CheckError
from .session import UserRaised


class UserClass:
    """The loaded class: its name, which protocol methods it has, and fresh instances."""

    def __init__(self, session, settings):
        self.session, self.settings = session, settings
        self.name = session.info["name"]
        self.methods = set(session.info["methods"])
        self.takes_loss = "loss" in session.info["parameters"]
        self._handles = itertools.count(1)

    def has(self, method):
        return method in self.methods

    def build(self, dtype="float64"):
        """A new instance (not yet given weights); CheckError if the constructor raises."""
        s = self.settings
        handle = next(self._handles)
        try:
            self.session.request({"op": "build", "handle": handle, "layer_sizes": list(s.layer_sizes),
                                  "activations": list(s.activations), "seed": s.seed,
                                  "loss": s.convention.loss, "dtype": dtype},
                                 f"building {self.name}")
        except UserRaised as exc:
            raise CheckError(exc.text) from None
        return Instance(self, handle)


class Instance:
    """One instance in the worker."""

    def __init__(self, user, handle):
        self.user, self.handle = user, handle
        self.layout = user.settings.layout
        self.n_layers = len(user.settings.layer_sizes) - 1

    def call(self, method, *args, **kwargs):
        return self.user.session.request(
            {"op": "call", "handle": self.handle, "method": method, "args": list(args),
             "kwargs": kwargs}, method)

    def raw_weights(self):
        return self.call("get_weights")

    def get_weights(self):
        return view.read_weights(self.raw_weights(), self.n_layers, self.layout)

    def set_weights(self, weights):
        self.call("set_weights", view.write_weights(weights, self.layout))

    def fit(self, X, y, epochs, alpha, batch_size, seed):
        self.call("fit", X, y, epochs=epochs, alpha=alpha, batch_size=batch_size, seed=seed)

    def forward(self, X):
        return view.read_outputs(self.call("forward", X), X.shape[0],
                                 self.user.settings.layer_sizes[-1])

    def predict(self, X):
        labels = view.as_array(self.call("predict", X))
        if labels.shape != (X.shape[0],):
            raise view.ShapeError(f"predict returned shape {labels.shape}, expected class labels "
                                  f"of shape ({X.shape[0]},)")
        return labels

    def loss_and_gradients(self, X, y):
        returned = self.call("loss_and_gradients", X, y)
        if not isinstance(returned, (list, tuple)) or len(returned) != 2 \
                or not isinstance(returned[1], (list, tuple)):
            raise view.WeightsError("loss_and_gradients must return (loss, [(dW, db), ...])")
        loss, grads = returned
        if len(grads) != self.n_layers:
            raise view.WeightsError(f"loss_and_gradients returned {len(grads)} (dW, db) pairs, "
                                    f"expected {self.n_layers}")
        return float(np.asarray(view.as_array(loss)).reshape(-1)[0]), view.read_gradients(
            grads, self.layout)
