"""The measuring primitives, on both models."""
import numpy as np
import pytest

from scratchnet.harness import timing as benchmark
from scratchnet.harness.timing import Timing


def test_timing_is_the_median_with_its_spread():
    timing = Timing([0.3, 0.1, 0.2, 0.5, 0.4])
    assert timing == 0.3 and (timing.min, timing.max) == (0.1, 0.5)
    assert timing.scaled(2) == 0.6 and timing.scaled(2).max == 1.0
    rate = timing.inverted(1.0)
    assert rate == pytest.approx(1 / 0.3) and rate.min == 2.0 and rate.max == 10.0


class FakeClock:
    """A clock that moves only when told: ``advance(seconds)``."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def test_time_runs_times_only_the_call_and_excludes_warmup_and_setup():
    clock, calls = FakeClock(), []
    durations = iter([9.0, 8.0, 0.1, 0.3, 0.2, 0.5, 0.4])  # two warm-up calls, then five

    def setup():
        clock.advance(50.0)  # setup is slow: none of it may be counted
        return len(calls)

    def call(argument):
        calls.append(argument)
        clock.advance(next(durations))

    timing = benchmark.time_runs(call, runs=5, warmup=2, setup=setup, clock=clock)
    assert calls == list(range(7))
    assert timing.runs == pytest.approx([0.1, 0.3, 0.2, 0.5, 0.4])
    assert (float(timing), timing.min, timing.max) == pytest.approx((0.3, 0.1, 0.5))


def test_time_runs_reads_the_clock_around_each_call_without_setup():
    clock = FakeClock()
    timing = benchmark.time_runs(lambda: clock.advance(0.25), runs=3, warmup=1, clock=clock)
    assert timing.runs == pytest.approx([0.25] * 3)


def test_training_time_uses_a_fresh_model_each_run(model_class, small_data):
    X, y = small_data[0], small_data[1]
    built = []

    def make():
        built.append(model_class([20, 8, 10], ["relu", "softmax"], seed=0))
        return built[-1]

    per_epoch, model = benchmark.measure_training_time_per_epoch(make, X, y, epochs=2, alpha=0.1,
                                                                 batch_size=32, repeats=3, warmup=1)
    assert len(built) == 4 and model is built[-1]
    assert len(per_epoch.runs) == 3 and per_epoch > 0
    # Every run trained from the same start: the last model equals a fresh one trained once.
    reference = make()
    reference.fit(X, y, epochs=2, alpha=0.1, batch_size=32, seed=42)
    assert all(np.array_equal(a, b) for p, q in zip(model.get_weights(), reference.get_weights())
               for a, b in zip(p, q))


def test_inference_measures(model_class, small_data):
    """How many runs each measure takes and how it scales them (no claim about durations:
    they move with the machine's load)."""
    X = small_data[2]
    model = model_class([20, 8, 10], ["relu", "softmax"])
    latency = benchmark.measure_inference_latency_per_sample(model, X, precision="float32", runs=5)
    single = benchmark.measure_single_sample_latency(model, X, runs=20, warmup=2)
    throughput = benchmark.measure_batch_throughput(model, X, batch_size=8, runs=5)
    assert (len(latency.runs), len(single.runs), len(throughput.runs)) == (5, 20, 5)
    for timing in (latency, single, throughput):
        assert timing.min <= timing <= timing.max and timing.min > 0


def test_inference_measures_scale_by_the_samples(monkeypatch, small_data):
    """Per-sample latency is one forward over X divided by len(X); throughput is len(X)
    over the time of all batches: checked with a clock that moves 1 s per forward."""
    from scratchnet import NeuralNetwork
    X = small_data[2]  # 40 rows
    clock, model = FakeClock(), NeuralNetwork([20, 8, 10], ["relu", "softmax"])
    real_forward = model.forward
    monkeypatch.setattr(benchmark, "CLOCK", clock)
    monkeypatch.setattr(model, "forward", lambda *a, **k: (clock.advance(1.0), real_forward(*a, **k))[1])
    assert float(benchmark.measure_inference_latency_per_sample(model, X, runs=3)) == pytest.approx(1 / 40)
    assert float(benchmark.measure_single_sample_latency(model, X, runs=3, warmup=1)) == pytest.approx(1.0)
    assert float(benchmark.measure_batch_throughput(model, X, batch_size=8, runs=3)) == pytest.approx(40 / 5)


def test_peak_rss_sees_numpy_and_torch_allocations():
    _, numpy_mb = benchmark._measure_peak_memory_mb(lambda: np.ones(2 ** 25).sum())  # 256 MiB
    assert 250 < numpy_mb < 400
    torch = pytest.importorskip("torch")
    _, torch_mb = benchmark._measure_peak_memory_mb(lambda: torch.ones(2 ** 25, dtype=torch.float64).sum())
    assert 250 < torch_mb < 400
    _, traced_torch_mb = benchmark.measure_traced_peak_mb(
        lambda: torch.ones(2 ** 25, dtype=torch.float64).sum())
    assert traced_torch_mb < 10, "tracemalloc is expected not to see torch's storage"


def test_limit_threads_applies_to_numpy_and_torch():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with benchmark.limit_threads(1) as in_force:
        assert in_force == {"blas": 1, "torch": 1}
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_environment_names_the_versions():
    info = benchmark.environment()
    assert info["numpy_version"] == np.__version__ and info["python_version"].startswith("3.")
    assert benchmark.numpy_blas() != "unknown"


def test_the_numpy_networks_blas_names_scipys_and_its_threads_are_limited_too():
    from threadpoolctl import threadpool_info
    from scratchnet.harness.frameworks import REGISTRY, SCRATCH
    described = REGISTRY[SCRATCH].blas()
    assert "fused SGD update (one thread): SciPy's" in described
    assert benchmark.scipy_blas() != "unknown" and benchmark.scipy_blas() in described
    with benchmark.limit_threads(1):
        assert {pool["num_threads"] for pool in threadpool_info()
                if pool["user_api"] == "blas"} == {1}
