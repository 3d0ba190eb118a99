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

import dataclasses
import datetime
import math
import numbers
import os
import platform
import sys
import time
from typing import NamedTuple

import numpy as np

from . import frameworks as registry, presets, runner, timing as benchmark
from ..data import held_out_size, load_config_data
from ..nn.losses import LossConvention
from .config import Config
from .job import Job
from .result import COLUMNS, add_roofline, format_architecture

FRAMEWORKS = registry.names()
#: Seconds ``target_ci`` may keep adding rounds for, per configuration.
DEFAULT_MAX_TIME = 300.0

#: The configurations (``scratchnet.harness.presets``), where compare's users find them.
PRESETS, EXTRA_PRESETS, ALL_PRESETS = presets.PRESETS, presets.EXTRA_PRESETS, presets.ALL_PRESETS

#: Rows that only run inference: a scratch network trained with the same settings
#: (untimed) is exported to ONNX and run by ONNX Runtime's CPU provider.
INFERENCE_ONLY = tuple(name for name, entry in registry.REGISTRY.items() if not entry.trains)


def default_frameworks():
    """scratch_numpy, pytorch, and pytorch_cuda where CUDA is available."""
    return registry.default_names()


cuda_available = registry.cuda_available


def benchmark_scratch_vs_torch(layer_sizes, activations, n_samples=512, epochs=3, batch_size=32,
                               alpha=0.1, seed=42, *, frameworks=None, target_ci=None,
                               max_time=DEFAULT_MAX_TIME, instructions=False, models=None,
                               layout="in_out", progress=None, clock=time.monotonic, **settings):
    """Train and time both models with identical settings; one row (dict) per framework.

    ``n_samples`` training samples and ``held_out_size(n_samples)`` held-out
    ones are drawn from ``dataset`` (default: digits where the width allows,
    else synthetic). ``precision`` is the dtype models train and infer in;
    ``threads`` (default ``config.DEFAULT_THREADS``; at most the cores this process may
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
    against the PyTorch twin. ``time_limit`` (seconds, default ``config.WORKER_TIMEOUT``) stops a
    worker that runs longer, e.g. a class whose ``fit`` never returns; its row is an error.
    ``progress``, if given, is called with a short message as each worker starts;
    ``clock`` is what ``max_time`` is measured with.
    The other keyword arguments are ``Config``'s fields (``scratchnet.harness.config``):
    ``dataset``, ``precision``, ``loss``, ``repeats``, ``warmup``, ``threads``, ``rounds``,
    ``roofline``, ``breakdown``, ``target_accuracy``, ``max_epochs``, ``time_limit``.
    """
    config = Config.of(layer_sizes=layer_sizes, activations=activations, n_samples=n_samples,
                       epochs=epochs, batch_size=batch_size, alpha=alpha, seed=seed, **settings)
    prepared = prepare(config, frameworks=frameworks, target_ci=target_ci, max_time=max_time,
                       models=models, layout=layout)
    rows = run_comparison(prepared, progress=progress, clock=clock)
    if instructions:  # the one route to the counts, as the command takes it after its presets
        from .instructions import add_instruction_counts
        add_instruction_counts(rows, progress=progress)
    return rows


def prepare_comparison(layer_sizes, activations, n_samples=512, epochs=3, batch_size=32,
                       alpha=0.1, seed=42, *, frameworks=None, target_ci=None,
                       max_time=DEFAULT_MAX_TIME, models=None, layout="in_out", **settings):
    """``prepare`` with the settings as ``benchmark_scratch_vs_torch`` takes them."""
    return prepare(Config.of(layer_sizes=layer_sizes, activations=activations,
                             n_samples=n_samples, epochs=epochs, batch_size=batch_size,
                             alpha=alpha, seed=seed, **settings),
                   frameworks=frameworks, target_ci=target_ci, max_time=max_time, models=models,
                   layout=layout)


class Prepared(NamedTuple):
    """A configuration ready to run: its ``Job`` (settings and data), the rows in the
    report's order, the rounds' stopping rule and the held-out split's size."""

    job: Job
    frameworks: list
    target_ci: float | None
    max_time: float
    n_test: int


def prepare(config, frameworks=None, target_ci=None, max_time=DEFAULT_MAX_TIME, models=None,
            layout="in_out"):
    """Check what a run of ``config`` (a checked ``Config``) adds to it and load its data,
    running nothing: a bad argument raises ValueError or TypeError naming it. Returns what
    ``run_comparison`` takes, so a run of several configurations can check them all
    before the first starts."""
    if os.environ.get(registry.IN_WORKER):
        raise RuntimeError("a comparison was started while scratchnet imported the module that "
                           "defines your class (to check it, or in a worker process): put the "
                           "code that runs it under `if __name__ == \"__main__\":`")
    target_ci, max_time = check_target(target_ci, max_time)
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
            LossConvention(config.loss, entry.samples, entry.outputs)
        except ValueError as exc:
            raise ValueError(f"models[{name!r}]: {exc}") from None
    job = Job(**{field.name: getattr(config, field.name) for field in dataclasses.fields(config)},
              models={name: {"spec": entry.spec, "layout": entry.layout, "samples": entry.samples,
                             "outputs": entry.outputs, "takes_loss": entry.takes_loss}
                      for name, entry in user.items()},
              python_path=[os.path.abspath(entry) for entry in sys.path] if user else [],
              data=load_config_data(config.settings()))
    return Prepared(job, frameworks, target_ci, max_time, held_out_size(job.n_samples))


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


def run_comparison(prepared, progress=None, clock=time.monotonic):
    """The rows of a configuration checked by ``prepare`` (see
    ``benchmark_scratch_vs_torch``)."""
    job, frameworks, target_ci, max_time, n_test = prepared
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    measured, stopped_by = runner.run_rounds(frameworks, job, target_ci, max_time, progress, clock)
    job = dataclasses.replace(job, rounds=max((len(results) for results in measured.values()),
                                              default=0) or job.rounds)
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
    return rows


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
    full = dict.fromkeys(COLUMNS)
    layer_sizes, activations = format_architecture(job.layer_sizes, job.activations)
    full.update(job.columns(), framework=framework.name, layer_sizes=layer_sizes,
                activations=activations, n_test=n_test, started_utc=started,
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
