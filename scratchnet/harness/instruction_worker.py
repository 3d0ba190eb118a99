"""The worker side of ``scratchnet.harness.instructions``: ``valgrind --tool=callgrind ... python -m
scratchnet.harness.instruction_worker FRAMEWORK JOB_FOLDER OUT_FOLDER [wait]``.

Reads one ``Job`` per configuration from JOB_FOLDER/jobs/<index> (``Job.load``, as the
timing worker reads its own): the settings of a comparison, its arrays, and its
``regions``, ``train_steps`` (S) and ``inference_runs`` (K). Writes
OUT_FOLDER/marks.json: the label of every region, in order.

First, with callgrind's instrumentation still off (``--instr-atstart=no``),
it imports the framework, and per config builds a model, trains it on two
batches and runs it once (every lazy first-call set-up done), and builds the
models the regions use. With ``wait`` it then prints ``ready`` and polls for
OUT_FOLDER/go, which the parent creates once ``callgrind_control -i on`` has
switched the instrumentation on; ``gc.collect()`` then resets the collector's
allocation counts, so the regions do not depend on how long the wait was.

Each region ends with ``mark(label)``, a call of ``os.getpgrp()`` that nothing
else in this process makes; callgrind runs with ``--dump-before=getpgrp``, so
every region's instruction count lands in a dump file of its own. Per config:

    start     (config 0: the wait's end) nothing measured
    train_a   model A .fit: one epoch of S full batches
    build     build model B
    train_b   model B .fit: one epoch of 2S full batches
    infer_a   K forwards of the held-out split
    infer_b   2K forwards of the held-out split

The training rows are the config's, repeated from the start where there are
fewer than 2S batches of them. ``train_b - train_a`` is S training steps and
``infer_b - infer_a`` K forwards: a fit's or a loop's fixed cost, and the
marker's call, cancel out.
"""
import gc
import json
import os
import sys
import time

import numpy as np

from . import timing as benchmark
from .compare import INFERENCE_ONLY
from .job import Job

_marks = []


def mark(label):
    """End the region ``label``: callgrind dumps its count when getpgrp is entered."""
    _marks.append(label)
    os.getpgrp()


def _model_for(framework, config):
    """A model of the framework's class; an inference-only framework's is the NumPy network
    it exports."""
    from .frameworks import REGISTRY, SCRATCH
    from ..nn.precision import PrecisionConfig
    precision = PrecisionConfig(train_dtype=config.precision, infer_precision=config.precision)
    entry = REGISTRY[framework] if REGISTRY[framework].trains else REGISTRY[SCRATCH]
    model_class = entry.model_class()
    return model_class(config.layer_sizes, config.activations, precision_config=precision,
                       seed=config.seed, loss=config.loss)


def region_data(config, data):
    """(X (2S x batch, D), labels) for the training regions: the training rows, repeated
    from the start where there are fewer."""
    X_train, y_train, _ = data
    rows = np.arange(2 * config.regions["train_steps"] * config.batch_size) % len(X_train)
    return X_train[rows], y_train[rows]


def prepare(framework, config, data):
    """Everything before the regions, for one config: a model trained on two batches and run
    once (for onnxruntime: exported and run by ONNX Runtime), and a fresh model A."""
    X, labels = region_data(config, data)
    batch = config.batch_size
    trained = _model_for(framework, config)
    trained.fit(X[:2 * batch], labels[:2 * batch], epochs=1, alpha=config.alpha,
                batch_size=batch, seed=config.seed)
    model = (_onnxruntime_model(trained, config.precision) if framework in INFERENCE_ONLY
             else trained)
    model.forward(data[2], training=False, precision=config.precision)
    return model, _model_for(framework, config)


def run_config(framework, config, index, data, model, first):
    """The regions of config number ``index`` (see the module docstring), labelled
    ``"<index>/<region>"``; ``data`` = (X_train, y_train, X_test)."""
    X, labels = region_data(config, data)
    X_test = data[2]
    fit_args = dict(epochs=1, alpha=config.alpha, batch_size=config.batch_size,
                    seed=config.seed)
    one = config.regions["train_steps"] * config.batch_size
    runs, precision = config.regions["inference_runs"], config.precision
    mark(f"{index}/start")
    if framework not in INFERENCE_ONLY:
        first.fit(X[:one], labels[:one], **fit_args)
        mark(f"{index}/train_a")
        second = _model_for(framework, config)
        mark(f"{index}/build")
        second.fit(X, labels, **fit_args)
        mark(f"{index}/train_b")
    for label, count in (("infer_a", runs), ("infer_b", 2 * runs)):
        for _ in range(count):
            model.forward(X_test, training=False, precision=precision)
        mark(f"{index}/{label}")


def _onnxruntime_model(trained, precision):
    import tempfile

    from ..nn.onnx import OnnxRuntimeModel, export_onnx
    with tempfile.TemporaryDirectory(prefix="scratchnet-onnx-") as folder:
        path = export_onnx(trained, os.path.join(folder, "model.onnx"), dtype=precision)
        return OnnxRuntimeModel(path, loss=trained.loss, threads=1)


def wait_for(path):
    """Print "ready", then poll for ``path``: a loop that sleeps, so valgrind regains
    control often enough for callgrind_control to reach it without ptrace."""
    print("ready", flush=True)
    while not os.path.exists(path):
        time.sleep(0.01)


def main(framework, job_folder, out_folder, wait=None):
    folder = os.path.join(job_folder, "jobs")
    configs = [Job.load(os.path.join(folder, name))
               for name in sorted(os.listdir(folder), key=int)]
    data = [config.data[:3] for config in configs]  # (X_train, y_train, X_test)
    with benchmark.limit_threads(1):
        models = [prepare(framework, config, arrays) for config, arrays in zip(configs, data)]
        if wait == "wait":
            wait_for(os.path.join(out_folder, "go"))
        gc.collect()
        for index, (config, arrays, (model, first)) in enumerate(zip(configs, data, models)):
            run_config(framework, config, index, arrays, model, first)
    with open(os.path.join(out_folder, "marks.json"), "w") as handle:
        json.dump(_marks, handle)


if __name__ == "__main__":
    main(*sys.argv[1:5])
