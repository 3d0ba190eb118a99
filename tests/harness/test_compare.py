"""benchmark_scratch_vs_torch: the rows, their units, and failure as rows."""
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from helpers import assert_close
from scratchnet.data import default_dataset
from scratchnet.harness import result
from scratchnet.harness.result import Measured
from scratchnet.harness import compare, config, runner
from scratchnet.nn import torch_network as pytorch_model
from scratchnet.harness.ratios import RATIO_COLUMNS, ratio_with_interval
from scratchnet.report import COLUMNS, SPEC_COLUMNS

pytest.importorskip("torch")

TINY = dict(layer_sizes=[64, 16, 10], activations=["relu", "softmax"], n_samples=96, epochs=2,
            batch_size=16, alpha=0.1, seed=42, repeats=3, warmup=1, rounds=1)
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
        # positive and finite; how large is the machine's business (no claim on durations)
        for column in TIMED + ["peak_memory_mb"]:
            assert 0 < row[column] < float("inf"), column
        assert 0 <= row["final_accuracy"] <= 1 and 0 <= row["train_accuracy"] <= 1


def test_the_other_row_carries_the_ratios_with_their_interval(rows):
    scratch, torch_row = rows
    for column, ratio in RATIO_COLUMNS.items():
        assert scratch[ratio] is None
        if column == "time_to_accuracy_s":  # only with target_accuracy (test_time_to_accuracy)
            assert torch_row[ratio] is None
            continue
        assert torch_row[ratio] == pytest.approx(scratch[column] / torch_row[column], rel=1e-12)
        assert torch_row[f"{ratio}_ci_low"] <= torch_row[ratio] <= torch_row[f"{ratio}_ci_high"]


def test_each_row_says_what_else_used_the_cpu(rows):
    for row in rows:
        if not os.path.exists("/proc/stat"):
            assert row["contention"] is None
            continue
        assert 0 <= row["contention"] <= 1 and 0 <= row["contention_runqueue_wait"] <= 1
        assert row["disturbed"] in (True, False) and row["contention_window_s"] > 0
        assert row["contention_cpus"] == len(os.sched_getaffinity(0))


def test_each_row_keeps_its_learning_curves_and_the_twins_coincide(rows):
    scratch, torch_row = rows
    for row in rows:
        assert sorted(row["history"]) == ["accuracy", "loss", "val_accuracy", "val_loss"]
        assert all(len(values) == TINY["epochs"] for values in row["history"].values())
    for key in ("loss", "val_loss"):  # same weights, same batches: float32 round-off apart
        assert_close(scratch["history"][key], torch_row["history"][key], 1e-5, key)
    assert scratch["history"]["val_accuracy"][-1] == scratch["final_accuracy"]


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


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_more_threads_are_applied_to_both():
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1}, threads=2)
    assert [(r["blas_threads"], r["torch_threads"]) for r in rows[:2]] == [(2, None), (2, 2)]


def test_torch_missing_gives_a_skipped_row(monkeypatch, tmp_path):
    monkeypatch.setattr(pytorch_model, "is_torch_available", lambda: False)
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1})
    assert [r["framework"] for r in rows] == ["scratch_numpy", "pytorch"]
    skipped = rows[1]
    assert (skipped["status"], skipped["notes"]) == ("skipped", "torch not installed")
    assert all(skipped[c] is None for c in TIMED + ["peak_memory_mb", "final_accuracy"])
    assert rows[0]["status"] == "ok" and rows[0]["parity_max_abs_diff"] is None
    from scratchnet.report import write_reports
    assert all(os.path.getsize(p) > 0 for p in write_reports(rows, tmp_path).values())


def test_cuda_row_is_skipped_without_a_gpu():
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1}, frameworks=["pytorch_cuda"])
    assert rows[0]["status"] == "skipped" and "CUDA not available" in rows[0]["notes"]


def test_onnxruntime_missing_gives_a_skipped_row(monkeypatch, tmp_path):
    from scratchnet.nn import onnx as onnx_export
    monkeypatch.setattr(onnx_export, "is_onnx_available", lambda: False)
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1},
                                              frameworks=["scratch_numpy", "onnxruntime"])
    assert [(r["framework"], r["status"]) for r in rows] == [("scratch_numpy", "ok"),
                                                             ("onnxruntime", "skipped")]
    assert "onnx/onnxruntime not installed" in rows[1]["notes"]
    assert all(rows[1][c] is None for c in TIMED)
    from scratchnet.report import write_reports
    assert all(os.path.getsize(p) > 0 for p in write_reports(rows, tmp_path).values())


def test_divergence_is_an_error_row_for_each_framework():
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1, "alpha": 1e6,
                                                 "activations": ["linear", "linear"]})
    for row in rows:
        assert row["status"] == "error"
        assert "TrainingDivergedError" in row["notes"] and "diverged in epoch" in row["notes"]
        assert row["train_time_per_epoch_s"] is None


def test_a_dead_worker_is_an_error_row(monkeypatch):
    monkeypatch.setattr(runner, "worker_command",
                        lambda framework, folder: [sys.executable, "-c", "import os; os._exit(3)"])
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1})
    assert all(r["status"] == "error" and "worker process failed (exit status 3)" in r["notes"]
               for r in rows)


def test_one_framework_failing_leaves_the_other_row_intact(monkeypatch):
    real = runner.worker_command
    killed = [sys.executable, "-c", "raise MemoryError('simulated out of memory')"]
    monkeypatch.setattr(runner, "worker_command",
                        lambda framework, folder: killed if framework == "pytorch" else real(framework, folder))
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1})
    assert rows[0]["status"] == "ok" and rows[0]["train_time_per_epoch_s"] > 0
    assert rows[1]["status"] == "error" and "MemoryError: simulated out of memory" in rows[1]["notes"]


def test_rounds_alternate_the_workers_and_pool_their_runs(monkeypatch):
    real, calls, timings = runner.run_isolated, [], {}

    def recording(framework, job):
        row, proba = real(framework, job)
        calls.append(framework)
        timings.setdefault(framework, []).extend(row.runs["train_time_per_epoch_s"])
        return row, proba

    monkeypatch.setattr(runner, "run_isolated", recording)
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 3, "rounds": 2}, threads=1,
                                              frameworks=["scratch_numpy", "pytorch"])
    assert calls == ["scratch_numpy", "pytorch"] * 2
    for row in rows:
        runs = timings[row["framework"]]
        assert len(runs) == 6 and row["rounds"] == 2
        assert row["train_time_per_epoch_s"] == pytest.approx(float(np.median(runs)), rel=1e-12)
        assert (row["train_time_per_epoch_s_min"], row["train_time_per_epoch_s_max"]) == (min(runs), max(runs))
        assert "2 rounds pooled" in row["notes"]


def test_a_round_that_fails_makes_the_row_an_error(monkeypatch):
    real, count = runner.worker_command, []

    def second_pytorch_round_dies(framework, folder):
        count.append(framework)
        if count.count("pytorch") == 2:
            return [sys.executable, "-c", "import os; os._exit(5)"]
        return real(framework, folder)

    monkeypatch.setattr(runner, "worker_command", second_pytorch_round_dies)
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 1, "rounds": 2}, threads=1)
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
    (dict(threads=999), r"threads must be between 1 and \d+, the cores this process may use"),
    (dict(target_ci=0), "target_ci must be a number strictly between 0 and 1"),
    (dict(target_ci=1.5), "target_ci must be a number strictly between 0 and 1"),
    (dict(target_ci=0.05, max_time=-1), "max_time must be a positive number of seconds"),
    (dict(rounds=0), "rounds must be an integer >= 1"),
    (dict(frameworks=["jax"]), "frameworks must be a non-empty list drawn from"),
    (dict(precision="float16"), r"precision must be one of \['float32', 'float64'\]"),
    (dict(n_samples=5000, dataset="digits"), "'digits' has 1797 samples"),
])
def test_invalid_arguments_fail_before_anything_runs(change, pattern, monkeypatch):
    monkeypatch.setattr(runner, "run_isolated", lambda *a: pytest.fail("a worker was started"))
    with pytest.raises(ValueError, match=pattern):
        compare.benchmark_scratch_vs_torch(**{**TINY, **change})


def test_default_dataset_follows_the_width():
    assert default_dataset(784, 512) == "digits"
    assert default_dataset(1024, 1000) == "digits"
    assert default_dataset(100, 512) == "digits"
    assert default_dataset(30, 512) == "synthetic"
    assert default_dataset(784, 5000) == "synthetic"


def test_memory_counts_a_100_mb_model_for_both_frameworks():
    """26.5 M float32 weights are 101 MiB: each framework's peak must be at least that."""
    sizes = [5200, 5100, 10]
    weights_mb = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])) * 4 / 2 ** 20
    assert weights_mb > 100
    rows = compare.benchmark_scratch_vs_torch(sizes, ["relu", "softmax"], n_samples=8, epochs=1,
                                              batch_size=8, repeats=1, warmup=0, rounds=1)
    for row in rows:
        assert row["status"] == "ok", row["notes"]
        assert row["peak_memory_mb"] >= weights_mb, (row["framework"], row["peak_memory_mb"])
    assert rows[0]["peak_traced_mb"] >= weights_mb  # NumPy reports its buffers to tracemalloc


def test_training_flops_follow_the_spec_convention():
    assert result.training_flops_per_epoch([784, 64, 10], 512) == 6 * (784 * 64 + 64 * 10) * 512


def test_roofline_columns():
    from scratchnet.harness.timing import Timing
    rows = [{"layer_sizes": "10x5x10", "n_samples": 100, "train_time_per_epoch_s": 0.001},
            {"layer_sizes": "10x5x10", "n_samples": 100, "train_time_per_epoch_s": None}]
    result.add_roofline(rows, Timing([2.0, 3.0, 4.0]))
    flops = 6 * (50 + 50) * 100
    assert rows[0]["train_gflops_per_s"] == pytest.approx(flops / 0.001 / 1e9)
    assert rows[0]["fraction_of_sgemm"] == pytest.approx(flops / 0.001 / 1e9 / 3.0)
    assert rows[1]["sgemm_gflops_per_s"] == 3.0 and "train_gflops_per_s" not in rows[1]


def test_sgemm_rate_is_the_flops_over_each_run(monkeypatch):
    """2 n^3 flops per call over each call's seconds (a fake clock: 0.25 s per call)."""
    from scratchnet.harness import timing as benchmark
    now = [0.0]

    def clock():
        now[0] += 0.25  # read twice per call
        return now[0]

    monkeypatch.setattr(benchmark, "CLOCK", clock)
    rate = benchmark.measure_sgemm_gflops(n=64, runs=3, warmup=1)
    assert len(rate.runs) == 3 and float(rate) == pytest.approx(2 * 64 ** 3 / 1e9 / 0.25)


def test_the_default_thread_count_is_one_and_never_above_the_cores():
    assert config.check_threads(None) == min(config.DEFAULT_THREADS, len(os.sched_getaffinity(0)))
    assert config.check_threads(len(os.sched_getaffinity(0))) == len(os.sched_getaffinity(0))


# ------------------------------------------------ rounds, intervals and --target-ci, faked
class FakeWorkers:
    """Stands in for _run_isolated: rows whose runs come from a seeded generator, scratch
    ``speed`` times as fast as torch, each round slowed by a shared random factor and
    each run by its own ``noise``; every call advances a fake clock by 10 s."""

    def __init__(self, noise, speed=0.5, seed=0):
        self.rng, self.noise, self.speed, self.now, self.calls = (
            np.random.default_rng(seed), noise, speed, 0.0, [])

    def clock(self):
        return self.now

    def __call__(self, framework, job):
        self.calls.append(framework)
        self.now += 10.0
        if framework == "scratch_numpy":
            self.round_factor = self.rng.lognormal(0, 0.1)
        base = self.round_factor * (self.speed if framework == "scratch_numpy" else 1.0)
        runs = {column: list(base * self.rng.lognormal(0, self.noise, job.repeats))
                for column in RATIO_COLUMNS}
        window = {"window_s": 1.0, "cpus": 2, "contention": 0.02 if len(self.calls) != 4 else 0.5,
                  "others_cpu": 0.02, "steal": 0.0, "runqueue_wait": 0.0,
                  "own_cpu_per_thread": 1.0, "load_average_before": 0.1, "load_average_after": 0.1}
        columns = {"status": "ok", "notes": "",
                   **{column: float(np.median(values)) for column, values in runs.items()}}
        return Measured(columns, runs, window), np.zeros((job.data[2].shape[0], 10))


def fake_run(monkeypatch, workers, **arguments):
    monkeypatch.setattr(runner, "run_isolated", workers)
    return compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 7, **arguments},
                                              frameworks=["scratch_numpy", "pytorch"],
                                              clock=workers.clock)


def test_ratios_come_from_the_paired_rounds(monkeypatch):
    workers = FakeWorkers(noise=0.05)
    rows = fake_run(monkeypatch, workers, rounds=3)
    assert workers.calls == ["scratch_numpy", "pytorch"] * 3
    workers_again = FakeWorkers(noise=0.05)  # the same runs, to recompute the ratio directly
    measured = {f: [] for f in ("scratch_numpy", "pytorch")}
    for _ in range(3):
        for framework in measured:
            measured[framework].append(workers_again(framework, SimpleNamespace(repeats=7, data=[0, 0, np.zeros((24, 64))]))[0])
    expected = ratio_with_interval([r.runs["train_time_per_epoch_s"] for r in measured["scratch_numpy"]],
                                   [r.runs["train_time_per_epoch_s"] for r in measured["pytorch"]])
    torch_row = rows[1]
    assert (torch_row["train_time_ratio"], torch_row["train_time_ratio_ci_low"],
            torch_row["train_time_ratio_ci_high"]) == pytest.approx((expected.value, expected.low, expected.high))
    assert torch_row["rounds"] == 3 and torch_row["rounds_stopped_by"] is None


def test_the_worst_round_decides_the_contention_columns(monkeypatch):
    rows = fake_run(monkeypatch, FakeWorkers(noise=0.05), rounds=3)
    scratch, torch_row = rows
    assert torch_row["contention"] == 0.5 and torch_row["disturbed"] is True  # its 2nd round (4th call)
    assert scratch["contention"] == 0.02 and scratch["disturbed"] is False


def test_target_ci_stops_when_every_interval_is_narrow_enough(monkeypatch):
    workers = FakeWorkers(noise=0.01)
    rows = fake_run(monkeypatch, workers, rounds=1, target_ci=0.05)
    assert len(workers.calls) == 2 * runner.MIN_ROUNDS_FOR_TARGET  # checked only after 3 rounds
    torch_row = rows[1]
    assert torch_row["rounds"] == 3 and torch_row["target_ci"] == 0.05
    assert torch_row["rounds_stopped_by"].startswith("target reached after 3 rounds: the widest "
                                                     "interval is +-")
    for ratio in RATIO_COLUMNS.values():
        low, high = torch_row[f"{ratio}_ci_low"], torch_row[f"{ratio}_ci_high"]
        assert (high - low) / 2 <= 0.05 * torch_row[ratio]


def test_target_ci_keeps_adding_rounds_until_max_time(monkeypatch):
    workers = FakeWorkers(noise=0.8)  # far too noisy for +-1 %
    rows = fake_run(monkeypatch, workers, target_ci=0.01, max_time=95)
    # each round advances the fake clock by 20 s: checks at 60, 80 and 100 s
    assert len(workers.calls) == 2 * 5 and rows[1]["rounds"] == 5
    assert rows[1]["rounds_stopped_by"].startswith("max_time reached after 5 rounds (100 s >= 95 s): "
                                                   "the widest interval is +-")
    assert rows[0]["rounds_stopped_by"] == rows[1]["rounds_stopped_by"]


def test_target_ci_stops_on_a_failed_round(monkeypatch):
    workers = FakeWorkers(noise=0.8)
    real = workers.__call__

    def failing(framework, job):
        row, proba = real(framework, job)
        if len(workers.calls) == 8:
            return Measured.error("worker process failed (exit status 9): boom"), None
        return row, proba

    workers_call = failing
    workers_call.clock = workers.clock
    monkeypatch.setattr(runner, "run_isolated", workers_call)
    rows = compare.benchmark_scratch_vs_torch(**{**TINY, "repeats": 7}, target_ci=0.01,
                                              frameworks=["scratch_numpy", "pytorch"],
                                              clock=workers.clock)
    assert len(workers.calls) == 8 and rows[1]["status"] == "error"
    assert rows[1]["rounds_stopped_by"] == "a round failed after 4 rounds"
    assert "(in round 4 of 4)" in rows[1]["notes"] and rows[1]["train_time_ratio"] is None
