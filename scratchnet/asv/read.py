"""Reading asv's results: the machines, each one's result files (checked as asv wrote
them, ``scratchnet.asv.results``), and every benchmark's figures in the report's units."""
from __future__ import annotations

import ast
import itertools
import math
import os
from typing import NamedTuple

from ..data import held_out_size
from ..harness.frameworks import SCRATCH, TWIN
from .results import check_result, read_json
from .suite import MACHINE_METRICS, METRICS, PRESETS, SGEMM_FLOPS

# ---------------------------------------------------------------------- reading
def machines(results_dir):
    """Names of the machines that have results in ``results_dir``."""
    if not os.path.isdir(results_dir):
        raise ValueError(f"asv results directory {results_dir} does not exist; run `asv machine "
                         f"--yes` and `asv run` first (or pass --results)")
    found = sorted(name for name in os.listdir(results_dir)
                   if os.path.isfile(os.path.join(results_dir, name, "machine.json")))
    if not found:
        raise ValueError(f"asv results directory {results_dir} holds no machine's results "
                         f"(no <machine>/machine.json); run `asv run` first")
    return found


def pick_machine(results_dir, machine=None):
    names = machines(results_dir)
    if machine is None:
        if len(names) > 1:
            raise ValueError(f"{results_dir} holds results of several machines ({', '.join(names)}); "
                             f"pick one with --machine: figures from different machines must not "
                             f"share a table")
        return names[0]
    if machine not in names:
        raise ValueError(f"machine {machine!r} has no results in {results_dir}; "
                         f"available: {', '.join(names)}")
    return machine


def result_files(results_dir, machine):
    """Every result file of a machine, parsed and checked, oldest commit first."""
    folder = os.path.join(results_dir, machine)
    files = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json") or name == "machine.json":
            continue
        path = os.path.join(folder, name)
        data = read_json(path, "asv result file")
        check_result(data, path)
        data["_path"] = path
        files.append(data)
    if not files:
        raise ValueError(f"no asv results for machine {machine!r} in {folder}; run `asv run` first")
    return sorted(files, key=lambda d: (d["date"], d["commit_hash"]))


def _parameter(text):
    """A parameter's value from its repr; the text itself where that is not a plain value."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return value if value is None or isinstance(value, (str, int, float, bool)) else text


def expand(fields):
    """One benchmark's entry, as {result column: value} -> a list of (params, value, samples
    or None, timed runs or None), product order; timed runs: asv's ``stats_repeat`` (1 with
    --quick), None for a track."""
    param_lists = [[_parameter(p) for p in values] for values in fields.get("params") or []]
    combos = list(itertools.product(*param_lists)) if param_lists else [()]
    results = fields.get("result")
    if results is None:
        results = [None] * len(combos)  # the whole benchmark failed
    samples = fields.get("samples") or [None] * len(combos)
    repeats = fields.get("stats_repeat") or [None] * len(combos)
    return list(zip(combos, results, samples, repeats))


def _status(value):
    if value is None:
        return "error"
    if isinstance(value, float) and math.isnan(value):
        return "skipped"
    return "ok"


def _param_names(benchmarks, name, n_params):
    names = (benchmarks.get(name) or {}).get("param_names")
    if names and len(names) == n_params:
        return names
    return ["framework", "preset"][:n_params] if n_params <= 2 else [f"p{i}" for i in range(n_params)]


class Measured(NamedTuple):
    """One benchmark's figure for one framework and preset (both None for a figure of the
    machine), in the report's units. ``started``: when asv ran the benchmark (milliseconds
    since the epoch); ``runs``: the timed runs behind it (see ``expand``)."""

    framework: str | None
    preset: str | None
    column: str
    value: float | None
    samples: list | None
    status: str
    benchmark: str
    started: float | None
    runs: int | None


def measurements(result, benchmarks):
    """Every ``Measured`` figure of the suite in one result file."""
    columns = result["result_columns"]
    for name, entry in result["results"].items():
        column = METRICS.get(name.rsplit(".", 1)[-1])
        if column is None or (benchmarks and name not in benchmarks):
            continue  # not ours, or (like asv publish) a benchmark the suite no longer has
        fields = dict(zip(columns, entry))
        current = (benchmarks.get(name) or {}).get("version")
        if current is not None and fields.get("version") not in (None, current):
            continue  # measured by another version of the benchmark: asv publish drops it too
        for combo, value, samples, runs in expand(fields):
            params = dict(zip(_param_names(benchmarks, name, len(combo)), combo))
            if column in MACHINE_METRICS:
                frameworks, preset = [None], None
            else:
                frameworks = [params["framework"]] if "framework" in params else [SCRATCH, TWIN]
                preset = params.get("preset")
                if preset not in PRESETS:
                    continue
            converted, converted_samples = _convert(column, preset, value, samples)
            for framework in frameworks:
                yield Measured(framework, preset, column, converted, converted_samples,
                               _status(value), name, fields.get("started_at"), runs)


def _convert(column, preset, value, samples):
    """asv's units -> the report's: per-sample latency, accuracy for the error rate, GFLOP/s
    for the sgemm time."""
    if _status(value) != "ok":
        return None, None
    convert = {"inference_latency_per_sample_s":
                   lambda v: v / held_out_size(PRESETS[preset]["n_samples"]),
               "final_accuracy": lambda v: 1.0 - v,
               "sgemm_gflops_per_s": lambda v: SGEMM_FLOPS / v / 1e9}.get(column, lambda v: v)
    return convert(value), [convert(v) for v in samples] if samples else None


def collect(result, benchmarks):
    """({(preset, framework): {column: Measured}}, {column: Measured} of the machine)."""
    by_key, machine_figures = {}, {}
    for measured in measurements(result, benchmarks):
        if measured.column in MACHINE_METRICS:
            machine_figures[measured.column] = measured
        else:
            by_key.setdefault((measured.preset, measured.framework), {})[measured.column] = measured
    return by_key, machine_figures
