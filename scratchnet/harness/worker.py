"""The worker side of ``benchmark_scratch_vs_torch``: ``python -m scratchnet.harness.worker
FRAMEWORK FOLDER [PARENT_PID]`` measures one framework in a fresh process, and
ends when the process PARENT_PID does (``scratchnet.lifetime``).

What crosses the process boundary, both ways through FOLDER (nothing pickled):

- in: the ``scratchnet.harness.job.Job`` the parent checked (``job.json`` and ``data.npz``);
- out: ``measured.json``, a ``scratchnet.harness.result.Measured`` (the report's columns
  this worker filled, every timed run of each timed figure, and what else used the CPU
  while it timed), and ``probabilities.npy`` (the trained model's outputs on X_test, for
  the parity figure).
"""
import os
import sys
import tempfile
import traceback

import numpy as np

from . import timing as benchmark, contention
from ..nn.base import BaseNetwork
from ..lifetime import die_with_parent
from .job import Job
from .result import Measured


def run_framework(name, job):
    """Measure one framework; runs inside the worker process. Returns (Measured,
    probabilities or None)."""
    X_train, y_train, X_test, y_test = job.data
    try:
        framework = job.framework(name)
        if not framework.trains:
            with benchmark.limit_threads(job.threads) as threads_in_force:
                measured, probabilities = _measure_onnxruntime(job, X_train, y_train, X_test,
                                                               y_test)
            measured.columns.update(blas_threads=threads_in_force["blas"], torch_threads=None,
                                    blas=framework.blas())
            return measured, probabilities
        model_class = framework.model_class()  # imports torch before anything is measured
        with benchmark.limit_threads(job.threads) as threads_in_force:
            measured, probabilities = _measure(model_class, framework, job, X_train, y_train,
                                               X_test, y_test)
        measured.columns.update(blas_threads=threads_in_force["blas"],
                                torch_threads=threads_in_force["torch"], blas=framework.blas())
        return measured, probabilities
    except Exception as exc:
        return Measured.error(_error_note(exc, job.models.get(name))), None


def _error_note(exc, user):
    """``Type: message (at file:line)``; for a user class, the line in its own code where
    the traceback passes through it, and a hint where a shape error suggests the layout."""
    from ..check.loader import SHAPE_WORDS, CheckError, user_frame
    if isinstance(exc, CheckError):
        return str(exc)
    where = (user and user_frame(exc)) or traceback.extract_tb(exc.__traceback__)[-1]
    note = f"{type(exc).__name__}: {exc} (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})"
    if user and user.get("layout") == "in_out" and any(word in str(exc) for word in SHAPE_WORDS):
        note += "; if your class stores W as (fan_out, fan_in), use --layout out_in"
    return note


def _measure(model_class, framework, job, X_train, y_train, X_test, y_test):
    from ..nn.precision import PrecisionConfig
    config = PrecisionConfig(train_dtype=job.precision, infer_precision=job.precision)

    def make_model():
        return model_class(job.layer_sizes, job.activations, precision_config=config,
                           seed=job.seed, loss=job.loss, **framework.build_kwargs)

    fit_args = dict(epochs=job.epochs, alpha=job.alpha, batch_size=job.batch_size, seed=job.seed)
    repeats, warmup = job.repeats, job.warmup
    cuda = framework.device == "cuda"
    if cuda:
        import torch
        torch.cuda.reset_peak_memory_stats()
    # Memory first, in this fresh process: building and training one model,
    # thread pools and first-use allocations included. tracemalloc gets a run of
    # its own because its bookkeeping would inflate the resident figure.
    _, peak_mb, method = benchmark.measure_peak_rss_mb(lambda: make_model().fit(X_train, y_train, **fit_args))
    _, traced_mb = benchmark.measure_traced_peak_mb(lambda: make_model().fit(X_train, y_train, **fit_args))
    # Everything timed from here on is inside the contention window.
    before = contention.take_snapshot()
    # The roofline, when asked for: this process, these threads, just before the timed training.
    sgemm = benchmark.measure_sgemm_gflops() if job.roofline else None
    train, model = benchmark.measure_training_time_per_epoch(make_model, X_train, y_train,
                                                             repeats=repeats, warmup=warmup, **fit_args)
    inference, runs = _inference_metrics(model, job, X_train, X_test)
    # CUDA runs asynchronously: laps read on the CPU would time kernel launches, not work
    parts = (_breakdown(model, job, X_train, y_train, X_test, sgemm)
             if job.breakdown and isinstance(model, BaseNetwork) and not cuda else None)
    to_accuracy, accuracy_runs = (
        _time_to_accuracy(make_model, model, job, X_train, y_train, X_test, y_test)
        if job.target_accuracy is not None else ({}, None))
    window = contention.window_since(before, job.threads)
    row = {
        "status": "ok", "notes": "",
        "train_time_per_epoch_s": float(train), "train_time_per_epoch_s_min": train.min,
        "train_time_per_epoch_s_max": train.max,
        **inference,
        "peak_memory_mb": peak_mb, "peak_traced_mb": traced_mb, "peak_memory_method": method,
        "final_accuracy": model.evaluate(X_test, y_test)["accuracy"],
        "train_accuracy": model.evaluate(X_train, y_train)["accuracy"],
        "device": "cuda" if cuda else "cpu",
    }
    runs["train_time_per_epoch_s"] = train.runs  # the raw runs, for pooling rounds
    row.update(to_accuracy)
    if accuracy_runs:
        runs["time_to_accuracy_s"] = accuracy_runs
    if parts is not None:
        parts["train"]["fit_step_s"] = float(train) / -(-job.n_samples // job.batch_size)
        row["breakdown"] = parts
    if sgemm is not None:
        row["sgemm_gflops_per_s"] = float(sgemm)
        runs["sgemm_gflops_per_s"] = sgemm.runs
    if cuda:
        import torch
        row["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
    # Last, untimed: one more fit that evaluates after each epoch, for the learning curves
    # (the timed fits evaluate nothing). A user's class has no such fit: no curves.
    if isinstance(model, BaseNetwork):
        history = make_model().fit(X_train, y_train, validation_data=(X_test, y_test), **fit_args)
        row["history"] = {name: [float(v) for v in values] for name, values in history.items()}
    outputs = _finite_outputs(model, X_test)
    if framework.spec and (framework.samples, framework.outputs) != ("mean", "mean"):
        _parity_under_convention(row, outputs, framework, job, config, fit_args)
    return Measured(row, runs, window.as_dict()), outputs


def _parity_under_convention(row, outputs, framework, job, config, fit_args):
    """A user class that declared its loss's reductions: its parity against the twin (or,
    without torch, the NumPy network) trained here under that convention, untimed, from the
    same weights on the same batches."""
    from ..nn.losses import LossConvention
    from ..nn.torch_network import TorchNeuralNetwork, reference_class
    convention = LossConvention(job.loss, framework.samples, framework.outputs)
    cls = reference_class()
    reference = cls(job.layer_sizes, job.activations, precision_config=config, seed=job.seed,
                    loss=convention)
    X_train, y_train, X_test, _ = job.data
    reference.fit(X_train, y_train, **fit_args)
    row["parity_max_abs_diff"] = float(np.max(np.abs(
        outputs - np.asarray(reference.predict_proba(X_test), dtype=np.float64))))
    row["loss"] = convention.text  # this row's loss, declared; the others' is job.loss
    row["notes"] = "; ".join(filter(None, [row["notes"], (
        f"parity against {'the twin' if cls is TorchNeuralNetwork else 'scratch_numpy'} "
        f"trained under your loss, {convention.text}")]))


def _time_to_accuracy(make_model, model, job, X_train, y_train, X_test, y_test):
    """The time-to-accuracy columns (``benchmark.measure_time_to_accuracy``): fresh models
    trained to ``job.target_accuracy`` on the held-out split, at most ``job.max_epochs``."""
    if not isinstance(model, BaseNetwork):
        return {"time_to_accuracy_status": "not measured: it needs fit's on_epoch_end, which "
                                           "a --model class does not have"}, None
    result = benchmark.measure_time_to_accuracy(
        make_model, X_train, y_train, X_test, y_test, job.target_accuracy, job.max_epochs,
        job.alpha, job.batch_size, seed=job.seed, repeats=job.repeats, warmup=job.warmup)
    seconds, evaluation = result["seconds"], result["evaluation"]
    columns = {"epochs_to_accuracy": result["epochs"], "evaluation_time_s": float(evaluation),
               "best_accuracy": result["best_accuracy"]}
    if seconds is None:
        columns["time_to_accuracy_status"] = (
            f"not reached in {job.max_epochs} epochs: best {result['best_accuracy']:.4g} at "
            f"epoch {result['best_epoch']}")
        return columns, None
    columns.update(time_to_accuracy_s=float(seconds), time_to_accuracy_s_min=seconds.min,
                   time_to_accuracy_s_max=seconds.max,
                   time_to_accuracy_status=f"reached at epoch {result['epochs']}")
    return columns, seconds.runs


def _breakdown(model, job, X_train, y_train, X_test, sgemm):
    """The parts of a training step and of a forward pass over the held-out split
    (``scratchnet.harness.breakdown``), on the model ``measure_training_time_per_epoch`` trained,
    with the sgemm rate their GFLOP/s are set against. The steps train it on; its weights
    are put back afterwards, so its accuracy and outputs are those of ``epochs`` epochs."""
    from . import breakdown
    from ..nn.validation import check_labels
    labels = check_labels(y_train, len(X_train), job.layer_sizes[-1])
    inference = breakdown.measure_inference(model, X_test, job.precision)
    weights = model.get_weights()
    try:
        train = breakdown.measure_training(model, X_train, labels, job.batch_size, job.alpha,
                                           seed=job.seed)
    finally:
        model.set_weights(weights)
    return {"train": train, "inference": inference,
            "sgemm_gflops_per_s": float(sgemm if sgemm is not None
                                        else benchmark.measure_sgemm_gflops())}


def _finite_outputs(model, X_test):
    """The trained model's held-out outputs (M, K) as float64; ValueError if one is NaN or
    infinite, so such a model's row is an error rather than figures computed from NaN."""
    outputs = np.asarray(model.predict_proba(X_test), dtype=np.float64)
    bad = ~np.isfinite(outputs)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"forward returned {outputs[row, col]} (row {row}, column {col}) on the "
                         f"held-out split after fit, and {int(bad.sum())} non-finite values in "
                         f"all: did training diverge, or does forward overflow?")
    return outputs


def _inference_metrics(model, job, X_train, X_test):
    """Latency per sample, single-sample latency and batch throughput: the row's inference
    columns, measured the same way for every framework, and their timed runs."""
    precision, repeats, warmup = job.precision, job.repeats, job.warmup
    latency = benchmark.measure_inference_latency_per_sample(model, X_test, precision, repeats, warmup)
    single = benchmark.measure_single_sample_latency(model, X_test, precision,
                                                     runs=max(100, repeats), warmup=max(10, warmup))
    throughput = benchmark.measure_batch_throughput(model, X_train, job.batch_size, precision,
                                                    repeats, warmup)
    runs = {"inference_latency_per_sample_s": latency.runs, "single_sample_latency_s": single.runs,
            "batch_throughput_samples_per_s": throughput.runs}
    return {
        "inference_latency_per_sample_s": float(latency),
        "inference_latency_per_sample_s_min": latency.min,
        "inference_latency_per_sample_s_max": latency.max,
        "single_sample_latency_s": float(single), "single_sample_latency_s_min": single.min,
        "single_sample_latency_s_max": single.max,
        "batch_throughput_samples_per_s": float(throughput),
        "batch_throughput_samples_per_s_min": throughput.min,
        "batch_throughput_samples_per_s_max": throughput.max,
    }, runs


def _measure_onnxruntime(job, X_train, y_train, X_test, y_test):
    """The onnxruntime row: the scratch network trained as in its own row (untimed), exported
    in the run's precision and measured for inference only."""
    from ..nn.network import NeuralNetwork
    from ..nn.onnx import DEFAULT_OPSET, OnnxRuntimeModel, export_onnx
    from ..nn.precision import PrecisionConfig

    config = PrecisionConfig(train_dtype=job.precision, infer_precision=job.precision)
    trained = NeuralNetwork(job.layer_sizes, job.activations, precision_config=config,
                            seed=job.seed, loss=job.loss)
    trained.fit(X_train, y_train, epochs=job.epochs, alpha=job.alpha, batch_size=job.batch_size,
                seed=job.seed)
    with tempfile.TemporaryDirectory(prefix="scratchnet-onnx-") as folder:
        path = export_onnx(trained, os.path.join(folder, "model.onnx"), dtype=job.precision)
        model = OnnxRuntimeModel(path, loss=job.loss, threads=job.threads)
    before = contention.take_snapshot()
    inference, runs = _inference_metrics(model, job, X_train, X_test)
    window = contention.window_since(before, job.threads)
    row = {"status": "ok", "device": "cpu",
           "notes": f"ONNX Runtime does not train here: the scratch network, trained with the same "
                    f"settings, exported to ONNX (opset {DEFAULT_OPSET}) and run by the CPU "
                    f"execution provider",
           **inference,
           "final_accuracy": model.evaluate(X_test, y_test)["accuracy"],
           "train_accuracy": model.evaluate(X_train, y_train)["accuracy"]}
    return Measured(row, runs, window.as_dict()), _finite_outputs(model, X_test)


def main(framework, folder, parent_pid=None):
    if parent_pid is not None:
        die_with_parent(int(parent_pid))
    job = Job.load(folder)
    sys.path[:0] = [entry for entry in job.python_path if entry not in sys.path]
    measured, probabilities = run_framework(framework, job)
    if probabilities is not None:
        np.save(os.path.join(folder, "probabilities.npy"), probabilities)
    with open(os.path.join(folder, "measured.json"), "w") as handle:
        handle.write(measured.to_json())


if __name__ == "__main__":
    main(*sys.argv[1:4])
