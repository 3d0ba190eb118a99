"""What a worker is asked to measure: ``Job``, the one thing that crosses the process
boundary from the parent to every worker of the harness: ``scratchnet.harness.worker``
(times one framework; written by ``runner``) and ``scratchnet.harness.instruction_worker``
(counts instructions under valgrind; one job per configuration, written by
``instructions``).

It crosses as two files in the worker's folder, nothing pickled: ``job.json`` (every
field but ``data``) and ``data.npz`` (``X_train``, ``y_train``, ``X_test``, ``y_test``).
"""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from .config import Config

_ARRAYS = ("X_train", "y_train", "X_test", "y_test")


@dataclasses.dataclass(frozen=True)
class Job(Config):
    """A checked ``Config``, its data, and the user classes it measures besides the
    registered frameworks."""

    #: user frameworks: row name -> {"spec": "module:Class" or "/path/file.py:Class",
    #: "layout", "samples", "outputs", "takes_loss"} (``frameworks.user_entry``'s arguments)
    models: dict = dataclasses.field(default_factory=dict)
    #: the parent's sys.path, so a worker imports a user's module from where the parent did
    python_path: list = dataclasses.field(default_factory=list)
    #: an instruction count's regions (``harness.instructions``): {"train_steps": S,
    #: "inference_runs": K}; None for a timing worker's job
    regions: dict | None = None
    #: (X_train (N, D), y_train (N,), X_test (M, D), y_test (M,)); not in job.json
    data: tuple | None = dataclasses.field(default=None, metadata={"setting": False})

    def save(self, folder):
        """Write ``job.json`` and ``data.npz`` into ``folder`` (made if missing)."""
        os.makedirs(folder, exist_ok=True)
        np.savez(os.path.join(folder, "data.npz"), **dict(zip(_ARRAYS, self.data)))
        with open(os.path.join(folder, "job.json"), "w") as handle:
            json.dump(self.settings(), handle)

    @classmethod
    def load(cls, folder):
        """The job ``save`` wrote into ``folder``."""
        with open(os.path.join(folder, "job.json")) as handle:
            settings = json.load(handle)
        with np.load(os.path.join(folder, "data.npz"), allow_pickle=False) as data:
            arrays = tuple(data[key] for key in _ARRAYS)
        settings.update(layer_sizes=tuple(settings["layer_sizes"]),
                        activations=tuple(settings["activations"]))
        return cls(**settings, data=arrays)

    def framework(self, name):
        """The registry entry of ``name``, or the user framework of that name."""
        from .frameworks import get, user_entry
        return get(name, {model: user_entry(model, **entry) for model, entry in self.models.items()})
