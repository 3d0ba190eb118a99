"""`scratchnet check` on real networks nobody here wrote, through the adapters a user
writes (docs/recipes/, and one here):

- Michael Nielsen's network.py (real/network.py, MIT licence, its notice in the file);
- scikit-learn's MLPClassifier (BSD-3-Clause; installed with scratchnet);
- ML-From-Scratch's MultilayerPerceptron (real/mlfromscratch_mlp.py, MIT licence, its
  notice in the file).

Undeclared, each card names its convention with the flags that declare it; declared,
the math passes, and what remains is named: Nielsen's and scikit-learn's own batch
orders (warnings), ML-From-Scratch's full-batch steps (a failure).
"""
import os
import sys

import pytest

from scratchnet.check import check_model

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(HERE, "real")
RECIPES = os.path.join(HERE, "..", "..", "docs", "recipes")
NIELSEN = dict(layout="out_in", activations=("sigmoid", "sigmoid"))


def card(spec, **settings):
    path = spec.split(":")[0]
    folder = REAL if os.path.exists(os.path.join(REAL, path)) else RECIPES
    lines = check_model(os.path.join(folder, spec), python_path=[REAL, *sys.path],
                        **settings).lines
    return {line.key: line for line in lines}


def outcome(lines):
    return {key: (line.status, line.code) for key, line in lines.items()
            if line.status != "pass" and key != "nan_refused"}


def test_nielsen_undeclared_is_told_half_the_sum_over_the_outputs():
    lines = card("nielsen_adapter.py:Nielsen", **NIELSEN)
    step = lines["one_step"]
    assert (step.status, step.code) == ("fail", "convention")
    assert step.factor == pytest.approx(5.0, rel=1e-9)  # K / 2 with 10 outputs
    assert step.detail.endswith("declare it with --outputs half_sum"), step.detail
    assert lines["epochs"].code == "batch_order" and "Python's random.shuffle" in lines["epochs"].detail


def test_nielsen_declared_passes_and_its_shuffle_is_named():
    lines = card("nielsen_adapter.py:Nielsen", outputs="half_sum", **NIELSEN)
    assert outcome(lines) == {"epochs": ("warn", "batch_order")}
    assert "in place (Nielsen's network.py)" in lines["epochs"].detail


def test_nielsen_fed_the_twins_order_passes_every_check():
    assert outcome(card("nielsen_adapter.py:NielsenInTwinOrder", outputs="half_sum", **NIELSEN)) == {}


def test_sklearn_undeclared_is_told_cross_entropy():
    lines = card("sklearn_adapter.py:SklearnMLP")
    assert (lines["one_step"].status, lines["one_step"].code) == ("fail", "convention")
    assert lines["one_step"].detail.endswith("declare it with --loss cross_entropy")


def test_sklearn_declared_passes_and_its_shuffle_is_named():
    lines = card("sklearn_adapter.py:SklearnMLP", loss="cross_entropy")
    assert outcome(lines) == {"epochs": ("warn", "batch_order")}
    assert "legacy RandomState(seed).shuffle of the previous epoch's order" in lines["epochs"].detail


def test_sklearn_fed_the_twins_order_passes_every_check():
    assert outcome(card("sklearn_adapter.py:SklearnInTwinOrder", loss="cross_entropy")) == {}


def test_ml_from_scratch_undeclared_is_told_a_sum_over_the_samples():
    lines = card("mlfromscratch_adapter.py:MLFromScratch", activations=("sigmoid", "softmax"))
    assert lines["one_step"].detail.endswith("declare it with --loss cross_entropy --samples sum")
    assert lines["epochs"].code == "full_batch", lines["epochs"].detail


def test_ml_from_scratch_declared_has_only_its_full_batch_steps_left():
    lines = card("mlfromscratch_adapter.py:MLFromScratch", activations=("sigmoid", "softmax"),
                 loss="cross_entropy", samples="sum")
    assert outcome(lines) == {"epochs": ("fail", "full_batch")}
    assert "whatever batch_size says" in lines["epochs"].detail
