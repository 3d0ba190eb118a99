"""Ratios of two frameworks' timings, with a 95 % confidence interval.

The comparison runs the frameworks' workers in alternating rounds (scratch,
pytorch, scratch, pytorch, ...); each round of each framework holds several
timed runs. The ratio is a hand-written network's median over all its runs
divided by a framework's (see ``RATIO_COLUMNS``). Its interval comes from a two-level percentile
bootstrap that follows how the data were made:

1. draw the rounds with replacement, the *same* round numbers for both
   frameworks (round r of one ran next to round r of the other, so a burst of
   load that hit one round is kept paired);
2. within each drawn round, draw each framework's runs with replacement;
3. take the ratio of the two medians; repeat ``RESAMPLES`` times; the 2.5th
   and 97.5th percentiles are the interval.

The resampling is seeded, so the same runs always give the same interval.
With a single round, step 1 has nothing to draw: the interval then shows
only the spread of runs inside one pair of processes, not the variation from
process to process, and is narrower than the truth (the reports say so).
"""
from __future__ import annotations

import dataclasses

import numpy as np

#: The timed columns a ratio is reported for, and the ratio's column, with
#: ``<ratio>_ci_low`` and ``<ratio>_ci_high``. The numerator is always a hand-written
#: network, so below 1 it is the faster: on a framework's row, scratch_numpy's median /
#: this row's median; on a user class's row (``compare --model``), this row's median /
#: the PyTorch twin's.
RATIO_COLUMNS = {"train_time_per_epoch_s": "train_time_ratio",
                 "inference_latency_per_sample_s": "inference_latency_ratio",
                 "single_sample_latency_s": "single_sample_latency_ratio",
                 "time_to_accuracy_s": "time_to_accuracy_ratio"}

RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class Ratio:
    """``value`` = median(numerator runs) / median(denominator runs), and its interval."""

    value: float
    low: float
    high: float
    rounds: int

    @property
    def relative_half_width(self):
        """Half the interval's width over the ratio: 0.05 means "+-5 %"."""
        return (self.high - self.low) / 2 / self.value


def _as_rounds(rounds, name):
    arrays = [np.asarray(runs, dtype=np.float64) for runs in rounds]
    if not arrays or any(a.ndim != 1 or a.size == 0 for a in arrays):
        raise ValueError(f"{name} must be a non-empty list of rounds, each a non-empty list of runs")
    if any(not np.all(np.isfinite(a) & (a > 0)) for a in arrays):
        raise ValueError(f"{name} must hold positive finite timings")
    return arrays


def ratio_with_interval(numerator_rounds, denominator_rounds, resamples=RESAMPLES,
                        confidence=CONFIDENCE, seed=0):
    """The ``Ratio`` of two frameworks' timings given as lists of rounds of runs
    (``numerator_rounds[r]``: the runs of round r), with the paired bootstrap above."""
    numerator = _as_rounds(numerator_rounds, "numerator_rounds")
    denominator = _as_rounds(denominator_rounds, "denominator_rounds")
    if len(numerator) != len(denominator):
        raise ValueError(f"both sides need the same rounds, got {len(numerator)} and "
                         f"{len(denominator)}")
    value = float(np.median(np.concatenate(numerator)) / np.median(np.concatenate(denominator)))
    rng = np.random.default_rng(seed)
    n_rounds = len(numerator)
    # (resamples, rounds): the round numbers drawn, shared by both sides to keep them paired
    picked = (rng.integers(n_rounds, size=(resamples, n_rounds)) if n_rounds > 1
              else np.zeros((resamples, 1), int))
    samples = _resampled_medians(numerator, picked, rng) / _resampled_medians(denominator, picked, rng)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return Ratio(value=value, low=float(min(low, value)), high=float(max(high, value)),
                 rounds=n_rounds)


def _resampled_medians(rounds, picked, rng):
    """(resamples,) medians: for each row of ``picked``, those rounds' runs drawn with
    replacement (each round keeps its number of runs) and pooled."""
    sizes = {r.size for r in rounds}
    if len(sizes) == 1:  # the usual case, vectorised: every round has n runs
        n = sizes.pop()
        table = np.stack(rounds)  # (rounds, n)
        runs = rng.integers(n, size=picked.shape + (n,))  # (resamples, rounds, n)
        return np.median(table[picked[..., None], runs].reshape(len(picked), -1), axis=1)
    return np.array([np.median(np.concatenate([rng.choice(rounds[r], size=rounds[r].size)
                                               for r in row])) for row in picked])
