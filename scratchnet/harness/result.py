"""A measured row: the one list of what a comparison row holds, in the order every report
writes it (``scratchnet compare``, the worker and the asv exporter share it), what each
column means, and ``Measured``, what a worker sends back."""
from __future__ import annotations

import dataclasses
import json

from ..metrics import METRICS, timed
from . import contention
from .ratios import RATIO_COLUMNS

#: The spec's keys first, in its order, then spreads, settings and versions.
SPEC_COLUMNS = ["framework", "status", "layer_sizes", "train_time_per_epoch_s",
                "inference_latency_per_sample_s", "batch_throughput_samples_per_s",
                "peak_memory_mb", "final_accuracy", "notes"]


#: The timed columns: each has ``_min``, ``_max`` and the quartiles ``_q25``, ``_q75`` of its runs.
TIMED = timed()


COLUMNS = SPEC_COLUMNS + [
    "train_time_per_epoch_s_min", "train_time_per_epoch_s_max",
    "inference_latency_per_sample_s_min", "inference_latency_per_sample_s_max",
    "single_sample_latency_s", "single_sample_latency_s_min", "single_sample_latency_s_max",
    "batch_throughput_samples_per_s_min", "batch_throughput_samples_per_s_max",
    "time_to_accuracy_s", "time_to_accuracy_s_min", "time_to_accuracy_s_max", "epochs_to_accuracy",
    "time_to_accuracy_status", "best_accuracy", "evaluation_time_s",
    *[f"{column}{suffix}" for column in TIMED for suffix in ("_q25", "_q75")],
    "peak_traced_mb", "peak_memory_method", "peak_gpu_memory_mb",
    "train_accuracy", "parity_max_abs_diff", "diagnosis",
    *[f"{ratio}{suffix}" for ratio in RATIO_COLUMNS.values() for suffix in ("", "_ci_low", "_ci_high")],
    "target_ci", "rounds_stopped_by",
    "disturbed", *contention.COLUMNS,
    "train_step_instructions", "inference_instructions",
    "train_gflops_per_s", "sgemm_gflops_per_s", "fraction_of_sgemm",
    "preset", "activations", "loss", "dataset", "n_samples", "n_test", "epochs", "batch_size",
    "target_accuracy", "max_epochs",
    "alpha", "seed", "precision", "device", "threads", "blas_threads", "torch_threads",
    "repeats", "rounds", "warmup",
    "python_version", "numpy_version", "torch_version", "onnxruntime_version", "blas", "platform",
    "cpu", "cpu_count",
    "started_utc", "commit", "machine", "source",
]


def ordered(row):
    """The row with every column of ``COLUMNS`` in order (missing ones None), extras after."""
    result = {column: row.get(column) for column in COLUMNS}
    result.update({key: value for key, value in row.items() if key not in result})
    return result


def training_flops_per_epoch(layer_sizes, n_samples):
    """6 x sum(fan_in * fan_out) x n: a multiply and an add for each weight in the forward
    pass, in dX and in dW. The NumPy network skips layer 0's dX, so this slightly
    overstates its work: the convention favours neither side's GFLOP/s."""
    return 6 * sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])) * n_samples


def format_architecture(layer_sizes, activations):
    """A row's ``layer_sizes`` and ``activations`` columns, as the spec's reports show them
    ("784x64x10", "relu,softmax"): the one place a row's architecture becomes text."""
    return "x".join(map(str, layer_sizes)), ",".join(activations)


def architecture_of(row):
    """(layer_sizes as ints, activations) of a report row: the one place that text is read
    back (a row of ``benchmark_scratch_vs_torch``'s, or one read from its JSON or CSV)."""
    return ([int(n) for n in str(row["layer_sizes"]).split("x")],
            str(row.get("activations") or "").split(","))


def add_roofline(rows, sgemm=None):
    """Achieved training GFLOP/s per row and its fraction of ``sgemm`` (GFLOP/s), or without
    ``sgemm`` of the rate each row's own worker measured (``sgemm_gflops_per_s``)."""
    for row in rows:
        if sgemm is not None:
            row["sgemm_gflops_per_s"] = float(sgemm)
        if row.get("train_time_per_epoch_s") and row.get("sgemm_gflops_per_s"):
            sgemm_rate = row["sgemm_gflops_per_s"]
            sizes, _ = architecture_of(row)
            rate = training_flops_per_epoch(sizes, row["n_samples"]) / row["train_time_per_epoch_s"] / 1e9
            row["train_gflops_per_s"] = rate
            row["fraction_of_sgemm"] = rate / sgemm_rate
    return rows


#: What every column that is not a measured figure (``scratchnet.metrics.METRICS``) holds;
#: with the metrics table and the suffix rules of ``describe`` it covers all of ``COLUMNS``
#: (a test holds it so, and docs/reference/columns.md is generated from it).
SETTINGS = {
    "framework": "the row: scratch_numpy, pytorch, pytorch_cuda, onnxruntime or a --model class",
    "status": "ok, error (notes says why) or skipped (its dependency is not installed)",
    "layer_sizes": "the network's widths, input first, as 784x64x10",
    "notes": "why a row is not ok, and what else a reader must know about its figures",
    "time_to_accuracy_status": "reached after N epochs, or not reached within --max-epochs",
    "peak_memory_method": "how peak_memory_mb was read: ru_maxrss after a reset, or /proc",
    "diagnosis": "a --model class's row: what differs from the twin, in words",
    "target_ci": "the --target-ci the rounds were run to",
    "rounds_stopped_by": "what ended the rounds: the target interval, --max-time or the count",
    "disturbed": "contention or contention_runqueue_wait at or above 0.10: a busy machine",
    "preset": "the configuration's name, or empty for flags given one by one",
    "activations": "one per layer, comma-separated",
    "loss": "the loss and its reductions, as mse or mse(samples=sum,outputs=half_sum)",
    "dataset": "digits, synthetic or mnist:<folder>",
    "n_samples": "training samples",
    "n_test": "held-out samples, drawn beside them (a quarter as many)",
    "epochs": "epochs per training run",
    "batch_size": "samples per SGD step",
    "target_accuracy": "the held-out accuracy --target-accuracy times training to",
    "max_epochs": "epochs a time-to-accuracy run may take",
    "alpha": "the SGD learning rate",
    "seed": "the seed of the initial weights and the batch order",
    "precision": "float32 or float64, training and inference",
    "device": "cpu or cuda",
    "threads": "threads asked for (--threads)",
    "blas_threads": "BLAS threads in force while the row was timed",
    "torch_threads": "torch's intra-op threads in force while the row was timed",
    "repeats": "timed runs per round",
    "rounds": "rounds of alternating worker processes",
    "warmup": "untimed runs before the timed ones",
    "python_version": "the worker's Python",
    "numpy_version": "the worker's NumPy",
    "torch_version": "the worker's torch, where it imported torch",
    "onnxruntime_version": "the worker's ONNX Runtime, on its row",
    "blas": "the BLAS libraries NumPy (and SciPy, torch) call, with their versions",
    "platform": "the operating system and architecture",
    "cpu": "the processor's model name",
    "cpu_count": "CPUs this process may use",
    "started_utc": "when the run started, ISO 8601 in UTC",
    "commit": "the commit measured (scratchnet export), else empty",
    "machine": "asv's machine name (scratchnet export), else empty",
    "source": "compare, or asv for rows exported from asv's results",
    "contention_others_cpu": "the share of the CPUs' time other processes used",
    "contention_steal": "the share the hypervisor took (steal)",
    "contention_runqueue_wait": "the share of our threads' runnable time spent waiting for a CPU",
    "contention_own_cpu_per_thread": "our CPU time over wall time x threads",
    "contention_window_s": "the length of the window contention was read over",
    "contention_cpus": "the CPUs that window covers",
    "load_average_before": "the one-minute load average before the timed runs",
    "load_average_after": "the one-minute load average after them",
}
#: The suffixes a figure's column may carry, and what each adds to it.
SUFFIXES = {"_min": "fastest timed run", "_max": "slowest timed run",
            "_q25": "first quartile of the timed runs", "_q75": "third quartile of the timed runs",
            "_ci_low": "low end of its 95 % bootstrap interval",
            "_ci_high": "high end of its 95 % bootstrap interval"}


def describe(column):
    """(unit, what it holds) of a report column; KeyError for a column nobody described."""
    if column in METRICS:
        return METRICS[column].unit, METRICS[column].what
    if column in SETTINGS:
        return "", SETTINGS[column]
    for suffix, what in SUFFIXES.items():
        base = column[: -len(suffix)]
        if column.endswith(suffix) and base in METRICS:
            return METRICS[base].unit, f"{base}: {what}"
    raise KeyError(column)


@dataclasses.dataclass
class Measured:
    """What one worker measured of one framework in one round, as it crosses back to the
    runner (``measured.json``, nothing pickled): the report ``columns`` it filled, ``runs``
    (every timed run of each timed figure, for pooling the rounds and the ratios'
    intervals) and ``contention`` (``harness.contention.Contention`` as a dict: what else
    used the CPU while it timed; None where it did not time)."""

    columns: dict
    runs: dict = dataclasses.field(default_factory=dict)
    contention: dict | None = None

    @property
    def ok(self):
        return self.columns.get("status") == "ok"

    @classmethod
    def error(cls, notes):
        """A round that measured nothing: an error row saying why."""
        return cls({"status": "error", "notes": notes})

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), allow_nan=True)

    @classmethod
    def from_json(cls, text):
        """The Measured ``to_json`` wrote; ValueError for anything else."""
        data = json.loads(text)
        if not (isinstance(data, dict) and set(data) == {"columns", "runs", "contention"}
                and isinstance(data["columns"], dict) and "status" in data["columns"]):
            raise ValueError(f"not a worker's measurement: {text[:80]!r}")
        return cls(**data)
