"""`compare --model` with a declared convention and with a class whose training differs:
the parity is taken against the twin trained the class's way, and a row whose parity is
off says what differs (the variant `check` finds), not only that it differs."""
import json
import os

import pytest

from scratchnet.harness import compare
from scratchnet.cli import main
from scratchnet.harness.frameworks import parse_model_value
from scratchnet.metrics import PARITY_LIMIT

HERE = os.path.dirname(os.path.abspath(__file__))
ZOO = os.path.join(HERE, "zoo.py")
TINY = dict(layer_sizes=[64, 16, 10], activations=["relu", "softmax"], n_samples=96, epochs=2,
            batch_size=20, alpha=0.1, seed=42, repeats=2, warmup=1, rounds=1, threads=1)


@pytest.mark.parametrize("value,expected", [
    ("net.py:Net", ("Net", "net.py:Net", {"layout": "in_out"})),
    ("mine=net.py:Net@out_in", ("mine", "net.py:Net", {"layout": "out_in"})),
    ("a=pkg.mod:Net@samples=sum,outputs=half_sum",
     ("a", "pkg.mod:Net", {"layout": "in_out", "samples": "sum", "outputs": "half_sum"})),
    ("odd@name.py:Net", ("Net", "odd@name.py:Net", {"layout": "in_out"})),
])
def test_a_model_value_carries_its_declaration(value, expected):
    assert parse_model_value(value) == expected


@pytest.mark.slow
def test_rows_say_what_differs_and_a_declared_convention_is_compared_as_declared():
    pytest.importorskip("torch")  # the interpretation's parity line needs the pytorch row
    rows = compare.benchmark_scratch_vs_torch(**TINY, precision="float64", models={
        "undeclared": f"{ZOO}:HalfSumMSE",
        "declared": {"model": f"{ZOO}:HalfSumMSE", "outputs": "half_sum"},
        "legacy": f"{ZOO}:LegacyShuffle", "full": f"{ZOO}:FullBatch"})
    by = {row["framework"]: row for row in rows}
    assert by["declared"]["parity_max_abs_diff"] <= PARITY_LIMIT["float64"]
    assert "trained under your loss, mse(outputs=half_sum)" in by["declared"]["notes"]
    assert by["declared"]["loss"] == "mse(outputs=half_sum)" and by["undeclared"]["loss"] == "mse"
    assert by["declared"]["diagnosis"] is None
    assert "declare it with --outputs half_sum" in by["undeclared"]["diagnosis"]
    assert "same math, the batch order is NumPy's legacy RandomState(seed).permutation(N)" \
        in by["legacy"]["diagnosis"]
    assert "makes 1 update per epoch where the twin makes 5" in by["full"]["diagnosis"]
    assert all(by[name]["parity_max_abs_diff"] > PARITY_LIMIT["float64"]
               for name in ("undeclared", "legacy", "full"))
    from scratchnet.report import interpretation
    text = interpretation(rows)
    assert "NOT LIKE FOR LIKE: full makes another number of updates per epoch" in text
    assert "legacy does not compute what the twin computes" not in text
    assert ("|p_declared - p_torch| on the held-out split (against the twin trained under its "
            "loss, mse(outputs=half_sum))") in text


@pytest.mark.slow
def test_strict_fails_on_an_error_row_and_a_class_without_loss_is_warned(tmp_path, capsys):
    pytest.importorskip("torch")  # the rows' parity and notes are against the twin
    status = main(["compare", "--layer-sizes", "64,16,10", "--n-samples", "64", "--epochs", "1",
                   "--repeats", "2", "--threads", "1", "--rounds", "1", "--loss", "cross_entropy",
                   "--model", f"{ZOO}:BrokenForward", "--model", f"{ZOO}:CrossEntropy",
                   "--strict", "--out", str(tmp_path)])
    assert status == 1
    captured = capsys.readouterr()
    assert "(--strict): the row of BrokenForward is an error" in captured.err
    rows = {row["framework"]: row for row in json.loads(
        (tmp_path / "comparison_metrics.json").read_text())}
    assert ("your class does not take loss: it trained with its own loss, which --loss "
            "cross_entropy does not set") in rows["CrossEntropy"]["diagnosis"]
    assert "Note on CrossEntropy: your class does not take loss" in captured.out
    assert rows["CrossEntropy"]["parity_max_abs_diff"] <= PARITY_LIMIT["float32"]
