"""What the NumPy network and its PyTorch twin share: the public API, argument
checks, the epoch/batch loop, the history format and checkpoints; and what every
model that infers shares with ONNX Runtime's (``Predictor``).

A subclass supplies the arithmetic through abstract hooks, and calls
``self._set_params(self._initial_params())`` at the end of its own ``__init__``
(the base constructor only checks and stores the settings, so no hook runs
before the subclass is ready):

- ``_set_params(list of (W (in, out), b (out,)) float64 or float32 arrays)``
- ``_get_params() -> list of (W, b)`` NumPy arrays in the training dtype
- ``_prepare_training_data(X (N, D) train dtype, labels (N,) int64) -> data``
- ``_epoch_data(data, order (N,)) -> epoch data``: the data in this epoch's order
- ``_train_step(epoch data, start, stop, alpha) -> (batch loss, n_correct)``: forward
  pass, loss, and (only if the loss is finite) backward pass and SGD update on the
  epoch's samples start:stop
- ``_logits_and_outputs(X (N, D), dtype name, logits=True) -> (z (N, K), a (N, K))`` NumPy
  arrays; with ``logits=False`` z may be None (``forward`` needs only a)
- ``_loss_value(z, a, labels) -> float`` with the framework's own loss function
- ``_loss_and_gradients(X, y) -> (loss, [(dW, db), ...])``: the default reduction's
  (``loss_and_gradients`` scales them to the model's convention)

``loss`` is a name or a ``scratchnet.nn.losses.LossConvention``: a convention other than the
default (a sum over the samples, half the sum of squares over the outputs ...) trains
with each step scaled by its factor, exactly as the gradient of that loss would; the
history and ``evaluate`` report the default reduction's loss whatever the convention, so
that curves of different conventions can be laid side by side.
"""
from __future__ import annotations

import contextlib
import math
from abc import ABC, abstractmethod

import numpy as np

from . import checkpoint
from .precision import INFER_PRECISIONS, PrecisionConfig, check_dtype_name
from .init import initialize_weights
from .divergence import DIVERGENCE_FACTOR, TrainingDivergedError, runaway_weights
from .losses import LossConvention, get_loss
from .validation import (check_alpha, check_architecture, check_features, check_int, check_labels,
    check_seed)


class Predictor(ABC):
    """The inference API every model shares: ``forward`` is its own; ``predict_proba`` and
    ``predict`` follow from it."""

    @abstractmethod
    def forward(self, X, training=False, precision=None):
        """Output activations (N, K) as a NumPy array."""

    def predict_proba(self, X, precision=None):
        """Output activations (N, K): class probabilities for a softmax output."""
        return self.forward(X, precision=precision)

    def predict(self, X, precision=None):
        """Predicted class labels (N,) int64: the argmax of the outputs (first on ties)."""
        return self.forward(X, precision=precision).argmax(axis=1)


class BaseNetwork(Predictor):
    #: ``None``, or a callable ``lap(layer, phase)`` that the training step and the forward
    #: pass call at the end of each of their parts (``scratchnet.harness.breakdown``); layer is
    #: 1-based, or None for a part of the whole network.
    _lap = None
    #: The name this model has in reports ("scratch_numpy", "pytorch").
    framework = ""

    # ------------------------------------------------------------ the hooks
    @abstractmethod
    def _set_params(self, params):
        """Take [(W (in, out), b (out,))] float64 or float32 arrays as the weights."""

    @abstractmethod
    def _get_params(self):
        """The weights [(W, b)] as NumPy arrays in the training dtype."""

    @abstractmethod
    def _prepare_training_data(self, X, labels):
        """X (N, D) in the training dtype and labels (N,) int64 in the framework's form."""

    @abstractmethod
    def _epoch_data(self, data, order):
        """The prepared data in this epoch's order (N,)."""

    @abstractmethod
    def _train_step(self, epoch_data, start, stop, alpha):
        """(batch loss, n_correct) of samples start:stop; if the loss is finite, backward
        pass and SGD update."""

    @abstractmethod
    def _logits_and_outputs(self, X, dtype, logits=True):
        """(z (N, K), a (N, K)) NumPy arrays computed in ``dtype``; z may be None when
        ``logits`` is False (``forward`` needs only a)."""

    @abstractmethod
    def _loss_value(self, logits, outputs, labels):
        """The loss as a float, with the framework's own loss function."""

    @abstractmethod
    def _loss_and_gradients(self, X, y):
        """(loss, [(dW (fan_in, fan_out), db (fan_out,)), ...]) of the default reduction on
        (X, y), weights unchanged; X and labels are checked here."""

    def __init__(self, layer_sizes, activations, precision_config=None, seed=42, loss="mse"):
        sizes, names, loss_name = check_architecture(layer_sizes, activations, loss)
        if precision_config is None:
            precision_config = PrecisionConfig()
        elif not isinstance(precision_config, PrecisionConfig):
            raise TypeError(f"precision_config must be a scratchnet.PrecisionConfig or None, "
                            f"got {type(precision_config).__name__}")
        self.seed = check_seed(seed)
        self.layer_sizes = list(sizes)
        self.activations = list(names)
        self.loss = loss_name
        self.convention = LossConvention.parse(loss)
        self.precision_config = precision_config
        # fit(seed=None) continues this generator, so two models built with the
        # same seed visit the batches in the same order call after call.
        self._shuffle_rng = np.random.default_rng([self.seed, 1])

    def _initial_params(self):
        """The weights every framework starts from (``scratchnet.nn.init``)."""
        return initialize_weights(self.layer_sizes, self.activations, self.seed)

    @property
    def train_dtype(self):
        return self.precision_config.train_dtype

    def __repr__(self):
        return (f"{type(self).__name__}(layer_sizes={self.layer_sizes}, "
                f"activations={self.activations}, loss={self.convention.text!r}, "
                f"train_dtype={self.train_dtype!r})")

    # ----------------------------------------------------------------- training
    def fit(self, X, y, epochs, alpha, batch_size, seed=None, shuffle=True, validation_data=None,
            on_epoch_end=None):
        """Mini-batch SGD on (X (N, D), y (N,) labels or (N, K) one-hot).

        Each epoch visits a fresh permutation drawn from
        ``numpy.random.default_rng(seed)`` (or the model's own generator when
        ``seed`` is None); the last partial batch is trained on. Returns
        ``{"loss": [...], "accuracy": [...]}`` with one entry per epoch (and
        ``val_loss``/``val_accuracy`` with ``validation_data=(X_val, y_val)``).
        ``loss`` and ``accuracy`` are the means over the epoch's batches,
        weighted by batch size, each measured on its batch before that
        batch's update (what Keras reports); the ``val_`` entries are measured
        after the epoch with ``evaluate``. ``on_epoch_end``, if given, is called
        after each epoch as ``on_epoch_end(epoch (1-based), {name: that epoch's value})``;
        when it returns True, training stops there (the history holds the epochs done).
        """
        X = check_features(X, self.layer_sizes[0], dtype=self.train_dtype)
        labels = check_labels(y, X.shape[0], self.layer_sizes[-1])
        epochs = check_int(epochs, "epochs")
        batch_size = check_int(batch_size, "batch_size")
        alpha = check_alpha(alpha)
        seed = check_seed(seed, "seed", allow_none=True)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        if on_epoch_end is not None and not callable(on_epoch_end):
            raise TypeError(f"on_epoch_end must be a callable or None, got {on_epoch_end!r}")
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (X_val, y_val) or None")
            X_val = check_features(validation_data[0], self.layer_sizes[0], "validation_data[0]",
                                   dtype=self.train_dtype)
            validation = (X_val, check_labels(validation_data[1], X_val.shape[0],
                                              self.layer_sizes[-1], "validation_data[1]"))

        with self._training_context(batch_size):
            return self._fit_checked(X, labels, epochs, alpha, batch_size, seed, shuffle,
                                     validation, on_epoch_end)

    def _training_context(self, batch_size):
        """What every training step runs inside (fit's whole loop, and the breakdown's
        steps): nothing here; the NumPy network sets its BLAS threads and error state."""
        return contextlib.nullcontext()

    def _fit_checked(self, X, labels, epochs, alpha, batch_size, seed, shuffle, validation,
                     on_epoch_end):
        rng = self._shuffle_rng if seed is None else np.random.default_rng(seed)
        data = self._prepare_training_data(X.astype(self.train_dtype, copy=False), labels)
        history = {"loss": [], "accuracy": []}
        if validation is not None:
            history.update(val_loss=[], val_accuracy=[])
        n_samples = X.shape[0]
        # (weights at the start, batch order) of this epoch and the one before:
        # what _rewind needs to rebuild the weights before any recent step.
        epoch_starts = []
        weight_limits = [None] * len(self.layer_sizes[1:])  # each found when first needed
        loss_limit = None  # set by the first batch (see TrainingDivergedError)
        step_alpha = self._step_alpha(alpha, batch_size)
        for epoch in range(1, epochs + 1):
            order = rng.permutation(n_samples) if shuffle else np.arange(n_samples)
            epoch_starts = epoch_starts[-1:] + [(self.get_weights(), order)]
            if epoch == 1:
                initial_weights = epoch_starts[0][0]  # what the weight limits are set from
            epoch_data = self._epoch_data(data, order)
            starts = range(0, n_samples, batch_size)
            loss_sum, n_correct = 0.0, 0
            for step, start in enumerate(starts):
                stop = min(start + batch_size, n_samples)
                step_size = alpha if step_alpha is None else step_alpha(stop - start)
                batch_loss, batch_correct = self._train_step(epoch_data, start, stop, step_size)
                if loss_limit is None and math.isfinite(batch_loss):
                    chance = get_loss(self.loss).chance(self.layer_sizes[-1])
                    loss_limit = DIVERGENCE_FACTOR * max(batch_loss, chance)
                if loss_limit is None or not batch_loss <= loss_limit:  # also NaN
                    # The update of this batch, if it was made, is undone with the one before.
                    self._rewind(data, alpha, batch_size, epoch_starts, steps_done=step)
                    what = ("" if not math.isfinite(batch_loss) else
                            f", over {DIVERGENCE_FACTOR:g} times {loss_limit / DIVERGENCE_FACTOR:.4g} "
                            f"(the larger of the first batch's loss and a uniform guess's)")
                    self._diverged(f"the loss became {batch_loss:.4g} on batch {step + 1}{what}",
                                   epoch, step + 1, alpha, history)
                loss_sum += batch_loss * (stop - start)
                n_correct += batch_correct
            runaway = self._runaway_weights(initial_weights, weight_limits)
            if runaway is not None:
                self._rewind(data, alpha, batch_size, epoch_starts, steps_done=len(starts))
                self._diverged(runaway, epoch, None, alpha, history)
            history["loss"].append(loss_sum / n_samples)
            history["accuracy"].append(n_correct / n_samples)
            if validation is not None:
                metrics = self._evaluate_checked(*validation, self.train_dtype)
                history["val_loss"].append(metrics["loss"])
                history["val_accuracy"].append(metrics["accuracy"])
            if on_epoch_end is not None and on_epoch_end(
                    epoch, {name: values[-1] for name, values in history.items()}) is True:
                break
        return history

    def _step_alpha(self, alpha, batch_size):
        """The step of a batch of ``rows`` samples, ``step_alpha(rows)``: alpha times the
        convention's factor (``LossConvention.scale``); None for the default convention,
        whose step is alpha itself (no call in the hot loop)."""
        if self.convention.is_default:
            return None
        n_outputs = self.layer_sizes[-1]
        full = alpha * self.convention.scale(batch_size, n_outputs)
        return lambda rows: full if rows == batch_size else (
            alpha * self.convention.scale(rows, n_outputs))

    def loss_and_gradients(self, X, y):
        """The loss on (X, y) and its gradient for every layer, under the model's convention
        (``LossConvention.scale`` times the default reduction's), weights unchanged.

        Returns (loss, [(dW (fan_in, fan_out), db (fan_out,)), ...]) as NumPy arrays
        (the gradients are None where the loss is not finite).
        """
        loss, grads = self._loss_and_gradients(X, y)
        if self.convention.is_default or grads is None:
            return loss, grads
        factor = self.convention.scale(len(X), self.layer_sizes[-1])
        return loss * factor, [(dW * factor, db * factor) for dW, db in grads]

    def _runaway_weights(self, initial_weights, limits):
        """None, or what is wrong with the weights after an epoch (``runaway_weights``)."""
        return runaway_weights(self._get_params(), initial_weights, limits, self.layer_sizes,
                               self.activations)

    def _rewind(self, data, alpha, batch_size, epoch_starts, steps_done):
        """Put back the weights from before the last update, the one that blew up.

        Training keeps no per-step copy of the weights (it would slow every
        step, and the PyTorch twin's most); instead the weights from the start
        of the epoch are restored and the epoch's steps up to the bad one are
        replayed: the same arithmetic on the same batches. When the current
        epoch had done no step yet, the last update was the previous epoch's.
        """
        if steps_done == 0 and len(epoch_starts) == 2:
            weights, order = epoch_starts[0]
            steps_done = -(-len(order) // batch_size)  # the previous epoch's step count
        else:
            weights, order = epoch_starts[-1]
        self._set_params(weights)
        epoch_data = self._epoch_data(data, order)
        step_alpha = self._step_alpha(alpha, batch_size)
        for start in range(0, (steps_done - 1) * batch_size, batch_size):
            stop = min(start + batch_size, len(order))
            self._train_step(epoch_data, start, stop,
                             alpha if step_alpha is None else step_alpha(stop - start))

    def _diverged(self, what, epoch, batch, alpha, history):
        raise TrainingDivergedError(
            f"training diverged in epoch {epoch}: {what} (alpha={alpha}); the model keeps the "
            f"weights from before the step that blew up; try a smaller alpha", epoch, batch, history)

    # ---------------------------------------------------------------- inference
    def _check_precision(self, precision, training=False):
        if precision is None:
            return self.train_dtype if training else self.precision_config.infer_precision
        return check_dtype_name(precision, "precision", INFER_PRECISIONS)

    def forward(self, X, training=False, precision=None):
        """Output activations (N, K) as a NumPy array of dtype ``precision``.

        ``precision`` defaults to the config's ``infer_precision``, or to its
        ``train_dtype`` with ``training=True`` (the dtype ``fit`` computes in).
        The network has no dropout or batch norm, so ``training`` changes
        nothing else.
        """
        dtype = self._check_precision(precision, training)
        X = check_features(X, self.layer_sizes[0], dtype=dtype)
        return self._logits_and_outputs(X, dtype, logits=False)[1]

    def evaluate(self, X, y, precision=None):
        """``{"loss": float, "accuracy": float}`` on (X, y) with the model's loss."""
        dtype = self._check_precision(precision)
        X = check_features(X, self.layer_sizes[0], dtype=dtype)
        return self._evaluate_checked(X, check_labels(y, X.shape[0], self.layer_sizes[-1]), dtype)

    def _evaluate_checked(self, X, labels, dtype):
        logits, outputs = self._logits_and_outputs(X, dtype)
        return {"loss": self._loss_value(logits, outputs, labels),
                "accuracy": float(np.mean(outputs.argmax(axis=1) == labels))}

    # ------------------------------------------------------------------ weights
    def get_weights(self):
        """A list of (W (fan_in, fan_out), b (fan_out,)) NumPy copies, in ``train_dtype``."""
        return [(np.array(W), np.array(b)) for W, b in self._get_params()]

    def set_weights(self, weights):
        """Replace every weight from a list of (W (fan_in, fan_out), b (fan_out,)) pairs.

        Everything is checked before anything is replaced.
        """
        self._set_params(self._check_weights(weights))

    def _check_weights(self, weights):
        n_layers = len(self.layer_sizes) - 1
        if not isinstance(weights, (list, tuple)) or len(weights) != n_layers:
            raise ValueError(f"weights must be a list of {n_layers} (W, b) pairs for layer_sizes "
                             f"{self.layer_sizes}, got {type(weights).__name__} of length "
                             f"{len(weights) if hasattr(weights, '__len__') else '?'}")
        checked = []
        for i, pair in enumerate(weights):
            fan_in, fan_out = self.layer_sizes[i], self.layer_sizes[i + 1]
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ValueError(f"weights[{i}] must be a pair (W, b)")
            W, b = (np.asarray(pair[0]), np.asarray(pair[1]))
            if W.shape != (fan_in, fan_out) or b.shape != (fan_out,):
                raise ValueError(f"weights[{i}] must be W of shape ({fan_in}, {fan_out}) and b of "
                                 f"shape ({fan_out},), got {W.shape} and {b.shape}")
            for name, array in (("W", W), ("b", b)):
                if not (np.issubdtype(array.dtype, np.floating)
                        or np.issubdtype(array.dtype, np.integer)):
                    raise TypeError(f"weights[{i}] {name} must be numeric, got dtype {array.dtype}")
                if not np.isfinite(array).all():
                    raise ValueError(f"weights[{i}] {name} contains NaN or inf")
            checked.append((W.astype(self.train_dtype), b.astype(self.train_dtype)))
        return checked

    # -------------------------------------------------------------- checkpoints
    def save(self, path):
        """Write weights, architecture, loss and precision to one ``.npz`` at exactly ``path``."""
        checkpoint.save_checkpoint(
            path, framework=self.framework, layer_sizes=self.layer_sizes,
            activations=self.activations, loss=self.convention.text, train_dtype=self.train_dtype,
            infer_precision=self.precision_config.infer_precision, weights=self.get_weights())

    @classmethod
    def load(cls, path, **kwargs):
        """Build a model from a checkpoint saved by either framework.

        Keyword arguments (e.g. ``device`` for the PyTorch twin) go to the constructor.
        """
        saved = checkpoint.load_checkpoint(path)
        try:
            config = PrecisionConfig(saved["train_dtype"], saved["infer_precision"])
            check_architecture(saved["layer_sizes"], saved["activations"], saved["loss"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"checkpoint {str(path)!r} describes an invalid model: {exc}") from None
        model = cls(saved["layer_sizes"], saved["activations"], precision_config=config,
                    loss=saved["loss"], **kwargs)
        model.set_weights(saved["weights"])
        return model

    def load_weights(self, path):
        """Load a checkpoint's weights into this model; its architecture must match."""
        saved = checkpoint.load_checkpoint(path)
        mine = (self.layer_sizes, self.activations)
        theirs = (saved["layer_sizes"], saved["activations"])
        if mine != theirs:
            raise ValueError(f"checkpoint {str(path)!r} holds layer_sizes {theirs[0]} with "
                             f"activations {theirs[1]}, but this model has {mine[0]} with {mine[1]}")
        self.set_weights(saved["weights"])
