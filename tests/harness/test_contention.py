"""Contention: the arithmetic on recorded counters, and a real run beside a CPU burner."""
import dataclasses
import json
import os
import subprocess
import sys

import pytest

from scratchnet.harness import contention
from scratchnet.harness.contention import Contention, CpuSnapshot, contention_between

PROC_STAT = """cpu  5003 0 2087 31956 283 0 27 73 0 0
cpu0 468 0 519 18654 28 0 4 31 0 0
cpu1 4535 0 1568 13301 255 0 22 41 0 0
intr 1 2 3
"""


def test_proc_stat_is_summed_over_the_allowed_cpus():
    busy, steal, total = contention.parse_proc_stat(PROC_STAT, [0, 1])
    assert busy == 468 + 519 + 4 + 4535 + 1568 + 22 and steal == 31 + 41
    assert total == busy + steal + 18654 + 28 + 13301 + 255
    assert contention.parse_proc_stat(PROC_STAT, [1])[1] == 41
    assert contention.parse_proc_stat(PROC_STAT, [5]) == (0, 0, 0)  # an offline CPU adds nothing


def test_schedstat_is_read_in_seconds():
    assert contention.parse_schedstat("2439384804 545199 27\n") == pytest.approx((2.439384804, 0.000545199))


def snapshot(wall, own, busy, steal, total, threads=None, load=0.5):
    return CpuSnapshot(wall_s=wall, own_cpu_s=own, busy_s=busy, steal_s=steal, total_s=total,
                       threads=threads, load_average=load)


def test_a_quiet_window_is_not_disturbed():
    # 1 s on 2 CPUs: we used 1 CPU-second, the machine was busy for exactly that
    window = contention_between(snapshot(0, 10, 100, 0, 1000, {"1": (5, 0.1)}),
                                snapshot(1, 11, 101, 0, 1002, {"1": (6, 0.1)}), threads=1, cpus=2)
    assert window.contention == 0 and window.others_cpu == 0 and window.steal == 0
    assert window.runqueue_wait == 0 and window.own_cpu_per_thread == pytest.approx(1.0)
    assert not window.disturbed


def test_another_process_on_one_of_two_cores_is_half_the_machine():
    window = contention_between(snapshot(0, 10, 100, 0, 1000), snapshot(2, 12, 104, 0, 1004),
                                threads=1, cpus=2)
    assert window.others_cpu == pytest.approx(0.5) and window.contention == pytest.approx(0.5)
    assert window.disturbed


def test_steal_counts_as_contention():
    window = contention_between(snapshot(0, 0, 0, 0, 0), snapshot(1, 1, 1, 0.4, 2),
                                threads=1, cpus=2)
    assert window.steal == pytest.approx(0.2) and window.contention == pytest.approx(0.2)
    assert window.disturbed


def test_our_threads_waiting_for_a_cpu_marks_the_window_even_when_proc_stat_looks_quiet():
    before = snapshot(0, 0, 0, 0, 0, {"1": (1.0, 0.0), "2": (1.0, 0.0)})
    after = snapshot(1, 1.6, 1.6, 0, 2, {"1": (1.8, 0.2), "2": (1.8, 0.2), "3": (0.0, 0.1)})
    window = contention_between(before, after, threads=2, cpus=2)
    assert window.runqueue_wait == pytest.approx(0.5 / 2.1)  # a thread born in the window counts too
    assert window.contention == 0 and window.disturbed
    assert window.own_cpu_per_thread == pytest.approx(0.8)


def test_without_proc_nothing_is_measured_or_flagged():
    window = contention_between(snapshot(0, 0, None, None, None, load=None),
                                snapshot(1, 1, None, None, None, load=None), threads=1, cpus=2)
    assert window.contention is None and window.runqueue_wait is None and not window.disturbed
    assert contention.describe(window) == "contention not measured (needs Linux's /proc)"


def test_shares_stay_between_zero_and_one():
    # tick-sampled busy time can fall behind our exact CPU time in a short window
    window = contention_between(snapshot(0, 0, 0, 0, 0), snapshot(0.1, 0.15, 0.1, 0, 0.2),
                                threads=2, cpus=2)
    assert window.others_cpu == 0 and 0 <= window.contention <= 1


def test_worst_and_the_columns_round_trip():
    quiet = Contention(1.0, 2, 0.01, 0.01, 0.0, 0.0, 1.0, 0.1, 0.1)
    busy = Contention(1.0, 2, 0.48, 0.47, 0.01, 0.02, 0.9, 1.0, 1.9)
    waiting = Contention(1.0, 2, 0.02, 0.02, 0.0, 0.6, 0.5, 0.1, 0.1)
    assert contention.worst([quiet, None, busy]) is busy
    assert contention.worst([quiet, waiting, busy]) is waiting
    assert contention.worst([None]) is None
    columns = contention.to_columns(busy)
    assert columns["contention"] == 0.48 and columns["disturbed"] is True
    assert contention.from_columns(columns) == busy
    assert contention.to_columns(None)["contention"] is None
    assert contention.from_columns({"contention": None}) is None
    text = contention.describe(busy)
    assert text == ("other processes used 47% of the 2 CPUs, the hypervisor took 1%, our threads "
                    "waited for a CPU 2% of the time, load average 1.00 -> 1.90 (over 1.00 s)")


def test_a_short_window_is_read_over_the_minimum_with_the_work_own_cpu(monkeypatch):
    # 8 ms of work on one thread, then 0.242 s idle: the burner on the other CPU is seen
    # over the whole 0.25 s, our CPU per thread over the work's 8 ms
    before = snapshot(0.0, 10.0, 100.0, 0.0, 1000.0, {"1": (5.0, 0.0)})
    end = snapshot(0.008, 10.008, 100.01, 0.0, 1000.02, {"1": (5.008, 0.0)})
    after = snapshot(0.25, 10.008, 100.26, 0.0, 1000.5, {"1": (5.008, 0.0)})
    snapshots, slept = iter([end, after]), []
    monkeypatch.setattr(contention, "take_snapshot", lambda: next(snapshots))
    window = contention.window_since(before, threads=1, sleep=slept.append)
    assert slept == [pytest.approx(0.242)]
    assert window == dataclasses.replace(contention_between(before, after, threads=1),
                                         own_cpu_per_thread=pytest.approx(1.0))
    assert window.window_s == 0.25 and window.contention == pytest.approx(0.252 / 0.5)
    assert window.disturbed


@pytest.mark.parametrize("before, end", [
    (snapshot(0.0, 10.0, 100.0, 0.0, 1000.0), snapshot(0.3, 10.3, 100.3, 0.0, 1000.6)),  # long
    (snapshot(0.0, 10.0, None, None, None), snapshot(0.008, 10.008, None, None, None)),  # no /proc
])
def test_a_long_window_or_one_without_proc_stat_is_read_as_it_is(monkeypatch, before, end):
    monkeypatch.setattr(contention, "take_snapshot", lambda: end)
    slept = []
    assert contention.window_since(before, threads=1, sleep=slept.append) == \
        contention_between(before, end, threads=1)
    assert slept == []


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux's /proc")
def test_a_snapshot_reads_this_machine():
    first = contention.take_snapshot()
    while contention.take_snapshot().wall_s - first.wall_s < 0.1:  # /proc/stat ticks: 10 ms
        sum(i * i for i in range(10_000))
    second = contention.take_snapshot()
    window = contention_between(first, second, threads=1)
    assert window.window_s == second.wall_s - first.wall_s
    assert window.cpus == len(os.sched_getaffinity(0))
    assert 0 <= window.contention <= 1 and 0 <= window.runqueue_wait <= 1


BURN = "import time\nend = time.time() + 600\nwhile time.time() < end:\n    pass\n"


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux's /proc")
def test_compare_beside_a_cpu_burner_flags_its_rows(tmp_path):
    """One spinning process per core but one: every row must come out disturbed, the console
    must say so, and --strict must turn it into exit status 3."""
    pytest.importorskip("torch")
    burners = [subprocess.Popen([sys.executable, "-c", BURN])
               for _ in range(max(1, len(os.sched_getaffinity(0)) - 1))]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "scratchnet", "compare", "--layer-sizes", "64,32,10",
             "--n-samples", "256", "--epochs", "2", "--repeats", "3", "--rounds", "1",
             "--strict", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert result.returncode == 3, result.stdout + result.stderr
    assert "exit status 3 (--strict): 2 rows were measured on a busy machine" in result.stderr
    rows = json.loads((tmp_path / "comparison_metrics.json").read_text())
    for row in rows:
        assert row["disturbed"] is True, row
        assert row["contention"] >= contention.DISTURBED_AT, row["contention"]
    assert "WARNING: 2 of 2 rows were measured while other work competed for the CPU" in result.stdout
    assert "scratch_numpy (custom): contention" in result.stdout
    assert "pytorch (custom): contention" in result.stdout
