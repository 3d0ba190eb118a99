"""The scratchnet command, run as a user runs it: in a subprocess."""
import math
import subprocess
import sys

import pytest

from helpers import scratchnet, scratchnet_process
from scratchnet import report as reports


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"]])
def test_help(args):
    result = scratchnet(*args)
    assert result.returncode == 0, result.stderr
    assert "usage: scratchnet" in result.stdout


def test_version():
    from scratchnet import __version__
    result = scratchnet_process("--version")  # the installed command, end to end
    assert result.returncode == 0 and result.stdout.strip() == f"scratchnet {__version__}"


def test_demo_trains_both_and_prints_their_difference():
    pytest.importorskip("torch")
    result = scratchnet_process("demo", "--epochs", "1", "--train-dtype", "float64")  # end to end
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.strip().startswith("scratch_numpy: train accuracy") for line in lines)
    assert any(line.strip().startswith("pytorch: train accuracy") for line in lines)
    difference = [line for line in lines if line.startswith("largest difference")]
    assert difference, result.stdout
    value = float(difference[0].split(": ")[1].split()[0])
    assert value <= 1e-9, difference[0]


def test_bad_arguments_give_a_one_line_error():
    result = scratchnet("demo", "--activations", "relu,gelu", "--epochs", "1")
    assert result.returncode == 2
    assert "unknown activation 'gelu'" in result.stderr and "Traceback" not in result.stderr
    result = scratchnet("demo", "--layer-sizes", "784,x,10")
    assert result.returncode == 2 and "comma-separated integers" in result.stderr


def test_console_script_is_declared():
    import tomllib
    from pathlib import Path
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["scratchnet"] == "scratchnet.cli:main"


COMPARE_TINY = ["compare", "--layer-sizes", "64,16,10", "--n-samples", "64", "--epochs", "1",
                "--repeats", "2", "--threads", "1", "--rounds", "1"]


@pytest.fixture(scope="module")
def tiny_compare(tmp_path_factory):
    """One `compare --roofline --breakdown` run of a tiny network, read by the tests below:
    (result, its report folder)."""
    pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("compare") / "reports"
    # end to end, in a process of its own
    return scratchnet_process(*COMPARE_TINY, "--roofline", "--breakdown", "--out", str(folder)), folder


def test_compare_prints_the_table_and_writes_the_reports(tiny_compare):
    result, folder = tiny_compare
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "progress must stay quiet when stderr is not a terminal"
    lines = result.stdout.splitlines()
    assert lines[0].startswith("framework") and " | status | train_time_per_epoch_s" in lines[0]
    assert lines[2].startswith("scratch_numpy | ok") and lines[3].startswith("pytorch       | ok")
    assert any(line.startswith("Training time per epoch: scratch_numpy") for line in lines)
    assert any(line.startswith("Parity: largest |p_scratch - p_torch|") for line in lines)
    written = sorted(p.name for p in folder.iterdir())
    assert written == ["comparison_breakdown.png", "comparison_curves.png",
                       "comparison_metrics.csv", "comparison_metrics.json",
                       "comparison_metrics.md", "comparison_report.html", "comparison_summary.png"]
    assert "where the time goes (--breakdown)" in result.stdout
    assert "custom (64x16x10): one training step of 32 rows" in result.stdout
    assert any(line.startswith("1 (64x16) | forward: linear") for line in lines)
    import json
    rows = json.loads((folder / "comparison_metrics.json").read_text())
    assert [(r["framework"], r["preset"], r["threads"]) for r in rows] == [
        ("scratch_numpy", "custom", 1), ("pytorch", "custom", 1)]


def test_compare_shows_progress_on_a_terminal(tmp_path):
    pytest.importorskip("torch")
    import os
    import pty
    leader, follower = pty.openpty()
    result = subprocess.run([sys.executable, "-m", "scratchnet", *COMPARE_TINY, "--repeats", "1",
                             "--frameworks", "scratch_numpy", "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=follower, text=True, timeout=300)
    os.close(follower)
    progress = os.read(leader, 65536).decode()
    os.close(leader)
    assert result.returncode == 0
    assert "... scratch_numpy: 1 timed runs after 1 warm-up, in a fresh process (round 1/1)" in progress


def test_compare_without_torch_still_reports(tmp_path):
    from test_repository import BLOCK_TORCH
    code = BLOCK_TORCH + ("from scratchnet.cli import main\n"
                          f"sys.exit(main({COMPARE_TINY + ['--repeats', '1', '--out', str(tmp_path)]!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "pytorch       | skipped" in result.stdout
    import json
    rows = json.loads((tmp_path / "comparison_metrics.json").read_text())
    assert rows[1]["status"] == "skipped" and rows[1]["notes"] == "torch not installed"
    assert rows[0]["status"] == "ok"


def test_compare_bad_arguments_write_nothing(tmp_path):
    result = scratchnet("compare", "--layer-sizes", "64,16,10", "--activations", "relu",
                        "--out", str(tmp_path / "reports"))
    assert result.returncode == 2 and "activations needs len(layer_sizes) - 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "reports").exists()


def test_compare_help_lists_every_api_argument():
    result = scratchnet("compare", "--help")
    for flag in ("--layer-sizes", "--activations", "--n-samples", "--epochs", "--batch-size",
                 "--alpha", "--seed", "--dataset", "--precision", "--loss", "--repeats",
                 "--warmup", "--threads", "--frameworks", "--preset", "--out", "--rounds",
                 "--target-ci", "--max-time", "--strict", "--instructions"):
        assert flag in result.stdout, flag


def test_compare_roofline_prints_and_records_the_rates(tiny_compare):
    result, folder = tiny_compare
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("roofline (training")[1].splitlines()
    assert table[1].split() == ["preset", "|", "scratch_numpy_s", "|", "pytorch_s", "|", "ratio", "|",
                                "scratch_gflops", "|", "torch_gflops", "|", "scratch_sgemm", "|",
                                "torch_sgemm", "|", "scratch_frac", "|", "torch_frac"]
    assert table[3].startswith("custom")
    import json
    rows = json.loads((folder / "comparison_metrics.json").read_text())
    # each worker measured its own roofline, and the table prints the rows' figures
    cells = [cell.strip() for cell in table[3].split("|")]
    by = {row["framework"]: row for row in rows}
    assert cells[6:] == [reports.format_number(by[f][column])
                         for column in ("sgemm_gflops_per_s", "fraction_of_sgemm")
                         for f in ("scratch_numpy", "pytorch")]
    for row in rows:
        assert math.isfinite(row["sgemm_gflops_per_s"])
        assert row["fraction_of_sgemm"] == pytest.approx(row["train_gflops_per_s"]
                                                         / row["sgemm_gflops_per_s"], rel=1e-12)


@pytest.mark.parametrize("args,message", [
    (["--threads", "999"], "threads must be between 1 and"),
    (["--threads", "many"], "expected a number of threads or 'all'"),
    (["--target-ci", "2"], "target_ci must be a number strictly between 0 and 1"),
    (["--target-ci", "0.05", "--max-time", "0"], "max_time must be a positive number of seconds"),
])
def test_compare_refuses_bad_measurement_options_before_running(args, message, tmp_path):
    result = scratchnet(*COMPARE_TINY, *args, "--out", str(tmp_path / "reports"))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "reports").exists()


def test_threads_all_means_every_core_this_process_may_use():
    import os
    from scratchnet.cli import build_parser
    args = build_parser().parse_args(["compare", "--threads", "all"])
    assert args.threads == len(os.sched_getaffinity(0))
