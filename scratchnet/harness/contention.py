"""What else used the CPU while a measurement ran.

A worker takes a ``CpuSnapshot`` just before its timed runs and another just
after; ``contention_between(before, after, threads)`` turns the pair into a
``Contention``. All of it is read from Linux's ``/proc``:

- ``/proc/stat``, per CPU this process may run on (``os.sched_getaffinity``):
  busy, idle and steal time. Busy time minus this process's own CPU time is
  what *other processes* used; steal is time the hypervisor gave our virtual
  CPUs to someone else.
- ``/proc/self/task/*/schedstat``: for each of this process's threads, the
  time it ran and the time it was runnable but waited for a CPU (nanoseconds).
- ``/proc/loadavg``: the one-minute load average, before and after.

``contention`` is the headline figure: the share of the allowed CPUs' time
in the window that went to other processes or to the hypervisor, from 0 (the
machine was ours) to 1 (every allowed CPU was busy with someone else's work);
one other process spinning on one of two cores gives about 0.5. A window is
**disturbed** when ``contention`` or ``runqueue_wait`` (the share of our
threads' runnable time spent waiting for a CPU) reaches ``DISTURBED_AT``.

/proc/stat counts in clock ticks (10 ms), so ``window_since`` reads a window
shorter than ``MIN_WINDOW_S`` over that long, the process waiting idle after
its work; the run-queue wait is exact to the nanosecond. Where /proc is missing (macOS, Windows) every figure is
None and nothing is flagged.
"""
from __future__ import annotations

import dataclasses
import glob
import os
import time

#: contention or run-queue wait at or above this share marks a window disturbed.
DISTURBED_AT = 0.10

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclasses.dataclass(frozen=True)
class CpuSnapshot:
    """Counters at one instant. Times in seconds; None where the system does not tell."""

    wall_s: float                # time.perf_counter()
    own_cpu_s: float             # this process's user + system CPU time, all threads
    busy_s: float | None         # allowed CPUs: user + nice + system + irq + softirq, since boot
    steal_s: float | None        # allowed CPUs: time the hypervisor ran someone else
    total_s: float | None        # allowed CPUs: every state, since boot
    threads: dict | None         # thread id -> (ran_s, waited_s) from schedstat
    load_average: float | None   # one-minute load average


@dataclasses.dataclass(frozen=True)
class Contention:
    """What competed for the CPU during one window (see the module docstring).

    Shares are of the allowed CPUs' time in the window (``capacity``), except
    ``runqueue_wait`` (of our threads' runnable time) and ``own_cpu_per_thread``
    (our CPU time over wall time x the threads we asked for: near 1 when every
    thread computed all the time, lower when they waited or had nothing to do).
    """

    window_s: float
    cpus: int
    contention: float | None
    others_cpu: float | None
    steal: float | None
    runqueue_wait: float | None
    own_cpu_per_thread: float
    load_average_before: float | None
    load_average_after: float | None

    @property
    def disturbed(self):
        return any(value is not None and value >= DISTURBED_AT
                   for value in (self.contention, self.runqueue_wait))

    def as_dict(self):
        return dataclasses.asdict(self)


def allowed_cpus():
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return list(range(os.cpu_count() or 1))


def parse_proc_stat(text, cpus):
    """(busy, steal, total) clock ticks summed over ``cpus`` from /proc/stat's text.

    Columns after the name: user nice system idle iowait irq softirq steal
    (guest time is already inside user). A CPU missing from the text (offline)
    adds nothing.
    """
    wanted = {f"cpu{cpu}" for cpu in cpus}
    busy = steal = total = 0
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0] not in wanted:
            continue
        values = [int(v) for v in fields[1:9]] + [0] * max(0, 9 - len(fields))
        user, nice, system, idle, iowait, irq, softirq, stolen = values[:8]
        busy += user + nice + system + irq + softirq
        steal += stolen
        total += user + nice + system + idle + iowait + irq + softirq + stolen
    return busy, steal, total


def parse_schedstat(text):
    """(ran_s, waited_s) from a schedstat line: 'run_ns wait_ns timeslices'."""
    fields = text.split()
    return int(fields[0]) / 1e9, int(fields[1]) / 1e9


def _read(path):
    with open(path) as handle:
        return handle.read()


def _threads():
    threads = {}
    for path in glob.glob("/proc/self/task/*/schedstat"):
        try:
            threads[path.split("/")[-2]] = parse_schedstat(_read(path))
        except (OSError, ValueError, IndexError):  # the thread ended while we looked
            continue
    return threads or None


def take_snapshot(cpus=None):
    """The counters now, for the CPUs this process may use (or ``cpus``)."""
    cpus = allowed_cpus() if cpus is None else cpus
    busy = steal = total = threads = load = None
    try:
        busy, steal, total = (ticks / _TICKS_PER_SECOND
                              for ticks in parse_proc_stat(_read("/proc/stat"), cpus))
        threads = _threads()
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        pass
    return CpuSnapshot(wall_s=time.perf_counter(), own_cpu_s=time.process_time(), busy_s=busy,
                       steal_s=steal, total_s=total, threads=threads, load_average=load)


#: /proc/stat counts CPU time in clock ticks (10 ms): a window shorter than this is read
#: until it is this long, so that a tick's rounding cannot make a busy machine look quiet
#: (beside one process spinning on one of two cores, 8 ms windows read 0.19 to 0.71).
MIN_WINDOW_S = 0.25


def window_since(before, threads, minimum=MIN_WINDOW_S, sleep=time.sleep):
    """The ``Contention`` of the window from the snapshot ``before`` to now, for a
    measurement that ran with ``threads`` threads. Where less than ``minimum`` seconds have
    passed and /proc/stat is read, this process waits, idle, for the rest, and the machine's
    figures (contention, run-queue wait, load average) are those of the whole ``minimum``;
    ``own_cpu_per_thread`` stays the measurement's own."""
    end = take_snapshot()
    rest = minimum - (end.wall_s - before.wall_s)
    if rest <= 0 or end.total_s is None:
        return contention_between(before, end, threads)
    sleep(rest)
    work = contention_between(before, end, threads)
    return dataclasses.replace(contention_between(before, take_snapshot(), threads),
                               own_cpu_per_thread=work.own_cpu_per_thread)


def _share(part, whole):
    return None if part is None or not whole else min(1.0, max(0.0, part / whole))


def contention_between(before, after, threads, cpus=None):
    """The ``Contention`` of the window between two snapshots of one process that ran
    its measurement with ``threads`` threads on ``cpus`` CPUs (default: those allowed)."""
    cpus = len(allowed_cpus()) if cpus is None else cpus
    window = max(after.wall_s - before.wall_s, 1e-9)
    own = max(0.0, after.own_cpu_s - before.own_cpu_s)
    others = steal = capacity = None
    if None not in (before.total_s, after.total_s):
        capacity = after.total_s - before.total_s
        others = max(0.0, after.busy_s - before.busy_s - own)
        steal = max(0.0, after.steal_s - before.steal_s)
    runqueue_wait = None
    if before.threads is not None and after.threads is not None:
        ran = waited = 0.0
        for tid, (ran_after, waited_after) in after.threads.items():
            ran_before, waited_before = before.threads.get(tid, (0.0, 0.0))
            ran += ran_after - ran_before
            waited += waited_after - waited_before
        runqueue_wait = _share(waited, ran + waited)
    return Contention(
        window_s=window, cpus=cpus,
        contention=_share(None if others is None else others + steal, capacity),
        others_cpu=_share(others, capacity), steal=_share(steal, capacity),
        runqueue_wait=runqueue_wait, own_cpu_per_thread=own / (window * max(1, threads)),
        load_average_before=before.load_average, load_average_after=after.load_average)


def worst(windows):
    """The most disturbed of several windows (e.g. one per round), or None for none:
    the one with the highest contention or run-queue wait."""
    windows = [w for w in windows if w is not None]
    if not windows:
        return None
    return max(windows, key=lambda w: max(w.contention or 0.0, w.runqueue_wait or 0.0))


#: The report's contention columns and the ``Contention`` field each one holds.
COLUMNS = {"contention": "contention", "contention_others_cpu": "others_cpu",
           "contention_steal": "steal", "contention_runqueue_wait": "runqueue_wait",
           "contention_own_cpu_per_thread": "own_cpu_per_thread",
           "contention_window_s": "window_s", "contention_cpus": "cpus",
           "load_average_before": "load_average_before",
           "load_average_after": "load_average_after"}


def to_columns(window):
    """A row's contention columns (and ``disturbed``) from a ``Contention``; None for None."""
    columns = {column: getattr(window, field, None) for column, field in COLUMNS.items()}
    columns["disturbed"] = None if window is None else window.disturbed
    return columns


def from_columns(row):
    """The ``Contention`` a row's columns describe, or None where it was not measured."""
    if row.get("contention_window_s") is None:
        return None
    return Contention(**{field: row.get(column) for column, field in COLUMNS.items()})


def describe(window):
    """One line in words: 'other processes used 48% of the 2 CPUs, ...'."""
    if window is None or window.contention is None:
        return "contention not measured (needs Linux's /proc)"
    parts = [f"other processes used {window.others_cpu:.0%} of the {window.cpus} CPU"
             f"{'s' if window.cpus != 1 else ''}"]
    if window.steal and window.steal >= 0.005:
        parts.append(f"the hypervisor took {window.steal:.0%}")
    if window.runqueue_wait is not None:
        parts.append(f"our threads waited for a CPU {window.runqueue_wait:.0%} of the time")
    if window.load_average_before is not None:
        parts.append(f"load average {window.load_average_before:.2f} -> {window.load_average_after:.2f}")
    return ", ".join(parts) + f" (over {window.window_s:.2f} s)"
