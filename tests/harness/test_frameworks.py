"""The framework registry, and a user's own class measured beside the built-in rows
(``compare(models=...)``, ``scratchnet compare --model``)."""
import json
import os
import subprocess
import sys

import pytest

from helpers import scratchnet
from scratchnet.harness import compare, frameworks
from scratchnet.harness import runner
from scratchnet.report import COLUMNS, PARITY_LIMIT

STUDENTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "students")
STUDENT_FILE = os.path.join(STUDENTS, "student_mlp.py")
sys.path.insert(0, STUDENTS)
import student_mlp  # noqa: E402

TINY = dict(layer_sizes=[64, 16, 10], activations=["relu", "softmax"], n_samples=96, epochs=2,
            batch_size=16, alpha=0.1, seed=42, repeats=2, warmup=1, rounds=1, threads=1)


def test_every_entry_says_whether_it_can_run_and_the_defaults_can():
    for name, entry in frameworks.REGISTRY.items():
        reason = entry.unavailable()
        assert reason is None or (isinstance(reason, str) and reason), name
        assert entry.name == name and entry.summary and entry.color.startswith("#")
    assert frameworks.default_names()[:2] == ["scratch_numpy", "pytorch"]
    assert frameworks.checkpoint_names() == ("scratch_numpy", "pytorch")
    assert list(compare.FRAMEWORKS) == list(frameworks.REGISTRY)


def test_a_class_is_named_by_its_module_where_a_fresh_process_can_import_it():
    assert frameworks.class_spec(student_mlp.StudentNetwork) == "student_mlp:StudentNetwork"
    entry = frameworks.user_framework("mine", STUDENT_FILE + ":MissingMseFactor", "in_out")
    assert entry.spec == f"{STUDENT_FILE}:MissingMseFactor" and entry.color == "#7f7f7f"


def _inner():
    class Local:
        pass
    return Local


@pytest.mark.parametrize("name,model,layout,error,words", [
    ("scratch_numpy", student_mlp.StudentNetwork, "in_out", ValueError, "a built-in framework's name"),
    ("PyTorch", student_mlp.StudentNetwork, "in_out", ValueError, "a built-in framework's name"),
    ("my row!", student_mlp.StudentNetwork, "in_out", ValueError, "a row name must be a letter"),
    ("mine", student_mlp.StudentNetwork, "sideways", ValueError, "layout must be one of"),
    ("mine", _inner(), "in_out", ValueError, "defined inside a function"),
    ("mine", 42, "in_out", TypeError, "must be a class or 'module:Class'"),
    ("mine", "student_mlp:NoSuchClass", "in_out", ValueError, "has no class 'NoSuchClass'"),
    ("mine", "no/such/file.py:Net", "in_out", ValueError, "does not exist"),
])
def test_a_bad_user_model_is_refused_before_anything_runs(monkeypatch, name, model, layout, error, words):
    monkeypatch.setattr(runner, "run_isolated", lambda *a: pytest.fail("a worker was started"))
    with pytest.raises(error, match=words):
        compare.benchmark_scratch_vs_torch(**TINY, models={name: model}, layout=layout)


@pytest.fixture(scope="module")
def user_rows():
    pytest.importorskip("torch")
    return compare.benchmark_scratch_vs_torch(
        **TINY, precision="float64", models={"student": student_mlp.StudentNetwork,
                                             "half": STUDENT_FILE + ":MissingMseFactor"})


def test_user_rows_are_measured_like_the_built_in_ones(user_rows):
    by_name = {row["framework"]: row for row in user_rows}
    assert list(by_name) == ["scratch_numpy", "pytorch", "student", "half"]
    assert list(by_name["student"]) == COLUMNS
    for name in ("student", "half"):
        row = by_name[name]
        assert row["status"] == "ok", row["notes"]
        assert row["notes"].startswith("your class ")
        for column in ("train_time_per_epoch_s", "inference_latency_per_sample_s",
                       "single_sample_latency_s", "batch_throughput_samples_per_s",
                       "peak_memory_mb", "final_accuracy"):
            assert row[column] is not None, (name, column)


def test_a_user_rows_ratios_are_its_time_over_the_twins(user_rows):
    torch_row = user_rows[1]
    for row in user_rows[2:]:
        for column, ratio in (("train_time_per_epoch_s", "train_time_ratio"),
                              ("inference_latency_per_sample_s", "inference_latency_ratio"),
                              ("single_sample_latency_s", "single_sample_latency_ratio")):
            assert row[ratio] == pytest.approx(row[column] / torch_row[column], rel=1e-12)
            assert row[f"{ratio}_ci_low"] <= row[ratio] <= row[f"{ratio}_ci_high"]


def test_a_correct_class_matches_the_twin_and_a_wrong_one_does_not(user_rows):
    student, half = user_rows[2], user_rows[3]
    # float64, same initial weights, same batches: the correct class agrees to round-off
    assert student["parity_max_abs_diff"] <= PARITY_LIMIT["float64"], student["parity_max_abs_diff"]
    assert student["final_accuracy"] == user_rows[1]["final_accuracy"]
    assert half["parity_max_abs_diff"] > 1e-3, half["parity_max_abs_diff"]
    from scratchnet.report import interpretation
    text = interpretation(user_rows)
    assert "Parity: largest |p_student - p_torch|" in text
    assert ("above 1e-08: scratchnet check on this network and loss, with its own 50 samples "
            "(one SGD step (full batch)): every W and b update is exactly 0.5 times the twin's"
            in text)
    assert "is the MSE gradient missing its 2?" in half["diagnosis"]
    assert "student does not compute" not in text


def test_a_class_defined_in_the_script_that_runs_the_comparison(tmp_path):
    """A class from ``__main__`` is loaded in the worker from the script's file, where its
    main block does not run; without that guard the worker refuses to start another
    comparison instead of recursing."""
    pytest.importorskip("torch")
    body = ("import json, sys\n"
            f"sys.path.insert(0, {STUDENTS!r})\n"
            "from student_mlp import StudentNetwork\n"
            "from scratchnet.compare import benchmark_scratch_vs_torch\n"
            "class Mine(StudentNetwork):\n    pass\n"
            "def run():\n"
            f"    rows = benchmark_scratch_vs_torch(**{TINY!r}, models={{'mine': Mine}})\n"
            "    print(json.dumps([[r['framework'], r['status'], r['notes']] for r in rows]))\n")
    guarded, unguarded = tmp_path / "guarded.py", tmp_path / "unguarded.py"
    guarded.write_text(body + "if __name__ == '__main__':\n    run()\n")
    unguarded.write_text(body + "run()\n")
    results = {}
    for script in (guarded, unguarded):
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        results[script.stem] = {name: (status, notes) for name, status, notes
                                in json.loads(done.stdout.splitlines()[-1])}
    assert results["guarded"]["mine"][0] == "ok"
    assert f"your class {guarded}:Mine" in results["guarded"]["mine"][1]
    status, notes = results["unguarded"]["mine"]
    assert status == "error" and 'if __name__ == "__main__"' in notes, notes


def test_compare_model_puts_the_row_in_every_report(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "reports"
    result = scratchnet("compare", "--layer-sizes", "64,16,10", "--n-samples", "64", "--epochs", "1",
                        "--repeats", "2", "--threads", "1", "--rounds", "2",
                        "--model", f"{STUDENT_FILE}:TransposedStudent", "--layout", "out_in",
                        "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = json.loads((out / "comparison_metrics.json").read_text())
    assert [row["framework"] for row in rows] == ["scratch_numpy", "pytorch", "TransposedStudent"]
    row = rows[2]
    assert row["status"] == "ok" and "(layout out_in)" in row["notes"]
    assert row["parity_max_abs_diff"] <= PARITY_LIMIT["float32"]
    assert "TransposedStudent" in (out / "comparison_metrics.csv").read_text()
    assert "| TransposedStudent |" in (out / "comparison_metrics.md").read_text()
    assert "Training time per epoch: TransposedStudent " in result.stdout
    assert "Parity: largest |p_TransposedStudent - p_torch|" in result.stdout


@pytest.mark.parametrize("args,words", [
    (["--model", "nothing-here"], "model must be 'package.module:ClassName'"),
    (["--model", "a=student_mlp:StudentNetwork", "--model", "a=student_mlp:MissingMseFactor"],
     "two rows named 'a'"),
    (["--model", "pytorch=student_mlp:StudentNetwork"], "a built-in framework's name"),
])
def test_compare_model_refuses_bad_values_in_one_line(tmp_path, args, words):
    env = {**os.environ, "PYTHONPATH": STUDENTS}
    result = scratchnet("compare", *args, "--out", str(tmp_path / "reports"), env=env)
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "reports").exists()


def test_without_torch_a_user_row_is_measured_and_compared_with_the_numpy_network(monkeypatch):
    from scratchnet.nn import torch_network as pytorch_model
    from scratchnet.report import interpretation
    monkeypatch.setattr(pytorch_model, "is_torch_available", lambda: False)
    rows = compare.benchmark_scratch_vs_torch(**TINY, precision="float64",
                                              models={"student": student_mlp.StudentNetwork})
    scratch, torch_row, student = rows
    assert torch_row["status"] == "skipped" and student["status"] == "ok", student["notes"]
    assert student["parity_max_abs_diff"] <= PARITY_LIMIT["float64"]
    assert "parity against scratch_numpy: the twin did not run" in student["notes"]
    assert student["train_time_ratio"] is None
    assert "student: no ratio: the pytorch row must be ok; parity against scratch_numpy" in interpretation(rows)


@pytest.fixture(scope="module")
def broken_rows():
    pytest.importorskip("torch")
    return {row["framework"]: row for row in compare.benchmark_scratch_vs_torch(
        **TINY, frameworks=["scratch_numpy"],
        models={"nan": student_mlp.NaNAfterFit, "raises": student_mlp.FitRaises,
                "transposed": student_mlp.TransposedStudent})}


def test_a_class_whose_outputs_go_nan_is_an_error_row(broken_rows):
    row = broken_rows["nan"]
    assert row["status"] == "error" and "forward returned nan" in row["notes"], row["notes"]
    assert "on the held-out split after fit" in row["notes"]
    assert broken_rows["scratch_numpy"]["status"] == "ok"


def test_an_error_row_points_at_the_users_own_line(broken_rows):
    notes = broken_rows["raises"]["notes"]
    assert "ValueError: the student's own error (at student_mlp.py:" in notes, notes


def test_a_shape_error_suggests_the_layout(broken_rows):
    notes = broken_rows["transposed"]["notes"]
    assert "if your class stores W as (fan_out, fan_in), use --layout out_in" in notes, notes


def test_a_module_that_starts_a_comparison_when_imported_is_refused_at_once(tmp_path):
    module = tmp_path / "eager.py"
    module.write_text(f"import sys\nsys.path.insert(0, {STUDENTS!r})\n"
                      "from student_mlp import StudentNetwork as Net\n"
                      "from scratchnet.compare import benchmark_scratch_vs_torch\n"
                      "benchmark_scratch_vs_torch([64, 16, 10], ['relu', 'softmax'])\n")
    result = scratchnet("compare", "--model", f"{module}:Net", "--out", str(tmp_path / "reports"))
    assert result.returncode == 2, result.stderr
    assert "a comparison was started while scratchnet imported the module" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "reports").exists()


def test_a_class_from_a_script_on_stdin_is_refused_before_anything_runs():
    script = (f"import sys\nsys.path.insert(0, {STUDENTS!r})\n"
              "from student_mlp import StudentNetwork\n"
              "from scratchnet.compare import benchmark_scratch_vs_torch\n"
              "class Mine(StudentNetwork):\n    pass\n"
              "try:\n    benchmark_scratch_vs_torch([64, 16, 10], ['relu', 'softmax'], "
              "models={'mine': Mine})\n"
              "except ValueError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True,
                          timeout=120)
    assert "Mine was defined interactively" in done.stdout, done.stdout + done.stderr


def test_the_console_script_imports_a_module_from_the_current_folder():
    import shutil
    command = shutil.which("scratchnet")
    if command is None:
        pytest.skip("the scratchnet console script is not installed")
    done = subprocess.run([command, "check", "student_mlp:StudentNetwork"], cwd=STUDENTS,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
