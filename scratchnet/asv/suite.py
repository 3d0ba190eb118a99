"""What the asv suite (``benchmarks/``) measures, as the exporter reads it: each
benchmark's report column, the figures of the machine and of the pair, the units and the
presets. The suite itself keeps its own copies: it must run against old commits."""
from __future__ import annotations

from ..harness.presets import GOAL_PRESETS, PRESETS as SPEC_PRESETS
from ..metrics import unit as metric_unit

#: The asv suite's presets: the spec's three and time-to-accuracy's.
PRESETS = {**SPEC_PRESETS, **GOAL_PRESETS}


#: asv benchmark (last part of its name) -> report column. Every benchmark of the suite is
#: lower-is-better, as asv's gate reads it; the exporter turns the error rate back into
#: accuracy and the sgemm time into a rate.
METRICS = {
    "time_train_epoch": "train_time_per_epoch_s",
    "time_inference": "inference_latency_per_sample_s",
    "time_inference_single": "single_sample_latency_s",
    "track_train_memory_mb": "peak_memory_mb",
    "track_error_rate": "final_accuracy",
    "track_parity": "parity_max_abs_diff",
    "track_parity_with_the_twin": "parity_max_abs_diff",
    "time_sgemm": "sgemm_gflops_per_s",
    "track_train_step_instructions": "train_step_instructions",
    "track_inference_instructions": "inference_instructions",
    "track_time_to_accuracy": "time_to_accuracy_s",
}


#: Figures of the machine, not of a framework or preset (benchmarks without parameters).
MACHINE_METRICS = ("sgemm_gflops_per_s",)


#: Figures derived here from the measured ones, per commit (see ``derive``).
DERIVED_METRICS = ("train_gflops_per_s", "fraction_of_sgemm", "train_time_ratio")


#: The exported figures and their units (``scratchnet.metrics``), in the history's order.
UNITS = {column: metric_unit(column) for column in (
    "train_time_per_epoch_s", "inference_latency_per_sample_s", "single_sample_latency_s",
    "peak_memory_mb", "final_accuracy", "parity_max_abs_diff", "sgemm_gflops_per_s",
    "train_gflops_per_s", "fraction_of_sgemm", "train_time_ratio", "train_step_instructions",
    "inference_instructions", "time_to_accuracy_s")}


NOT_MEASURED = ["batch_throughput_samples_per_s", "peak_traced_mb", "train_accuracy"]


HISTORY_COLUMNS = ["commit", "commit_date", "machine", "env", "framework", "preset", "metric",
                   "value", "unit", "runs", "status", "benchmark"]


#: Figures of the pair, not of one framework: the history draws them once per preset.
PAIR_METRICS = ("parity_max_abs_diff", "train_time_ratio")


#: The 2 n^3 flops of one ``time_sgemm`` call (benchmarks/performance.py's SGEMM_SIZE).
SGEMM_FLOPS = 2 * 2048 ** 3


#: Fewer samples a side than this (asv --quick takes one) give a ratio without an interval.
MIN_SAMPLES_FOR_INTERVAL = 5
