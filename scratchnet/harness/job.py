"""What a comparison worker is asked to measure: ``Job``, the one thing that crosses the
process boundary between ``scratchnet.harness.compare`` (which checks and writes it) and
``scratchnet.harness.worker`` (which reads it and measures one framework).

It crosses as two files in the worker's folder, nothing pickled: ``job.json`` (every
field but ``data``) and ``data.npz`` (``X_train``, ``y_train``, ``X_test``, ``y_test``).
"""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

_ARRAYS = ("X_train", "y_train", "X_test", "y_test")


@dataclasses.dataclass
class Job:
    """The checked settings of one configuration, its data, and the user classes it
    measures besides the registered frameworks."""

    layer_sizes: list  # [D, hidden..., K]
    activations: list  # one name per layer
    loss: str  # "mse" or "cross_entropy"
    n_samples: int  # training samples (len(X_train))
    epochs: int
    batch_size: int
    alpha: float  # learning rate
    seed: int  # initial weights, split and batch order
    precision: str  # the dtype models train and infer in
    repeats: int  # timed runs per figure
    warmup: int  # untimed runs before them
    threads: int  # BLAS and torch threads
    rounds: int  # worker rounds (compare's; a worker measures one)
    roofline: bool  # also measure NumPy's sgemm rate in the worker
    breakdown: bool = False  # also time the parts of a training step and a forward pass
    target_accuracy: float | None = None  # also time training to this held-out accuracy
    max_epochs: int = 50  # ... for at most this many epochs
    dataset: str = ""  # "digits" or "synthetic"
    #: user frameworks: row name -> {"spec": "module:Class" or "/path/file.py:Class",
    #: "layout", "samples", "outputs", "takes_loss"} (``frameworks.user_entry``'s arguments)
    models: dict = dataclasses.field(default_factory=dict)
    #: the parent's sys.path, so a worker imports a user's module from where the parent did
    python_path: list = dataclasses.field(default_factory=list)
    #: seconds the parent lets the worker run before it stops it (its row is then an error)
    time_limit: float = 1800.0
    #: (X_train (N, D), y_train (N,), X_test (M, D), y_test (M,)); not in job.json
    data: tuple | None = None

    def settings(self):
        """Every field but ``data``, as JSON-ready values."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if field.name != "data"}

    def save(self, folder):
        """Write ``job.json`` and ``data.npz`` into ``folder``."""
        np.savez(os.path.join(folder, "data.npz"), **dict(zip(_ARRAYS, self.data)))
        with open(os.path.join(folder, "job.json"), "w") as handle:
            json.dump(self.settings(), handle)

    @classmethod
    def load(cls, folder):
        """The job ``save`` wrote into ``folder``."""
        with open(os.path.join(folder, "job.json")) as handle:
            job = cls(**json.load(handle))
        with np.load(os.path.join(folder, "data.npz"), allow_pickle=False) as data:
            job.data = tuple(data[key] for key in _ARRAYS)
        return job

    def framework(self, name):
        """The registry entry of ``name``, or the user framework of that name."""
        from .frameworks import get, user_entry
        return get(name, {model: user_entry(model, **entry) for model, entry in self.models.items()})
