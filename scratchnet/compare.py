"""The side-by-side run: ``benchmark_scratch_vs_torch``.

Every framework is measured in a fresh worker process (``python -m
scratchnet._worker``), so neither warms up, allocates for or shares thread
pools with the other, and the memory high-water mark of one run never
includes the other's. A plain subprocess rather than multiprocessing, so a
user's script needs no ``if __name__ == "__main__"`` guard. The parent only
checks the arguments, loads the data once (the same arrays go to every worker
through an ``.npz`` file and a JSON job; nothing is pickled), gathers the rows
and computes the parity figure.
"""
from __future__ import annotations

import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import traceback

import numpy as np

from . import benchmark
from .data import load_dataset
from .precision import TRAIN_DTYPES, check_dtype_name
from .reports import COLUMNS
from .validation import check_alpha, check_architecture, check_int, check_seed

FRAMEWORKS = ("scratch_numpy", "pytorch", "pytorch_cuda", "onnxruntime")
#: Rows that only run inference: a scratch network trained with the same settings
#: (untimed) is exported to ONNX and run by ONNX Runtime's CPU provider.
INFERENCE_ONLY = ("onnxruntime",)

#: The spec's three configurations. The spec's "deep" example lists five
#: activations for four layers; a network needs len(layer_sizes) - 1 of them,
#: so it is three relu layers and a softmax output here.
PRESETS = {
    "default": dict(layer_sizes=[784, 64, 10], activations=["relu", "softmax"], n_samples=512,
                    epochs=3, batch_size=32, alpha=0.1, seed=42),
    "deep": dict(layer_sizes=[1024, 512, 256, 128, 10], activations=["relu", "relu", "relu", "softmax"],
                 n_samples=1000, epochs=5, batch_size=64, alpha=0.01, seed=42),
    "wide": dict(layer_sizes=[784, 256, 256, 10], activations=["relu", "relu", "softmax"],
                 n_samples=500, epochs=10, batch_size=128, alpha=0.05, seed=123),
}

#: The performance work's two further configurations (synthetic data: they need
#: more samples than the digits have): many tiny batches, and large layers.
EXTRA_PRESETS = {
    "small_batch": dict(layer_sizes=[784, 64, 10], activations=["relu", "softmax"], n_samples=8192,
                        epochs=1, batch_size=8, alpha=0.1, seed=42),
    "large": dict(layer_sizes=[784, 1024, 1024, 10], activations=["relu", "relu", "softmax"],
                  n_samples=4096, epochs=1, batch_size=256, alpha=0.01, seed=42),
}
ALL_PRESETS = {**PRESETS, **EXTRA_PRESETS}

N_CLASSES = 10
DIGITS_SAMPLES = 1797


def held_out_size(n_samples):
    """Held-out samples drawn beside ``n_samples`` training samples: a quarter as many
    (20 % of the total), at least one."""
    return max(1, round(n_samples / 4))


def default_dataset(n_features, n_samples):
    """The embedded digits where the width is a square and there are enough digits."""
    side = math.isqrt(n_features)
    fits = n_samples + held_out_size(n_samples) <= DIGITS_SAMPLES
    return "digits" if side * side == n_features and fits else "synthetic"


def training_flops_per_epoch(layer_sizes, n_samples):
    """6 x sum(fan_in * fan_out) x n: a multiply and an add for each weight in the forward
    pass, in dX and in dW. The NumPy network skips layer 0's dX, so this slightly
    overstates its work: the convention favours neither side's GFLOP/s."""
    return 6 * sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])) * n_samples


def add_roofline(rows, sgemm=None):
    """Achieved training GFLOP/s per row and its fraction of ``sgemm`` (GFLOP/s), or without
    ``sgemm`` of the rate each row's own worker measured (``sgemm_gflops_per_s``)."""
    for row in rows:
        if sgemm is not None:
            row["sgemm_gflops_per_s"] = float(sgemm)
        if row.get("train_time_per_epoch_s") and row.get("sgemm_gflops_per_s"):
            sgemm_rate = row["sgemm_gflops_per_s"]
            sizes = [int(n) for n in row["layer_sizes"].split("x")]
            rate = training_flops_per_epoch(sizes, row["n_samples"]) / row["train_time_per_epoch_s"] / 1e9
            row["train_gflops_per_s"] = rate
            row["fraction_of_sgemm"] = rate / sgemm_rate
    return rows


def default_frameworks():
    """scratch_numpy, pytorch, and pytorch_cuda where CUDA is available."""
    return list(FRAMEWORKS[:2]) + (["pytorch_cuda"] if cuda_available() else [])


def cuda_available():
    try:
        import torch
        return torch.cuda.is_available()
    except Exception:
        return False


def _torch_available():
    from .pytorch_model import is_torch_available
    return is_torch_available()


def benchmark_scratch_vs_torch(layer_sizes, activations, n_samples=512, epochs=3, batch_size=32,
                               alpha=0.1, seed=42, *, dataset=None, precision="float32",
                               loss="mse", repeats=7, warmup=1, threads=None, frameworks=None,
                               rounds=1, roofline=False, progress=None):
    """Train and time both models with identical settings; one row (dict) per framework.

    ``n_samples`` training samples and ``held_out_size(n_samples)`` held-out
    ones are drawn from ``dataset`` (default: digits where the width allows,
    else synthetic). ``precision`` is the dtype models train and infer in;
    ``threads`` (default: all cores) applies to NumPy's BLAS and to torch alike;
    ``frameworks`` picks rows from ``FRAMEWORKS`` (default: scratch_numpy,
    pytorch, and pytorch_cuda where CUDA is available; onnxruntime only when
    asked for: it measures inference only, its training columns are None).
    ``rounds`` > 1 runs the frameworks' workers in turn that many times (A B A
    B ...) and pools each framework's timed runs, so a burst of load from
    elsewhere on a shared machine falls on both sides rather than on one.
    ``roofline=True`` has every training worker also measure NumPy's sgemm
    rate at 2048x2048 (same process, same threads, just before the timed
    training) and adds each row's achieved GFLOP/s and its fraction of that rate.
    ``progress``, if given, is called with a short message as each worker starts.
    """
    sizes, names, loss = check_architecture(layer_sizes, activations, loss)
    if sizes[-1] < N_CLASSES:
        raise ValueError(f"layer_sizes[-1] must be at least {N_CLASSES}: the benchmark data sets "
                         f"have {N_CLASSES} classes, got {sizes[-1]}")
    job = dict(
        layer_sizes=list(sizes), activations=list(names), loss=loss,
        n_samples=check_int(n_samples, "n_samples"), epochs=check_int(epochs, "epochs"),
        batch_size=check_int(batch_size, "batch_size"), alpha=check_alpha(alpha),
        seed=check_seed(seed), precision=check_dtype_name(precision, "precision", TRAIN_DTYPES),
        repeats=check_int(repeats, "repeats"), warmup=check_int(warmup, "warmup", minimum=0),
        threads=benchmark.available_cores() if threads is None else check_int(threads, "threads"),
        rounds=check_int(rounds, "rounds"), roofline=bool(roofline),
    )
    if frameworks is None:
        frameworks = default_frameworks()
    if isinstance(frameworks, str) or not all(f in FRAMEWORKS for f in frameworks) or not frameworks:
        raise ValueError(f"frameworks must be a non-empty list drawn from {list(FRAMEWORKS)}, "
                         f"got {frameworks!r}")
    frameworks = [f for f in FRAMEWORKS if f in frameworks]  # the report's fixed order
    job["dataset"] = dataset or default_dataset(sizes[0], job["n_samples"])
    n_test = held_out_size(job["n_samples"])
    total = job["n_samples"] + n_test
    job["data"] = load_dataset(job["dataset"], n_features=sizes[0], n_samples=total,
                               test_fraction=n_test / total, seed=job["seed"])

    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    measured = {framework: [] for framework in frameworks}
    skipped = {framework: _skip_reason(framework) for framework in frameworks}
    for round_ in range(1, job["rounds"] + 1):
        for framework in frameworks:
            if skipped[framework] is None:
                if progress:
                    progress(f"{framework}: {job['repeats']} timed runs after {job['warmup']} "
                             f"warm-up, in a fresh process"
                             + (f" (round {round_}/{job['rounds']})" if job["rounds"] > 1 else ""))
                measured[framework].append(_run_isolated(framework, job))
    rows, probabilities = [], {}
    for framework in frameworks:
        if skipped[framework] is None:
            row, proba = _pool_rounds(measured[framework])
        else:
            row, proba = {"status": "skipped", "notes": skipped[framework]}, None
        rows.append(_complete_row(row, framework, job, n_test, started))
        if proba is not None:
            probabilities[framework] = proba
    _add_parity(rows, probabilities)
    if job["roofline"]:
        add_roofline(rows)
    return rows


#: Memory columns: each round's worker measures its own; the row keeps their median.
_MEMORY_COLUMNS = ("peak_memory_mb", "peak_traced_mb", "peak_gpu_memory_mb")


def _pool_rounds(results):
    """One framework's (row, probabilities) from its rounds: every timed column becomes the
    median, min and max of all rounds' runs together; memory the median of the rounds'.
    A round that failed makes the row that round's error."""
    rows = [row for row, _ in results]
    failed = next((row for row in rows if row["status"] != "ok"), None)
    if failed is not None:
        failed.pop("_runs", None)
        if len(rows) > 1:
            failed["notes"] += f" (in round {rows.index(failed) + 1} of {len(rows)})"
        return failed, None
    pooled = dict(rows[0])
    runs = {column: [v for row in rows for v in row["_runs"][column]] for column in pooled["_runs"]}
    del pooled["_runs"]
    if len(rows) > 1:
        for column, values in runs.items():
            timing = benchmark.Timing(values)
            pooled[column] = float(timing)
            if f"{column}_min" in COLUMNS:
                pooled[f"{column}_min"], pooled[f"{column}_max"] = timing.min, timing.max
        for column in _MEMORY_COLUMNS:
            values = [row[column] for row in rows if row.get(column) is not None]
            if values:
                pooled[column] = float(np.median(values))
        pooled["notes"] = "; ".join(filter(None, [pooled["notes"], f"{len(rows)} rounds pooled"]))
    return pooled, results[0][1]


def _skip_reason(framework):
    if framework == "onnxruntime":
        from .onnx_export import INSTALL_HINT, is_onnx_available
        return None if is_onnx_available() else f"onnx/onnxruntime not installed ({INSTALL_HINT})"
    if framework.startswith("pytorch") and not _torch_available():
        return "torch not installed"
    if framework == "pytorch_cuda" and not cuda_available():
        return "CUDA not available (torch.cuda.is_available() is False)"
    return None


def _worker_command(framework, folder):
    return [sys.executable, "-m", "scratchnet._worker", framework, folder]


def _run_isolated(framework, job):
    """run_framework(framework, job) in a fresh Python process; a crash becomes an error row."""
    with tempfile.TemporaryDirectory(prefix="scratchnet-") as folder:
        X_train, y_train, X_test, y_test = job["data"]
        np.savez(os.path.join(folder, "data.npz"), X_train=X_train, y_train=y_train,
                 X_test=X_test, y_test=y_test)
        with open(os.path.join(folder, "job.json"), "w") as handle:
            json.dump({key: value for key, value in job.items() if key != "data"}, handle)
        done = subprocess.run(_worker_command(framework, folder), capture_output=True, text=True)
        result_path = os.path.join(folder, "row.json")
        if done.returncode != 0 or not os.path.exists(result_path):
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return {"status": "error", "notes": f"worker process failed (exit status "
                                                f"{done.returncode}): {tail}"}, None
        with open(result_path) as handle:
            row = json.load(handle)
        proba_path = os.path.join(folder, "probabilities.npy")
        proba = np.load(proba_path, allow_pickle=False) if os.path.exists(proba_path) else None
    return row, proba


def load_job(folder):
    """The job a worker was given: settings from job.json, arrays from data.npz."""
    with open(os.path.join(folder, "job.json")) as handle:
        job = json.load(handle)
    with np.load(os.path.join(folder, "data.npz"), allow_pickle=False) as data:
        job["data"] = tuple(data[key] for key in ("X_train", "y_train", "X_test", "y_test"))
    return job


def run_framework(framework, job):
    """Measure one framework; runs inside the worker process. Returns (row, probabilities)."""
    X_train, y_train, X_test, y_test = job["data"]
    try:
        if framework in INFERENCE_ONLY:
            with benchmark.limit_threads(job["threads"]) as threads_in_force:
                row, probabilities = _measure_onnxruntime(job, X_train, y_train, X_test, y_test)
            row.update(blas_threads=threads_in_force["blas"], torch_threads=None,
                       blas="ONNX Runtime's own kernels (MLAS)")
            return row, probabilities
        model_class, extra = _model_class(framework)
        with benchmark.limit_threads(job["threads"]) as threads_in_force:
            row, probabilities = _measure(model_class, extra, job, X_train, y_train, X_test, y_test)
        row.update(blas_threads=threads_in_force["blas"], torch_threads=threads_in_force["torch"],
                   blas=benchmark.torch_blas() if framework.startswith("pytorch")
                   else benchmark.numpy_blas())
        return row, probabilities
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1]
        return {"status": "error", "notes": f"{type(exc).__name__}: {exc} "
                                            f"(at {last.filename.rsplit('/', 1)[-1]}:{last.lineno})"}, None


def _model_class(framework):
    if framework == "scratch_numpy":
        from .network import NeuralNetwork
        return NeuralNetwork, {}
    from .pytorch_model import TorchNeuralNetwork  # imports torch before anything is measured
    return TorchNeuralNetwork, {"device": "cuda" if framework == "pytorch_cuda" else "cpu"}


def _measure(model_class, extra, job, X_train, y_train, X_test, y_test):
    from .precision import PrecisionConfig
    config = PrecisionConfig(train_dtype=job["precision"], infer_precision=job["precision"])

    def make_model():
        return model_class(job["layer_sizes"], job["activations"], precision_config=config,
                           seed=job["seed"], loss=job["loss"], **extra)

    fit_args = dict(epochs=job["epochs"], alpha=job["alpha"], batch_size=job["batch_size"],
                    seed=job["seed"])
    repeats, warmup = job["repeats"], job["warmup"]
    cuda = extra.get("device") == "cuda"
    if cuda:
        import torch
        torch.cuda.reset_peak_memory_stats()
    # Memory first, in this fresh process: building and training one model,
    # thread pools and first-use allocations included. tracemalloc gets a run of
    # its own because its bookkeeping would inflate the resident figure.
    _, peak_mb, method = benchmark.measure_peak_rss_mb(lambda: make_model().fit(X_train, y_train, **fit_args))
    _, traced_mb = benchmark.measure_traced_peak_mb(lambda: make_model().fit(X_train, y_train, **fit_args))
    # The roofline, when asked for: this process, these threads, just before the timed training.
    sgemm = benchmark.measure_sgemm_gflops() if job.get("roofline") else None
    train, model = benchmark.measure_training_time_per_epoch(make_model, X_train, y_train,
                                                             repeats=repeats, warmup=warmup, **fit_args)
    row = {
        "status": "ok", "notes": "",
        "train_time_per_epoch_s": float(train), "train_time_per_epoch_s_min": train.min,
        "train_time_per_epoch_s_max": train.max,
        **_inference_metrics(model, job, X_train, X_test),
        "peak_memory_mb": peak_mb, "peak_traced_mb": traced_mb, "peak_memory_method": method,
        "final_accuracy": model.evaluate(X_test, y_test)["accuracy"],
        "train_accuracy": model.evaluate(X_train, y_train)["accuracy"],
        "device": "cuda" if cuda else "cpu",
    }
    row["_runs"]["train_time_per_epoch_s"] = train.runs  # the raw runs, for pooling rounds
    if sgemm is not None:
        row["sgemm_gflops_per_s"] = float(sgemm)
        row["_runs"]["sgemm_gflops_per_s"] = sgemm.runs
    if cuda:
        import torch
        row["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
    return row, model.predict_proba(X_test).astype(np.float64)


def _inference_metrics(model, job, X_train, X_test):
    """Latency per sample, single-sample latency and batch throughput: the row's inference
    columns, measured the same way for every framework."""
    precision, repeats, warmup = job["precision"], job["repeats"], job["warmup"]
    latency = benchmark.measure_inference_latency_per_sample(model, X_test, precision, repeats, warmup)
    single = benchmark.measure_single_sample_latency(model, X_test, precision,
                                                     runs=max(100, repeats), warmup=max(10, warmup))
    throughput = benchmark.measure_batch_throughput(model, X_train, job["batch_size"], precision,
                                                    repeats, warmup)
    return {
        "_runs": {"inference_latency_per_sample_s": latency.runs,
                  "single_sample_latency_s": single.runs,
                  "batch_throughput_samples_per_s": throughput.runs},
        "inference_latency_per_sample_s": float(latency),
        "inference_latency_per_sample_s_min": latency.min,
        "inference_latency_per_sample_s_max": latency.max,
        "single_sample_latency_s": float(single), "single_sample_latency_s_min": single.min,
        "single_sample_latency_s_max": single.max,
        "batch_throughput_samples_per_s": float(throughput),
        "batch_throughput_samples_per_s_min": throughput.min,
        "batch_throughput_samples_per_s_max": throughput.max,
    }


def _measure_onnxruntime(job, X_train, y_train, X_test, y_test):
    """The onnxruntime row: the scratch network trained as in its own row (untimed), exported
    in the run's precision and measured for inference only."""
    from .network import NeuralNetwork
    from .onnx_export import DEFAULT_OPSET, OnnxRuntimeModel, export_onnx
    from .precision import PrecisionConfig

    config = PrecisionConfig(train_dtype=job["precision"], infer_precision=job["precision"])
    trained = NeuralNetwork(job["layer_sizes"], job["activations"], precision_config=config,
                            seed=job["seed"], loss=job["loss"])
    trained.fit(X_train, y_train, epochs=job["epochs"], alpha=job["alpha"],
                batch_size=job["batch_size"], seed=job["seed"])
    with tempfile.TemporaryDirectory(prefix="scratchnet-onnx-") as folder:
        path = export_onnx(trained, os.path.join(folder, "model.onnx"), dtype=job["precision"])
        model = OnnxRuntimeModel(path, loss=job["loss"], threads=job["threads"])
    row = {"status": "ok", "device": "cpu",
           "notes": f"ONNX Runtime does not train here: the scratch network, trained with the same "
                    f"settings, exported to ONNX (opset {DEFAULT_OPSET}) and run by the CPU "
                    f"execution provider",
           **_inference_metrics(model, job, X_train, X_test),
           "final_accuracy": model.evaluate(X_test, y_test)["accuracy"],
           "train_accuracy": model.evaluate(X_train, y_train)["accuracy"]}
    return row, model.predict_proba(X_test).astype(np.float64)


def _complete_row(row, framework, job, n_test, started):
    """The measured row with the run's settings and versions, in the report's key order."""
    settings = {key: job[key] for key in ("n_samples", "epochs", "batch_size", "alpha", "seed",
                                          "precision", "threads", "dataset", "loss", "repeats", "rounds",
                                          "warmup")}
    full = dict.fromkeys(COLUMNS)
    full.update(settings, framework=framework, layer_sizes="x".join(map(str, job["layer_sizes"])),
                activations=",".join(job["activations"]), n_test=n_test, started_utc=started,
                source="scratchnet compare", machine=platform.node(),
                **benchmark.environment())
    full.update(row)
    if full["status"] != "ok" and not full["notes"]:
        full["notes"] = full["status"]
    return full


def _add_parity(rows, probabilities):
    """parity_max_abs_diff: largest |p_scratch - p_other| on the test split on every other
    row; the scratch row repeats the pytorch (CPU) row's figure."""
    scratch = probabilities.get("scratch_numpy")
    cpu_diff = None
    for row in rows:
        theirs = probabilities.get(row["framework"])
        if scratch is not None and theirs is not None and row["framework"] != "scratch_numpy":
            row["parity_max_abs_diff"] = float(np.max(np.abs(scratch - theirs)))
            if row["framework"] == "pytorch":
                cpu_diff = row["parity_max_abs_diff"]
    for row in rows:
        if row["framework"] == "scratch_numpy" and scratch is not None:
            row["parity_max_abs_diff"] = cpu_diff
