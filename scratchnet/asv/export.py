"""Turn Airspeed Velocity's results into the comparison report.

Reads asv's documented result files (format version 2) directly, without
asv's Python classes: ``<results>/benchmarks.json`` (units), and per machine
``<results>/<machine>/machine.json`` and ``<commit[:8]>-<env>.json``. In a
result file every benchmark's entry is a list that zips with
``result_columns``; ``result`` holds one value per parameter combination in
``itertools.product`` order of ``params``; ``null`` means the benchmark
failed, ``NaN`` that it was skipped. Parameter values are stored as Python
reprs (``"'pytorch'"``). Every file is checked as it is read (``scratchnet.asv.results``):
a file the exporter cannot read as asv wrote it is a one-line ValueError naming the file
and the field.
"""
from __future__ import annotations

import datetime
import os
import subprocess

from .. import report
from ..data import held_out_size
from ..harness.frameworks import REGISTRY, SCRATCH, TWIN
from ..harness.ratios import RATIO_COLUMNS, ratio_with_interval
from ..harness.result import COLUMNS, add_roofline, format_architecture
from ..harness.timing import Timing
from ..metrics import QUICK_NOTE
from .history import history_figure
from .read import collect, pick_machine, result_files
from .results import check_benchmarks, check_machine, int_or_none, read_json
from .suite import (DERIVED_METRICS, HISTORY_COLUMNS, METRICS, MIN_SAMPLES_FOR_INTERVAL,
                    NOT_MEASURED, PRESETS, UNITS)


def derive(by_key, machine_figures):
    """The figures computed from measured ones, {(preset, framework): {column: (value, runs)}}
    plus each ratio's interval columns:

    * ``sgemm_gflops_per_s`` (the machine's, from ``time_sgemm``), ``train_gflops_per_s``
      and ``fraction_of_sgemm``, as ``scratchnet compare --roofline`` computes them;
    * on every row other than scratch_numpy's, the ratios of ``scratchnet.harness.ratios``
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
                   "layer_sizes": format_architecture(PRESETS[preset]["layer_sizes"], [])[0],
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
            row = dict.fromkeys(COLUMNS)
            settings = PRESETS[preset]
            row.update(
                framework=framework, preset=preset,
                **dict(zip(("layer_sizes", "activations"),
                           format_architecture(settings["layer_sizes"], settings["activations"]))),
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
                    if m.samples and f"{column}_min" in COLUMNS:
                        runs = Timing(m.samples)  # compare's summary of timed runs
                        row[f"{column}_min"], row[f"{column}_max"] = runs.min, runs.max
                        if f"{column}_q25" in COLUMNS:
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
    names = report.HISTORY_FILES
    paths = report.write_reports(
        rows, out, figures={"history_png": (names["png"], history_figure(history))},
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
