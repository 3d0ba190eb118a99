"""The card's vocabulary: every diagnosis code is documented, lines as data are JSON, and
what a class prints is summarised once."""
import json
import os
import re

from scratchnet.check import CODES, Line, as_data, summarize_output
from scratchnet.check.checks import CHECKS

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "check.md")


def test_every_code_and_check_is_in_the_guide():
    with open(DOCS) as handle:
        guide = handle.read()
    documented = set(re.findall(r"^\| `([a-z_0-9]+)` \|", guide, flags=re.M))
    assert set(CODES) <= documented, sorted(set(CODES) - documented)
    for check in CHECKS:
        assert f"`{check.key}`" in guide, check.key


def test_lines_as_data_are_json_with_their_diagnosis():
    lines = [Line("one SGD step (full batch)", "fail", float("inf"), 1e-9, "why", key="one_step",
                  code="wrong_shape", layer=2, quantity="W"),
             Line("predict", "pass", 0.0, 0.0, key="predict")]
    data = json.loads(json.dumps(as_data(lines, "the PyTorch twin", "m.py:M", {"seed": 0}),
                                 allow_nan=False))
    assert data["status"] == "fail"
    assert data["lines"][0] == {"check": "one_step", "label": "one SGD step (full batch)",
                                "status": "fail", "figure": "inf", "tolerance": 1e-9, "layer": 2,
                                "quantity": "W", "factor": None,
                                "diagnosis": {"code": "wrong_shape", "text": "why"}}
    assert data["lines"][1]["diagnosis"] is None


def test_printed_lines_are_shown_once_with_their_count():
    text = "Epoch 0 complete\nwarning: x\nEpoch 1 complete\n\nEpoch 2 complete\n"
    assert summarize_output(text).splitlines()[1:] == [
        "  | Epoch 0 complete   (and 2 more like it)", "  | warning: x"]
    assert summarize_output("") == ""
    many = "\n".join(f"line {chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(60))
    assert summarize_output(many).splitlines()[-1] == "  | ... 20 more"
