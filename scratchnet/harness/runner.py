"""The runner: each framework measured in a fresh worker process (``python -m
scratchnet.harness.worker``), the workers taking turns round after round, each
framework's rounds pooled into its row, and the speed ratios with their intervals from
the paired rounds. The parent's side of pyperf's runner/worker split; what one worker
measures is ``worker.py``'s, and what crosses between them is a ``Job`` (``job.py``) in
and ``row.json`` out."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from . import contention, frameworks as registry, timing as benchmark
from .ratios import RATIO_COLUMNS, ratio_with_interval
from .result import COLUMNS

#: Rounds before ``target_ci`` is first checked: fewer give an interval that has not yet
#: seen the variation from one worker process to the next.
MIN_ROUNDS_FOR_TARGET = 3


def run_rounds(frameworks, job, target_ci, max_time, progress, clock):
    """Run the workers in alternating rounds. Returns ({framework: [(row, proba) per round]}
    for the frameworks that ran, what stopped the rounds when ``target_ci`` was set)."""
    started = clock()
    runnable = [f for f in frameworks if skip_reason(f, job) is None]
    measured = {framework: [] for framework in runnable}
    minimum = max(job.rounds, MIN_ROUNDS_FOR_TARGET) if target_ci else job.rounds
    target = f"+-{target_ci * 100:g}%" if target_ci else None
    round_ = 0
    while True:
        round_ += 1
        for framework in runnable:
            if progress:
                goal = (f"; until every ratio is within {target} or {max_time:g} s"
                        if target_ci else f"/{job.rounds}")
                progress(f"{framework}: {job.repeats} timed runs after {job.warmup} warm-up, "
                         f"in a fresh process (round {round_}{goal})")
            measured[framework].append(run_isolated(framework, job))
        if round_ < minimum:
            continue
        if target_ci is None:
            return measured, None
        if any(row["status"] != "ok" for results in measured.values() for row, _ in results):
            return measured, f"a round failed after {round_} rounds"
        widest = max((ratio.relative_half_width for pair in ratio_objects(measured, job.models).values()
                      for ratio in pair.values()), default=None)
        if widest is None:
            return measured, "no ratio to narrow: scratch_numpy and another framework must both run"
        if widest <= target_ci:
            return measured, (f"target reached after {round_} rounds: the widest interval is "
                              f"+-{widest:.1%} <= {target}")
        elapsed = clock() - started
        if elapsed >= max_time:
            return measured, (f"max_time reached after {round_} rounds ({elapsed:.0f} s >= "
                              f"{max_time:g} s): the widest interval is +-{widest:.1%} > "
                              f"{target}")


def ratio_objects(measured, users=()):
    """{row's framework: {ratio column: Ratio}}, from the rounds where both sides ran and
    succeeded. The numerator is always a hand-written network: on a framework's row,
    scratch_numpy's timings over that framework's; on a user class's row (``users``), the
    class's over the PyTorch twin's."""
    result = {}
    for framework, results in measured.items():
        numerator, denominator = ((framework, registry.TWIN) if framework in users
                                  else (registry.SCRATCH, framework))
        if framework == registry.SCRATCH or not measured.get(numerator) \
                or not measured.get(denominator):
            continue
        top, bottom = measured[numerator], measured[denominator]
        if len(top) != len(bottom):
            continue
        pairs = [(mine, theirs) for (mine, _), (theirs, _) in zip(top, bottom)]
        if not pairs or any(a["status"] != "ok" or b["status"] != "ok" for a, b in pairs):
            continue
        result[framework] = {
            ratio_column: ratio_with_interval([a["_runs"][column] for a, _ in pairs],
                                              [b["_runs"][column] for _, b in pairs])
            for column, ratio_column in RATIO_COLUMNS.items()
            if column in pairs[0][0]["_runs"] and column in pairs[0][1]["_runs"]}
    return result


def ratio_columns(measured, users=()):
    """The ratio columns of each row but scratch_numpy's: value, ci_low, ci_high."""
    return {framework: {key: value for column, ratio in ratios.items()
                        for key, value in ((column, ratio.value), (f"{column}_ci_low", ratio.low),
                                           (f"{column}_ci_high", ratio.high))}
            for framework, ratios in ratio_objects(measured, users).items()}


#: Memory columns: each round's worker measures its own; the row keeps their median.
_MEMORY_COLUMNS = ("peak_memory_mb", "peak_traced_mb", "peak_gpu_memory_mb")


def pool_rounds(results):
    """One framework's (row, probabilities) from its rounds: every timed column becomes the
    median, min and max of all rounds' runs together; memory the median of the rounds'.
    A round that failed makes the row that round's error."""
    rows = [row for row, _ in results]
    failed = next((row for row in rows if row["status"] != "ok"), None)
    if failed is not None:
        failed.pop("_runs", None)
        failed.pop("_contention", None)
        if len(rows) > 1:
            failed["notes"] += f" (in round {rows.index(failed) + 1} of {len(rows)})"
        return failed, None
    pooled = dict(rows[0])
    if all("breakdown" in row for row in rows):
        from .breakdown import pool
        pooled["breakdown"] = pool([row["breakdown"] for row in rows])
    runs = {column: [v for row in rows for v in row["_runs"][column]] for column in pooled["_runs"]}
    del pooled["_runs"]
    pooled.pop("_contention", None)
    pooled.update(contention.to_columns(contention.worst(
        contention.Contention(**row["_contention"]) for row in rows if "_contention" in row)))
    for column, values in runs.items():
        timing = benchmark.Timing(values)
        if f"{column}_q25" in COLUMNS:
            pooled[f"{column}_q25"], pooled[f"{column}_q75"] = timing.q25, timing.q75
        if len(rows) > 1:
            pooled[column] = float(timing)
            if f"{column}_min" in COLUMNS:
                pooled[f"{column}_min"], pooled[f"{column}_max"] = timing.min, timing.max
    if len(rows) > 1:
        for column in _MEMORY_COLUMNS:
            values = [row[column] for row in rows if row.get(column) is not None]
            if values:
                pooled[column] = float(np.median(values))
        pooled["notes"] = "; ".join(filter(None, [pooled["notes"], f"{len(rows)} rounds pooled"]))
    return pooled, results[0][1]


def skip_reason(framework, job):
    return job.framework(framework).unavailable()


def worker_command(framework, folder):
    return [sys.executable, "-m", "scratchnet.harness.worker", framework, folder, str(os.getpid())]


def run_isolated(framework, job):
    """run_framework(framework, job) in a fresh Python process; a crash becomes an error row."""
    with tempfile.TemporaryDirectory(prefix="scratchnet-") as folder:
        job.save(folder)
        worker = subprocess.Popen(worker_command(framework, folder), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, registry.IN_WORKER: "1"})
        try:
            _, stderr = worker.communicate(timeout=job.time_limit)
        except BaseException as exc:  # a timeout, Ctrl-C, SIGTERM: the worker goes first
            worker.kill()
            worker.communicate()  # reaped, so it does not linger as a zombie
            if not isinstance(exc, subprocess.TimeoutExpired):
                raise
            return {"status": "error", "notes": f"worker process ran longer than "
                                                f"{job.time_limit:g} s and was stopped "
                                                f"(time_limit)"}, None
        result_path = os.path.join(folder, "row.json")
        if worker.returncode != 0 or not os.path.exists(result_path):
            tail = (stderr.strip().splitlines() or ["no output"])[-1]
            return {"status": "error", "notes": f"worker process failed (exit status "
                                                f"{worker.returncode}): {tail}"}, None
        with open(result_path) as handle:
            row = json.load(handle)
        proba_path = os.path.join(folder, "probabilities.npy")
        proba = np.load(proba_path, allow_pickle=False) if os.path.exists(proba_path) else None
    return row, proba
