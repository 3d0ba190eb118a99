"""The asv suite, run for real, and the exporter fed with its results.

A module fixture runs real asv (``asv run -E existing --quick``) on a subset
of the suite, with its own HOME (asv keeps its machine file there), config
and results folder. Edge cases (failed, skipped, several machines, corrupt
files) are made by editing copies of that real output.
"""
import csv
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scratchnet import asv_export, compare, reports

pytest.importorskip("torch")
pytest.importorskip("asv")
pytestmark = pytest.mark.slow  # real asv runs
ROOT = Path(__file__).parents[1]
SUBSET = "time_train_epoch|track_parity|time_sgemm"


def asv(work, *args, config="asv.json", **environment):
    env = {**os.environ, "HOME": str(work), **environment}
    result = subprocess.run([sys.executable, "-m", "asv", *args, "--config", str(work / config)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def asv_work(tmp_path_factory):
    import json5  # asv's own config reader, installed with it
    work = tmp_path_factory.mktemp("asv")
    # The project's asv.conf.json, with every path moved under the temporary folder.
    config = json5.loads((ROOT / "asv.conf.json").read_text())
    config.update(repo=str(ROOT), benchmark_dir=str(ROOT / "benchmarks"),
                  results_dir=str(work / "results"), html_dir=str(work / "html"),
                  env_dir=str(work / "env"))
    (work / "asv.json").write_text(json.dumps(config))
    asv(work, "machine", "--yes", "--machine", "testbox")
    return work


@pytest.fixture(scope="module")
def real_results(asv_work):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    asv(asv_work, "run", "-E", "existing", "--quick", "--record-samples", "--bench", SUBSET,
        "--machine", "testbox", "--set-commit-hash", head)
    return asv_work / "results", head


def test_asv_check_passes_for_the_whole_suite(asv_work):
    output = asv(asv_work, "check", "-E", "existing")
    assert "No problems found" in output


#: Run in a fresh interpreter whose ``scratchnet`` is an old commit's: every benchmark of the
#: suite called as asv calls it (setup_cache once per class, its value, never None, passed
#: first; setup; then the benchmark) on the default preset, printing each one's outcome.
AS_ASV_CALLS = r"""
import inspect, itertools, json, sys, traceback
# as in asv's environment, only the commit's package: an editable install's finder would
# otherwise supply the modules the old commit lacks from the working tree
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
import scratchnet
assert scratchnet.__file__.startswith(sys.argv[2]), scratchnet.__file__
sys.path.insert(0, sys.argv[1])
import benchmarks.inference, benchmarks.instructions, benchmarks.performance
import benchmarks.quality, benchmarks.training
outcome = {}
for module in (benchmarks.inference, benchmarks.instructions, benchmarks.performance,
               benchmarks.quality, benchmarks.training):
    for name, cls in vars(module).items():
        methods = [m for m in vars(cls) if m.startswith(("time_", "track_"))] if inspect.isclass(cls) else []
        if not methods or cls.__module__ != module.__name__:
            continue
        cache = cls().setup_cache() if hasattr(cls, "setup_cache") else None
        assert not hasattr(cls, "setup_cache") or cache is not None, name
        params = [[p for p in values if p in ("scratch_numpy", "pytorch", "onnxruntime", "default")]
                  for values in getattr(cls, "params", [])]
        for combo in itertools.product(*params):
            for method in methods:
                key = f"{module.__name__.split('.')[-1]}.{name}.{method}{combo}"
                bench, args = cls(), ([cache] if cache is not None else []) + list(combo)
                try:
                    if hasattr(bench, "setup"):
                        bench.setup(*args)
                    getattr(bench, method)(*args)
                    outcome[key] = "ok"
                except NotImplementedError as exc:
                    outcome[key] = "skipped"
                except Exception:
                    outcome[key] = "failed: " + traceback.format_exc(limit=3)
print(json.dumps(outcome))
"""


def test_the_suite_skips_what_the_first_commit_lacks(tmp_path):
    """The current suite against the code of the repository's first commit: what that commit
    lacks is skipped (NotImplementedError from setup, or a cache saying why), everything else
    runs, nothing fails. (asv itself does this at an old commit by building its wheel into
    its environment, which takes minutes; here the first commit's package is put first on
    the path of a fresh interpreter.)"""
    first = subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()[-1]
    old = tmp_path / "first-commit"
    old.mkdir()
    archive = subprocess.run(["git", "archive", first, "scratchnet"], cwd=ROOT, capture_output=True,
                             check=True)
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    assert not (old / "scratchnet" / "benchmark.py").exists()  # so some benchmarks must skip
    suite = tmp_path / "suite"
    shutil.copytree(ROOT / "benchmarks", suite / "benchmarks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-c", AS_ASV_CALLS, str(suite), str(old)], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(old)}, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.splitlines()[-1])
    failed = {key: why for key, why in outcome.items() if why.startswith("failed")}
    assert not failed, failed
    assert outcome["training.MemoryAboveBaseline.track_train_memory_mb('pytorch', 'default')"] == "skipped"
    assert outcome["instructions.Instructions.track_train_step_instructions('pytorch', 'default')"] == "skipped"
    assert outcome["inference.Inference.time_inference('onnxruntime', 'default')"] == "skipped"
    assert outcome["training.Training.time_train_epoch('pytorch', 'default')"] == "ok"
    assert outcome["quality.Parity.track_parity('default',)"] == "ok"
    assert outcome["performance.Sgemm.time_sgemm()"] == "ok"


def test_presets_match_the_comparison_harness():
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.common import PRESETS, held_out_size
    finally:
        sys.path.remove(str(ROOT))
    assert PRESETS == compare.PRESETS
    assert all(held_out_size(n) == compare.held_out_size(n) for n in (8, 500, 512, 1000))


def test_exporter_turns_a_real_asv_run_into_the_reports(real_results, tmp_path):
    results, head = real_results
    rows, paths = asv_export.export(results, out=tmp_path)
    assert [(r["preset"], r["framework"]) for r in rows] == [
        (p, f) for p in ("default", "deep", "wide") for f in ("scratch_numpy", "pytorch")]
    data = json.loads(next(p for p in (results / "testbox").iterdir() if p.name != "machine.json").read_text())
    stored = stored_by_params(data, "training.Training.time_train_epoch")
    for row in rows:
        assert list(row) == reports.COLUMNS
        assert row["status"] == "ok" and row["commit"] == head and row["machine"] == "testbox"
        # the figure and its spread are asv's own: the median and the samples' extremes
        value, samples = stored[row["framework"], row["preset"]]
        assert math.isfinite(value) and row["train_time_per_epoch_s"] == value
        assert (row["train_time_per_epoch_s_min"], row["train_time_per_epoch_s_max"]) == (min(samples), max(samples))
        assert 0 <= row["parity_max_abs_diff"] <= 1e-4
        assert row["batch_throughput_samples_per_s"] is None
        assert "not measured by the asv suite: batch_throughput_samples_per_s" in row["notes"]
    written = reports.read_json(paths["json"])
    assert written == json.loads(json.dumps(rows))
    assert reports.read_csv(paths["csv"])[0]["framework"] == "scratch_numpy"
    assert Path(paths["png"]).stat().st_size > 10_000 and Path(paths["markdown"]).read_text().startswith("| framework")
    # derived from the time_ benchmarks: the roofline as compare --roofline computes it, and
    # the ratio of the two medians; one sample a side (--quick): no interval, and it says so
    sgemm_seconds = dict(zip(data["result_columns"], data["results"]["performance.Sgemm.time_sgemm"]))["result"][0]
    by = {(r["preset"], r["framework"]): r for r in rows}
    for row in rows:
        assert row["sgemm_gflops_per_s"] == pytest.approx(2 * 2048 ** 3 / sgemm_seconds / 1e9)
        flops = compare.training_flops_per_epoch(compare.PRESETS[row["preset"]]["layer_sizes"],
                                                 row["n_samples"])
        assert row["train_gflops_per_s"] == pytest.approx(flops / row["train_time_per_epoch_s"] / 1e9)
        assert row["fraction_of_sgemm"] == pytest.approx(row["train_gflops_per_s"] / row["sgemm_gflops_per_s"])
        if row["framework"] == "pytorch":
            scratch = by[row["preset"], "scratch_numpy"]
            assert row["train_time_ratio"] == pytest.approx(
                scratch["train_time_per_epoch_s"] / row["train_time_per_epoch_s"])
            assert row["train_time_ratio_ci_low"] is None and row["train_time_ratio_ci_high"] is None
            assert "ratios without an interval: fewer than 5 samples a side" in row["notes"]
        else:
            assert row["train_time_ratio"] is None
    history = list(csv.DictReader(open(paths["history_csv"])))
    # time_train_epoch: 2 x 3; parity: 3 presets on both rows; the sgemm rate once; GFLOP/s
    # and fraction of sgemm: 2 x 3 each; the time ratio: 3 presets on pytorch's row
    assert len(history) == 6 + 6 + 1 + 6 + 6 + 3
    assert {h["metric"] for h in history} == {
        "train_time_per_epoch_s", "parity_max_abs_diff", "sgemm_gflops_per_s",
        "train_gflops_per_s", "fraction_of_sgemm", "train_time_ratio"}
    # runs: one timed run each with --quick (hollow points in the PNG); a track has none
    assert {h["runs"] for h in history if h["metric"] != "parity_max_abs_diff"} == {"1"}
    assert {h["runs"] for h in history if h["metric"] == "parity_max_abs_diff"} == {""}
    # started_utc: when asv ran the row's first benchmark, not the commit's date
    fields = dict(zip(data["result_columns"], data["results"]["training.Training.time_train_epoch"]))
    started = asv_export._iso(min(fields["started_at"], dict(zip(
        data["result_columns"], data["results"]["quality.Parity.track_parity"]))["started_at"]))
    assert {row["started_utc"] for row in rows} == {started}
    assert all("spread: min-max of asv's samples" in row["notes"] for row in rows)


def stored_by_params(data, name):
    """{parameter tuple: (value, samples)} of one benchmark in an asv result file."""
    import ast
    import itertools
    fields = dict(zip(data["result_columns"], data["results"][name]))
    combos = itertools.product(*[[ast.literal_eval(p) for p in values] for values in fields["params"]])
    return dict(zip(combos, zip(fields["result"], fields["samples"])))


@pytest.fixture(scope="module")
def inference_results(asv_work):
    """A real asv run of the single-sample inference benchmark, onnxruntime row included,
    into a results folder of its own."""
    pytest.importorskip("onnxruntime")
    config = json.loads((asv_work / "asv.json").read_text())
    config["results_dir"] = str(asv_work / "results-inference")
    (asv_work / "asv-inference.json").write_text(json.dumps(config))
    asv(asv_work, "run", "-E", "existing", "--quick", "--record-samples", "--bench",
        "Inference.time_inference_single", "--machine", "testbox", "--set-commit-hash", "HEAD",
        config="asv-inference.json")
    return asv_work / "results-inference"


def test_the_onnxruntime_inference_benchmark_runs_and_is_exported(inference_results, tmp_path):
    rows, _ = asv_export.export(inference_results, out=tmp_path)
    assert [(r["preset"], r["framework"]) for r in rows] == [
        (p, f) for p in ("default", "deep", "wide") for f in ("scratch_numpy", "pytorch", "onnxruntime")]
    data = json.loads(next(p for p in (inference_results / "testbox").iterdir()
                           if p.name != "machine.json").read_text())
    stored = stored_by_params(data, "inference.Inference.time_inference_single")
    for row in rows:
        assert row["status"] == "ok", row["notes"]
        value, _ = stored[row["framework"], row["preset"]]
        assert math.isfinite(value) and row["single_sample_latency_s"] == value
        assert row["train_time_per_epoch_s"] is None
    assert all("inference only" in r["notes"] for r in rows if r["framework"] == "onnxruntime")


def copy_results(real_results, tmp_path):
    results, head = real_results
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    files = [p for p in (copy / "testbox").iterdir() if p.name != "machine.json"]
    assert len(files) == 1
    return copy, files[0], head


def edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))  # json writes NaN as asv does


def test_failed_and_skipped_benchmarks_become_rows(real_results, tmp_path):
    results, path, _ = copy_results(real_results, tmp_path)

    def change(data):
        entry = data["results"]["training.Training.time_train_epoch"]
        entry[0][3] = None  # pytorch, default: failed
        entry[0][1] = math.nan  # scratch_numpy, deep: skipped
        data["results"]["quality.Parity.track_parity"][0] = None  # the whole benchmark failed

    edit(path, change)
    rows, _ = asv_export.export(results, out=tmp_path / "out")
    by = {(r["preset"], r["framework"]): r for r in rows}
    assert by["default", "pytorch"]["status"] == "error"
    assert "failed: time_train_epoch, track_parity" in by["default", "pytorch"]["notes"]
    assert by["default", "pytorch"]["train_time_per_epoch_s"] is None
    assert by["deep", "scratch_numpy"]["status"] == "error"  # its parity failed too
    assert "skipped: time_train_epoch" in by["deep", "scratch_numpy"]["notes"]


def test_a_skipped_only_row_is_skipped(real_results, tmp_path):
    results, path, _ = copy_results(real_results, tmp_path)

    def change(data):
        data["results"]["training.Training.time_train_epoch"][0] = [math.nan] * 6
        del data["results"]["quality.Parity.track_parity"]

    edit(path, change)
    rows, _ = asv_export.export(results, out=tmp_path / "out")
    assert {r["status"] for r in rows} == {"skipped"}


def test_a_result_of_another_benchmark_version_is_left_out(real_results, tmp_path):
    """As asv publish does: a result whose stored version is not the suite's is dropped."""
    results, path, _ = copy_results(real_results, tmp_path)

    def change(data):
        column = data["result_columns"].index("version")
        data["results"]["training.Training.time_train_epoch"][column] = "an older version"

    edit(path, change)
    rows, paths = asv_export.export(results, out=tmp_path / "out")
    assert all(row["train_time_per_epoch_s"] is None for row in rows)
    assert all(row["status"] == "ok" and row["parity_max_abs_diff"] is not None for row in rows)
    history = list(csv.DictReader(open(paths["history_csv"])))
    assert {h["metric"] for h in history} == {"parity_max_abs_diff", "sgemm_gflops_per_s"}


def move_result(data, results, old, new):
    """The result of benchmark ``old`` stored as that of ``new`` (same parameters), with
    ``new``'s current version, as if asv had run it."""
    version = json.loads((results / "benchmarks.json").read_text())[new]["version"]
    entry = data["results"].pop(old)
    entry[data["result_columns"].index("version")] = version
    data["results"][new] = entry


def test_a_track_does_not_ask_for_samples(real_results, tmp_path):
    """Only time_ benchmarks have samples to record: rows measured by tracks alone get no
    "--record-samples" advice."""
    results, path, _ = copy_results(real_results, tmp_path)
    edit(path, lambda data: move_result(data, results, "training.Training.time_train_epoch",
                                        "training.MemoryAboveBaseline.track_train_memory_mb"))
    rows, _ = asv_export.export(results, out=tmp_path / "out")
    assert rows and all(row["peak_memory_mb"] is not None for row in rows)
    assert all(row["status"] == "ok" for row in rows)
    assert not any("--record-samples" in row["notes"] for row in rows), rows[0]["notes"]


def test_the_error_rate_is_reported_as_accuracy(real_results, tmp_path):
    """The suite tracks 1 - accuracy (lower is better, as asv's gate reads every figure);
    the reports show the accuracy."""
    results, path, _ = copy_results(real_results, tmp_path)
    edit(path, lambda data: move_result(data, results, "training.Training.time_train_epoch",
                                        "quality.Accuracy.track_error_rate"))
    stored = stored_by_params(json.loads(path.read_text()), "quality.Accuracy.track_error_rate")
    rows, _ = asv_export.export(results, out=tmp_path / "out")
    for row in rows:
        assert row["final_accuracy"] == pytest.approx(1 - stored[row["framework"], row["preset"]][0])


def test_ratio_intervals_come_from_the_samples(real_results, tmp_path):
    """With samples (a full asv run), each ratio gets the bootstrap interval of
    scratchnet.ratios, and the summary's whiskers the samples' quartiles."""
    from scratchnet.ratios import ratio_with_interval
    results, path, _ = copy_results(real_results, tmp_path)
    timed = {"'scratch_numpy'": [0.010, 0.011, 0.0105, 0.0102, 0.0099, 0.0300, 0.0101],
             "'pytorch'": [0.020, 0.021, 0.0195, 0.0202, 0.0199, 0.0201, 0.0203]}

    def change(data):
        fields = dict(zip(data["result_columns"], data["results"]["training.Training.time_train_epoch"]))
        combos = list(itertools.product(*fields["params"]))
        fields["samples"] = [timed[framework] for framework, _ in combos]
        fields["result"] = [float(np.median(timed[framework])) for framework, _ in combos]
        fields["stats_repeat"] = [7] * len(combos)
        data["results"]["training.Training.time_train_epoch"] = [
            fields.get(column) for column in data["result_columns"]]

    edit(path, change)
    rows, _ = asv_export.export(results, out=tmp_path / "out")
    expected = ratio_with_interval([timed["'scratch_numpy'"]], [timed["'pytorch'"]])
    for row in rows:
        samples = timed[repr(row["framework"])]
        assert (row["train_time_per_epoch_s_q25"], row["train_time_per_epoch_s_q75"]) == \
            tuple(np.percentile(samples, [25, 75]))
        if row["framework"] == "pytorch":
            assert (row["train_time_ratio"], row["train_time_ratio_ci_low"],
                    row["train_time_ratio_ci_high"]) == (expected.value, expected.low, expected.high)
            assert row["train_time_ratio_ci_low"] < row["train_time_ratio"] < row["train_time_ratio_ci_high"]
            assert "ratio intervals: bootstrap of asv's samples" in row["notes"]


def test_history_spans_commits(real_results, tmp_path):
    results, path, head = copy_results(real_results, tmp_path)
    older = path.with_name("00000000-" + path.name.split("-", 1)[1])
    shutil.copy(path, older)
    edit(older, lambda d: d.update(commit_hash="0" * 40, date=d["date"] - 86_400_000))
    rows, paths = asv_export.export(results, out=tmp_path / "out")
    assert rows[0]["commit"] == head  # the newest by default
    history = list(csv.DictReader(open(paths["history_csv"])))
    assert [h["commit"] for h in history[:1]] == ["0" * 40]  # oldest first
    assert len(history) == 2 * 28
    assert open(paths["history_png"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    rows, _ = asv_export.export(results, commit="0" * 12, out=tmp_path / "old")
    assert rows[0]["commit"] == "0" * 40
    # not hex, so no commit hash can start with it
    with pytest.raises(ValueError, match="commit 'xyz' has no results for machine 'testbox'"):
        asv_export.export(results, commit="xyz", out=tmp_path / "x")


def test_several_machines_need_a_choice(real_results, tmp_path):
    results, _, _ = copy_results(real_results, tmp_path)
    shutil.copytree(results / "testbox", results / "otherbox")
    with pytest.raises(ValueError, match=r"several machines \(otherbox, testbox\); pick one with --machine"):
        asv_export.export(results, out=tmp_path / "out")
    rows, _ = asv_export.export(results, machine="otherbox", out=tmp_path / "out")
    assert {r["machine"] for r in rows} == {"otherbox"}
    with pytest.raises(ValueError, match="machine 'nobox' has no results"):
        asv_export.export(results, machine="nobox", out=tmp_path / "out")


def test_corrupt_missing_and_empty_results_are_named(real_results, tmp_path):
    results, path, _ = copy_results(real_results, tmp_path)
    path.write_text(path.read_text()[:100])
    with pytest.raises(ValueError, match=f"asv result file {path} is corrupt"):
        asv_export.export(results, out=tmp_path / "out")
    path.write_text(json.dumps({"version": 1}))
    with pytest.raises(ValueError, match="not in asv's result format version 2"):
        asv_export.export(results, out=tmp_path / "out")
    path.unlink()
    with pytest.raises(ValueError, match="no asv results for machine 'testbox'"):
        asv_export.export(results, out=tmp_path / "out")
    with pytest.raises(ValueError, match=f"{tmp_path / 'nothing'} does not exist"):
        asv_export.export(tmp_path / "nothing", out=tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no machine's results"):
        asv_export.export(tmp_path / "empty", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_command(real_results, tmp_path):
    results, head = real_results
    result = subprocess.run([sys.executable, "-m", "scratchnet", "export", "--results", str(results),
                             "--branch", "HEAD", "--out", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"asv results of commit {head[:8]} on machine testbox")
    assert "framework     | status | train_time_per_epoch_s" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "scratchnet", "export", "--results",
                          str(tmp_path / "none")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr


def test_the_newest_commit_is_taken_from_the_branch(real_results, tmp_path):
    """After `asv continuous main <branch>` the newest results are the branch's: export
    follows asv.conf.json's branch, as asv publish does, unless --commit says otherwise."""
    results, path, head = copy_results(real_results, tmp_path)
    elsewhere = "f" * 40
    other = path.with_name(elsewhere[:8] + "-" + path.name.split("-", 1)[1])
    shutil.copy(path, other)
    edit(other, lambda d: d.update(commit_hash=elsewhere, date=d["date"] + 3_600_000))
    rows, _ = asv_export.export(results, out=tmp_path / "all")
    assert rows[0]["commit"] == elsewhere  # no branch: the newest of all
    rows, paths = asv_export.export(results, out=tmp_path / "on", branch="HEAD", repo=ROOT)
    assert rows[0]["commit"] == head
    # the history follows the branch too, as asv publish graphs it
    assert {h["commit"] for h in csv.DictReader(open(paths["history_csv"]))} == {head}
    rows, paths = asv_export.export(results, out=tmp_path / "c", commit="f" * 12, branch="HEAD", repo=ROOT)
    assert rows[0]["commit"] == elsewhere
    assert [h["commit"] for h in csv.DictReader(open(paths["history_csv"]))][-1] == elsewhere
    with pytest.raises(ValueError, match=r"cannot list the commits of branch 'no-such-branch'"):
        asv_export.export(results, out=tmp_path / "x", branch="no-such-branch", repo=ROOT)
    with pytest.raises(ValueError, match=r"branch must be a branch or commit name"):
        asv_export.export(results, out=tmp_path / "x", branch="--all", repo=ROOT)
    assert asv_export.configured_branch(ROOT / "asv.conf.json") == "main"
    assert asv_export.configured_branch(tmp_path / "asv.conf.json") is None


def test_history_keeps_one_environment_and_the_current_suite(real_results, tmp_path):
    results, path, head = copy_results(real_results, tmp_path)
    other_env = path.with_name(path.name.split("-", 1)[0] + "-virtualenv-py3.11.json")
    shutil.copy(path, other_env)
    edit(other_env, lambda d: d.update(env_name="virtualenv-py3.11"))
    edit(path, lambda d: d["results"].update(
        {"training.Renamed.time_train_epoch": d["results"]["training.Training.time_train_epoch"]}))
    # without --env: asv's built environment before the `-E existing` quick check
    _, paths = asv_export.export(results, out=tmp_path / "out")
    history = list(csv.DictReader(open(paths["history_csv"])))
    assert {h["env"] for h in history} == {"virtualenv-py3.11"} and len(history) == 28
    # a part of the name is enough where no other environment has it
    existing = json.loads(path.read_text())["env_name"]
    assert existing.startswith("existing")
    _, paths = asv_export.export(results, env="existing", out=tmp_path / "o1")
    assert {h["env"] for h in csv.DictReader(open(paths["history_csv"]))} == {existing}
    with pytest.raises(ValueError, match=r"--env 'py' matches several environments"):
        asv_export.export(results, env="py", out=tmp_path / "o3")
    with pytest.raises(ValueError, match=r"no results of environment 'conda'.*environments with results"):
        asv_export.export(results, env="conda", out=tmp_path / "o3")
    # two built environments: the user must choose
    third = path.with_name(path.name.split("-", 1)[0] + "-virtualenv-py3.12.json")
    shutil.copy(other_env, third)
    edit(third, lambda d: d.update(env_name="virtualenv-py3.12"))
    with pytest.raises(ValueError, match=r"results from several environments .*pick one with --env"):
        asv_export.export(results, out=tmp_path / "o3")
    third.unlink()
    _, paths = asv_export.export(results, env=json.loads(path.read_text())["env_name"], out=tmp_path / "o2")
    history = list(csv.DictReader(open(paths["history_csv"])))
    assert len(history) == 28, "a benchmark missing from benchmarks.json must not be exported"


def test_instruction_benchmarks_skip_without_valgrind_and_never_return_none(monkeypatch):
    """asv passes no cache argument when setup_cache returns None, which would make every
    benchmark of the class fail instead of skip: the skip must be a value."""
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import instructions as suite
    finally:
        sys.path.remove(str(ROOT))
    from scratchnet import instructions
    monkeypatch.setattr(instructions, "valgrind", lambda: None)
    cache = suite.Instructions().setup_cache()
    assert cache == {"skip": instructions.INSTALL_HINT}
    with pytest.raises(NotImplementedError, match="valgrind is not installed"):
        suite.Instructions().setup(cache, "pytorch", "default")
    failed = {"counts": {"pytorch": "the valgrind run failed (exit status 1): boom",
                         "scratch_numpy": [{"train_step_instructions": 5.0,
                                            "inference_instructions": 7.0}]}}
    with pytest.raises(RuntimeError, match="valgrind could not count pytorch"):
        suite.Instructions().setup(failed, "pytorch", "default")
    bench = suite.Instructions()
    bench.setup(failed, "scratch_numpy", "default")
    assert bench.track_train_step_instructions(failed, "scratch_numpy", "default") == 5.0
    assert bench.track_inference_instructions(failed, "scratch_numpy", "default") == 7.0


#: Absolute URLs asv-tachyon's bundle holds that the browser never fetches: XML namespace
#: names (createElementNS) and links printed in error messages.
NEVER_FETCHED = ("http://www.w3.org/", "https://react.dev/errors/",
                 "https://github.com/highlightjs/highlight.js/")


def test_the_published_site_works_offline(asv_work, real_results, tmp_path):
    """asv publish, then scratchnet site: asv-tachyon's UI, every file it loads inside the
    folder, and every benchmark marked lower-is-better for its compare and regression views."""
    import re
    pytest.importorskip("asv_tachyon")
    asv(asv_work, "publish")
    html = tmp_path / "html"
    shutil.copytree(asv_work / "html", html)
    legacy = (html / "index.html").read_text()
    assert "cdn" in legacy.lower()  # asv's own page needs the internet
    done = subprocess.run([sys.executable, "-m", "scratchnet", "site", "--html", str(html)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "benchmarks marked lower-is-better" in done.stdout
    assert (html / "index.legacy.html").read_text() == legacy
    index = json.loads((html / "index.json").read_text())
    assert index["benchmarks"] and all(meta["less_is_better"] is True
                                       for meta in index["benchmarks"].values())
    assert (html / "graphs").is_dir()
    page = (html / "index.html").read_text()
    references = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert references and all(not re.match(r"[a-z]+:|//", ref) for ref in references), references
    assert all((html / ref).is_file() for ref in references), references
    for path in (html / "assets").iterdir():
        if path.suffix == ".css":
            urls = re.findall(r"url\(([^)]+)\)", path.read_text())
            outside = [u for u in urls if re.match(r"['\"]?(?:[a-z]+:|//)", u) and "data:" not in u]
            assert not outside, outside
        if path.suffix == ".js":
            absolute = set(re.findall(r"https?://[^\"'`\s)]*", path.read_text()))
            assert all(url.startswith(NEVER_FETCHED) for url in absolute), absolute
    again = subprocess.run([sys.executable, "-m", "scratchnet", "site", "--html", str(html)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and (html / "index.legacy.html").read_text() == legacy
    missing = subprocess.run([sys.executable, "-m", "scratchnet", "site", "--html",
                              str(tmp_path / "none")], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "run `asv publish` first" in missing.stderr
    assert "Traceback" not in missing.stderr
