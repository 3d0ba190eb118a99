"""`scratchnet check` on networks written the way students write them: the correct one
matches, each planted bug fails at the layer and quantity where it was made."""
import os
import subprocess
import sys

import pytest

from scratchnet import check

STUDENTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "students")
sys.path.insert(0, STUDENTS)
import student_mlp  # noqa: E402


def card(name, **settings):
    result = check.check_model(getattr(student_mlp, name), **settings)
    return {line.check: line for line in result.lines}, result.what


@pytest.mark.parametrize("name,settings", [("StudentNetwork", {}),
                                           ("TransposedStudent", {"layout": "out_in"})])
def test_a_correct_network_passes_every_check(name, settings):
    lines, _ = card(name, **settings)
    failed = {check_: line.detail for check_, line in lines.items() if line.status == "fail"}
    assert not failed, failed
    assert lines["one SGD step (full batch)"].figure <= check.TOLERANCE["float64"]
    assert lines["NaN input refused"].status == "warn"  # the student's forward computes NaN


@pytest.mark.parametrize("name,activations,failing,words", [
    ("MissingMseFactor", ("relu", "softmax"), "one SGD step (full batch)",
     ["exactly 0.5 times the twin's", "missing its 2"]),
    ("SigmoidDerivativeOff", ("sigmoid", "softmax"), "one SGD step (full batch)",
     ["layer 1 W differs first", "no known variant reproduces one step"]),
    ("BiasesNeverUpdated", ("relu", "softmax"), "one SGD step (full batch)",
     ["layer 2 b is never updated"]),
    ("LastBatchDropped", ("relu", "softmax"), "3 epochs, batch 16, seed 7",
     ["same math, the last partial batch is dropped"]),
    ("OwnShuffle", ("relu", "softmax"), "3 epochs, batch 16, seed 7",
     ["no known variant reproduces 3 epochs"]),
])
def test_each_planted_bug_is_named(name, activations, failing, words):
    lines, _ = card(name, activations=activations)
    first = next(line for line in lines.values() if line.status in ("fail", "warn")
                 and line.check != "NaN input refused")
    assert first.check == failing, (first.check, first.detail)
    for word in words:
        assert word in first.detail, first.detail
    assert lines["forward (float64 inputs)"].status == "pass"


@pytest.mark.parametrize("name,activations,words", [
    ("MissingMseFactor", ("relu", "softmax"), ["gradient is exactly 0.5 times", "missing its 2"]),
    ("SigmoidDerivativeOff", ("sigmoid", "softmax"), ["layer 1 dW differs first"]),
    ("LossIsASum", ("relu", "softmax"), ["the gradients agree but the loss is", "is it a sum"]),
])
def test_loss_and_gradients_are_compared_where_the_class_offers_them(name, activations, words):
    lines, _ = card(name, activations=activations)
    line = lines["loss_and_gradients (full batch)"]
    assert line.status == "fail", line
    for word in words:
        assert word in line.detail, line.detail


def test_gradients_of_a_correct_class_agree_in_either_layout():
    for name, layout in (("StudentNetwork", "in_out"), ("TransposedStudent", "out_in")):
        line = card(name, layout=layout)[0]["loss_and_gradients (full batch)"]
        assert line.status == "pass" and line.figure <= check.TOLERANCE["float64"], (name, line)


def test_the_wrong_layout_fails_with_a_hint():
    lines, _ = card("TransposedStudent")
    assert "--layout out_in" in lines["forward (float64 inputs)"].detail


def test_without_torch_the_numpy_network_is_the_reference(monkeypatch):
    from scratchnet.nn import torch_network as pytorch_model
    monkeypatch.setattr(pytorch_model, "is_torch_available", lambda: False)
    lines, what = card("MissingMseFactor")
    assert what == "scratchnet's NumPy network (torch is not installed)"
    assert lines["one SGD step (full batch)"].status == "fail"


@pytest.mark.parametrize("spec,status,words", [
    ("student_mlp:StudentNetwork", 0, "student_mlp:StudentNetwork: matches (1 warning(s))"),
    ("student_mlp.py:MissingMseFactor", 1,
     "student_mlp.py:MissingMseFactor: 3 check(s) failed (1 warning(s))"),
])
def test_the_command_exits_with_the_verdict(spec, status, words):
    result = subprocess.run([sys.executable, "-m", "scratchnet", "check", spec], cwd=STUDENTS,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == status, result.stderr
    assert result.stdout.strip().splitlines()[-1] == words


@pytest.mark.parametrize("spec,words", [
    ("student_mlp.py:Nope", "'student_mlp.py' has no class 'Nope'"),
    ("missing.py:Net", "model file 'missing.py' does not exist"),
    ("no_such_package.module:Net", "cannot import 'no_such_package.module': ModuleNotFoundError"),
    ("student_mlp.py", "model must be 'package.module:ClassName' or 'path/to/file.py:ClassName'"),
])
def test_a_class_that_cannot_be_loaded_exits_2(spec, words, monkeypatch, capsys):
    from scratchnet.cli import main
    monkeypatch.chdir(STUDENTS)
    assert main(["check", spec]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], lines


@pytest.mark.parametrize("name,check_,words", [
    ("NaNAfterFit", "one SGD step (full batch)", "layer 1 W holds NaN or inf after fit"),
    ("FirstLayerOnly", "set_weights then get_weights",
     "get_weights returned 1 (W, b) pairs, expected 2, one per layer"),
    ("ExitsInFit", "one SGD step (full batch)", "fit: it called sys.exit('done')"),
    ("FitRaises", "one SGD step (full batch)", "fit raised "),
    ("ProbabilitiesFromPredict", "predict",
     "predict returned shape (50, 10), expected class labels of shape (50,)"),
    ("OneColumnForward", "forward (float64 inputs)", "forward returned shape (50, 1), expected (50, 10)"),
])
def test_a_class_that_misbehaves_fails_with_what_it_did(name, check_, words):
    """Never a PASS for NaN weights or a missing layer, never a traceback or a silent exit."""
    lines, _ = card(name)
    assert lines[check_].status == "fail" and words in lines[check_].detail, lines[check_]


def test_a_fit_that_never_returns_is_stopped_and_the_card_goes_on():
    result = check.check_model(student_mlp.NeverReturns, time_limit=0.5)
    by = {line.check: line for line in result.lines}
    assert by["one SGD step (full batch)"].detail == ("fit did not return within 0.5 s "
                                                      "(--time-limit); its process was stopped")
    assert by["forward (float64 inputs)"].status == "pass" and by["predict"].status == "pass"


def test_float32_storage_is_named_as_such():
    lines, _ = card("Float32Student")
    assert lines["set_weights then get_weights"].status == "pass"
    assert lines["set_weights then get_weights"].detail == "kept at float32 precision, not float64"
    assert "float32 round-off" in lines["one SGD step (full batch)"].detail
    assert "float32 round-off" in lines["forward (float64 inputs)"].detail
