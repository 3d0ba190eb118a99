"""Time-to-accuracy: training until the held-out accuracy reaches a target, the evaluations
left out, in compare, its reports and the time_to_accuracy preset."""
import itertools

import numpy as np
import pytest

from helpers import one_line, scratchnet
from scratchnet.data import load_config_data
from scratchnet import NeuralNetwork
from scratchnet.harness import timing as benchmark, compare, presets
from scratchnet import report as reports

SETTINGS = dict(layer_sizes=[64, 16, 10], activations=["relu", "softmax"], loss="cross_entropy",
                n_samples=256, epochs=2, batch_size=16, alpha=0.1, seed=42)


def digits(n_samples=256):
    return load_config_data(dict(n_samples=n_samples, dataset="digits",
                                         layer_sizes=[64, 16, 10], seed=42))


def test_fit_stops_when_on_epoch_end_returns_true():
    X, y, _, _ = digits()
    model = NeuralNetwork([64, 16, 10], ["relu", "softmax"], seed=1)
    history = model.fit(X, y, epochs=10, alpha=0.1, batch_size=16,
                        on_epoch_end=lambda epoch, logs: epoch == 3)
    assert len(history["loss"]) == 3


def test_the_evaluations_are_timed_apart_and_left_out():
    """A clock that ticks once per read: each evaluation spans one tick, so a run that
    reaches the target at epoch E reads 2E + 2 ticks and its training time is E + 1."""
    X, y, X_val, y_val = digits()
    ticks = itertools.count()
    result = benchmark.measure_time_to_accuracy(
        lambda: NeuralNetwork([64, 16, 10], ["relu", "softmax"], seed=42, loss="cross_entropy"),
        X, y, X_val, y_val, target=0.8, max_epochs=30, alpha=0.1, batch_size=16, repeats=2,
        warmup=0, clock=lambda: float(next(ticks)))
    epochs = result["epochs"]
    assert epochs is not None and result["best_accuracy"] >= 0.8
    assert result["seconds"].runs == [epochs + 1.0] * 2
    assert result["evaluation"].runs == [float(epochs)] * 2


def test_a_target_not_reached_says_how_close_it_came():
    X, y, X_val, y_val = digits()
    result = benchmark.measure_time_to_accuracy(
        lambda: NeuralNetwork([64, 16, 10], ["relu", "softmax"], seed=42), X, y, X_val, y_val,
        target=1.0, max_epochs=2, alpha=0.1, batch_size=16, repeats=1, warmup=0)
    assert result["seconds"] is None and result["epochs"] is None
    assert 0 < result["best_accuracy"] < 1 and result["best_epoch"] in (1, 2)


def test_the_preset_reaches_its_target_in_both_networks_at_the_same_epoch():
    pytest.importorskip("torch")
    from scratchnet import TorchNeuralNetwork
    settings = presets.GOAL_PRESETS["time_to_accuracy"]
    data = load_config_data({**settings, "dataset": "digits"})
    epochs = []
    for model_class in (NeuralNetwork, TorchNeuralNetwork):
        result = benchmark.measure_time_to_accuracy(
            lambda: model_class(settings["layer_sizes"], settings["activations"],
                                seed=settings["seed"], loss=settings["loss"]),
            *data, settings["target_accuracy"], settings["max_epochs"], settings["alpha"],
            settings["batch_size"], seed=settings["seed"], repeats=1, warmup=0)
        assert result["seconds"] is not None, f"{model_class.__name__}: best {result['best_accuracy']}"
        epochs.append(result["epochs"])
    assert epochs[0] == epochs[1]


@pytest.fixture(scope="module")
def rows():
    pytest.importorskip("torch")
    return compare.benchmark_scratch_vs_torch(
        **SETTINGS, repeats=2, warmup=1, rounds=1, threads=1,
        frameworks=["scratch_numpy", "pytorch"], target_accuracy=0.8, max_epochs=30)


def test_compare_reports_time_to_accuracy_and_its_ratio(rows):
    scratch, torch_row = rows
    for row in rows:
        assert row["target_accuracy"] == 0.8 and row["max_epochs"] == 30
        assert row["time_to_accuracy_s"] > 0 and row["evaluation_time_s"] > 0
        assert row["time_to_accuracy_s_min"] <= row["time_to_accuracy_s"] <= row["time_to_accuracy_s_max"]
        assert row["time_to_accuracy_status"] == f"reached at epoch {row['epochs_to_accuracy']}"
    assert scratch["epochs_to_accuracy"] == torch_row["epochs_to_accuracy"]
    assert torch_row["time_to_accuracy_ratio_ci_low"] <= torch_row["time_to_accuracy_ratio"] \
        <= torch_row["time_to_accuracy_ratio_ci_high"]
    header, _ = reports.table_rows(rows)
    assert header[-3:] == ["time_to_accuracy_s", "epochs_to_accuracy", "preset"]
    text = reports.interpretation(rows)
    assert "Time to the target accuracy: scratch_numpy" in text
    assert (f"Time to 0.8 held-out accuracy (checked after each epoch; the evaluations' time left "
            f"out): scratch_numpy reached at epoch {scratch['epochs_to_accuracy']}") in text


def test_a_target_not_reached_is_a_status_not_an_error():
    rows = compare.benchmark_scratch_vs_torch(
        **SETTINGS, repeats=1, warmup=0, rounds=1, threads=1, frameworks=["scratch_numpy"],
        target_accuracy=1.0, max_epochs=2)
    assert rows[0]["status"] == "ok" and rows[0]["time_to_accuracy_s"] is None
    assert rows[0]["time_to_accuracy_status"].startswith("not reached in 2 epochs: best 0.")


@pytest.mark.parametrize("kwargs, message", [
    (dict(target_accuracy=1.5), "target_accuracy must be a held-out accuracy in (0, 1]"),
    (dict(target_accuracy=True), "target_accuracy must be a held-out accuracy in (0, 1]"),
    (dict(target_accuracy=0.9, max_epochs=0), "max_epochs must be"),
])
def test_bad_targets_are_refused_before_anything_runs(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message.replace("(", r"\(").replace("]", r"\]")):
        compare.prepare_comparison(**SETTINGS, **kwargs)


def test_the_command_refuses_a_bad_target(tmp_path):
    result = scratchnet("compare", "--target-accuracy", "90", "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert "target_accuracy must be a held-out accuracy in (0, 1], e.g. 0.9, got 90.0" in \
        one_line(result.stderr)
    assert not (tmp_path / "r").exists()


def test_the_suite_tracks_it(monkeypatch):
    """The asv benchmark measures what compare measures, on the preset; lower is better.
    Its clock ticks once per read, so the figure is a whole number of ticks: a run that
    reaches the target at epoch E trains for E + 1 ticks, its evaluations left out."""
    import sys
    from pathlib import Path
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    for name in [m for m in sys.modules if m == "benchmarks" or m.startswith("benchmarks.")]:
        monkeypatch.delitem(sys.modules, name)
    from benchmarks.training import TimeToAccuracy
    ticks = itertools.count()
    monkeypatch.setattr(benchmark, "CLOCK", lambda: float(next(ticks)))
    bench = TimeToAccuracy()
    data = bench.setup_cache()
    bench.setup(data, "scratch_numpy", "time_to_accuracy")
    seconds = bench.track_time_to_accuracy(data, "scratch_numpy", "time_to_accuracy")
    assert seconds > 0 and np.isfinite(seconds)
    settings = presets.GOAL_PRESETS["time_to_accuracy"]
    epochs = benchmark.measure_time_to_accuracy(
        lambda: bench.make_model("scratch_numpy", "time_to_accuracy"),
        *data["time_to_accuracy"], settings["target_accuracy"], settings["max_epochs"],
        settings["alpha"], settings["batch_size"], seed=settings["seed"], repeats=1,
        warmup=0)["epochs"]
    assert seconds == epochs + 1.0, (seconds, epochs)
    assert TimeToAccuracy.track_time_to_accuracy.unit == "seconds"
