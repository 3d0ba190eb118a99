"""When ``fit`` calls training diverged: the rule, its factor and the error it raises,
shared by both networks (``scratchnet.nn.base`` checks them in the same places)."""
from __future__ import annotations

import math

import numpy as np

from .init import initial_std


#: How far past its scale a loss or a weight may go before ``fit`` calls training diverged.
DIVERGENCE_FACTOR = 1000.0


class TrainingDivergedError(FloatingPointError):
    """``fit`` found that training blew up; the model keeps the weights from before the
    update after which it was found.

    The rules, checked by both frameworks in the same places:

    - a batch's loss, or a weight after an epoch, is not finite;
    - a batch's loss exceeds ``DIVERGENCE_FACTOR`` times the larger of the fit's first
      batch loss and the loss of a guess that knows nothing (1/K for every class:
      ln K for cross-entropy, (K - 1)/K^2 for MSE);
    - after an epoch, a weight or bias of a layer exceeds ``DIVERGENCE_FACTOR`` times the
      larger of the standard deviation that layer was initialized with and its largest
      weight when the fit started. A saturated softmax or sigmoid output can keep an MSE
      loss small while its weights run away; this rule catches that.

    A network that has merely stopped learning (dead ReLUs, saturated outputs at
    moderate weights) is not flagged: its accuracy shows it.

    ``epoch`` and ``batch`` (1-based; ``batch`` is None when the weights, not a
    loss, went non-finite) say where; ``history`` holds the completed epochs.
    """

    def __init__(self, message, epoch, batch, history):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.history = history


def _largest(W, b):
    """max |w| over a layer's weights and bias (NaN if one is NaN), without a temporary."""
    extremes = (float(W.max()), -float(W.min()), float(b.max()), -float(b.min()))
    return math.nan if any(map(math.isnan, extremes)) else max(extremes)


def _surely_below(W, b, bound):
    """True when every |w| of a layer's weights and bias is finite and below ``bound``,
    shown by their sum of squares (each |w| is at most its square root) in one BLAS pass
    per array instead of four reductions; False when that does not show it (the caller
    then looks at the largest |w| itself). NaN and inf fail it. Summed in the arrays'
    dtype, n squares can come out low by a relative (n + 1) * eps at most, in any order
    of summation; the test allows for that, and is not tried where that could reach 1/2."""
    n_eps = (W.size + b.size + 1) * float(np.finfo(W.dtype).eps)
    if n_eps >= 0.5:
        return False
    W = W.ravel(order="K")  # a view of a C- or Fortran-ordered W (the PyTorch twin's W.T)
    squares = float(np.vdot(W, W)) + float(np.vdot(b, b))
    return squares < bound * bound * (1 - n_eps)


def runaway_weights(params, initial_weights, limits, layer_sizes, activations):
    """None, or what is wrong with the weights ``params`` after an epoch. A layer's limit
    is DIVERGENCE_FACTOR times the larger of its initial standard deviation and its largest
    |w| in ``initial_weights`` (see TrainingDivergedError). ``limits`` holds the limits
    found so far (None for the others): the second term is looked up, and the layer's
    largest |w| with it, only when the limit known does not already clear every weight
    (``_surely_below``)."""
    for layer, ((W, b), (W0, b0), fan_in, fan_out, activation) in enumerate(zip(
            params, initial_weights, layer_sizes[:-1], layer_sizes[1:], activations), start=1):
        limit = limits[layer - 1]
        floor = DIVERGENCE_FACTOR * initial_std(fan_in, fan_out, activation)
        if _surely_below(W, b, floor if limit is None else limit):
            continue
        largest = _largest(W, b)
        if not math.isfinite(largest):
            return "the weights became non-finite in its last update"
        if limit is None:
            limit = limits[layer - 1] = max(floor, DIVERGENCE_FACTOR * _largest(W0, b0))
        if largest > limit:
            return (f"a weight of layer {layer} reached {largest:.4g}, over "
                    f"{DIVERGENCE_FACTOR:g} times {limit / DIVERGENCE_FACTOR:.4g} (the larger "
                    f"of its initial standard deviation and its largest weight at the start)")
    return None
