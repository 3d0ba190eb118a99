"""Measuring primitives, usable on either model.

Timings use ``time.perf_counter``; warm-up runs are excluded; a ``Timing`` is
the median of the timed runs and carries their minimum and maximum.
Memory is the growth of the process's resident set (RSS) high-water mark,
which sees every byte the process touches (NumPy arrays, PyTorch tensor
storage, autograd buffers, thread pools), not only what Python's allocator
hands out; tracemalloc's view is offered beside it.
"""
from __future__ import annotations

import gc
import importlib.metadata
import os
import platform
import re
import sys
import time
import tracemalloc
from contextlib import contextmanager

import numpy as np

from ..nn.validation import check_int


class Timing(float):
    """The median of timed runs (it *is* that float), with ``.min``, ``.max``, the
    quartiles ``.q25`` and ``.q75`` (NumPy's linear interpolation) and ``.runs``."""

    def __new__(cls, values):
        values = [float(v) for v in values]
        if not values:
            raise ValueError("a Timing needs at least one run")
        timing = super().__new__(cls, float(np.median(values)))
        timing.min, timing.max, timing.runs = min(values), max(values), values
        timing.q25, timing.q75 = (float(q) for q in np.percentile(values, [25, 75]))
        return timing

    def scaled(self, factor):
        """Every run multiplied by ``factor`` (e.g. per epoch or per sample)."""
        return Timing([v * factor for v in self.runs])

    def inverted(self, numerator):
        """``numerator / run`` for every run (seconds -> a rate); min and max swap places."""
        return Timing([numerator / v for v in self.runs])


#: The clock every measurement here reads (tests put a fake one in its place).
CLOCK = time.perf_counter


def time_runs(fn, runs, warmup=1, setup=None, clock=None):
    """Seconds of ``fn(setup())`` (or ``fn()``), ``runs`` times after ``warmup`` untimed calls.

    ``setup`` runs before every call, outside the timed region; ``clock``
    (default ``CLOCK``) is read just before and just after each call.
    """
    runs, warmup = check_int(runs, "runs"), check_int(warmup, "warmup", minimum=0)
    clock = clock or CLOCK
    seconds = []
    for i in range(warmup + runs):
        argument = setup() if setup is not None else None
        start = clock()
        fn(argument) if setup is not None else fn()
        elapsed = clock() - start
        if i >= warmup:
            seconds.append(elapsed)
    return Timing(seconds)


def measure_training_time_per_epoch(make_model, X, y, epochs, alpha, batch_size, seed=42,
                                    repeats=7, warmup=1):
    """Wall time of ``fit`` divided by ``epochs``, each run on a fresh ``make_model()``.

    Returns (Timing in seconds per epoch, the model trained by the last run).
    """
    trained = []

    def fit(model):
        model.fit(X, y, epochs=epochs, alpha=alpha, batch_size=batch_size, seed=seed)
        trained[:] = [model]

    timing = time_runs(fit, repeats, warmup, setup=make_model)
    return timing.scaled(1 / epochs), trained[0]


def measure_time_to_accuracy(make_model, X, y, X_val, y_val, target, max_epochs, alpha,
                             batch_size, seed=42, repeats=3, warmup=1, clock=None):
    """Time-to-accuracy as DAWNBench and MLPerf Training define it: train a fresh
    ``make_model()`` until its accuracy on (X_val, y_val), checked after each epoch, reaches
    ``target``, or ``max_epochs`` epochs. The evaluations are timed apart and left out.

    ``repeats`` runs after ``warmup``; returns {"seconds": Timing of the training time to
    the target (None where it was not reached), "evaluation": Timing of each run's
    evaluation time, "epochs": epochs to the target (None), "best_accuracy",
    "best_epoch"} (the epochs and the accuracy are the last run's: with one seed every run
    trains alike)."""
    clock = clock or CLOCK
    runs, warmup = check_int(repeats, "repeats"), check_int(warmup, "warmup", minimum=0)
    seconds, evaluations = [], []
    for i in range(warmup + runs):
        model = make_model()
        state = {"evaluation": 0.0, "reached": None, "best": (-1.0, 0)}

        def after_epoch(epoch, _, model=model, state=state):
            began = clock()
            accuracy = model.evaluate(X_val, y_val)["accuracy"]
            state["evaluation"] += clock() - began
            if accuracy > state["best"][0]:
                state["best"] = (accuracy, epoch)
            if accuracy >= target:
                state["reached"] = epoch
                return True
            return False

        began = clock()
        model.fit(X, y, epochs=max_epochs, alpha=alpha, batch_size=batch_size, seed=seed,
                  on_epoch_end=after_epoch)
        total = clock() - began
        if i >= warmup:
            seconds.append(total - state["evaluation"])
            evaluations.append(state["evaluation"])
    return {"seconds": Timing(seconds) if state["reached"] is not None else None,
            "evaluation": Timing(evaluations), "epochs": state["reached"],
            "best_accuracy": float(state["best"][0]), "best_epoch": state["best"][1]}


def measure_inference_latency_per_sample(model, X, precision="float32", runs=7, warmup=1):
    """Seconds of one ``forward`` over all of X, divided by its number of rows."""
    return time_runs(lambda: model.forward(X, training=False, precision=precision),
                     runs, warmup).scaled(1 / len(X))


def measure_single_sample_latency(model, X, precision="float32", runs=200, warmup=10):
    """Seconds of ``forward`` on one row (1, D), cycling through the rows of X."""
    rows = [X[i:i + 1] for i in range(len(X))]
    position = iter(range(10 ** 12))
    return time_runs(lambda: model.forward(rows[next(position) % len(rows)], training=False,
                                           precision=precision), runs, warmup)


def measure_batch_throughput(model, X, batch_size, precision="float32", runs=7, warmup=1):
    """Samples per second of forward passes over X in batches of ``batch_size``."""
    batches = [X[start:start + batch_size] for start in range(0, len(X), batch_size)]

    def forward_all():
        for batch in batches:
            model.forward(batch, training=False, precision=precision)

    return time_runs(forward_all, runs, warmup).inverted(len(X))


def measure_sgemm_gflops(n=2048, runs=7, warmup=2):
    """GFLOP/s of NumPy's float32 matrix multiply at n x n (2 n^3 flops per call): the
    machine's practical GEMM rate, the roofline a training run is measured against."""
    rng = np.random.default_rng(0)
    a, b = (rng.random((n, n), dtype=np.float32) for _ in range(2))
    out = np.empty((n, n), np.float32)
    return time_runs(lambda: np.matmul(a, b, out=out), runs, warmup).inverted(2 * n ** 3 / 1e9)


# ------------------------------------------------------------------------ memory
def _status_kb(field):
    with open("/proc/self/status") as status:
        match = re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.M)
    return int(match.group(1))


def _reset_peak_rss():
    """Reset the kernel's RSS high-water mark (Linux >= 4.0); False where that is impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _peak_rss_since_start_kb():
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


def measure_peak_rss_mb(fn):
    """(fn(), peak RSS during fn above the RSS just before it, in MB (2**20 bytes), method).

    On Linux the high-water mark is reset just before ``fn``, so the figure is
    exact. Elsewhere it is the growth of the process's lifetime peak, which is
    right only in a fresh process whose earlier peak is its current size (the
    comparison runs every framework in a fresh worker process for that reason).
    """
    gc.collect()
    if os.path.exists("/proc/self/status") and _reset_peak_rss():
        baseline = _status_kb("VmRSS")
        result = fn()
        return result, max(0, _status_kb("VmHWM") - baseline) / 1024, "VmHWM after clear_refs"
    baseline = _peak_rss_since_start_kb()
    result = fn()
    return result, max(0.0, _peak_rss_since_start_kb() - baseline) / 1024, "getrusage ru_maxrss growth"


def _measure_peak_memory_mb(fn):
    """The spec's name: (fn(), peak resident memory during fn in MB)."""
    result, peak_mb, _ = measure_peak_rss_mb(fn)
    return result, peak_mb


def measure_traced_peak_mb(fn):
    """(fn(), tracemalloc's peak during fn in MB): only memory allocated through
    Python's allocator hooks (NumPy reports its array buffers there; PyTorch's
    tensor storage is invisible to it)."""
    gc.collect()
    already_tracing = tracemalloc.is_tracing()
    if not already_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start, _ = tracemalloc.get_traced_memory()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not already_tracing:
            tracemalloc.stop()
    return result, max(0, peak - start) / 2 ** 20


# ----------------------------------------------------------- threads, versions
@contextmanager
def limit_threads(threads):
    """Run the block with ``threads`` threads in every BLAS/OpenMP pool threadpoolctl
    finds and, where torch is imported, in ``torch.set_num_threads``.

    Yields a dict of the counts actually in force: ``blas`` (NumPy's BLAS) and
    ``torch`` (None when torch is not imported).
    """
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    previous = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=threads):
        if torch is not None:
            torch.set_num_threads(threads)
        try:
            blas = _numpy_blas_pool()
            yield {"blas": blas["num_threads"] if blas else None,
                   "torch": torch.get_num_threads() if torch is not None else None}
        finally:
            if torch is not None:
                torch.set_num_threads(previous)


def available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _blas_pool(belongs):
    """threadpoolctl's first BLAS entry whose library path ``belongs(filepath)``, or None."""
    from threadpoolctl import threadpool_info
    return next((pool for pool in threadpool_info()
                 if pool["user_api"] == "blas" and belongs(pool["filepath"])), None)


def _numpy_blas_pool():
    """threadpoolctl's entry for the BLAS library NumPy ships with, or None."""
    return _blas_pool(lambda path: "numpy" in path)


def numpy_blas():
    """NumPy's BLAS as threadpoolctl sees it, e.g. 'openblas 0.3.31 (SkylakeX, pthreads)'."""
    return _describe(_numpy_blas_pool())


def scipy_blas():
    """SciPy's BLAS (a library of its own in SciPy's wheels) as threadpoolctl sees it, once
    ``scipy.linalg.blas`` is imported (the NumPy network imports it); NumPy's where the two
    share one library (a system OpenBLAS)."""
    pool = _blas_pool(lambda path: "scipy" in path and "numpy" not in path)
    return _describe(pool) if pool is not None else numpy_blas()


def _describe(pool):
    if pool is None:
        return "unknown"
    details = ", ".join(str(pool[key]) for key in ("architecture", "threading_layer") if pool.get(key))
    return f"{pool['internal_api']} {pool['version']}" + (f" ({details})" if details else "")


def torch_blas():
    """torch's BLAS from its build configuration, e.g. 'mkl'."""
    import torch
    match = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return match.group(1) if match else "unknown"


def package_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_name():
    """The processor's model name where Linux tells it, else what platform knows."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read(), re.M)
        if match:
            return match.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment():
    """Versions and machine facts every report row carries."""
    return {
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "torch_version": package_version("torch"),
        "onnxruntime_version": package_version("onnxruntime"),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": available_cores(),
    }
