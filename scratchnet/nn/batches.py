"""The twin's batch order, for a class that shuffles its own way and wants to be
compared number for number: ``fit(X, y, epochs, alpha, batch_size, seed)`` of both
scratchnet networks visits, in epoch e, the samples ``batch_order(seed, N, epochs)[e]``
in batches of ``batch_size`` in that order, the last partial batch included.
"""
from __future__ import annotations

import numpy as np

from .validation import check_int, check_seed


def batch_order(seed, n_samples, epochs):
    """A list of ``epochs`` arrays (n_samples,) int64: each epoch's sample order, drawn
    as ``fit`` draws it, ``numpy.random.default_rng(seed).permutation(n_samples)`` once
    per epoch from one generator."""
    rng = np.random.default_rng(check_seed(seed))
    n_samples, epochs = check_int(n_samples, "n_samples"), check_int(epochs, "epochs")
    return [rng.permutation(n_samples) for _ in range(epochs)]
