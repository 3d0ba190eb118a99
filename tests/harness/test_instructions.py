"""Instruction counts: the region arithmetic on recorded totals, the missing-valgrind note,
and real valgrind runs that must agree with each other."""
import json
import math

import pytest

import scratchnet
from scratchnet.harness import instructions
from scratchnet.harness.instructions import InstructionCountError, counts_from_regions, make_config

SMALL = dict(layer_sizes=[64, 32, 10], activations=["relu", "softmax"], n_samples=96,
             batch_size=16, alpha=0.1, seed=42)


def test_regions_are_sized_by_their_arithmetic():
    config = make_config(**SMALL)  # a step: 6 x 2368 x 16 flops; so small, both hit the cap
    assert (config["train_steps"], config["inference_runs"]) == (32, 64)
    assert config["dataset"] == "digits" and config["precision"] == "float32"
    default = make_config([784, 64, 10], ["relu", "softmax"], 512, 32, 0.1, 42)
    assert default["train_steps"] == math.ceil(2e8 / (6 * 50816 * 32)) == 21
    assert default["inference_runs"] == math.ceil(2e8 / (2 * 50816 * 128)) == 16
    large = make_config([784, 1024, 1024, 10], ["relu", "relu", "softmax"], 4096, 256, 0.01, 42)
    assert (large["train_steps"], large["inference_runs"]) == (2, 1)  # the floors
    assert make_config(**{**SMALL, "layer_sizes": [30, 8, 10]})["dataset"] == "synthetic"


def test_config_from_a_report_row():
    row = {"layer_sizes": "64x32x10", "activations": "relu,softmax", "loss": "mse",
           "precision": "float32", "dataset": "digits", "n_samples": 96, "batch_size": 16,
           "alpha": 0.1, "seed": 42}
    assert instructions.config_from_row(row) == make_config(**SMALL)


def test_counts_are_the_differences_of_the_regions():
    config = {**make_config(**SMALL), "train_steps": 18, "inference_runs": 2}
    marks = ["0/start", "0/train_a", "0/build", "0/train_b", "0/infer_a", "0/infer_b"]
    totals = [10_000, 1_000_000, 50_000, 1_900_000, 300_000, 580_000]
    counts = counts_from_regions(marks, totals, [config])[0]
    assert counts["train_step_instructions"] == pytest.approx(900_000 / 18)
    assert counts["inference_instructions"] == pytest.approx(280_000 / 2)


def test_an_inference_only_framework_has_no_training_count():
    config = {**make_config(**SMALL), "inference_runs": 2}
    counts = counts_from_regions(["0/start", "0/infer_a", "0/infer_b"], [5, 300, 580], [config])[0]
    assert counts["train_step_instructions"] is None and counts["inference_instructions"] == 140


def test_a_stray_dump_is_an_error_not_a_wrong_figure():
    with pytest.raises(InstructionCountError, match="callgrind wrote 3 region counts but the worker "
                                                    "marked 2 regions"):
        counts_from_regions(["0/start", "0/infer_a"], [1, 2, 3], [make_config(**SMALL)])


def test_dump_totals_are_read_in_callgrind_order(tmp_path):
    for number, total in ((2, 20), (10, 100), (1, 10)):
        (tmp_path / f"callgrind.out.{number}").write_text(f"events: Ir\nfn=x\n1 5\ntotals: {total}\n")
    (tmp_path / "callgrind.out").write_text("totals: 999\n")  # the dump at exit is not a region
    assert instructions.read_dump_totals(tmp_path) == [10, 20, 100]
    (tmp_path / "callgrind.out.11").write_text("events: Ir\n")
    with pytest.raises(InstructionCountError, match="has no total"):
        instructions.read_dump_totals(tmp_path)


def test_without_valgrind_the_columns_stay_empty_with_a_note(monkeypatch):
    monkeypatch.setattr(instructions, "valgrind", lambda: None)
    rows = [{"framework": "scratch_numpy", "status": "ok", "notes": ""},
            {"framework": "pytorch_cuda", "status": "ok", "notes": "x"},
            {"framework": "pytorch", "status": "skipped", "notes": "torch not installed"}]
    instructions.add_instruction_counts(rows)
    assert rows[0]["notes"] == f"instructions not counted: {instructions.INSTALL_HINT}"
    assert "apt-get install valgrind" in rows[0]["notes"]
    assert rows[1]["notes"] == "x; instructions are counted on the CPU only"
    assert rows[2]["notes"] == "torch not installed"
    assert "train_step_instructions" not in rows[0]
    with pytest.raises(InstructionCountError, match="valgrind is not installed"):
        instructions.count_instructions(["scratch_numpy"], [make_config(**SMALL)])


needs_valgrind = pytest.mark.skipif(instructions.valgrind() is None, reason=instructions.INSTALL_HINT)


@pytest.mark.slow
@needs_valgrind
def test_compare_counts_and_a_second_run_agrees(tmp_path):
    """`compare --instructions` fills the columns and prints the table; counting the same
    configuration again, from another process and without PyTorch beside it, gives
    scratch_numpy's figures to the last digit."""
    import subprocess
    import sys
    pytest.importorskip("torch")
    result = subprocess.run(
        [sys.executable, "-m", "scratchnet", "compare", "--layer-sizes", "64,32,10", "--n-samples",
         "96", "--batch-size", "16", "--epochs", "1", "--repeats", "1", "--rounds", "1",
         "--instructions", "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 3), result.stderr  # 3: the machine was busy (--strict is off)
    rows = json.loads((tmp_path / "comparison_metrics.json").read_text())
    table = result.stdout.split("instructions (valgrind")[1].splitlines()
    assert table[1].split(" | ")[0].strip() == "preset" and "custom" in table[3]
    frameworks = [row["framework"] for row in rows]
    assert frameworks == ["scratch_numpy", "pytorch"]
    for row in rows:
        for column in ("train_step_instructions", "inference_instructions"):
            assert row[column] > 1000, (row["framework"], column, row[column])
    again = instructions.count_instructions(["scratch_numpy"],
                                            [instructions.config_from_row(rows[0])])
    second = again["scratch_numpy"]
    assert not isinstance(second, Exception), second
    for column in ("train_step_instructions", "inference_instructions"):
        first, then = rows[0][column], second[0][column]
        assert first == then, f"{column}: {first} then {then} ({abs(first - then) / first:.3%})"


@pytest.mark.slow
@needs_valgrind
def test_more_work_per_step_gives_more_instructions_per_step():
    """A layer four times as wide does about four times the arithmetic per step: the count
    must grow, and by more than its noise."""
    configs = [make_config(**SMALL), make_config(**{**SMALL, "layer_sizes": [64, 128, 10]})]
    counts = instructions.count_instructions(["scratch_numpy"], configs)["scratch_numpy"]
    assert counts[1]["train_step_instructions"] > 1.2 * counts[0]["train_step_instructions"], counts
    assert counts[1]["inference_instructions"] > 1.2 * counts[0]["inference_instructions"], counts


def test_the_worker_environment_does_not_follow_the_callers(monkeypatch):
    """The worker's environment and interpreter name are the same whatever the caller's
    PATH, HOME or other variables (their sizes would move the counts)."""
    import os
    import sys
    monkeypatch.setenv("PATH", "/somewhere/long/bin:" + os.environ.get("PATH", ""))
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.setenv("SOME_TOOL_SETTING", "x" * 300)
    first = instructions.worker_environment()
    monkeypatch.setenv("PATH", "/bin")
    monkeypatch.delenv("HOME")
    monkeypatch.delenv("SOME_TOOL_SETTING")
    assert instructions.worker_environment() == first
    assert first["PATH"] == os.defpath and "HOME" not in first
    assert first["PYTHONPATH"].split(os.pathsep)[0] == os.path.dirname(os.path.dirname(
        os.path.abspath(scratchnet.__file__)))
    assert first["PYTHONHASHSEED"] == "0" and first["OMP_NUM_THREADS"] == "1"
    assert os.path.realpath(instructions.worker_python()) == os.path.realpath(sys.executable)


def test_the_interpreter_has_one_name_however_it_was_reached(monkeypatch):
    """`python` and `pythonX.Y` in one folder (console script against `python -m`) give the
    worker one command line."""
    import os
    import sys
    folder = os.path.dirname(sys.executable)
    names = [os.path.join(folder, name) for name in
             ("python", "python3", "python{}.{}".format(*sys.version_info))]
    same = [name for name in names
            if os.path.exists(name) and os.path.realpath(name) == os.path.realpath(sys.executable)]
    if len(same) < 2:
        pytest.skip(f"only one name of this interpreter in {folder}")
    chosen = set()
    for name in same:
        monkeypatch.setattr(sys, "executable", name)
        chosen.add(instructions.worker_python())
    assert chosen == {names[-1]}, chosen


def test_every_module_has_its_bytecode_before_a_worker_starts():
    """A worker that compiled a module (a fresh checkout has no ``__pycache__``) counted a
    different figure from one that loaded it: ``compile_package`` writes what is missing."""
    import importlib.util
    import os

    import scratchnet
    folder = os.path.dirname(scratchnet.__file__)
    worker_pyc = importlib.util.cache_from_source(os.path.join(folder, "harness",
                                                           "instruction_worker.py"))
    if os.path.exists(worker_pyc):
        os.unlink(worker_pyc)
    instructions.compile_package()
    modules = [os.path.join(root, name) for root, _, names in os.walk(folder)
               for name in names if name.endswith(".py")]
    assert worker_pyc in {importlib.util.cache_from_source(path) for path in modules}
    missing = [path for path in sorted(modules)
               if not os.path.exists(importlib.util.cache_from_source(path))]
    assert not missing, missing
