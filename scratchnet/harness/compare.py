"""The side-by-side run: ``benchmark_scratch_vs_torch``.

Every framework is measured in a fresh worker process (``python -m
scratchnet.harness.worker``), so neither warms up, allocates for or shares thread
pools with the other, and the memory high-water mark of one run never
includes the other's. A plain subprocess rather than multiprocessing, so a
user's script needs no ``if __name__ == "__main__"`` guard. The parent only
checks the arguments, loads the data once (the same arrays go to every worker
through an ``.npz`` file and a JSON job; nothing is pickled), gathers the rows
and computes the parity figure.
"""
from __future__ import annotations

import datetime
import math
import numbers
import os
import platform
import sys
import time

import numpy as np

from . import frameworks as registry, presets, runner, timing as benchmark
from ..data import default_dataset, held_out_size, load_config_data
from .job import Job
from ..nn.losses import LossConvention
from ..nn.precision import TRAIN_DTYPES, check_dtype_name
from .result import COLUMNS, add_roofline
from ..nn.validation import (check_alpha, check_architecture, check_int, check_seed,
    check_time_limit)

FRAMEWORKS = registry.names()
#: Threads for both frameworks unless told (see the README's table of 1 against all cores).
DEFAULT_THREADS = 1
#: Rounds of workers unless told: enough for the ratios' intervals to see how one
#: worker process differs from the next.
DEFAULT_ROUNDS = 3
#: Seconds ``target_ci`` may keep adding rounds for, per configuration.
DEFAULT_MAX_TIME = 300.0
#: Epochs a time-to-accuracy run may take before it is "not reached".
DEFAULT_MAX_EPOCHS = 50

#: The configurations (``scratchnet.harness.presets``), where compare's users find them.
PRESETS, EXTRA_PRESETS, ALL_PRESETS = presets.PRESETS, presets.EXTRA_PRESETS, presets.ALL_PRESETS

#: Rows that only run inference: a scratch network trained with the same settings
#: (untimed) is exported to ONNX and run by ONNX Runtime's CPU provider.
INFERENCE_ONLY = tuple(name for name, entry in registry.REGISTRY.items() if not entry.trains)


N_CLASSES = 10
def default_frameworks():
    """scratch_numpy, pytorch, and pytorch_cuda where CUDA is available."""
    return registry.default_names()


cuda_available = registry.cuda_available


def benchmark_scratch_vs_torch(layer_sizes, activations, n_samples=512, epochs=3, batch_size=32,
                               alpha=0.1, seed=42, *, dataset=None, precision="float32",
                               loss="mse", repeats=7, warmup=1, threads=None, frameworks=None,
                               rounds=DEFAULT_ROUNDS, target_ci=None, max_time=DEFAULT_MAX_TIME,
                               roofline=False, instructions=False, breakdown=False,
                               target_accuracy=None, max_epochs=DEFAULT_MAX_EPOCHS, models=None,
                               layout="in_out", time_limit=None, progress=None,
                               clock=time.monotonic):
    """Train and time both models with identical settings; one row (dict) per framework.

    ``n_samples`` training samples and ``held_out_size(n_samples)`` held-out
    ones are drawn from ``dataset`` (default: digits where the width allows,
    else synthetic). ``precision`` is the dtype models train and infer in;
    ``threads`` (default ``DEFAULT_THREADS``; at most the cores this process may
    use) applies to NumPy's BLAS and to torch alike;
    ``frameworks`` picks rows from ``FRAMEWORKS`` (default: scratch_numpy,
    pytorch, and pytorch_cuda where CUDA is available; onnxruntime only when
    asked for: it measures inference only, its training columns are None).
    ``rounds`` runs the frameworks' workers in turn that many times (A B A
    B ...) and pools each framework's timed runs, so a burst of load from
    elsewhere on a shared machine falls on both sides rather than on one; the
    speed ratios against scratch_numpy get a 95 % interval from those rounds
    (``scratchnet.harness.ratios``). ``target_ci`` (e.g. 0.05) adds rounds, after at
    least ``runner.MIN_ROUNDS_FOR_TARGET``, until every ratio's interval is within
    +-``target_ci`` of it, or until ``max_time`` seconds have passed (the rows'
    ``rounds_stopped_by`` says which). Each worker also reports what else used
    the CPU while it timed (``scratchnet.harness.contention``; the ``contention``
    columns hold the worst round's figures).
    ``roofline=True`` has every training worker also measure NumPy's sgemm
    rate at 2048x2048 (same process, same threads, just before the timed
    training) and adds each row's achieved GFLOP/s and its fraction of that rate.
    ``instructions=True`` also counts the instructions of one training step and of
    one inference under valgrind (``scratchnet.harness.instructions``).
    ``breakdown=True`` also times the parts of one training step and of one forward pass,
    layer by layer and phase by phase, on the scratch network and the PyTorch twin
    (``scratchnet.harness.breakdown``; each such row gets a ``breakdown``).
    ``target_accuracy`` (e.g. 0.9) also measures time-to-accuracy, as DAWNBench and
    MLPerf Training define it: fresh models trained until their held-out accuracy,
    checked after each epoch, reaches it, at most ``max_epochs`` epochs, the evaluations
    timed apart (``benchmark.measure_time_to_accuracy``; columns ``time_to_accuracy_s``,
    ``epochs_to_accuracy``, ``evaluation_time_s``, ``time_to_accuracy_status``).
    ``models`` adds a row per user class, ``{"row name": class or "module:Class" or
    "file.py:Class"}``, measured by the same worker as the built-in rows from
    scratchnet's initial weights (``scratchnet.harness.user_model``); ``layout="out_in"`` for
    classes that store W as (fan_out, fan_in). Its parity and speed ratios are taken
    against the PyTorch twin. ``time_limit`` (seconds, default ``runner.WORKER_TIMEOUT``) stops a
    worker that runs longer, e.g. a class whose ``fit`` never returns; its row is an error.
    ``progress``, if given, is called with a short message as each worker starts;
    ``clock`` is what ``max_time`` is measured with.
    """
    prepared = prepare_comparison(
        layer_sizes, activations, n_samples, epochs, batch_size, alpha, seed, dataset=dataset,
        precision=precision, loss=loss, repeats=repeats, warmup=warmup, threads=threads,
        frameworks=frameworks, rounds=rounds, target_ci=target_ci, max_time=max_time,
        roofline=roofline, breakdown=breakdown, target_accuracy=target_accuracy,
        max_epochs=max_epochs, models=models, layout=layout, time_limit=time_limit)
    return run_comparison(prepared, instructions=instructions, progress=progress, clock=clock)


def prepare_comparison(layer_sizes, activations, n_samples=512, epochs=3, batch_size=32,
                       alpha=0.1, seed=42, *, dataset=None, precision="float32", loss="mse",
                       repeats=7, warmup=1, threads=None, frameworks=None, rounds=DEFAULT_ROUNDS,
                       target_ci=None, max_time=DEFAULT_MAX_TIME, roofline=False,
                       breakdown=False, target_accuracy=None, max_epochs=DEFAULT_MAX_EPOCHS,
                       models=None, layout="in_out", time_limit=None):
    """Check every setting of ``benchmark_scratch_vs_torch`` and load its data, running
    nothing: a bad argument raises ValueError or TypeError naming it. Returns what
    ``run_comparison`` takes, so a run of several configurations can check them all
    before the first starts."""
    sizes, names, loss = check_architecture(layer_sizes, activations, loss)
    if sizes[-1] < N_CLASSES:
        raise ValueError(f"layer_sizes[-1] must be at least {N_CLASSES}: the benchmark data sets "
                         f"have {N_CLASSES} classes, got {sizes[-1]}")
    if os.environ.get(registry.IN_WORKER):
        raise RuntimeError("a comparison was started while scratchnet imported the module that "
                           "defines your class (to check it, or in a worker process): put the "
                           "code that runs it under `if __name__ == \"__main__\":`")
    job = Job(
        layer_sizes=list(sizes), activations=list(names), loss=loss,
        n_samples=check_int(n_samples, "n_samples"), epochs=check_int(epochs, "epochs"),
        batch_size=check_int(batch_size, "batch_size"), alpha=check_alpha(alpha),
        seed=check_seed(seed), precision=check_dtype_name(precision, "precision", TRAIN_DTYPES),
        repeats=check_int(repeats, "repeats"), warmup=check_int(warmup, "warmup", minimum=0),
        threads=check_threads(threads), rounds=check_int(rounds, "rounds"),
        roofline=bool(roofline), breakdown=bool(breakdown),
        target_accuracy=check_target_accuracy(target_accuracy),
        max_epochs=check_int(max_epochs, "max_epochs"),
    )
    target_ci, max_time = check_target(target_ci, max_time)
    job.time_limit = (float(runner.WORKER_TIMEOUT) if time_limit is None
                      else check_time_limit(time_limit))
    user = _user_frameworks(models, layout)
    if frameworks is None:
        frameworks = default_frameworks()
    if isinstance(frameworks, str) or not all(f in FRAMEWORKS for f in frameworks) \
            or not (frameworks or user):
        raise ValueError(f"frameworks must be a non-empty list drawn from {list(FRAMEWORKS)}, "
                         f"got {frameworks!r}")
    # the report's fixed order, the user's rows last
    frameworks = [f for f in FRAMEWORKS if f in frameworks] + list(user)
    for name, entry in user.items():  # cross-entropy has no reduction over the outputs
        try:
            LossConvention(job.loss, entry.samples, entry.outputs)
        except ValueError as exc:
            raise ValueError(f"models[{name!r}]: {exc}") from None
    job.models = {name: {"spec": entry.spec, "layout": entry.layout, "samples": entry.samples,
                         "outputs": entry.outputs, "takes_loss": entry.takes_loss}
                  for name, entry in user.items()}
    job.python_path = [os.path.abspath(entry) for entry in sys.path] if user else []
    job.dataset = dataset or default_dataset(sizes[0], job.n_samples)
    n_test = held_out_size(job.n_samples)
    job.data = load_config_data(job.settings())
    return dict(job=job, frameworks=frameworks, target_ci=target_ci, max_time=max_time,
                n_test=n_test)


def _user_frameworks(models, layout):
    """{row name: registry entry} of ``models`` (see ``benchmark_scratch_vs_torch``): each a
    class, its spec, or a dict ``{"model": class or spec, "layout", "samples", "outputs"}``."""
    if models is None:
        return {}
    if not isinstance(models, dict):
        raise TypeError(f"models must be a dict of row name -> class or 'module:Class', got "
                        f"{type(models).__name__}")
    entries = {}
    for name, model in models.items():
        if isinstance(model, registry.Framework) and model.spec:
            entries[name] = model
            continue
        declared = dict(model) if isinstance(model, dict) else {"model": model}
        unknown = set(declared) - {"model", "layout", "samples", "outputs"}
        if unknown or "model" not in declared:
            raise ValueError(f"models[{name!r}]: a dict takes 'model' and optionally 'layout', "
                             f"'samples', 'outputs', got keys {sorted(declared)}")
        entries[name] = registry.user_framework(
            name, declared["model"], declared.get("layout", layout),
            declared.get("samples", "mean"), declared.get("outputs", "mean"))
    return entries


def run_comparison(prepared, instructions=False, progress=None, clock=time.monotonic):
    """The rows of a configuration checked by ``prepare_comparison`` (see
    ``benchmark_scratch_vs_torch``)."""
    job, frameworks, n_test = prepared["job"], prepared["frameworks"], prepared["n_test"]
    target_ci, max_time = prepared["target_ci"], prepared["max_time"]
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    measured, stopped_by = runner.run_rounds(frameworks, job, target_ci, max_time, progress, clock)
    job.rounds = max((len(results) for results in measured.values()), default=0) or job.rounds
    ratios = runner.ratio_columns(measured, job.models)
    rows, probabilities = [], {}
    for framework in frameworks:
        if measured.get(framework):
            row, proba = runner.pool_rounds(measured[framework])
        else:
            row, proba = {"status": "skipped", "notes": runner.skip_reason(framework, job)}, None
        row.update(ratios.get(framework, {}))
        if stopped_by is not None:
            row.update(target_ci=target_ci, rounds_stopped_by=stopped_by)
        rows.append(_complete_row(row, job.framework(framework), job, n_test, started))
        if proba is not None:
            probabilities[framework] = proba
    _add_parity(rows, probabilities, job.models)
    from ..check.rows import diagnose_user_row
    for row in rows:
        if row["framework"] in job.models:
            diagnose_user_row(row, job)
    if job.roofline:
        add_roofline(rows)
    if instructions:
        from .instructions import add_instruction_counts
        add_instruction_counts(rows, progress=progress)
    return rows


def check_threads(threads):
    """``threads`` as an int: None means ``DEFAULT_THREADS``; more than the cores this
    process may use (``os.sched_getaffinity``) is refused, since the extra threads would
    only queue for a core and time the operating system's scheduler."""
    if threads is None:
        return min(DEFAULT_THREADS, benchmark.available_cores())
    threads = check_int(threads, "threads")
    cores = benchmark.available_cores()
    if threads > cores:
        raise ValueError(f"threads must be between 1 and {cores}, the cores this process may use "
                         f"(os.sched_getaffinity), got {threads}")
    return threads


def check_target_accuracy(target_accuracy):
    """None, or a held-out accuracy in (0, 1] as a float."""
    if target_accuracy is None:
        return None
    if isinstance(target_accuracy, bool) or not isinstance(target_accuracy, numbers.Real) \
            or not 0 < target_accuracy <= 1:
        raise ValueError(f"target_accuracy must be a held-out accuracy in (0, 1], e.g. 0.9, got "
                         f"{target_accuracy!r}")
    return float(target_accuracy)


def check_target(target_ci, max_time):
    """(target_ci or None, max_time) checked: a relative half-width in (0, 1), seconds > 0."""
    if target_ci is not None:
        if isinstance(target_ci, bool) or not isinstance(target_ci, numbers.Real) \
                or not 0 < target_ci < 1:
            raise ValueError(f"target_ci must be a number strictly between 0 and 1 (0.05 for "
                             f"+-5 %), got {target_ci!r}")
        target_ci = float(target_ci)
    if isinstance(max_time, bool) or not isinstance(max_time, numbers.Real) \
            or not (math.isfinite(max_time) and max_time > 0):
        raise ValueError(f"max_time must be a positive number of seconds, got {max_time!r}")
    return target_ci, float(max_time)


def _complete_row(row, framework, job, n_test, started):
    """The measured row with the run's settings and versions, in the report's key order."""
    settings = {key: getattr(job, key) for key in (
        "n_samples", "epochs", "batch_size", "alpha", "seed", "precision", "threads", "dataset",
        "loss", "repeats", "rounds", "warmup")}
    if job.target_accuracy is not None:
        settings.update(target_accuracy=job.target_accuracy, max_epochs=job.max_epochs)
    full = dict.fromkeys(COLUMNS)
    full.update(settings, framework=framework.name, layer_sizes="x".join(map(str, job.layer_sizes)),
                activations=",".join(job.activations), n_test=n_test, started_utc=started,
                source="scratchnet compare", machine=platform.node(),
                **benchmark.environment())
    full.update(row)
    if framework.spec:
        full["notes"] = "; ".join(filter(None, [
            f"your class {framework.spec}" + (f" (layout {framework.layout})"
                                              if framework.layout != "in_out" else ""),
            full["notes"]]))
    if full["status"] != "ok" and not full["notes"]:
        full["notes"] = full["status"]
    return full


def _add_parity(rows, probabilities, users=()):
    """parity_max_abs_diff: largest |p_scratch - p_other| on the test split on every other
    built-in row; the scratch row repeats the pytorch (CPU) row's figure. A user class's row
    gets |p_user - p_pytorch| (|p_user - p_scratch| where the twin did not run; its note
    says so): both started from the same weights and saw the same batches."""
    scratch = probabilities.get(registry.SCRATCH)
    cpu_diff = None
    for row in rows:
        theirs = probabilities.get(row["framework"])
        if row["framework"] in users:
            continue
        if scratch is not None and theirs is not None and row["framework"] != registry.SCRATCH:
            row["parity_max_abs_diff"] = float(np.max(np.abs(scratch - theirs)))
            if row["framework"] == registry.TWIN:
                cpu_diff = row["parity_max_abs_diff"]
    for row in rows:
        if row["framework"] == registry.SCRATCH and scratch is not None:
            row["parity_max_abs_diff"] = cpu_diff
    reference = registry.TWIN if registry.TWIN in probabilities else registry.SCRATCH
    for row in rows:
        mine = probabilities.get(row["framework"])
        if row["framework"] in users and mine is not None and reference in probabilities \
                and row.get("parity_max_abs_diff") is None:  # not the worker's own reference
            row["parity_max_abs_diff"] = float(np.max(np.abs(mine - probabilities[reference])))
            if reference != registry.TWIN:
                row["notes"] += "; parity against scratch_numpy: the twin did not run"
