"""Where a training step and a forward pass spend their time, layer by layer and phase by
phase, for the NumPy network and its PyTorch twin alike.

How it is measured: both models call ``model._lap(layer, phase)`` at the end of each
part of their training step and forward pass; ``Laps`` reads the clock at each call and
gives the time since the previous call to that part. The NumPy network's code carries no
such call: its methods mark the end of each part with a comment, ``# lap: layer,
"phase"``, and ``lapped_methods`` compiles those methods' own source again with each mark
turned into that call (so the lapped step is the code ``fit`` runs, and the plain one pays
nothing for the breakdown). It laps every operation (matrix product, bias, activation,
dW, dX, db, update). The PyTorch twin laps each module of its
forward pass and, through a hook on each module's output that autograd calls when that
output's gradient is ready, its backward pass: a Linear's backward is one autograd node
(AddmmBackward0 computes dX, dW and db together), so PyTorch's ``backward: linear`` is
not split further. torch.profiler was not used: it adds about 2 microseconds to each of
the 120 operator calls of the default preset's step (its step measured 0.78 ms
profiled against 0.50 ms plain here), which would distort the small parts most.

Instrumented steps alternate with plain ones on the same batches, so load from
elsewhere falls on both; the report sets the sum of the parts' medians beside the
plain step's median, and the difference ("rest") is what the laps did not see: the
laps' own cost (a clock read, and for PyTorch a Python hook call from autograd) and,
when negative, that cost exceeding the time nothing was lapped in.
"""
from __future__ import annotations

import functools
import inspect
import re
import textwrap
import types

import numpy as np

from . import timing as benchmark
from ..nn.validation import check_int

#: Fine parts and the common part they belong to: what the table compares side by side
#: (PyTorch's Linear forward is one addmm, its backward one autograd node).
#: The NumPy network's training step subtracts each gradient from its weights in the
#: product that makes it ("... and update": a gemm and a gemv with beta = 1), so its update
#: sits in its backward: linear and it has no separate update part.
COMMON = {"forward: matmul": "forward: linear", "forward: bias": "forward: linear",
          "backward: input gradient": "backward: linear",
          "backward: weight gradient": "backward: linear",
          "backward: bias gradient": "backward: linear",
          "backward: weight gradient and update": "backward: linear",
          "backward: bias gradient and update": "backward: linear"}
#: The parts that are matrix products, and how many of ``2 x rows x fan_in x fan_out``
#: flops each does (a Linear's backward: dW, and dX except in the first layer); the
#: breakdown figure colours these as products.
PRODUCTS = {"forward: matmul": 1, "forward: linear": 1, "backward: weight gradient": 1,
             "backward: weight gradient and update": 1, "backward: input gradient": 1,
             "backward: linear": None}


class Laps:
    """``laps(layer, phase)`` gives the time since the previous call (or ``start``) to
    that part; a part lapped several times in one step (the NumPy network's update, once
    per layer) gets the sum. ``parts`` holds {(layer, phase): seconds} in lap order."""

    def __init__(self, clock=None):
        self._clock = clock or benchmark.CLOCK
        self.parts = {}
        self._last = None

    def start(self):
        self.parts = {}
        self._last = self._clock()

    def __call__(self, layer, phase):
        now = self._clock()
        key = (layer, phase)
        self.parts[key] = self.parts.get(key, 0.0) + (now - self._last)
        self._last = now


#: A part's end in a model's source: the comment ``# lap: <layer>, "<phase>"`` on a line
#: of its own.
MARK = re.compile(r"^(\s*)# lap: (.+)$", re.M)


@functools.cache
def lapped_methods(cls):
    """{name: function} for every method of ``cls`` whose source marks its parts, compiled
    from that source with each mark turned into ``self._lap(<layer>, "<phase>")``."""
    found = {}
    for klass in reversed(cls.__mro__):  # a subclass's method replaces its base's
        for name, function in vars(klass).items():
            if not inspect.isfunction(function):
                continue
            try:
                source = inspect.getsource(function)
            except (OSError, TypeError):  # no source: nothing marked
                found.pop(name, None)
                continue
            if MARK.search(source):
                found[name] = _compiled_with_laps(function, source)
            else:
                found.pop(name, None)
    return found


def _compiled_with_laps(function, source):
    if "super()" in source:  # its __class__ cell would be missing outside the class body
        raise TypeError(f"{function.__qualname__} uses super(): it cannot be lapped")
    lapped = MARK.sub(r"\1self._lap(\2)", textwrap.dedent(source))
    first = function.__code__.co_firstlineno
    # the same file and line numbers as the method, so a traceback points at its code
    code = compile("\n" * (first - 1) + lapped, inspect.getsourcefile(function), "exec")
    namespace = {}
    exec(code, function.__globals__, namespace)  # our own module's source, never the user's
    return namespace[function.__name__]


def run_lapped(model, laps, fn):
    """fn() with ``model`` lapping into ``laps``; the parts of that one call."""
    methods = lapped_methods(type(model))
    for name, function in methods.items():
        setattr(model, name, types.MethodType(function, model))
    model._lap = laps
    laps.start()
    try:
        fn()
    finally:
        model._lap = None
        for name in methods:
            delattr(model, name)
    return laps.parts


def _summary(plain, lapped_parts, flops):
    """The medians: of the plain runs, of each part over the lapped runs (0 where a run
    lacked the part), and of the lapped runs' totals."""
    order = list(dict.fromkeys(key for parts in lapped_parts for key in parts))
    parts = []
    for layer, phase in order:
        seconds = float(np.median([p.get((layer, phase), 0.0) for p in lapped_parts]))
        parts.append({"layer": layer, "phase": phase, "seconds": seconds,
                      "flops": flops(layer, phase)})
    return {"plain_s": float(np.median(plain)),
            "lapped_s": float(np.median([sum(p.values()) for p in lapped_parts])),
            "runs": len(plain), "parts": parts}


def _flop_counter(layer_sizes, rows):
    def flops(layer, phase):
        if phase not in PRODUCTS or layer is None:
            return None
        products = PRODUCTS[phase] or (1 if layer == 1 else 2)
        return 2 * rows * layer_sizes[layer - 1] * layer_sizes[layer] * products
    return flops


def _batches(model, X, labels, batch_size, seed):
    """Endless (epoch data, start, stop) of full batches, a fresh permutation each pass (the
    whole split when it is smaller than one batch)."""
    data = model._prepare_training_data(X, labels)
    rng = np.random.default_rng(seed)
    n = len(X)
    starts = [start for start in range(0, n, batch_size) if start + batch_size <= n] or [0]
    while True:
        epoch_data = model._epoch_data(data, rng.permutation(n))
        for start in starts:
            yield epoch_data, start, min(start + batch_size, n)


def measure_training(model, X, labels, batch_size, alpha, steps=100, warmup=10, seed=0,
                     clock=None):
    """The training step's parts on ``model`` (a ``BaseNetwork``), trained on from its
    current weights: ``steps`` lapped steps alternating with as many plain ones, after
    ``warmup`` of each. Returns {"plain_s", "lapped_s", "runs", "rows", "parts": [{"layer",
    "phase", "seconds", "flops"}, ...]}, times being medians of one step."""
    clock = clock or benchmark.CLOCK
    steps, warmup = check_int(steps, "steps"), check_int(warmup, "warmup", minimum=0)
    X = np.ascontiguousarray(X, dtype=model.train_dtype)
    batches = _batches(model, X, labels, batch_size, seed)
    laps = Laps(clock)
    plain, lapped = [], []
    with model._training_context(batch_size):
        for i in range(warmup + steps):
            epoch_data, start, stop = next(batches)
            began = clock()
            model._train_step(epoch_data, start, stop, alpha)
            took = clock() - began
            epoch_data, start, stop = next(batches)
            parts = run_lapped(model, laps, lambda: model._train_step(epoch_data, start, stop, alpha))
            if i >= warmup:
                plain.append(took)
                lapped.append(parts)
    rows = stop - start
    summary = _summary(plain, lapped, _flop_counter(model.layer_sizes, rows))
    summary["rows"] = rows
    return summary


def measure_inference(model, X, precision, runs=30, warmup=3, clock=None):
    """The parts of ``model.forward(X)``: ``runs`` lapped calls alternating with as many
    plain ones, after ``warmup`` of each (see ``measure_training``)."""
    clock = clock or benchmark.CLOCK
    runs, warmup = check_int(runs, "runs"), check_int(warmup, "warmup", minimum=0)
    laps = Laps(clock)
    plain, lapped = [], []
    for i in range(warmup + runs):
        began = clock()
        model.forward(X, precision=precision)
        took = clock() - began
        parts = run_lapped(model, laps, lambda: model.forward(X, precision=precision))
        if i >= warmup:
            plain.append(took)
            lapped.append(parts)
    summary = _summary(plain, lapped, _flop_counter(model.layer_sizes, len(X)))
    summary["rows"] = len(X)
    return summary


def pool(breakdowns):
    """One breakdown from several rounds' (each a row's ``breakdown``): every time the
    median of the rounds' medians, the runs added up."""
    pooled = {"sgemm_gflops_per_s": float(np.median([b["sgemm_gflops_per_s"] for b in breakdowns]))}
    for section in SECTIONS:
        rounds = [b[section] for b in breakdowns]
        merged = dict(rounds[0])
        for key in ("plain_s", "lapped_s", "fit_step_s"):
            if all(key in r for r in rounds):
                merged[key] = float(np.median([r[key] for r in rounds]))
        merged["runs"] = sum(r["runs"] for r in rounds)
        merged["parts"] = [
            {**part, "seconds": float(np.median([next(
                (p["seconds"] for p in r["parts"] if (p["layer"], p["phase"]) == (part["layer"], part["phase"])),
                0.0) for r in rounds]))}
            for part in rounds[0]["parts"]]
        pooled[section] = merged
    return pooled


# ---------------------------------------------------------------------------- tables
def _sort_key(layer, phase):
    """Reading order: the forward pass layer by layer, the loss, the backward pass from the
    last layer (each Linear's gradients, then the activation derivative below them), the
    update."""
    fine = ["forward: matmul", "forward: bias", "backward: input gradient",
            "backward: weight gradient", "backward: weight gradient and update",
            "backward: bias gradient", "backward: bias gradient and update"]
    within = fine.index(phase) if phase in fine else -1
    if phase in ("batch", "input"):
        return (0, 0, within)
    if phase.startswith("forward"):
        step = {"forward: linear": 0, "forward: matmul": 0, "forward: bias": 0,
                "forward: copy of the logits": 1, "forward: activation": 2}.get(phase, 3)
        return (1, layer, step, within)
    if phase == "loss":
        return (2, 0, within)
    if phase == "output gradient":
        return (3, 0, within)
    if phase.startswith("backward"):
        position = -layer - (0.5 if phase == "backward: activation derivative" else 0)
        return (4, position, within)
    return (5, 0, within) if phase == "update" else (6, 0, within)


def common_parts(parts):
    """One framework's parts merged into the common ones: {(layer, common phase):
    {"seconds", "flops", "fine": [its fine parts, where it has them]}}."""
    common = {}
    for part in parts:
        phase = COMMON.get(part["phase"], part["phase"])
        entry = common.setdefault((part["layer"], phase), {"seconds": 0.0, "flops": None,
                                                           "fine": []})
        entry["seconds"] += part["seconds"]
        if part["flops"] is not None:
            entry["flops"] = (entry["flops"] or 0) + part["flops"]
        if phase != part["phase"]:
            entry["fine"].append(part)
    return common


#: The two measurements a breakdown holds, as the reports title them.
SECTIONS = {"train": "one training step", "inference": "one forward pass over the held-out split"}


def _gflops(flops, seconds, sgemm):
    if not flops or not seconds:
        return ""
    rate = flops / seconds / 1e9
    return f"{rate:.3g}" + (f" ({rate / sgemm:.0%})" if sgemm else "")


def table(by_framework, section, layer_sizes, reference=None):
    """(header, body) of one configuration's breakdown: a line per part (the common parts,
    fine parts indented under them), each framework's median microseconds and GFLOP/s
    (with its share of the sgemm rate its worker measured), and ``reference`` (e.g.
    scratch_numpy) over each other framework; then the sum of the parts, the plain
    measurement and the rest. ``by_framework``: {framework: its row's ``breakdown``}."""
    names = list(by_framework)
    merged = {name: common_parts(b[section]["parts"]) for name, b in by_framework.items()}
    keys = sorted({key for common in merged.values() for key in common},
                  key=lambda key: _sort_key(*key))
    others = [name for name in names if reference in names and name != reference]
    header = ["layer", "part"] + [f"{name} {unit}" for name in names
                                  for unit in ("us", "GFLOP/s")] + [
        f"{reference}/{name}" for name in others]

    def layer_label(layer):
        return "" if layer is None else f"{layer} ({layer_sizes[layer - 1]}x{layer_sizes[layer]})"

    def line(layer, label, entries):
        cells = [layer_label(layer), label]
        for name in names:
            entry = entries.get(name)
            sgemm = by_framework[name].get("sgemm_gflops_per_s")
            cells += (["", ""] if entry is None else
                      [f"{entry['seconds'] * 1e6:.4g}", _gflops(entry["flops"], entry["seconds"], sgemm)])
        for name in others:
            mine, theirs = entries.get(reference), entries.get(name)
            cells.append(f"{mine['seconds'] / theirs['seconds']:.3g}"
                         if mine and theirs and theirs["seconds"] > 0 else "")
        return cells

    body = []
    for layer, phase in keys:
        entries = {name: merged[name].get((layer, phase)) for name in names}
        body.append(line(layer, phase, entries))
        fine = sorted({part["phase"] for entry in entries.values() if entry
                       for part in entry["fine"]}, key=lambda p: _sort_key(layer, p))
        for phase_ in fine:
            body.append(line(None, "  " + phase_.split(": ", 1)[1], {
                name: next((part for part in entry["fine"] if part["phase"] == phase_), None)
                for name, entry in entries.items() if entry}))
    totals = {name: {"seconds": sum(part["seconds"] for part in b[section]["parts"]), "flops": None}
              for name, b in by_framework.items()}
    plain = {name: {"seconds": b[section]["plain_s"], "flops": None} for name, b in by_framework.items()}
    body.append(line(None, "sum of the parts", totals))
    body.append(line(None, "measured without laps", plain))
    rest = [layer_label(None), "rest: measured - parts"]
    for name in names:
        difference = plain[name]["seconds"] - totals[name]["seconds"]
        rest += [f"{difference * 1e6:.3g} ({difference / plain[name]['seconds']:+.0%})", ""]
    body.append(rest + [""] * len(others))
    if all("fit_step_s" in b[section] for b in by_framework.values()):
        body.append(line(None, "fit's time per step", {
            name: {"seconds": b[section]["fit_step_s"], "flops": None}
            for name, b in by_framework.items()}))
    return header, body
