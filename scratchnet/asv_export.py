"""Turn Airspeed Velocity's results into the comparison reports.

Reads asv's documented result files (format version 2) directly, without
asv's Python classes: ``<results>/benchmarks.json`` (units), and per machine
``<results>/<machine>/machine.json`` and ``<commit[:8]>-<env>.json``. In a
result file every benchmark's entry is a list that zips with
``result_columns``; ``result`` holds one value per parameter combination in
``itertools.product`` order of ``params``; ``null`` means the benchmark
failed, ``NaN`` that it was skipped. Parameter values are stored as Python
reprs (``"'pytorch'"``). Every file is checked as it is read (``scratchnet.asv_results``):
a file the exporter cannot read as asv wrote it is a one-line ValueError naming the file
and the field.
"""
from __future__ import annotations

import ast
import datetime
import itertools
import math
import os
import subprocess
from typing import NamedTuple

from . import plots, reports
from .metrics import unit as metric_unit
from .asv_results import check_benchmarks, check_machine, check_result, int_or_none, read_json
from .benchmark import Timing
from .compare import add_roofline, held_out_size
from .presets import GOAL_PRESETS, PRESETS as SPEC_PRESETS

#: The asv suite's presets: the spec's three and time-to-accuracy's.
PRESETS = {**SPEC_PRESETS, **GOAL_PRESETS}
from .frameworks import REGISTRY, SCRATCH, TWIN
from .ratios import RATIO_COLUMNS, ratio_with_interval

#: asv benchmark (last part of its name) -> report column. Every benchmark of the suite is
#: lower-is-better, as asv's gate reads it; the exporter turns the error rate back into
#: accuracy and the sgemm time into a rate.
METRICS = {
    "time_train_epoch": "train_time_per_epoch_s",
    "time_inference": "inference_latency_per_sample_s",
    "time_inference_single": "single_sample_latency_s",
    "track_train_memory_mb": "peak_memory_mb",
    "track_error_rate": "final_accuracy",
    "track_parity": "parity_max_abs_diff",
    "track_parity_with_the_twin": "parity_max_abs_diff",
    "time_sgemm": "sgemm_gflops_per_s",
    "track_train_step_instructions": "train_step_instructions",
    "track_inference_instructions": "inference_instructions",
    "track_time_to_accuracy": "time_to_accuracy_s",
}
#: Figures of the machine, not of a framework or preset (benchmarks without parameters).
MACHINE_METRICS = ("sgemm_gflops_per_s",)
#: Figures derived here from the measured ones, per commit (see ``derive``).
DERIVED_METRICS = ("train_gflops_per_s", "fraction_of_sgemm", "train_time_ratio")
#: The exported figures and their units (``scratchnet.metrics``), in the history's order.
UNITS = {column: metric_unit(column) for column in (
    "train_time_per_epoch_s", "inference_latency_per_sample_s", "single_sample_latency_s",
    "peak_memory_mb", "final_accuracy", "parity_max_abs_diff", "sgemm_gflops_per_s",
    "train_gflops_per_s", "fraction_of_sgemm", "train_time_ratio", "train_step_instructions",
    "inference_instructions", "time_to_accuracy_s")}
NOT_MEASURED = ["batch_throughput_samples_per_s", "peak_traced_mb", "train_accuracy"]
HISTORY_COLUMNS = ["commit", "commit_date", "machine", "env", "framework", "preset", "metric",
                   "value", "unit", "runs", "status", "benchmark"]
#: Figures of the pair, not of one framework: the history draws them once per preset.
PAIR_METRICS = ("parity_max_abs_diff", "train_time_ratio")
#: The 2 n^3 flops of one ``time_sgemm`` call (benchmarks/performance.py's SGEMM_SIZE).
SGEMM_FLOPS = 2 * 2048 ** 3
#: A row with a time from a single timed run (asv run --quick) says so: asv then runs no
#: warm-up, so first-call costs are in it (PyTorch's first epoch in a fresh process took
#: 1.5 s here against 17 ms for the next).
QUICK_NOTE = ("one timed run per figure (asv run --quick): no warm-up, so first-call costs "
              "(PyTorch's first epoch in a process) are in the times; a smoke test, not figures "
              "to quote")
#: Fewer samples a side than this (asv --quick takes one) give a ratio without an interval.
MIN_SAMPLES_FOR_INTERVAL = 5


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


def derive(by_key, machine_figures):
    """The figures computed from measured ones, {(preset, framework): {column: (value, runs)}}
    plus each ratio's interval columns:

    * ``sgemm_gflops_per_s`` (the machine's, from ``time_sgemm``), ``train_gflops_per_s``
      and ``fraction_of_sgemm``, as ``scratchnet compare --roofline`` computes them;
    * on every row other than scratch_numpy's, the ratios of ``scratchnet.ratios``
      (scratch_numpy's median over this row's) with a 95 % interval from a percentile
      bootstrap of the two benchmarks' samples, each side's processes pooled; no interval
      with fewer than ``MIN_SAMPLES_FOR_INTERVAL`` samples a side.
    """
    derived = {}
    sgemm = machine_figures.get("sgemm_gflops_per_s")
    for (preset, framework), measured in by_key.items():
        figures = derived.setdefault((preset, framework), {})
        train = measured.get("train_time_per_epoch_s")
        if sgemm is not None and sgemm.value and train is not None and train.value:
            row = {"train_time_per_epoch_s": train.value, "sgemm_gflops_per_s": sgemm.value,
                   "layer_sizes": "x".join(map(str, PRESETS[preset]["layer_sizes"])),
                   "n_samples": PRESETS[preset]["n_samples"]}
            add_roofline([row])
            runs = _fewest(train.runs, sgemm.runs)
            for column in ("sgemm_gflops_per_s", "train_gflops_per_s", "fraction_of_sgemm"):
                figures[column] = (row[column], runs)
        # the numerator is a hand-written network: scratch_numpy over a framework's row, a
        # user class's row over the twin's (as compare's ratios)
        top, bottom = ((measured, by_key.get((preset, TWIN))) if framework not in REGISTRY
                       else (by_key.get((preset, SCRATCH)), measured))
        if framework == SCRATCH or top is None or bottom is None:
            continue
        for column, ratio_column in RATIO_COLUMNS.items():
            ours, theirs = top.get(column), bottom.get(column)
            if ours is None or theirs is None or not ours.value or not theirs.value:
                continue
            low = high = None
            value = ours.value / theirs.value
            if min(len(ours.samples or []), len(theirs.samples or [])) >= MIN_SAMPLES_FOR_INTERVAL:
                ratio = ratio_with_interval([ours.samples], [theirs.samples])
                value, low, high = ratio.value, ratio.low, ratio.high
            figures[ratio_column] = (value, _fewest(ours.runs, theirs.runs))
            figures[f"{ratio_column}_ci_low"] = (low, None)
            figures[f"{ratio_column}_ci_high"] = (high, None)
    return derived


def _fewest(*runs):
    known = [r for r in runs if r is not None]
    return min(known) if known else None


# ---------------------------------------------------------------------- reports
def report_rows(result, machine_info, benchmarks, machine):
    """One report row per framework x preset for one result file, in compare's columns."""
    by_key, machine_figures = collect(result, benchmarks)
    derived = derive(by_key, machine_figures)
    rows = []
    commit = result["commit_hash"]
    requirements = result.get("requirements") or {}
    users = sorted({framework for _, framework in by_key if framework and framework not in REGISTRY})
    for preset in PRESETS:
        for framework in [*REGISTRY, *users]:  # the built-in rows, then the user classes'
            found = by_key.get((preset, framework))
            if not found:
                continue
            row = dict.fromkeys(reports.COLUMNS)
            settings = PRESETS[preset]
            row.update(
                framework=framework, preset=preset,
                layer_sizes="x".join(map(str, settings["layer_sizes"])),
                activations=",".join(settings["activations"]),
                loss=settings.get("loss", "mse"), dataset="digits",
                target_accuracy=settings.get("target_accuracy"),
                max_epochs=settings.get("max_epochs"),
                n_samples=settings["n_samples"], n_test=held_out_size(settings["n_samples"]),
                epochs=settings["epochs"], batch_size=settings["batch_size"],
                alpha=settings["alpha"], seed=settings["seed"], precision="float32", device="cpu",
                # the suite's THREADS (benchmarks/common.py): one, in every benchmark version
                # the exporter reads (results of other versions are dropped)
                threads=1, commit=commit, machine=machine,
                source="asv", python_version=str(result.get("python") or ""),
                numpy_version=requirements.get("numpy"), torch_version=requirements.get("torch"),
                onnxruntime_version=requirements.get("onnxruntime"),
                platform=machine_info.get("os"), cpu=machine_info.get("cpu"),
                cpu_count=int_or_none(machine_info.get("num_cpu")),
                started_utc=_iso(min((m.started for m in found.values() if m.started), default=None)))
            failed, skipped, spread, measured = [], [], True, False
            for column, m in found.items():
                if m.status == "ok":
                    row[column] = m.value
                    measured = True
                    if m.samples and f"{column}_min" in reports.COLUMNS:
                        runs = Timing(m.samples)  # compare's summary of timed runs
                        row[f"{column}_min"], row[f"{column}_max"] = runs.min, runs.max
                        if f"{column}_q25" in reports.COLUMNS:
                            row[f"{column}_q25"], row[f"{column}_q75"] = runs.q25, runs.q75
                    elif m.benchmark.rsplit(".", 1)[-1].startswith("time_"):
                        spread = False  # only time_ benchmarks have samples
                else:
                    (failed if m.status == "error" else skipped).append(m.benchmark.rsplit(".", 1)[-1])
            for column, (value, _) in derived.get((preset, framework), {}).items():
                row[column] = value
            row["status"] = "error" if failed else ("ok" if measured else "skipped")
            notes = [f"from asv results of commit {commit[:8]} on machine {machine}"]
            if failed:
                notes.append(f"failed: {', '.join(sorted(set(failed)))}")
            if skipped:
                notes.append(f"skipped: {', '.join(sorted(set(skipped)))}")
            if framework == "onnxruntime":
                notes.append("inference only: the scratch network exported to ONNX")
            if any(m.runs == 1 for m in found.values()):
                notes.append(QUICK_NOTE)
            notes.append(f"not measured by the asv suite: {', '.join(NOT_MEASURED)}")
            notes.append("spread: min-max of asv's samples" if spread else
                         "no spread: run asv with --record-samples for min-max")
            ratios = [c for c in RATIO_COLUMNS.values() if row.get(c) is not None]
            if ratios:
                notes.append("ratio intervals: bootstrap of asv's samples, each side's processes "
                             "pooled" if all(row.get(f"{c}_ci_low") is not None for c in ratios)
                             else f"ratios without an interval: fewer than "
                                  f"{MIN_SAMPLES_FOR_INTERVAL} samples a side")
            row["notes"] = "; ".join(notes)
            rows.append(row)
    return rows


def _iso(milliseconds):
    if not milliseconds:
        return None
    moment = datetime.datetime.fromtimestamp(milliseconds / 1000, datetime.timezone.utc)
    return moment.isoformat(timespec="seconds")


def history_rows(files, benchmarks, machine):
    """One row per commit x framework x preset x metric, oldest commit first: the measured
    figures, then the derived ones (``DERIVED_METRICS``; a ratio on the other framework's row)."""
    rows = []
    for result in files:
        common = {"commit": result["commit_hash"], "commit_date": _iso(result.get("date")),
                  "machine": machine, "env": result.get("env_name")}
        by_key, machine_figures = collect(result, benchmarks)
        for m in [*machine_figures.values(), *(m for found in by_key.values() for m in found.values())]:
            rows.append({**common, "framework": m.framework, "preset": m.preset, "metric": m.column,
                         "value": m.value, "unit": UNITS[m.column], "runs": m.runs,
                         "status": m.status, "benchmark": m.benchmark})
        for (preset, framework), figures in derive(by_key, machine_figures).items():
            for column in DERIVED_METRICS:
                if column in figures:
                    value, runs = figures[column]
                    rows.append({**common, "framework": framework, "preset": preset,
                                 "metric": column, "value": value, "unit": UNITS[column],
                                 "runs": runs, "status": "ok", "benchmark": "derived"})
    return rows


def export(results_dir=".asv/results", commit=None, machine=None, env=None,
           out="benchmarks/comparison", branch=None, repo="."):
    """Write the comparison reports for one commit, and the history of the commits measured
    in the same asv environment on the same machine (those of ``branch`` where one is given).

    The commit: ``commit`` (a hash or its start), else the newest with results, among the
    commits of ``branch`` in the git repository ``repo`` where a branch is given (as
    ``asv publish`` follows asv.conf.json's branches), among all where not.
    Returns (rows of the chosen commit, {kind: path}).
    """
    machine = pick_machine(results_dir, machine)
    machine_path = os.path.join(results_dir, machine, "machine.json")
    machine_info = read_json(machine_path, "asv machine file")
    check_machine(machine_info, machine_path)
    benchmarks_path = os.path.join(results_dir, "benchmarks.json")
    benchmarks = {}
    if os.path.exists(benchmarks_path):
        benchmarks = read_json(benchmarks_path, "asv benchmarks file")
        check_benchmarks(benchmarks, benchmarks_path)
    files = result_files(results_dir, machine)
    if env is not None:
        picked = _pick_env(files, env, results_dir, machine)
        files = [f for f in files if f.get("env_name") == picked]
    candidates = files
    if branch is not None:
        # the branch's own order, oldest first: commits made within the same second have
        # equal dates, and the newest of them is the one the branch points to
        age = {commit: position for position, commit in enumerate(branch_commits(branch, repo))}
        candidates = sorted((f for f in files if f["commit_hash"] in age),
                            key=lambda f: -age[f["commit_hash"]])
        if not candidates and commit is None:
            raise ValueError(f"no results for a commit of branch {branch!r} on machine {machine!r} "
                             f"in {results_dir}; pick a commit with --commit")
    chosen = _pick_commit(files if commit is not None else candidates, commit, results_dir, machine)
    rows = report_rows(chosen, machine_info, benchmarks, machine)
    if not rows:
        raise ValueError(f"asv result file '{chosen['_path']}': field 'results' holds none of "
                         f"the suite's benchmarks ({', '.join(METRICS)})")
    # One series, as asv's own graphs: the chosen result's environment only, and with a
    # branch its commits (and the chosen one), as asv publish graphs a branch.
    series = [f for f in candidates if f["commit_hash"] != chosen["commit_hash"]] + [chosen]
    order = {id(f): i for i, f in enumerate(candidates)}  # the branch's order, else the dates'
    history = history_rows(sorted((f for f in series if f.get("env_name") == chosen.get("env_name")),
                                  key=lambda d: (order.get(id(d), len(order)), d["date"],
                                                 d["commit_hash"]) if branch is not None
                                  else (d["date"], d["commit_hash"])),
                           benchmarks, machine)
    # the history drawn once: its PNG beside the reports and in the HTML page; its CSV
    # written in the same set
    names = reports.HISTORY_FILES
    paths = reports.write_reports(
        rows, out, figures={"history_png": (names["png"], plots.history_figure(history))},
        tables={"history_csv": (names["csv"], history, HISTORY_COLUMNS)})
    return rows, paths


def _pick_commit(files, commit, results_dir, machine):
    if commit is None:
        newest = files[-1]
        same = [f for f in files if f["commit_hash"] == newest["commit_hash"]]
    else:
        same = [f for f in files if f["commit_hash"].startswith(commit)]
        if not same:
            known = ", ".join(dict.fromkeys(f["commit_hash"][:8] for f in files))
            raise ValueError(f"commit {commit!r} has no results for machine {machine!r} in "
                             f"{results_dir}; commits with results: {known}")
    if len({f["commit_hash"] for f in same}) > 1:
        raise ValueError(f"commit prefix {commit!r} is ambiguous: "
                         f"{', '.join(sorted({f['commit_hash'] for f in same}))}")
    if len(same) > 1:
        # asv's own environments before `-E existing` (the quick check in the current Python)
        built = [f for f in same if not str(f.get("env_name", "")).startswith("existing")]
        if len(built) == 1:
            return built[0]
        raise ValueError(f"commit {same[0]['commit_hash'][:8]} has results from several environments "
                         f"({', '.join(f['env_name'] for f in same)}); pick one with --env "
                         f"(any part of its name that no other has)")
    return same[0]


def branch_commits(branch, repo="."):
    """The hashes of every commit of ``branch``, newest first (``git rev-list``'s order)."""
    if not branch or branch.startswith("-"):
        raise ValueError(f"branch must be a branch or commit name not starting with '-', got "
                         f"{branch!r}")
    try:
        done = subprocess.run(["git", "-C", str(repo), "rev-list", branch, "--"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ValueError(f"cannot list the commits of branch {branch!r}: {exc}; "
                         f"pick a commit with --commit") from None
    if done.returncode != 0:
        raise ValueError(f"cannot list the commits of branch {branch!r} in {repo}: "
                         f"{done.stderr.strip()}; pick a commit with --commit")
    return done.stdout.split()


def configured_branch(config="asv.conf.json"):
    """The first of asv.conf.json's ``branches``, or None where there is no such file or it
    names none (then export picks among all commits)."""
    if not os.path.exists(config):
        return None
    try:
        import json5  # asv's own reader of its commented config; installed with asv
    except ImportError:
        raise ValueError(f"reading {config} needs json5, which comes with asv "
                         f"(pip install asv); or name the branch with --branch") from None
    with open(config, encoding="utf-8") as handle:
        try:
            settings = json5.load(handle)
        except ValueError as exc:
            raise ValueError(f"{config} is not valid asv configuration: {exc}") from None
    branches = settings.get("branches") if isinstance(settings, dict) else None
    return branches[0] if isinstance(branches, list) and branches else None


def _pick_env(files, env, results_dir, machine):
    """The environment named ``env`` exactly, or the one whose name alone contains it."""
    names = list(dict.fromkeys(f.get("env_name") or "" for f in files))
    if env in names:
        return env
    matching = [name for name in names if env in name]
    if len(matching) == 1:
        return matching[0]
    if not matching:
        raise ValueError(f"no results of environment {env!r} for machine {machine!r} in "
                         f"{results_dir}; environments with results: {', '.join(names)}")
    raise ValueError(f"--env {env!r} matches several environments ({', '.join(matching)}); "
                     f"give more of the name")
