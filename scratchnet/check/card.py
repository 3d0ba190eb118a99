"""The report card: its ``Line`` (one check's verdict), the card as text, and as data.

Statuses: ``pass``; ``fail``; ``warn`` (the code is right but differs from the twin in
a choice, e.g. its batch order, or does not refuse bad input); ``skip`` (not run, the
line says why). ``check --json`` writes ``as_data``; its ``diagnosis.code`` values are
stable (``CODES``), its texts are for people.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re

#: Every diagnosis code a line may carry, and what it means.
CODES = {
    "float32_roundoff": "differences at float32 round-off: the class stores or computes in float32",
    "convention": "a loss convention other than the declared one reproduces the numbers",
    "uniform_factor": "every update is one factor times the twin's, and no convention gives it",
    "never_updated": "fit leaves a W or b (or all of them) unchanged",
    "sign_flipped": "an update points the other way",
    "bias_averaged": "db averaged over the batch where the loss's reduction sums it",
    "derivative_from_z": "a sigmoid's or tanh's derivative computed from z instead of from a",
    "updated_weights_backprop": "the error sent back through already-updated weights",
    "weight_decay": "an L2 weight decay, with its fitted lambda",
    "momentum": "SGD with momentum, with its fitted mu",
    "batch_order": "same math, another batch order (named)",
    "drop_last": "same math, the last partial batch dropped",
    "full_batch": "one full-batch step per epoch whatever batch_size says",
    "follows_from_step": "the finding of the one-step check reproduces several epochs too",
    "after_step": "the one step above already differs, and its finding (if any) does not "
                  "reproduce several epochs alone",
    "unexplained": "no known variant reproduces the numbers: the first layer and quantity",
    "wrong_outputs": "forward's outputs differ from the same weights",
    "wrong_shape": "a method returned an array of the wrong shape",
    "bias_column": "get_weights returned b as a column or row, not 1-D",
    "weights_not_kept": "get_weights does not return what set_weights was given",
    "not_finite": "NaN or inf in the weights after fit",
    "loss_value": "the gradients agree but the loss differs",
    "predictions_differ": "predict's classes differ from the twin's",
    "raised": "the user's code raised an exception",
    "exited": "the user's code called sys.exit or ended its process",
    "crashed": "the user's process was killed by a signal (a crash)",
    "timed_out": "a call did not return within --time-limit",
    "not_refused": "bad input computed without an error",
    "refused": "bad input was refused with an exception",
    "not_run": "the check was not run (the line says why)",
}


@dataclasses.dataclass
class Line:
    """One line of the report card."""

    check: str  # the label shown
    status: str  # "pass", "fail", "warn" or "skip"
    figure: float | None = None
    tolerance: float | None = None
    detail: str = ""
    key: str = ""  # the check's stable name (``checks.CHECKS``)
    code: str | None = None  # a key of CODES
    layer: int | None = None  # 1-based
    quantity: str | None = None  # "W", "b", "dW", "db", "outputs" ...
    factor: float | None = None

    def as_data(self):
        number = lambda value: value if value is None or math.isfinite(value) else str(value)
        return {"check": self.key, "label": self.check, "status": self.status,
                "figure": number(self.figure), "tolerance": self.tolerance,
                "layer": self.layer, "quantity": self.quantity, "factor": number(self.factor),
                "diagnosis": None if self.code is None else {"code": self.code, "text": self.detail}}


def format_line(line, width):
    """One line of the text card."""
    figure = "" if line.figure is None else f"  {line.figure:.3e}"
    if line.tolerance is not None:
        figure += f" (tolerance {line.tolerance:g})"
    return (f"  {line.status.upper():4}  {line.check:<{width}}{figure}"
            + (f"  {line.detail}" if line.detail else "")).rstrip()


def verdict(lines, name):
    failed = sum(line.status == "fail" for line in lines)
    warned = sum(line.status == "warn" for line in lines)
    text = "matches" if not failed else f"{failed} check(s) failed"
    return f"{name}: {text}" + (f" ({warned} warning(s))" if warned else "")


def summarize_output(text, limit=40):
    """What the user's code printed, each line once with the count of the lines like it
    (the same but for their numbers: "Epoch 0 complete", "Epoch 1 complete"), in the order
    first seen, at most ``limit`` lines; empty when it printed nothing."""
    seen = {}
    for line in text.splitlines():
        if line.strip():
            key = re.sub(r"\d+", "N", line.rstrip())
            first, count = seen.get(key, (line.rstrip(), 0))
            seen[key] = (first, count + 1)
    if not seen:
        return ""
    runs = list(seen.values())
    shown = [f"  | {line}" + (f"   (and {count - 1} more like it)" if count > 1 else "")
             for line, count in runs[:limit]]
    if len(runs) > limit:
        shown.append(f"  | ... {len(runs) - limit} more")
    return "what your class printed or warned (shown once, not part of the card):\n" + "\n".join(shown)


def as_data(lines, what, name, settings, printed=""):
    """The card as a JSON-ready dict."""
    return {"model": name, "reference": what, "settings": settings,
            "status": "fail" if any(line.status == "fail" for line in lines) else "pass",
            "lines": [line.as_data() for line in lines], "printed": printed}


def to_json(data):
    return json.dumps(data, indent=2, allow_nan=False) + "\n"
