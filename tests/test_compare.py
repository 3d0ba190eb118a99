"""benchmark_scratch_vs_torch: the rows, their units, and failure as rows."""
import os
import subprocess
import sys

import numpy as np
import pytest

from scratchnet import compare
from scratchnet.reports import COLUMNS, SPEC_COLUMNS

pytest.importorskip("torch")

TINY = dict(layer_sizes=[64, 16, 10], activations=["relu", "softmax"], n_samples=96, epochs=2,
            batch_size=16, alpha=0.1, seed=42, repeats=3, warmup=1)
TIMED = ["train_time_per_epoch_s", "inference_latency_per_sample_s", "single_sample_latency_s",
         "batch_throughput_samples_per_s"]


@pytest.fixture(scope="module")
def rows():
    return compare.benchmark_scratch_vs_torch(**TINY, threads=1, frameworks=["scratch_numpy", "pytorch"])


def test_one_row_per_framework_in_order_with_every_column(rows):
    assert [row["framework"] for row in rows] == ["scratch_numpy", "pytorch"]
    for row in rows:
        assert list(row)[:len(SPEC_COLUMNS)] == SPEC_COLUMNS
        assert set(COLUMNS) <= set(row)
        assert row["status"] == "ok", row["notes"]
        assert row["layer_sizes"] == "64x16x10" and row["dataset"] == "digits"
        assert (row["n_samples"], row["n_test"], row["epochs"], row["batch_size"]) == (96, 24, 2, 16)
        assert row["numpy_version"] == np.__version__ and row["torch_version"].startswith("2.13")
        assert row["blas"] and row["python_version"]


def test_metrics_have_the_specs_units(rows):
    for row in rows:
        for column in TIMED:
            assert row[f"{column}_min"] <= row[column] <= row[f"{column}_max"], column
        # seconds per epoch of 6 batches of a 64x16x10 net: well under a second, above a microsecond
        assert 1e-6 < row["train_time_per_epoch_s"] < 1
        assert 1e-9 < row["inference_latency_per_sample_s"] < row["single_sample_latency_s"] < 0.1
        assert 1e2 < row["batch_throughput_samples_per_s"] < 1e9  # samples/s
        assert 0 < row["peak_memory_mb"] < 2000  # MB
        assert 0 <= row["final_accuracy"] <= 1 and 0 <= row["train_accuracy"] <= 1


def test_parity_is_measured_and_shared(rows):
    scratch, torch_row = rows
    assert scratch["parity_max_abs_diff"] == torch_row["parity_max_abs_diff"]
    assert 0 <= scratch["parity_max_abs_diff"] <= 1e-4
    assert scratch["final_accuracy"] == torch_row["final_accuracy"]


def test_one_thread_count_for_both(rows):
    scratch, torch_row = rows
    assert scratch["threads"] == torch_row["threads"] == 1
    assert scratch["blas_threads"] == 1 and torch_row["torch_threads"] == 1
    assert scratch["torch_threads"] is None  # torch is never imported in the NumPy worker


def test_more_threads_are_applied_to_both():
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1}, threads=2)
    assert [(r["blas_threads"], r["torch_threads"]) for r in rows[:2]] == [(2, None), (2, 2)]


def test_torch_missing_gives_a_skipped_row(monkeypatch, tmp_path):
    monkeypatch.setattr(compare, "_torch_available", lambda: False)
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1})
    assert [r["framework"] for r in rows] == ["scratch_numpy", "pytorch"]
    skipped = rows[1]
    assert (skipped["status"], skipped["notes"]) == ("skipped", "torch not installed")
    assert all(skipped[c] is None for c in TIMED + ["peak_memory_mb", "final_accuracy"])
    assert rows[0]["status"] == "ok" and rows[0]["parity_max_abs_diff"] is None
    from scratchnet.reports import write_reports
    assert all(os.path.getsize(p) > 0 for p in write_reports(rows, tmp_path).values())


def test_cuda_row_is_skipped_without_a_gpu():
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1}, frameworks=["pytorch_cuda"])
    assert rows[0]["status"] == "skipped" and "CUDA not available" in rows[0]["notes"]


def test_onnxruntime_missing_gives_a_skipped_row(monkeypatch, tmp_path):
    from scratchnet import onnx_export
    monkeypatch.setattr(onnx_export, "is_onnx_available", lambda: False)
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1},
                                              frameworks=["scratch_numpy", "onnxruntime"])
    assert [(r["framework"], r["status"]) for r in rows] == [("scratch_numpy", "ok"),
                                                             ("onnxruntime", "skipped")]
    assert "onnx/onnxruntime not installed" in rows[1]["notes"]
    assert all(rows[1][c] is None for c in TIMED)
    from scratchnet.reports import write_reports
    assert all(os.path.getsize(p) > 0 for p in write_reports(rows, tmp_path).values())


def test_divergence_is_an_error_row_for_each_framework():
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1, "alpha": 1e6,
                                                 "activations": ["linear", "linear"]})
    for row in rows:
        assert row["status"] == "error"
        assert "TrainingDivergedError" in row["notes"] and "diverged in epoch" in row["notes"]
        assert row["train_time_per_epoch_s"] is None


def test_a_dead_worker_is_an_error_row(monkeypatch):
    monkeypatch.setattr(compare, "_worker_command",
                        lambda framework, folder: [sys.executable, "-c", "import os; os._exit(3)"])
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1})
    assert all(r["status"] == "error" and "worker process failed (exit status 3)" in r["notes"]
               for r in rows)


def test_one_framework_failing_leaves_the_other_row_intact(monkeypatch):
    real = compare._worker_command
    killed = [sys.executable, "-c", "raise MemoryError('simulated out of memory')"]
    monkeypatch.setattr(compare, "_worker_command",
                        lambda framework, folder: killed if framework == "pytorch" else real(framework, folder))
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1})
    assert rows[0]["status"] == "ok" and rows[0]["train_time_per_epoch_s"] > 0
    assert rows[1]["status"] == "error" and "MemoryError: simulated out of memory" in rows[1]["notes"]


def test_rounds_alternate_the_workers_and_pool_their_runs(monkeypatch):
    real, calls, timings = compare._run_isolated, [], {}

    def recording(framework, job):
        row, proba = real(framework, job)
        calls.append(framework)
        timings.setdefault(framework, []).extend(row["_runs"]["train_time_per_epoch_s"])
        return row, proba

    monkeypatch.setattr(compare, "_run_isolated", recording)
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 2}, threads=1, rounds=3,
                                              frameworks=["scratch_numpy", "pytorch"])
    assert calls == ["scratch_numpy", "pytorch"] * 3
    for row in rows:
        runs = timings[row["framework"]]
        assert len(runs) == 6 and "_runs" not in row and row["rounds"] == 3
        assert row["train_time_per_epoch_s"] == pytest.approx(float(np.median(runs)), rel=1e-12)
        assert (row["train_time_per_epoch_s_min"], row["train_time_per_epoch_s_max"]) == (min(runs), max(runs))
        assert "3 rounds pooled" in row["notes"]


def test_a_round_that_fails_makes_the_row_an_error(monkeypatch):
    real, count = compare._worker_command, []

    def second_pytorch_round_dies(framework, folder):
        count.append(framework)
        if count.count("pytorch") == 2:
            return [sys.executable, "-c", "import os; os._exit(5)"]
        return real(framework, folder)

    monkeypatch.setattr(compare, "_worker_command", second_pytorch_round_dies)
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1}, threads=1, rounds=2)
    assert rows[0]["status"] == "ok" and rows[1]["status"] == "error"
    assert "exit status 5" in rows[1]["notes"] and "(in round 2 of 2)" in rows[1]["notes"]


def test_a_script_without_a_main_guard_can_call_it(tmp_path):
    script = tmp_path / "bench.py"
    script.write_text("from scratchnet.compare import benchmark_scratch_vs_torch\n"
                      f"rows = benchmark_scratch_vs_torch(**{ {**TINY, 'repeats': 1}!r})\n"
                      "print([r['status'] for r in rows])\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['ok', 'ok']"


@pytest.mark.parametrize("change,pattern", [
    (dict(activations=["relu"]), "activations needs len"),
    (dict(layer_sizes=[64, 16, 5]), r"layer_sizes\[-1\] must be at least 10"),
    (dict(repeats=0), "repeats must be an integer >= 1"),
    (dict(threads=0), "threads must be an integer >= 1"),
    (dict(rounds=0), "rounds must be an integer >= 1"),
    (dict(frameworks=["jax"]), "frameworks must be a non-empty list drawn from"),
    (dict(precision="float16"), r"precision must be one of \['float32', 'float64'\]"),
    (dict(n_samples=5000, dataset="digits"), "'digits' has 1797 samples"),
])
def test_invalid_arguments_fail_before_anything_runs(change, pattern, monkeypatch):
    monkeypatch.setattr(compare, "_run_isolated", lambda *a: pytest.fail("a worker was started"))
    with pytest.raises(ValueError, match=pattern):
        compare.benchmark_scratch_vs_torch(**{**TINY, **change})


def test_default_dataset_follows_the_width():
    assert compare.default_dataset(784, 512) == "digits"
    assert compare.default_dataset(1024, 1000) == "digits"
    assert compare.default_dataset(100, 512) == "digits"
    assert compare.default_dataset(30, 512) == "synthetic"
    assert compare.default_dataset(784, 5000) == "synthetic"


def test_memory_counts_a_100_mb_model_for_both_frameworks():
    """26.5 M float32 weights are 101 MiB: each framework's peak must be at least that."""
    sizes = [5200, 5100, 10]
    weights_mb = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])) * 4 / 2 ** 20
    assert weights_mb > 100
    rows = compare.benchmark_scratch_vs_torch(sizes, ["relu", "softmax"], n_samples=8, epochs=1,
                                              batch_size=8, repeats=1, warmup=0)
    for row in rows:
        assert row["status"] == "ok", row["notes"]
        assert row["peak_memory_mb"] >= weights_mb, (row["framework"], row["peak_memory_mb"])
    assert rows[0]["peak_traced_mb"] >= weights_mb  # NumPy reports its buffers to tracemalloc


def test_training_flops_follow_the_issue_convention():
    assert compare.training_flops_per_epoch([784, 64, 10], 512) == 6 * (784 * 64 + 64 * 10) * 512


def test_roofline_columns():
    from scratchnet.benchmark import Timing
    rows = [{"layer_sizes": "10x5x10", "n_samples": 100, "train_time_per_epoch_s": 0.001},
            {"layer_sizes": "10x5x10", "n_samples": 100, "train_time_per_epoch_s": None}]
    compare.add_roofline(rows, Timing([2.0, 3.0, 4.0]))
    flops = 6 * (50 + 50) * 100
    assert rows[0]["train_gflops_per_s"] == pytest.approx(flops / 0.001 / 1e9)
    assert rows[0]["fraction_of_sgemm"] == pytest.approx(flops / 0.001 / 1e9 / 3.0)
    assert rows[1]["sgemm_gflops_per_s"] == 3.0 and "train_gflops_per_s" not in rows[1]


def test_sgemm_rate_is_plausible():
    from scratchnet.benchmark import measure_sgemm_gflops
    rate = measure_sgemm_gflops(n=256, runs=3, warmup=1)
    assert 0.1 < rate < 1e5  # GFLOP/s
