"""The runner: each framework measured in a fresh worker process (``python -m
scratchnet.harness.worker``), the workers taking turns round after round, each
framework's rounds pooled into its row, and the speed ratios with their intervals from
the paired rounds. The parent's side of pyperf's runner/worker split; what one worker
measures is ``worker.py``'s, and what crosses between them is a ``Job`` (``job.py``) in
and a ``Measured`` (``result.py``) out."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np

from . import contention, frameworks as registry, timing as benchmark
from .ratios import RATIO_COLUMNS, ratio_with_interval
from .result import COLUMNS, Measured

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
        if any(not round_.ok for results in measured.values() for round_, _ in results):
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
        if not pairs or any(not (a.ok and b.ok) for a, b in pairs):
            continue
        result[framework] = {
            ratio_column: ratio_with_interval([a.runs[column] for a, _ in pairs],
                                              [b.runs[column] for _, b in pairs])
            for column, ratio_column in RATIO_COLUMNS.items()
            if column in pairs[0][0].runs and column in pairs[0][1].runs}
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
    """One framework's (row, probabilities) from its rounds' (``Measured``, probabilities):
    every timed column becomes the median, min and max of all rounds' runs together; memory
    the median of the rounds'. A round that failed makes the row that round's error."""
    measured = [round_ for round_, _ in results]
    rows = [round_.columns for round_ in measured]
    failed = next((number for number, round_ in enumerate(measured, 1) if not round_.ok), None)
    if failed is not None:
        row = dict(rows[failed - 1])
        if len(rows) > 1:
            row["notes"] += f" (in round {failed} of {len(rows)})"
        return row, None
    pooled = dict(rows[0])
    if all("breakdown" in row for row in rows):
        from .breakdown import pool
        pooled["breakdown"] = pool([row["breakdown"] for row in rows])
    runs = {column: [v for round_ in measured for v in round_.runs[column]]
            for column in measured[0].runs}
    pooled.update(contention.to_columns(contention.worst(
        contention.Contention(**round_.contention) for round_ in measured
        if round_.contention is not None)))
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
    """(``Measured``, probabilities or None) of run_framework(framework, job) in a fresh
    Python process; a crash, an exit or a hang becomes an error row."""
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
            return Measured.error(f"worker process ran longer than {job.time_limit:g} s and "
                                  f"was stopped (time_limit)"), None
        result_path = os.path.join(folder, "measured.json")
        if worker.returncode != 0 or not os.path.exists(result_path):
            tail = (stderr.strip().splitlines() or ["no output"])[-1]
            return Measured.error(f"worker process failed (exit status {worker.returncode}): "
                                  f"{tail}"), None
        with open(result_path) as handle:
            measured = Measured.from_json(handle.read())
        proba_path = os.path.join(folder, "probabilities.npy")
        proba = np.load(proba_path, allow_pickle=False) if os.path.exists(proba_path) else None
    return measured, proba
