"""A class that crashes, exits, hangs or swallows signals cannot take the card down: its
line fails saying what happened, the lines already measured stay, and `scratchnet check`
itself ends when told to, whatever the class catches."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from scratchnet.check import CheckError, check_model
from scratchnet.cli import main

HERE = os.path.dirname(os.path.abspath(__file__))
ZOO = os.path.join(HERE, "zoo.py")


def run_check(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "scratchnet", "check", *args],
                          capture_output=True, text=True, timeout=300, **kwargs)


def test_an_exit_in_the_constructor_fails_the_card_instead_of_passing_it():
    result = run_check(f"{ZOO}:ExitsWhenBuilt")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  set_weights then get_weights" in result.stdout
    assert "building ExitsWhenBuilt: its process exited with status 0" in result.stdout
    assert "SKIP  one SGD step (full batch)" in result.stdout
    assert result.stdout.strip().splitlines()[-1].endswith("1 check(s) failed")


def test_a_crash_in_fit_keeps_the_card_and_names_the_signal():
    result = run_check(f"{ZOO}:CrashesInFit")
    assert result.returncode == 1
    assert "PASS  forward (float64 inputs)" in result.stdout
    assert "fit: its process was killed by SIGSEGV (a crash in native code)" in result.stdout
    assert "PASS  wrong width refused" in result.stdout  # a fresh worker after the crash


@pytest.mark.parametrize("value", ["0", "nan", "-1", "inf", "soon"])
def test_the_time_limit_takes_only_a_positive_finite_number(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["check", f"{ZOO}:Student", "--time-limit", value])
    assert exit_.value.code == 2
    assert (f"argument --time-limit: expected a positive, finite number of seconds such as 60, "
            f"got {value!r}") in capsys.readouterr().err


def test_a_fit_that_swallows_every_signal_is_stopped_at_the_time_limit():
    started = time.monotonic()
    card = check_model(f"{ZOO}:SwallowsEverything", time_limit=1)
    lines = {line.key: line for line in card.lines}
    assert lines["one_step"].code == "timed_out"
    assert lines["one_step"].detail == ("fit did not return within 1 s (--time-limit); its process "
                                        "was stopped")
    assert lines["predict"].status == "pass"  # the card went on in a fresh worker
    assert time.monotonic() - started < 120  # bounded, not a speed claim: it would hang forever


@pytest.mark.parametrize("sent,status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_check_ends_when_told_whatever_the_class_catches(sent, status):
    process = subprocess.Popen([sys.executable, "-m", "scratchnet", "check",
                                f"{ZOO}:SwallowsEverything"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    seen = ""
    while "forward (float32 inputs)" not in seen:  # the lines come as they are measured
        seen += process.stdout.readline()
        assert process.poll() is None, seen
    time.sleep(0.5)  # into the fit that never returns
    process.send_signal(sent)
    out, err = process.communicate(timeout=60)
    assert process.returncode == status, (process.returncode, out[-2000:], err[-2000:])
    assert ("terminated" if sent == signal.SIGTERM else "interrupted") in err
    assert "PASS  set_weights then get_weights" in seen
    leftover = subprocess.run(["pgrep", "-f", "scratchnet.check.worker"], capture_output=True, text=True)
    assert str(process.pid) not in leftover.stdout


def test_what_the_class_prints_is_shown_once_under_the_card(capsys):
    assert main(["check", f"{ZOO}:Chatty"]) == 0
    out = capsys.readouterr().out
    card, _, printed = out.partition("what your class printed or warned")
    assert "Epoch" not in card and "learning rate looks high" not in card
    assert "| Epoch 0 complete   (and 3 more like it)" in printed  # fits of 1 and 3 epochs
    assert "UserWarning: learning rate looks high" in printed


def test_bad_input_lines_are_skipped_when_forward_never_ran_cleanly():
    lines = {line.key: line for line in check_model(f"{ZOO}:BrokenForward").lines}
    assert lines["forward_float64"].detail.startswith(
        "forward raised RuntimeError: forward is not written yet (at zoo.py:")
    for key in ("nan_refused", "width_refused"):
        assert (lines[key].status, lines[key].code) == ("skip", "not_run"), lines[key]


def test_a_transposed_class_is_told_its_layout_and_a_deeper_one_is_not():
    lines = {line.key: line for line in check_model(f"{ZOO}:OutIn").lines}
    assert "check it with --layout out_in" in lines["forward_float64"].detail
    with pytest.raises(CheckError) as error:
        check_model(f"{ZOO}:FixedDepth")
    assert "expected 3 (W, b) pairs, got 2" in str(error.value)
    assert "--layout" not in str(error.value)


def test_the_card_as_json(tmp_path, capsys):
    path = tmp_path / "card.json"
    assert main(["check", f"{ZOO}:HalfSumMSE", "--json", str(path)]) == 1
    data = json.loads(path.read_text())
    step = next(line for line in data["lines"] if line["check"] == "one_step")
    assert step["status"] == "fail" and step["diagnosis"]["code"] == "convention"
    assert step["factor"] == pytest.approx(5.0) and step["tolerance"] == 1e-9
    assert data["settings"]["convention"] == "mse" and data["status"] == "fail"
    capsys.readouterr()
    assert main(["check", f"{ZOO}:HalfSumMSE", "--outputs", "half_sum", "--json", "-"]) == 0
    declared = json.loads(capsys.readouterr().out)
    assert declared["status"] == "pass" and declared["settings"]["convention"] == "mse(outputs=half_sum)"
