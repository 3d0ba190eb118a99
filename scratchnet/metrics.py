"""Every figure a report holds, described once: its column, unit, which direction is
better, and whether it has a spread over timed runs.

The report schema (``scratchnet.report.COLUMNS``), the PNGs' panel labels, the
asv exporter's units and its history plot read this table; the ratio
convention is stated here too (``RATIO``).
"""
from __future__ import annotations

from dataclasses import dataclass

#: Largest parity of a user class that computes what the twin computes, after training:
#: float32 round-off grows over the epochs (scratch_numpy's own is ~1e-7 on the presets).
PARITY_LIMIT = {"float32": 1e-4, "float64": 1e-8}

#: What a user row's diagnosis says when the class makes another number of updates per
#: epoch than the twin: its time per epoch then measures other work.
NOT_LIKE_FOR_LIKE = "its train time per epoch is not like for like"

#: What a speed ratio divides, everywhere: a hand-written network's median over a
#: framework's (on a framework's row scratch_numpy over it; on a user class's row the class
#: over the PyTorch twin), so below 1 the hand-written network is faster.
RATIO = "hand-written network / framework"


@dataclass(frozen=True)
class Metric:
    """One figure of a report row."""

    column: str
    unit: str
    better: str  # "lower" or "higher"
    what: str
    spread: bool = False  # timed: has _min, _max, _q25 and _q75 over its runs

    @property
    def spread_columns(self):
        """``_min``, ``_max``, ``_q25``, ``_q75`` of a timed figure; none otherwise."""
        return [f"{self.column}{suffix}" for suffix in ("_min", "_max", "_q25", "_q75")] \
            if self.spread else []


METRICS = {metric.column: metric for metric in (
    Metric("train_time_per_epoch_s", "s", "lower", "wall time of fit over its epochs", True),
    Metric("inference_latency_per_sample_s", "s", "lower",
           "one forward over the held-out split, per sample", True),
    Metric("single_sample_latency_s", "s", "lower", "one forward on one sample", True),
    Metric("batch_throughput_samples_per_s", "samples/s", "higher",
           "forward passes over the training split in batches", True),
    Metric("time_to_accuracy_s", "s", "lower",
           "training time until the held-out accuracy reaches the target, evaluations left out",
           True),
    Metric("peak_memory_mb", "MB", "lower", "resident high-water mark of building and training"),
    Metric("peak_traced_mb", "MB", "lower", "Python-traced peak of building and training"),
    Metric("peak_gpu_memory_mb", "MB", "lower", "torch.cuda.max_memory_allocated"),
    Metric("final_accuracy", "fraction", "higher", "held-out accuracy after training"),
    Metric("train_accuracy", "fraction", "higher", "training-split accuracy after training"),
    Metric("parity_max_abs_diff", "max abs diff", "lower",
           "largest |p - p_twin| on the held-out split after identical training"),
    Metric("train_time_ratio", RATIO, "lower", "training time per epoch, " + RATIO),
    Metric("inference_latency_ratio", RATIO, "lower", "inference latency per sample, " + RATIO),
    Metric("single_sample_latency_ratio", RATIO, "lower", "single-sample latency, " + RATIO),
    Metric("time_to_accuracy_ratio", RATIO, "lower", "time to the target accuracy, " + RATIO),
    Metric("epochs_to_accuracy", "epochs", "lower", "epochs until the target accuracy"),
    Metric("best_accuracy", "fraction", "higher",
           "time-to-accuracy: the best held-out accuracy after an epoch"),
    Metric("evaluation_time_s", "s", "lower",
           "time-to-accuracy: a run's evaluations after each epoch, left out of its time"),
    Metric("train_step_instructions", "instructions", "lower", "one training step, valgrind"),
    Metric("inference_instructions", "instructions", "lower", "one inference, valgrind"),
    Metric("train_gflops_per_s", "GFLOP/s", "higher", "6 x sum(fan_in x fan_out) x n per epoch"),
    Metric("sgemm_gflops_per_s", "GFLOP/s", "higher", "NumPy float32 sgemm at 2048x2048"),
    Metric("fraction_of_sgemm", "fraction", "higher", "train_gflops_per_s / sgemm_gflops_per_s"),
    Metric("contention", "fraction", "lower", "share of the allowed CPUs others used"),
)}


def timed():
    """The columns with a spread over timed runs, in the table's order."""
    return [column for column, metric in METRICS.items() if metric.spread]


def unit(column):
    return METRICS[column].unit


def label(column):
    """``unit (lower is better)``: an axis label that says which way is good."""
    metric = METRICS[column]
    return f"{metric.unit} ({metric.better} is better)"


#: A row with a time from a single timed run (asv run --quick) says so: asv then runs no
#: warm-up, so first-call costs are in it (PyTorch's first epoch in a fresh process took
#: 1.5 s here against 17 ms for the next).
QUICK_NOTE = ("one timed run per figure (asv run --quick): no warm-up, so first-call costs "
              "(PyTorch's first epoch in a process) are in the times; a smoke test, not figures "
              "to quote")
