"""Faults a user meets: training that blows up, outputs that cannot be written, a full disk,
Ctrl-C and kill, running out of memory. Each ends in one line and loses nothing."""
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import one_line, scratchnet_process as scratchnet  # faults: the whole command
from scratchnet import NeuralNetwork
from scratchnet import is_torch_available
from scratchnet.report import FILES

SMALL_COMPARE = ["compare", "--layer-sizes", "64,16,10", "--n-samples", "64", "--epochs", "1",
                 "--repeats", "1", "--rounds", "1", "--warmup", "0"]


def start(*args, cwd=None, env=None):
    return subprocess.Popen([sys.executable, "-m", "scratchnet", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=env)


def snapshot(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


# ------------------------------------------------------------------ divergence
def test_a_diverged_training_never_replaces_a_good_checkpoint(tmp_path):
    NeuralNetwork([64, 24, 10], ["relu", "softmax"], loss="cross_entropy").save(tmp_path / "model.npz")
    before = snapshot(tmp_path)
    result = scratchnet("train", "--layer-sizes", "64,24,10", "--loss", "cross_entropy", "--alpha",
                        "1e6", "--out", "model.npz", cwd=tmp_path)
    assert result.returncode == 2
    assert "training diverged in epoch 1: the loss became" in one_line(result.stderr)
    assert snapshot(tmp_path) == before


def test_a_compare_with_no_row_measured_keeps_the_earlier_reports(tmp_path):
    """Both rows diverge: the console says why for each, the earlier reports stay."""
    for name in FILES.values():
        (tmp_path / name).write_text("an earlier report\n")
    before = snapshot(tmp_path)
    result = scratchnet(*SMALL_COMPARE, "--alpha", "1e6", "--out", str(tmp_path))
    assert result.returncode == 1, result.stderr
    failures = result.stdout.split("not measured:")[1].strip().splitlines()
    rows = ["custom scratch_numpy"] + (["custom pytorch"] if is_torch_available() else [])
    assert [line.split(":")[0].strip() for line in failures[:len(rows)]] == rows
    assert all("training diverged in epoch 1" in line for line in failures[:len(rows)]), failures
    assert "no report was written" in result.stdout
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------- output paths
@pytest.mark.parametrize("out,words", [
    ("", "out must name a folder, got ''"),
    ("afile", "out 'afile' is a file, expected a folder"),
    ("afile/reports", "out 'afile/reports' is inside the file"),
    ("/proc/scratchnet-reports", "out '/proc/scratchnet-reports' cannot be written"),
])
def test_compare_refuses_an_output_folder_it_cannot_write_before_any_work(tmp_path, out, words):
    (tmp_path / "afile").write_text("kept\n")
    result = scratchnet("compare", "--preset", "all", "--out", out, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert words in one_line(result.stderr)
    assert snapshot(tmp_path) == {"afile": b"kept\n"}


@pytest.mark.parametrize("command", [
    ["train", "--layer-sizes", "64,24,10", "--out", "/proc/model.npz"],
    ["export", "--out", "/proc/scratchnet-reports"],
])
def test_other_outputs_are_probed_before_any_work(tmp_path, command):
    result = scratchnet(*command, cwd=tmp_path)
    assert result.returncode == 2 and "epoch 1" not in result.stdout
    assert f"'{command[-1]}' cannot be written" in one_line(result.stderr)


def test_every_preset_is_checked_before_the_first_runs(tmp_path):
    result = scratchnet("compare", "--preset", "all", "--layer-sizes", "784,64,10", "--out",
                        str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert one_line(result.stderr).startswith(
        "scratchnet compare: error: preset deep, with --layer-sizes 784,64,10 in place of its own: "
        "activations needs len(layer_sizes) - 1 = 2 entries")
    assert list(tmp_path.iterdir()) == []


FULL_DISK = """
import resource, signal, sys
from scratchnet.report import COLUMNS, write_reports
rows = [dict(dict.fromkeys(COLUMNS), framework=name, status="ok", layer_sizes="64x16x10",
             train_time_per_epoch_s=t, inference_latency_per_sample_s=t / 100,
             single_sample_latency_s=t / 50, batch_throughput_samples_per_s=1 / t,
             peak_memory_mb=3.0, final_accuracy=0.9, notes="")
        for name, t in (("scratch_numpy", 0.01), ("pytorch", 0.02))]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))  # the PNG is larger
try:
    write_reports(rows, sys.argv[1])
except OSError as exc:
    print(exc)
"""


def test_a_report_set_is_all_new_or_all_old_when_the_disk_fills(tmp_path):
    """The JSON, CSV and Markdown fit under the file-size limit, the PNG does not: no file
    of the earlier set is replaced, no temporary file stays, the error names the PNG."""
    for name in FILES.values():
        (tmp_path / name).write_text("an earlier report\n")
    before = snapshot(tmp_path)
    result = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    png = str(tmp_path / FILES["png"])
    assert result.stdout.strip() == f"cannot write {png!r}: File too large", result.stdout
    assert snapshot(tmp_path) == before


def test_a_late_write_failure_names_the_users_path(tmp_path):
    """A checkpoint that does not fit: the error names model.npz, not a temporary file."""
    script = ("import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
              "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)); "
              "from scratchnet.cli import main; raise SystemExit(main(["
              "'train', '--layer-sizes', '64,24,10', '--epochs', '1', '--out', 'model.npz']))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert one_line(result.stderr) == ("scratchnet train: error: cannot write 'model.npz': "
                                       "File too large")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ memory, signals
def test_out_of_memory_is_one_line_with_the_size(tmp_path):
    result = scratchnet("train", "--layer-sizes", "784,20000000,10", "--out", "model.npz",
                        cwd=tmp_path)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("scratchnet train: error: out of memory: Unable to allocate"), line
    assert "(784, 20000000)" in line
    assert list(tmp_path.iterdir()) == []


def _wait_for(predicate, timeout=60.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _workers_of(parent_pid):
    """Process ids of compare workers started by ``parent_pid`` (their last argument)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    argv = handle.read().split(b"\0")
            except OSError:
                continue
            if b"scratchnet.harness.worker" in argv and str(parent_pid).encode() in argv:
                found.append(int(entry))
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@needs_linux
@pytest.mark.parametrize("sig,status,word", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "terminated")])
def test_a_signal_during_compare_is_one_line_and_leaves_nothing(tmp_path, sig, status, word):
    """While a worker runs: exit 130 or 143, one line, no report, no temporary folder left,
    no worker left running."""
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    os.mkdir(tmp_path / "tmp")
    process = start(*SMALL_COMPARE, "--out", str(tmp_path / "reports"), env=env)
    _wait_for(lambda: _workers_of(process.pid), what="a worker")
    workers = _workers_of(process.pid)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    assert one_line(stderr) == f"scratchnet compare: {word}; nothing written"
    _wait_for(lambda: not any(_alive(pid) for pid in workers), timeout=10, what="the worker to end")
    assert os.listdir(tmp_path / "tmp") == [] and not (tmp_path / "reports").exists()


@needs_linux
def test_a_worker_dies_with_its_killed_parent(tmp_path):
    """SIGKILL: nothing can clean up after it (the job's temporary folder stays, here in
    tmp_path), but the worker must not go on alone."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    process = start(*SMALL_COMPARE, "--out", str(tmp_path / "reports"), env=env)
    _wait_for(lambda: _workers_of(process.pid), what="a worker")
    workers = _workers_of(process.pid)
    process.kill()
    process.communicate(timeout=60)
    _wait_for(lambda: not any(_alive(pid) for pid in workers), timeout=10, what="the worker to end")


def test_ctrl_c_during_train_is_one_line_and_writes_nothing(tmp_path):
    process = start("train", "--layer-sizes", "64,24,10", "--epochs", "100000", "--out",
                    "model.npz", cwd=tmp_path)
    assert process.stdout.readline().startswith("training scratch_numpy")
    assert process.stdout.readline().startswith("epoch 1/100000")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert one_line(stderr) == "scratchnet train: interrupted; nothing written"
    assert list(tmp_path.iterdir()) == []


def test_a_hung_worker_is_stopped_and_its_row_is_an_error(monkeypatch):
    from scratchnet.harness import compare
    from scratchnet.harness.config import WORKER_TIMEOUT, Config
    assert Config.of(layer_sizes=[64, 16, 10], activations=["relu", "softmax"]).time_limit \
        == WORKER_TIMEOUT
    rows = compare.benchmark_scratch_vs_torch([64, 16, 10], ["relu", "softmax"], n_samples=64,
                                              epochs=1, repeats=1, rounds=1, time_limit=0.01,
                                              frameworks=["scratch_numpy"])
    assert rows[0]["status"] == "error"
    assert rows[0]["notes"] == "worker process ran longer than 0.01 s and was stopped (time_limit)"
    rows = compare.benchmark_scratch_vs_torch([64, 16, 10], ["relu", "softmax"], n_samples=64,
                                              epochs=1, repeats=1, rounds=1, time_limit=0.02,
                                              frameworks=["scratch_numpy"])
    assert rows[0]["notes"] == "worker process ran longer than 0.02 s and was stopped (time_limit)"
    with pytest.raises(ValueError, match="time_limit must be a positive number of seconds"):
        compare.benchmark_scratch_vs_torch([64, 16, 10], ["relu", "softmax"], time_limit=0)
