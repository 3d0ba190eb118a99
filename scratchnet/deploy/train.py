"""Train a network on a data set and save its checkpoint: what ``scratchnet train`` runs.

``train_model(layer_sizes, activations, ..., out="model.npz")`` builds the
model of either framework, fits it on the training split of ``dataset``,
measures it on the held-out split, and writes the checkpoint atomically.
Everything is checked before training starts, so a bad argument costs no
training time and writes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data import load_dataset
from ..files import check_output_path
from ..harness.frameworks import REGISTRY, SCRATCH, TWIN, checkpoint_names
from ..nn.precision import PrecisionConfig
from ..harness.presets import DEFAULT
from ..nn.validation import check_architecture

TRAIN_FRAMEWORKS = checkpoint_names()


@dataclass
class TrainingResult:
    """What ``train_model`` returns: the trained model, its history (one entry per
    epoch), the held-out metrics and where the checkpoint went (None if nowhere)."""

    model: object
    history: dict
    test_metrics: dict
    n_train: int
    n_test: int
    checkpoint: str | None = None
    settings: dict = field(default_factory=dict)


def model_class(framework):
    """The class of a framework that trains and saves checkpoints: NeuralNetwork for
    "scratch_numpy", TorchNeuralNetwork for "pytorch"."""
    if framework not in TRAIN_FRAMEWORKS:
        raise ValueError(f"framework must be one of {list(TRAIN_FRAMEWORKS)}, got {framework!r}")
    return REGISTRY[framework].model_class()


def train_model(layer_sizes, activations, loss="mse", epochs=DEFAULT["epochs"],
                alpha=DEFAULT["alpha"], batch_size=DEFAULT["batch_size"],
                dataset="digits", framework=SCRATCH, out=None, seed=DEFAULT["seed"],
                train_dtype="float32", validation=False, on_epoch_end=None):
    """Train on ``dataset``'s training split and save to ``out`` (a ``.npz`` path, or None).

    ``validation=True`` adds held-out loss and accuracy to every epoch's
    history. ``on_epoch_end(epoch, logs)`` is passed to ``fit``. The model's
    seed fixes the initial weights, the split and the batch order.
    """
    sizes, names, loss = check_architecture(layer_sizes, activations, loss)
    cls = model_class(framework)
    if out is not None:
        out = check_output_path(out, "out", (".npz",))
    if not isinstance(validation, bool):
        raise TypeError(f"validation must be True or False, got {validation!r}")
    config = PrecisionConfig(train_dtype=train_dtype, infer_precision=train_dtype)
    model = cls(list(sizes), list(names), precision_config=config, seed=seed, loss=loss)
    X_train, y_train, X_test, y_test = load_dataset(dataset, n_features=sizes[0], seed=seed)
    history = model.fit(X_train, y_train, epochs=epochs, alpha=alpha, batch_size=batch_size,
                        seed=seed, validation_data=(X_test, y_test) if validation else None,
                        on_epoch_end=on_epoch_end)
    test_metrics = model.evaluate(X_test, y_test)
    if out is not None:
        model.save(out)
    settings = dict(layer_sizes=list(sizes), activations=list(names), loss=loss, epochs=epochs,
                    alpha=alpha, batch_size=batch_size, dataset=dataset, framework=framework,
                    seed=seed, train_dtype=config.train_dtype)
    return TrainingResult(model, history, test_metrics, len(y_train), len(y_test), out, settings)


@dataclass
class TwinRun:
    """What ``train_both`` returns: per framework that ran, its last epoch's training
    accuracy and its held-out metrics; the largest difference between their held-out
    probabilities as (value, sample, class), None without torch."""

    results: dict
    largest_difference: tuple | None
    n_train: int
    n_test: int


def train_both(layer_sizes, activations, loss="mse", epochs=DEFAULT["epochs"],
               alpha=DEFAULT["alpha"], batch_size=DEFAULT["batch_size"], dataset="digits",
               seed=DEFAULT["seed"], train_dtype="float32"):
    """Train the NumPy network and its twin identically (same weights, same batches) and
    measure how far their held-out outputs differ: what ``scratchnet demo`` prints."""
    from ..nn.torch_network import is_torch_available
    sizes, names, loss = check_architecture(layer_sizes, activations, loss)
    X_train, y_train, X_test, y_test = load_dataset(dataset, n_features=sizes[0], seed=seed)
    config = PrecisionConfig(train_dtype=train_dtype, infer_precision=train_dtype)
    results, probabilities = {}, {}
    for framework in TRAIN_FRAMEWORKS:
        if framework != SCRATCH and not is_torch_available():
            continue
        model = model_class(framework)(list(sizes), list(names), precision_config=config,
                                       seed=seed, loss=loss)
        history = model.fit(X_train, y_train, epochs=epochs, alpha=alpha, batch_size=batch_size,
                            seed=seed)
        probabilities[framework] = model.predict_proba(X_test).astype(np.float64)
        results[framework] = (history["accuracy"][-1], model.evaluate(X_test, y_test))
    largest = None
    if TWIN in probabilities:
        diff = np.abs(probabilities[SCRATCH] - probabilities[TWIN])  # (N, K)
        row, col = np.unravel_index(diff.argmax(), diff.shape)
        largest = (float(diff.max()), int(row), int(col))
    return TwinRun(results, largest, len(y_train), len(y_test))
