"""The NumPy multilayer perceptron, written from scratch.

Weights are stored as ``W`` (fan_in, fan_out) and ``b`` (fan_out,), so a layer
computes ``z = a_prev @ W + b`` and its activation. Backward, for each layer
from the last: ``dW = a_prev.T @ dz``, ``db = sum(dz)``, ``da_prev = dz @ W.T``.
The activations and losses come from their registries (``activations.py``,
``losses.py``), whose in-place twins the training engine below uses.

The engine computes what ``step.py`` writes out formula by formula, fused and in place
(the tests hold the two equal). Its comments ``# lap: layer, "phase"`` mark where each
part of a step ends, for ``scratchnet compare --breakdown``, which compiles these methods
again with each mark turned into a clock read (``scratchnet.harness.breakdown``); ``fit``
runs them as written here.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
# SciPy's BLAS wrappers take beta, which NumPy's matmul does not: the SGD update is fused
# into the weight gradient's product (see _forward_backward). Imported with the module,
# so that thread limits set afterwards (threadpoolctl) cover its OpenBLAS as well as NumPy's.
from scipy.linalg.blas import get_blas_funcs

from .activations import get_activation
from .base import BaseNetwork
from .losses import get_loss, one_hot
from .validation import check_features, check_labels


#: fit's BLAS thread rule: one thread for batches of fewer than SINGLE_BLAS_THREAD_ROWS
#: rows, or whose largest product has fewer than SINGLE_BLAS_THREAD_BELOW multiply-adds;
#: the threads in force otherwise. Small products pay a second thread's wake-up and join
#: on every call; the measurements behind the numbers are in docs/performance.md.
SINGLE_BLAS_THREAD_ROWS = 64
SINGLE_BLAS_THREAD_BELOW = 2_000_000
#: The softmax of the training step and of the forward pass (float32 and float64) skips the
#: shift by the row maximum while every logit lies within UNSHIFTED_SOFTMAX_BELOW of 0, for
#: up to UNSHIFTED_SOFTMAX_OUTPUTS outputs: a row's sum of exp stays below 1000 * exp(80) =
#: 5.5e37, under float32's largest value (3.4e38), and each exp above exp(-80) = 1.8e-35,
#: over its smallest normal one (1.2e-38).
UNSHIFTED_SOFTMAX_BELOW = 80.0
UNSHIFTED_SOFTMAX_OUTPUTS = 1000
_blas_controller = None


def _shift_if_far(z, column, unshifted_below):
    """Subtract each row's maximum from the logits z (B, K), through column (B, 1), unless
    the sum of their squares is below ``unshifted_below`` (UNSHIFTED_SOFTMAX_BELOW squared,
    or -1 where there are too many outputs). Softmax is the same for any shift of a row;
    the shift keeps exp from overflowing, and below the bound nothing can."""
    if not float(np.vdot(z, z)) < unshifted_below:  # NaN and inf fail it too
        np.maximum.reduce(z, axis=1, keepdims=True, out=column)
        z -= column


def _blas():
    """threadpoolctl's controller of the loaded BLAS libraries, made once: building it
    scans every loaded library (about 0.3 ms), limiting through it takes microseconds."""
    global _blas_controller
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController
        _blas_controller = ThreadpoolController().select(user_api="blas")
    return _blas_controller


class NeuralNetwork(BaseNetwork):
    """A fully connected network in NumPy, trained with mini-batch SGD.

    ``NeuralNetwork(layer_sizes=[784, 64, 10], activations=["relu", "softmax"],
    precision_config=PrecisionConfig(), seed=42, loss="mse")``
    """

    framework = "scratch_numpy"

    def __init__(self, layer_sizes, activations, precision_config=None, seed=42, loss="mse"):
        super().__init__(layer_sizes, activations, precision_config, seed, loss)
        self._activation_fns = [get_activation(name) for name in self.activations]
        self._loss_fn = get_loss(self.loss)
        self._buffers = None
        self._fused_update = False  # set for each fit by _training_context
        self._unshifted_below = (UNSHIFTED_SOFTMAX_BELOW ** 2  # compared with a sum of squares
                                 if self.layer_sizes[-1] <= UNSHIFTED_SOFTMAX_OUTPUTS else -1.0)
        self._gemm, self._gemv = get_blas_funcs(("gemm", "gemv"), dtype=self.train_dtype)
        self._set_params(self._initial_params())

    def _set_params(self, params):
        # C order always (a transposed W would otherwise stay Fortran-ordered): the fused
        # update's gemm writes into W.T in place only when W.T is Fortran-contiguous
        self._params = [(np.array(W, dtype=self.train_dtype, order="C"),
                         np.array(b, dtype=self.train_dtype)) for W, b in params]
        self._cast_cache = {}

    def _get_params(self):
        return self._params

    # ------------------------------------------------------------- training
    # The training engine is written for speed; where each trick lives:
    # - one permuted copy of the data per epoch, so every batch is a contiguous
    #   slice (a view) instead of a fancy-indexed copy;
    # - per-layer buffers allocated once and reused by every batch (matmul with
    #   out=, bias add and activations in place), float32 end to end;
    # - (on one BLAS thread) each update fused into the product that makes the step:
    #   W -= a_prev.T @ dz is one BLAS gemm with beta = 1 and b -= sum(dz) one gemv with
    #   a ones vector, so no dW or db array is written and W is not read a second time;
    #   the learning rate and the loss's factor are those calls' alpha (otherwise the
    #   output gradient is scaled once, and backprop yields the SGD steps directly);
    # - in _output_loss, softmax's row reductions into a kept column buffer, and its
    #   shift by the row maximum only where a logit is far from 0;
    # - no gradient with respect to the input data (layer 0's dX is never needed).
    def _prepare_training_data(self, X, labels):
        self._cast_cache = {}  # fit changes the weights; casts made before are stale
        if self._loss_fn.on_logits:
            targets = np.empty((len(labels), 0), X.dtype)  # cross-entropy uses the labels
        else:
            targets = one_hot(labels, self.layer_sizes[-1], X.dtype)  # (N, K)
        return {"X": X, "labels": labels, "targets": targets}

    def _epoch_data(self, data, order):
        for key in ("X", "labels", "targets"):
            if f"{key}_epoch" not in data:  # allocated at the first epoch, reused by the rest
                data[f"{key}_epoch"] = np.empty_like(data[key])
            # mode="clip": with out= and the default mode="raise", NumPy gathers into a
            # temporary and copies it over (3x the time here, 149 against 49 us for the
            # default preset's X); order is a permutation, so no index is ever clipped
            np.take(data[key], order, axis=0, out=data[f"{key}_epoch"], mode="clip")
        return data

    @contextlib.contextmanager
    def _training_context(self, batch_size):
        # Overflow to inf/NaN is caught by the loss check; one errstate per fit, not per batch.
        with np.errstate(over="ignore", invalid="ignore"), self._blas_threads_for(batch_size):
            # The update is fused into its gradient's product (SciPy's BLAS) only on one BLAS
            # thread: NumPy and SciPy each bring their own OpenBLAS, whose threads keep
            # spinning after a call, so alternating the two on several threads is slow
            # (docs/performance.md).
            self._fused_update = all(lib.num_threads == 1 for lib in _blas().lib_controllers)
            try:
                yield
            finally:
                self._fused_update = False

    def fuses_updates(self, batch_size):
        """Whether ``fit`` with batches of ``batch_size`` rows, under the BLAS threads in force
        now, subtracts each gradient in the BLAS call that computes it (one BLAS thread)
        rather than in a pass of its own: the two arithmetic paths of the engine."""
        with self._training_context(batch_size):
            return self._fused_update

    def _blas_threads_for(self, batch_size):
        """One BLAS thread while training small batches or small products (the rule and its
        measurements: SINGLE_BLAS_THREAD_ROWS above). Never more threads than in force."""
        largest = max(a * b for a, b in zip(self.layer_sizes[:-1], self.layer_sizes[1:]))
        if isinstance(batch_size, int) and batch_size > 0 and (
                batch_size < SINGLE_BLAS_THREAD_ROWS
                or batch_size * largest < SINGLE_BLAS_THREAD_BELOW):
            libraries = _blas()
            # threadpoolctl's limit takes about 17 us even when nothing changes
            if any(lib.num_threads != 1 for lib in libraries.lib_controllers):
                return libraries.limit(limits=1)
        return contextlib.nullcontext()

    def _train_step(self, data, start, stop, alpha):
        return self._forward_backward(data["X_epoch"][start:stop], data["labels_epoch"][start:stop],
                                      data["targets_epoch"][start:stop], alpha)

    def _buffers_for(self, rows):
        """Per layer (A, D, S, A.T, D.T): activations, dL/dz and scratch, each (rows, out),
        allocated once for the largest batch, with the transposed views the BLAS calls take;
        and a ones vector (rows,) for the bias gradient's gemv. The views for each batch
        size are kept too (a full batch and the last partial one), and in self._rows a
        (rows, 1) buffer, the same as (rows,), and the row indices for the output layer.
        Gradients, where they are written (``alpha=None``, or an update not fused), go to
        self._grads."""
        if self._buffers is None or self._buffers[0][0].shape[0] < rows:
            self._buffers = [tuple(np.empty((rows, fan_out), self.train_dtype) for _ in range(3))
                             for fan_out in self.layer_sizes[1:]]
            self._ones = np.ones(rows, self.train_dtype)
            self._grads = [(np.empty_like(W), np.empty_like(b)) for W, b in self._params]
            self._views, self._rows = {}, {}
        if rows not in self._views:
            layers = []
            for buffer in self._buffers:
                A, D, S = (part[:rows] for part in buffer)
                layers.append((A, D, S, A.T, D.T))
            self._views[rows] = (layers, self._ones[:rows])
            column = np.empty((rows, 1), self.train_dtype)  # a value per row: softmax's max, sum
            self._rows[rows] = (column, column.reshape(rows), np.arange(rows))
        return self._views[rows]

    def _forward_backward(self, x, labels, targets, alpha):
        """One batch: forward, loss, backward and, with ``alpha``, the SGD update.

        x (B, D), labels (B,), targets (B, K) one-hot for MSE. Without ``alpha``
        the gradients are left in self._grads and the weights are untouched.
        Returns (loss, number of correct predictions); when the loss is not
        finite nothing is changed.
        """
        layers, ones = self._buffers_for(x.shape[0])
        params = self._params
        # lap: None, "batch"
        a_prev = x
        last = len(params)
        for layer, ((W, b), (A, _, _, _, _)) in enumerate(zip(params, layers), start=1):
            np.matmul(a_prev, W, out=A)  # (B, out); the last layer's A holds the logits
            # lap: layer, "forward: matmul"
            A += b
            # lap: layer, "forward: bias"
            if layer < last:  # the output activation is part of the loss below
                self._activation_fns[layer - 1].forward_(A)
                # lap: layer, "forward: activation"
            a_prev = A
        loss, factor = self._output_loss(layers[-1][:3], labels, targets, *self._rows[x.shape[0]])
        if not math.isfinite(loss):
            return loss, 0
        # lap: None, "output gradient"
        n_correct = int(np.count_nonzero(layers[-1][0].argmax(axis=1) == labels))
        # lap: None, "loss"
        # D holds dL/dz / factor. Backprop is linear in it, so one multiplication anywhere
        # puts the loss's factor, and the learning rate, into every dW and db: on the
        # fused path it is the BLAS calls' own alpha, and no pass over an array is added;
        # otherwise D is scaled here, once, and dW and db come out as the SGD steps.
        fused = alpha is not None and self._fused_update
        step = -factor * alpha if fused else None
        if not fused:
            np.multiply(layers[-1][1], factor if alpha is None else factor * alpha,
                        out=layers[-1][1])
            # lap: None, "output gradient"
        gemm, gemv = self._gemm, self._gemv
        for layer in range(last - 1, -1, -1):  # 0-based here; laps name layer + 1
            W, b = params[layer]
            _, D, _, _, DT = layers[layer]  # D (B, out): dL/dz of this layer; DT (out, B)
            if layer > 0:
                A_prev, D_prev, S_prev, a_inT, _ = layers[layer - 1]
                np.matmul(D, W.T, out=D_prev)  # (B, in), with W before its update
                # lap: layer + 1, "backward: input gradient"
                self._activation_fns[layer - 1].backward_(D_prev, A_prev, S_prev)
                # lap: layer, "backward: activation derivative"
            else:
                a_inT = x.T  # (in, B)
            if fused:
                # The step and the update in one call each. BLAS is column-major: there a
                # C-ordered W (in, out) is W.T (out, in), so the gemm computes
                # W.T <- W.T + step * D.T @ a_in in place, and the gemv
                # b <- b + step * D.T @ ones, with step = -alpha * factor.
                # Arguments by position: f2py parses keywords at about 1 us a call.
                # sgemm(alpha, a, b, beta, c, trans_a, trans_b, overwrite_c)
                gemm(step, DT, a_inT, 1.0, W.T, 0, 1, 1)
                # lap: layer + 1, "backward: weight gradient and update"
                # sgemv(alpha, a, x, beta, y, offx, incx, offy, incy, trans, overwrite_y)
                gemv(step, DT, ones, 1.0, b, 0, 1, 0, 1, 0, 1)
                # lap: layer + 1, "backward: bias gradient and update"
                continue
            dW, db = self._grads[layer]
            np.matmul(a_inT, D, out=dW)  # (in, out)
            # lap: layer + 1, "backward: weight gradient"
            np.add.reduce(D, axis=0, out=db)  # (out,)
            # lap: layer + 1, "backward: bias gradient"
            if alpha is not None:
                W -= dW
                b -= db
                # lap: None, "update"
        return loss, n_correct

    def _output_loss(self, last, labels, targets, column, row_values, rows):
        """Turn the logits in A into the outputs; return (loss, factor) and leave
        dL/dz / factor in D. ``column`` (B, 1) and ``row_values`` (B,) are one scratch
        buffer, ``rows`` the row indices.

        Softmax + cross-entropy is done in closed form: dL/dz = (softmax - onehot) / B.
        """
        A, D, S = last
        softmax = self.activations[-1] == "softmax"
        if softmax:  # softmax_forward_'s steps inline, each reduction into the column buffer
            _shift_if_far(A, column, self._unshifted_below)  # (B, K)
            if self._loss_fn.on_logits:
                picked = A[rows, labels]  # (B,)
            np.exp(A, out=A)
            np.add.reduce(A, axis=1, keepdims=True, out=column)
            if self._loss_fn.on_logits:
                loss = float(np.mean(np.log(row_values) - picked))
            A /= column  # softmax
        if self._loss_fn.on_logits:
            # lap: None, "loss"
            np.copyto(D, A)
            D[rows, labels] -= 1
            return loss, 1.0 / len(rows)
        if not softmax:
            self._activation_fns[-1].forward_(A)
        # lap: len(self.layer_sizes) - 1, "forward: activation"
        np.subtract(A, targets, out=D)  # (B, K)
        loss = float(np.vdot(D, D)) / D.size  # mean over all B*K elements, like torch's mse_loss
        # lap: None, "loss"
        if softmax:  # softmax's backward_, its row sums by vecdot: dz = a * (d - sum(d * a))
            np.vecdot(D, A, out=row_values)
            D -= column
            D *= A
        else:
            self._activation_fns[-1].backward_(D, A, S)
        return loss, 2.0 / D.size

    def _loss_and_gradients(self, X, y):
        """The loss on (X, y) and its gradient for every layer, without changing the weights.

        Returns (loss, [(dW (fan_in, fan_out), db (fan_out,)), ...]) in ``train_dtype``
        (None for the gradients if the loss is not finite): what one SGD step of
        ``fit`` on this batch would use, computed by the same code.
        """
        X = check_features(X, self.layer_sizes[0], dtype=self.train_dtype)
        labels = check_labels(y, X.shape[0], self.layer_sizes[-1])
        data = self._prepare_training_data(np.ascontiguousarray(X, dtype=self.train_dtype), labels)
        with np.errstate(over="ignore", invalid="ignore"):
            loss, _ = self._forward_backward(data["X"], labels, data["targets"], alpha=None)
        if not np.isfinite(loss):
            return loss, None
        return loss, [(dW.copy(), db.copy()) for dW, db in self._grads]

    # ------------------------------------------------------------ inference
    def _params_in(self, dtype):
        if dtype == self.train_dtype:
            return self._params
        if dtype not in self._cast_cache:
            self._cast_cache[dtype] = [(W.astype(dtype), b.astype(dtype)) for W, b in self._params]
        return self._cast_cache[dtype]

    def _logits_and_outputs(self, X, dtype, logits=True):
        kept = None  # the logits, where asked for
        a = X.astype(dtype, copy=False)  # (N, D)
        # lap: None, "input"
        with np.errstate(over="ignore", invalid="ignore"):
            for layer, ((W, b), activation) in enumerate(
                    zip(self._params_in(dtype), self._activation_fns), start=1):
                z = a @ W  # (N, out), a fresh array the activation may overwrite
                # lap: layer, "forward: matmul"
                z += b
                # lap: layer, "forward: bias"
                output = layer == len(self._activation_fns)
                if logits and output:
                    kept = z.copy()  # the activation overwrites z; the loss may need these
                    # lap: layer, "forward: copy of the logits"
                if output and activation.name == "softmax" and z.dtype != np.float16:
                    # as in training: the shift by the row maximum only where a logit is
                    # far from 0 (float16's exp overflows past 11, so it always shifts)
                    column = np.empty((z.shape[0], 1), z.dtype)
                    _shift_if_far(z, column, self._unshifted_below)
                    np.exp(z, out=z)
                    np.add.reduce(z, axis=1, keepdims=True, out=column)
                    z /= column
                else:
                    activation.forward_(z)
                # lap: layer, "forward: activation"
                a = z
        return kept, a

    def _loss_value(self, logits, outputs, labels):
        loss_input = logits if self._loss_fn.on_logits else outputs
        return self._loss_fn.forward(loss_input.astype(np.float64), labels)
