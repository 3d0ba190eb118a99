"""The per-layer, per-phase breakdown: what the laps see, that they change nothing, and
what compare and the reports make of them."""
import itertools

import numpy as np
import pytest

from helpers import assert_close
from scratchnet.data import load_config_data
from scratchnet import NeuralNetwork
from scratchnet.harness import breakdown, compare
from scratchnet import report as reports
from scratchnet.report import figures as plots
from scratchnet.data import load_dataset

torch = pytest.importorskip("torch")
from scratchnet import TorchNeuralNetwork  # noqa: E402

SIZES, ACTIVATIONS = [64, 16, 12, 10], ["relu", "sigmoid", "softmax"]


def data(n=96):
    X, y, _, _ = load_dataset("digits", n_features=64, n_samples=n + 24, test_fraction=0.2)
    return X[:n].astype(np.float32), y[:n].astype(np.int64)


class TickingClock:
    """A clock that advances by one at every read: each lap then measures how many clock
    reads it spans, which makes the accounting exact."""

    def __init__(self):
        self.reads = itertools.count()

    def __call__(self):
        return float(next(self.reads))


def lapped_parts(model, threads=1):
    """The parts of one training step, run as fit runs it (inside the model's training
    context) with ``threads`` BLAS threads."""
    from threadpoolctl import threadpool_limits
    X, y = data()
    laps = breakdown.Laps(TickingClock())
    with threadpool_limits(threads):  # one batch of 32: fit makes one step
        return breakdown.run_lapped(model, laps, lambda: model.fit(
            X[:32], y[:32], epochs=1, alpha=0.1, batch_size=32, shuffle=False))


def test_the_numpy_step_laps_every_operation_of_every_layer():
    parts = lapped_parts(NeuralNetwork(SIZES, ACTIVATIONS, seed=1))
    # the update is fused into each layer's gradient products, so it has no part of its own
    expected = {(None, "batch"), (None, "loss"), (None, "output gradient")}
    for layer in (1, 2, 3):
        expected |= {(layer, "forward: matmul"), (layer, "forward: bias"),
                     (layer, "forward: activation"),
                     (layer, "backward: weight gradient and update"),
                     (layer, "backward: bias gradient and update")}
        if layer > 1:
            expected.add((layer, "backward: input gradient"))  # the input's gradient is skipped
        if layer < 3:
            expected.add((layer, "backward: activation derivative"))
    assert set(parts) == expected, set(parts) ^ expected
    # with a clock that ticks once per read, each lap is one tick; the loss holds two (its
    # value, then the batch's correct count)
    assert parts[(None, "loss")] == 2
    assert sum(parts.values()) == len(expected) + 1


def test_on_more_than_one_blas_thread_the_update_is_its_own_part():
    # a batch of 64 rows and a product of 64 x 256 x 256 (4.2 M multiply-adds) keep the
    # threads in force
    model = NeuralNetwork([256, 256, 10], ["relu", "softmax"], seed=1)
    X, y = np.random.default_rng(0).random((64, 256), dtype=np.float32), np.arange(64) % 10
    laps = breakdown.Laps(TickingClock())
    from threadpoolctl import threadpool_limits
    with threadpool_limits(2):
        parts = breakdown.run_lapped(model, laps, lambda: model.fit(
            X, y, epochs=1, alpha=0.1, batch_size=64, shuffle=False))
    assert parts[(None, "update")] == 2  # lapped once per layer
    assert (1, "backward: weight gradient") in parts and (2, "backward: bias gradient") in parts
    assert not any(phase.endswith("and update") for _, phase in parts)


def test_the_torch_step_laps_each_module_and_each_backward_node():
    parts = lapped_parts(TorchNeuralNetwork(SIZES, ACTIVATIONS, seed=1))
    expected = {(None, "batch"), (None, "loss"), (None, "output gradient"), (None, "update")}
    for layer in (1, 2, 3):
        expected |= {(layer, "forward: linear"), (layer, "forward: activation"),
                     (layer, "backward: linear")}
        if layer < 3:
            expected.add((layer, "backward: activation derivative"))
    assert set(parts) == expected, set(parts) ^ expected


@pytest.mark.parametrize("model_class", [NeuralNetwork, TorchNeuralNetwork])
def test_laps_change_no_result(model_class):
    """A lapped training step and forward pass compute exactly what plain ones do."""
    X, y = data()
    plain, lapped = (model_class(SIZES, ACTIVATIONS, seed=3) for _ in range(2))
    laps = breakdown.Laps()
    def train(model):
        return model.fit(X, y, epochs=1, alpha=0.1, batch_size=32, shuffle=False)  # 3 steps

    train(plain)
    assert breakdown.run_lapped(lapped, laps, lambda: train(lapped))  # the steps were lapped
    for (W1, b1), (W2, b2) in zip(plain.get_weights(), lapped.get_weights()):
        assert_close(W2, W1, 0.0, "weights after lapped steps")
        assert_close(b2, b1, 0.0, "biases after lapped steps")
    outputs = []
    parts = breakdown.run_lapped(lapped, laps, lambda: outputs.append(lapped.forward(X)))
    assert parts  # the forward pass was lapped
    assert_close(outputs[0], plain.forward(X), 0.0, "lapped forward")


@pytest.mark.parametrize("model_class", [NeuralNetwork, TorchNeuralNetwork])
def test_the_parts_add_up_to_the_lapped_step(model_class):
    """Every clock read inside a lapped run belongs to exactly one part: the parts' sum is
    the run's total, for the training step and the forward pass."""
    X, y = data()
    model = model_class(SIZES, ACTIVATIONS, seed=3)
    train = breakdown.measure_training(model, X, y, batch_size=32, alpha=0.1, steps=4, warmup=1,
                                       clock=TickingClock())
    assert sum(p["seconds"] for p in train["parts"]) == train["lapped_s"]
    assert train["plain_s"] == 1.0 and train["rows"] == 32 and train["runs"] == 4
    inference = breakdown.measure_inference(model, X, "float32", runs=3, warmup=1,
                                            clock=TickingClock())
    assert sum(p["seconds"] for p in inference["parts"]) == inference["lapped_s"]
    forward = {(p["layer"], p["phase"]): p["flops"] for p in inference["parts"]}
    product = "forward: matmul" if model_class is NeuralNetwork else "forward: linear"
    assert forward[(1, product)] == 2 * len(X) * 64 * 16  # a multiply and an add per weight


def test_flops_of_a_linear_backward_count_dx_except_in_the_first_layer():
    flops = breakdown._flop_counter([8, 4, 2], rows=10)
    assert flops(1, "backward: linear") == 2 * 10 * 8 * 4
    assert flops(2, "backward: linear") == 2 * 2 * 10 * 4 * 2
    assert flops(2, "backward: bias gradient") is None and flops(None, "loss") is None


def test_rounds_pool_to_the_median_of_their_medians():
    def one(seconds):
        section = {"plain_s": seconds, "lapped_s": seconds, "runs": 10, "rows": 32,
                   "parts": [{"layer": 1, "phase": "forward: matmul", "seconds": seconds, "flops": 8}]}
        return {"train": dict(section), "inference": dict(section), "sgemm_gflops_per_s": 50.0}
    pooled = breakdown.pool([one(1.0), one(5.0), one(2.0)])
    assert pooled["train"]["parts"][0]["seconds"] == 2.0 and pooled["train"]["plain_s"] == 2.0
    assert pooled["inference"]["runs"] == 30


@pytest.fixture(scope="module")
def rows():
    return compare.benchmark_scratch_vs_torch(
        [64, 16, 10], ["relu", "softmax"], n_samples=96, epochs=2, batch_size=16, repeats=2,
        warmup=1, rounds=1, threads=1, frameworks=["scratch_numpy", "pytorch"], breakdown=True)


def test_compare_gives_each_framework_its_breakdown_and_keeps_its_results(rows):
    for row in rows:
        parts = row["breakdown"]
        assert parts["sgemm_gflops_per_s"] > 0
        assert parts["train"]["rows"] == 16 and parts["inference"]["rows"] == 24
        assert parts["train"]["fit_step_s"] == pytest.approx(row["train_time_per_epoch_s"] / 6)
        assert all(part["seconds"] >= 0 for part in parts["train"]["parts"])
    # the breakdown's extra steps are undone: accuracy is that of the run's two epochs
    X_train, y_train, X_test, y_test = load_config_data(
        dict(n_samples=96, dataset="digits", layer_sizes=[64, 16, 10], seed=42))
    model = NeuralNetwork([64, 16, 10], ["relu", "softmax"], seed=42)
    model.fit(X_train, y_train, epochs=2, alpha=0.1, batch_size=16, seed=42)
    assert rows[0]["final_accuracy"] == model.evaluate(X_test, y_test)["accuracy"]


def test_the_reports_show_the_breakdown(rows, tmp_path):
    paths = reports.write_reports(rows, tmp_path)
    assert paths["breakdown_png"].endswith(reports.BREAKDOWN_FILE)
    text = reports.breakdown_text(rows)
    for what in ("one training step of 16 rows", "one forward pass over the held-out split",
                 "1 (64x16)", "  weight gradient", "backward: linear", "sum of the parts",
                 "rest: measured - parts", "fit's time per step", "scratch_numpy/pytorch"):
        assert what in text, what
    page = open(paths["html"]).read()
    assert "Where the time goes" in page and "sum of the parts" in page
    assert "Where the time goes" in open(paths["markdown"]).read()
    assert reports.breakdown_text([{k: v for k, v in row.items() if k != "breakdown"}
                                   for row in rows]) == ""


def test_the_breakdown_figure_has_a_bar_per_framework_and_section(rows):
    figure = plots.breakdown_figure(rows)
    axes = figure.axes
    assert len(axes) == 2
    for ax in axes:
        assert [label.get_text() for label in ax.get_yticklabels()] == ["scratch_numpy", "pytorch"]


def test_rows_without_a_breakdown_are_named_with_the_reason(rows):
    onnx = {**rows[0], "framework": "onnxruntime", "breakdown": None}
    mine = {**rows[0], "framework": "StudentNetwork", "breakdown": None}
    cuda = {**rows[1], "framework": "pytorch_cuda", "device": "cuda", "breakdown": None}
    text = reports.breakdown_text([*rows, onnx, mine, cuda])
    assert ("No breakdown for onnxruntime (inference only, in ONNX Runtime's own kernels); "
            "StudentNetwork (your class: its parts are its own code, which scratchnet does not "
            "lap); pytorch_cuda (CUDA runs asynchronously: laps read on the CPU would time "
            "kernel launches).") in text
    assert "No breakdown" not in reports.breakdown_text(rows)


def test_the_plain_step_has_no_laps_and_the_lapped_one_is_its_own_code():
    """fit runs the engine as written; the breakdown compiles the same methods with each
    `# lap:` mark turned into a clock read, and a lapped step computes the same weights."""
    from scratchnet.harness.breakdown import Laps, lapped_methods, run_lapped
    from scratchnet.nn.network import NeuralNetwork as Engine
    assert set(lapped_methods(Engine)) == {"_forward_backward", "_output_loss",
                                           "_logits_and_outputs"}
    for name in lapped_methods(Engine):
        assert "_lap" not in getattr(Engine, name).__code__.co_names, name
    rng = np.random.default_rng(0)
    X, labels = rng.random((32, 20)).astype(np.float32), rng.integers(0, 10, 32)
    plain, lapped = (NeuralNetwork([20, 16, 10], ["relu", "softmax"], seed=1) for _ in range(2))
    plain.fit(X, labels, epochs=1, alpha=0.1, batch_size=32, seed=0)
    parts = run_lapped(lapped, Laps(), lambda: lapped.fit(X, labels, epochs=1, alpha=0.1,
                                                          batch_size=32, seed=0))
    assert not any(name in vars(lapped) for name in lapped_methods(Engine))  # removed after
    for (W, b), (W_lapped, b_lapped) in zip(plain.get_weights(), lapped.get_weights()):
        assert np.array_equal(W, W_lapped) and np.array_equal(b, b_lapped)
    assert (1, "forward: matmul") in parts and (None, "loss") in parts
