"""`scratchnet check` on the zoo (zoo.py): each loss convention is named exactly, with the
flags that declare it, and passes once declared; each planted bug is named by the variant
of the twin that reproduces it, on the line where it first shows."""
import os
import sys

import pytest

from scratchnet.check import CODES, check_model

HERE = os.path.dirname(os.path.abspath(__file__))
ZOO = os.path.join(HERE, "zoo.py")
SIGMOID = {"activations": ("sigmoid", "softmax")}

#: class, settings, {check: (status, diagnosis code)} for every line that is not a pass
#: (the NaN line warns for every class: the zoo's forward computes NaN without an error)
EXPECTED = [
    ("Student", {}, {}),
    ("OutIn", {"layout": "out_in"}, {}),
    ("Chatty", {}, {}),
    ("HalfSumMSE", {}, {"one_step": ("fail", "convention"), "epochs": ("fail", "follows_from_step")}),
    ("HalfSumMSE", {"outputs": "half_sum"}, {}),
    ("SumOverOutputsMSE", {}, {"one_step": ("fail", "convention"), "epochs": ("fail", "follows_from_step")}),
    ("SumOverOutputsMSE", {"outputs": "sum"}, {}),
    ("SumEverythingMSE", {}, {"one_step": ("fail", "convention"), "epochs": ("fail", "follows_from_step")}),
    ("SumEverythingMSE", {"samples": "sum", "outputs": "sum"}, {}),
    ("CrossEntropy", {}, {"one_step": ("fail", "convention"), "epochs": ("fail", "follows_from_step")}),
    ("CrossEntropy", {"loss": "cross_entropy"}, {}),
    ("CrossEntropySum", {}, {"one_step": ("fail", "convention"), "epochs": ("fail", "follows_from_step")}),
    ("CrossEntropySum", {"loss": "cross_entropy", "samples": "sum"}, {}),
    ("Student", {"outputs": "half_sum"}, {"one_step": ("fail", "convention"),
                                          "epochs": ("fail", "follows_from_step")}),
    ("MissingTwo", {}, {"one_step": ("fail", "uniform_factor"), "epochs": ("fail", "follows_from_step")}),
    ("SignFlippedLayer", {}, {"one_step": ("fail", "sign_flipped"), "epochs": ("fail", "follows_from_step")}),
    ("AlphaAdded", {}, {"one_step": ("fail", "sign_flipped"), "epochs": ("fail", "follows_from_step")}),
    ("BiasAveraged", {}, {"one_step": ("fail", "bias_averaged"), "epochs": ("fail", "follows_from_step")}),
    ("DerivativeFromZ", SIGMOID, {"one_step": ("fail", "derivative_from_z"),
                                  "epochs": ("fail", "follows_from_step")}),
    ("UpdatesBeforeBackprop", {}, {"one_step": ("fail", "updated_weights_backprop"),
                                   "epochs": ("fail", "follows_from_step")}),
    ("WeightDecay", {}, {"one_step": ("fail", "weight_decay"), "epochs": ("fail", "follows_from_step")}),
    ("Momentum", {}, {"epochs": ("fail", "momentum")}),
    ("NoShuffle", {}, {"epochs": ("warn", "batch_order")}),
    ("LegacyShuffle", {}, {"epochs": ("warn", "batch_order")}),
    ("PythonShuffle", {}, {"epochs": ("warn", "batch_order")}),
    ("DropLast", {}, {"epochs": ("warn", "drop_last")}),
    ("FullBatch", {}, {"epochs": ("fail", "full_batch")}),
    ("UnseededShuffle", {}, {"epochs": ("fail", "unexplained")}),
    ("WrongHiddenDerivative", {}, {"one_step": ("fail", "unexplained"), "epochs": ("fail", "after_step")}),
    ("BiasesNeverUpdated", {}, {"one_step": ("fail", "never_updated"), "epochs": ("fail", "after_step")}),
    ("Float32Weights", {}, {"forward_float64": ("fail", "float32_roundoff"),
                            "one_step": ("fail", "float32_roundoff"),
                            "epochs": ("fail", "float32_roundoff")}),
    ("BiasColumn", {}, {"read_back": ("fail", "bias_column")}),
    ("CrashesInFit", {}, {"one_step": ("fail", "crashed"), "epochs": ("fail", "crashed")}),
    ("ExitsInForward", {}, {"nan_refused": ("fail", "exited")}),
]


def card(name, **settings):
    return check_model(f"{ZOO}:{name}", **settings)


@pytest.mark.parametrize("name,settings,expected", EXPECTED,
                         ids=[f"{name}-{'-'.join(f'{k}={v}' for k, v in s.items() if k != 'activations')}"
                              for name, s, _ in EXPECTED])
def test_each_class_gets_its_diagnosis(name, settings, expected):
    lines = card(name, **settings).lines
    found = {line.key: (line.status, line.code) for line in lines
             if line.status != "pass" and line.key != "nan_refused"}
    if "nan_refused" in expected:
        found["nan_refused"] = next((l.status, l.code) for l in lines if l.key == "nan_refused")
    assert found == expected, {line.key: line.detail for line in lines if line.status != "pass"}
    assert all(line.code in CODES for line in lines if line.code)


@pytest.mark.parametrize("name,flags,factor", [
    ("HalfSumMSE", "--outputs half_sum", 5.0),
    ("SumOverOutputsMSE", "--outputs sum", 10.0),
    ("SumEverythingMSE", "--samples sum --outputs sum", 500.0),
])
def test_a_uniform_factor_is_named_as_the_convention_with_its_flags(name, flags, factor):
    step = next(line for line in card(name).lines if line.key == "one_step")
    assert step.factor == pytest.approx(factor, rel=1e-9)
    assert step.detail.endswith(f"declare it with {flags}"), step.detail
    assert "derivative" not in step.detail


def test_the_factor_follows_the_code_not_the_output_width():
    """Half the sum of squares over K outputs is K/2 times the twin's for every K."""
    for sizes, factor in (((20, 16, 10), 5.0), ((20, 16, 4), 2.0), ((20, 16, 3), 1.5)):
        step = next(line for line in card("HalfSumMSE", layer_sizes=sizes).lines
                    if line.key == "one_step")
        assert step.code == "convention" and "--outputs half_sum" in step.detail, (sizes, step.detail)
        assert step.factor == pytest.approx(factor, rel=1e-9)


def test_fitted_parameters_are_the_planted_ones():
    decay = next(l for l in card("WeightDecay").lines if l.key == "one_step")
    assert "lambda = 0.01 " in decay.detail, decay.detail
    momentum = next(l for l in card("Momentum").lines if l.key == "epochs")
    assert "mu = 0.9 " in momentum.detail, momentum.detail
    flipped = next(l for l in card("SignFlippedLayer").lines if l.key == "one_step")
    assert flipped.layer == 1 and "layer 1's update is added" in flipped.detail


def test_the_zoo_holds_at_least_twenty_classes():
    sys.path.insert(0, HERE)
    try:
        import zoo
    finally:
        sys.path.remove(HERE)
    classes = {name for name, value in vars(zoo).items()
               if isinstance(value, type) and value.__module__ == "zoo"}
    assert len(classes) >= 20
    assert {name for name, _, _ in EXPECTED} <= classes
