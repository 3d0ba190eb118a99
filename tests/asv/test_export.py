"""The asv suite, run for real, and the exporter fed with its results.

A module fixture runs real asv (``asv run -E existing --quick``) on a subset
of the suite, with its own HOME (asv keeps its machine file there), config
and results folder. Edge cases (failed, skipped, several machines, corrupt
files) are made by editing copies of that real output. Malformed files are
written by hand into a small results folder of the same layout: those tests
need neither asv nor torch and are fast.
"""
import csv
import importlib.util
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

from scratchnet import data as scratchnet_data
from scratchnet.harness import result
from scratchnet import metrics
from scratchnet.asv.read import result_files
from scratchnet.asv import export as asv_export
from scratchnet.harness import compare, presets
from scratchnet import report as reports

ROOT = Path(__file__).parents[2]
HAVE_ASV = all(importlib.util.find_spec(name) is not None for name in ("torch", "asv"))


def real_asv(test):
    """A test that runs asv or the suite for real: slow, and skipped without torch and asv."""
    return pytest.mark.slow(pytest.mark.skipif(not HAVE_ASV, reason="needs torch and asv")(test))

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


@real_asv
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


@real_asv
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


@real_asv
def test_presets_match_the_comparison_harness():
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.common import GOAL_PRESETS, PRESETS, held_out_size
    finally:
        sys.path.remove(str(ROOT))
    assert PRESETS == compare.PRESETS
    assert GOAL_PRESETS == presets.GOAL_PRESETS
    assert all(held_out_size(n) == scratchnet_data.held_out_size(n) for n in (8, 500, 512, 1000))


@real_asv
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
        flops = result.training_flops_per_epoch(compare.PRESETS[row["preset"]]["layer_sizes"],
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
    # --quick: one run, no warm-up; every row says so, and the suite's one thread
    assert all(metrics.QUICK_NOTE in row["notes"] and row["threads"] == 1 for row in rows)
    assert "history_png" in paths and Path(paths["history_png"]).stat().st_size > 10_000
    assert Path(paths["html"]).read_text().count("data:image/png;base64,") == 2  # summary, history


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


@real_asv
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


@real_asv
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


@real_asv
def test_a_skipped_only_row_is_skipped(real_results, tmp_path):
    results, path, _ = copy_results(real_results, tmp_path)

    def change(data):
        data["results"]["training.Training.time_train_epoch"][0] = [math.nan] * 6
        del data["results"]["quality.Parity.track_parity"]

    edit(path, change)
    rows, _ = asv_export.export(results, out=tmp_path / "out")
    assert {r["status"] for r in rows} == {"skipped"}


@real_asv
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


@real_asv
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


@real_asv
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


@real_asv
def test_ratio_intervals_come_from_the_samples(real_results, tmp_path):
    """With samples (a full asv run), each ratio gets the bootstrap interval of
    scratchnet.harness.ratios, and the summary's whiskers the samples' quartiles."""
    from scratchnet.harness.ratios import ratio_with_interval
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


@real_asv
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


@real_asv
def test_several_machines_need_a_choice(real_results, tmp_path):
    results, _, _ = copy_results(real_results, tmp_path)
    shutil.copytree(results / "testbox", results / "otherbox")
    with pytest.raises(ValueError, match=r"several machines \(otherbox, testbox\); pick one with --machine"):
        asv_export.export(results, out=tmp_path / "out")
    rows, _ = asv_export.export(results, machine="otherbox", out=tmp_path / "out")
    assert {r["machine"] for r in rows} == {"otherbox"}
    with pytest.raises(ValueError, match="machine 'nobox' has no results"):
        asv_export.export(results, machine="nobox", out=tmp_path / "out")


@real_asv
def test_corrupt_missing_and_empty_results_are_named(real_results, tmp_path):
    results, path, _ = copy_results(real_results, tmp_path)
    path.write_text(path.read_text()[:100])
    with pytest.raises(ValueError, match=f"asv result file '{path}': is not valid JSON at line 1"):
        asv_export.export(results, out=tmp_path / "out")
    path.write_text(json.dumps({"version": 1}))
    with pytest.raises(ValueError, match="field 'version' must be 2 \\(asv's result format\\)"):
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


@real_asv
def test_export_command(real_results, tmp_path):
    results, head = real_results
    result = subprocess.run([sys.executable, "-m", "scratchnet", "export", "--results", str(results),
                             "--branch", "HEAD", "--out", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"asv results of commit {head[:8]} on machine testbox")
    assert "framework     | status | train_time_per_epoch_s" in result.stdout
    assert result.stdout.rstrip().endswith(f"WARNING: {metrics.QUICK_NOTE}")
    bad = subprocess.run([sys.executable, "-m", "scratchnet", "export", "--results",
                          str(tmp_path / "none")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr


@real_asv
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


@real_asv
def test_commits_of_the_same_second_are_ordered_by_the_branch(real_results, tmp_path):
    """HEAD and its parent made within one second have equal dates: the newest is the one
    the branch points to, whatever the hashes' order."""
    results, path, head = copy_results(real_results, tmp_path)
    parent = subprocess.run(["git", "rev-parse", "HEAD^"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    older = path.with_name(parent[:8] + "-" + path.name.split("-", 1)[1])
    shutil.copy(path, older)
    date = json.loads(path.read_text())["date"]
    edit(older, lambda d: d.update(commit_hash=parent, date=date))
    rows, paths = asv_export.export(results, out=tmp_path / "on", branch="HEAD", repo=ROOT)
    assert rows[0]["commit"] == head
    history = [h["commit"] for h in csv.DictReader(open(paths["history_csv"]))]
    assert list(dict.fromkeys(history)) == [parent, head]


@real_asv
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


@real_asv
def test_instruction_benchmarks_skip_without_valgrind_and_never_return_none(monkeypatch):
    """asv passes no cache argument when setup_cache returns None, which would make every
    benchmark of the class fail instead of skip: the skip must be a value."""
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import instructions as suite
    finally:
        sys.path.remove(str(ROOT))
    from scratchnet.harness import instructions
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


@real_asv
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


# ---------------------------------------------------------------------- malformed files
HANDMADE_COMMIT = "ab" * 20
TRAIN = "training.Training.time_train_epoch"
PARITY = "quality.Parity.track_parity"
RESULT_COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a",
                  "stats_ci_99_b", "stats_q_25", "stats_q_75", "stats_number", "stats_repeat",
                  "samples", "profile"]


def handmade_result():
    """A result file as asv writes it: an epoch's time for both frameworks on the default
    preset (with samples), and the pair's parity."""
    train = {"result": [0.01, 0.02], "params": [["'scratch_numpy'", "'pytorch'"], ["'default'"]],
             "version": "2", "started_at": 1_700_000_100_000, "duration": 1.5,
             "stats_ci_99_a": [0.009, 0.019], "stats_ci_99_b": [0.011, 0.021],
             "stats_q_25": [0.0095, 0.0195], "stats_q_75": [0.0105, 0.0205],
             "stats_number": [1, 1], "stats_repeat": [2, 2], "samples": [[0.0099, 0.0101], [0.019, 0.021]]}
    parity = {"result": [1e-7], "params": [["'default'"]], "version": "2",
              "started_at": 1_700_000_200_000, "duration": 0.5}
    return {"commit_hash": HANDMADE_COMMIT, "env_name": "existing-py3.11", "date": 1_700_000_000_000,
            "params": {"machine": "handbox", "python": "3.11"}, "python": "3.11",
            "requirements": {"numpy": "2.0"}, "env_vars": {}, "result_columns": RESULT_COLUMNS,
            "results": {name: [fields.get(column) for column in RESULT_COLUMNS[:-1]]
                        for name, fields in ((TRAIN, train), (PARITY, parity))},
            "durations": {}, "version": 2}


def handmade_results(folder):
    """A results folder with machine ``handbox`` and one result file; returns the folder and
    {"result", "machine", "benchmarks": path of that file}."""
    (folder / "handbox").mkdir(parents=True)
    paths = {"result": folder / "handbox" / f"{HANDMADE_COMMIT[:8]}-existing-py3.11.json",
             "machine": folder / "handbox" / "machine.json",
             "benchmarks": folder / "benchmarks.json"}
    paths["result"].write_text(json.dumps(handmade_result()))
    paths["machine"].write_text(json.dumps({
        "arch": "x86_64", "cpu": "Handmade CPU", "machine": "handbox", "num_cpu": "2",
        "os": "Linux", "ram": "1000000", "version": 1}))
    paths["benchmarks"].write_text(json.dumps({
        TRAIN: {"name": TRAIN, "param_names": ["framework", "preset"], "type": "time",
                "unit": "seconds", "version": "2"},
        PARITY: {"name": PARITY, "param_names": ["preset"], "type": "track", "unit": "unit",
                 "version": "2"},
        "version": 2}))
    return folder, paths


def setting(field, value):
    def change(data):
        data[field] = value
        return data
    return change


def dropping(field):
    def change(data):
        del data[field]
        return data
    return change


def benchmark_field(column, value, name=TRAIN):
    """Column ``column`` of benchmark ``name`` in a result file set to ``value``."""
    def change(data):
        entry = data["results"][name]
        index = data["result_columns"].index(column)
        entry.extend([None] * (index + 1 - len(entry)))
        entry[index] = value
        return data
    return change


def benchmark_description(field, value, name=TRAIN):
    def change(data):
        data[name][field] = value
        return data
    return change


#: id: (which file, its change: bytes for the whole file or a function of its data, the
#: field the message must name or None, the message after "<kind of file> '<path>': ").
MALFORMED = {
    "commit_hash missing": ("result", dropping("commit_hash"), "commit_hash",
                            "field 'commit_hash' is missing"),
    "date a string": ("result", setting("date", "yesterday"), "date",
                      "field 'date' must be a number (milliseconds since 1970), got 'yesterday'"),
    "results null": ("result", setting("results", None), "results",
                     "field 'results' must be an object (benchmark name: values), got null"),
    "a string among the results": (
        "result", benchmark_field("result", ["fast", 0.02]), "result",
        f"field 'result' of benchmark '{TRAIN}' must hold positive times, NaN or null, "
        f"got 'fast' at index 0"),
    "a string as a track's result": (
        "result", benchmark_field("result", ["tiny"], PARITY), "result",
        f"field 'result' of benchmark '{PARITY}' must hold numbers, NaN or null, "
        f"got 'tiny' at index 0"),
    "not JSON": ("result", b'{"commit_hash": "abab', None,
                 "is not valid JSON at line 1, column 17: unterminated string starting"),
    "empty": ("result", b"", None, "the file is empty"),
    "only blanks": ("result", b" \n\n", None, "the file is empty"),
    "not UTF-8": ("result", b"\xff\xfe{\x00}\x00", None, "is not UTF-8 text, so not JSON"),
    "nested too deeply": ("result", b"[" * 100_000 + b"]" * 100_000, None,
                          "is not valid JSON: nested too deeply"),
    "top level a list": ("result", lambda data: [data], None,
                         "the top level must be an object, "
                         "got [{\"commit_hash\": \"abababababababababa..."),
    "version missing": ("result", dropping("version"), "version",
                        "field 'version' is missing (asv's result files are format 2)"),
    "version 1": ("result", setting("version", 1), "version",
                  "field 'version' must be 2 (asv's result format), got 1; `asv update` "
                  "converts older files"),
    "version a string": ("result", setting("version", "2"), "version",
                         "field 'version' must be 2 (asv's result format), got '2'"),
    "commit_hash empty": ("result", setting("commit_hash", ""), "commit_hash",
                          "field 'commit_hash' must be a non-empty string, got ''"),
    "commit_hash a number": ("result", setting("commit_hash", 1234), "commit_hash",
                             "field 'commit_hash' must be a non-empty string, got 1234"),
    "env_name null": ("result", setting("env_name", None), "env_name",
                      "field 'env_name' must be a string, got null"),
    "date NaN": ("result", setting("date", math.nan), "date",
                 "field 'date' must be a number (milliseconds since 1970), got NaN"),
    "date past the year 9999": ("result", setting("date", 1e300), "date",
                                "field 'date' must be a number (milliseconds since 1970), got 1e+300"),
    "date true": ("result", setting("date", True), "date",
                  "field 'date' must be a number (milliseconds since 1970), got true"),
    "python a number": ("result", setting("python", 3.11), "python",
                        "field 'python' must be a string, got 3.11"),
    "params a list": ("result", setting("params", ["machine"]), "params",
                      "field 'params' must be an object, got [\"machine\"]"),
    "requirements with a number": ("result", setting("requirements", {"numpy": 2}), "requirements",
                                   "field 'requirements' must be an object of version strings, "
                                   "got {\"numpy\": 2}"),
    "result_columns a string": ("result", setting("result_columns", "result,params"),
                                "result_columns",
                                "field 'result_columns' must be a list of column names, "
                                "got 'result,params'"),
    "result_columns without result": (
        "result", setting("result_columns", RESULT_COLUMNS[1:]), "result_columns",
        "field 'result_columns' must name the column 'result', got [\"params\", \"version\", "
        "\"started_at\", \"..."),
    "result_columns naming one twice": (
        "result", setting("result_columns", RESULT_COLUMNS + ["samples"]), "result_columns",
        "field 'result_columns' names 'samples' twice"),
    "results a list": ("result", setting("results", [TRAIN]), "results",
                       f"field 'results' must be an object (benchmark name: values), "
                       f"got [\"{TRAIN}\"]"),
    "a benchmark an object": ("result", lambda data: {**data, "results": {TRAIN: {"result": 1}}},
                              "results",
                              f"field 'results' must map benchmark '{TRAIN}' to a list (one value "
                              f"per result column), got {{\"result\": 1}}"),
    "a benchmark longer than result_columns": (
        "result", lambda data: data["results"][TRAIN].extend([None] * 3) or data, "results",
        f"field 'results' gives benchmark '{TRAIN}' 15 values, more than the 13 columns of "
        f"result_columns"),
    "params a list of strings": ("result", benchmark_field("params", ["'default'"]), "params",
                                 f"field 'params' of benchmark '{TRAIN}' must be a list of lists "
                                 f"of parameter strings, got [\"'default'\"]"),
    "params numbers": ("result", benchmark_field("params", [[1, 2], [3]]), "params",
                       f"field 'params' of benchmark '{TRAIN}' must be a list of lists of "
                       f"parameter strings, got [[1, 2], [3]]"),
    "too few results": ("result", benchmark_field("result", [0.01]), "result",
                        f"field 'result' of benchmark '{TRAIN}' must hold 2 values (one per "
                        f"parameter combination), got 1"),
    "result a number": ("result", benchmark_field("result", 0.01), "result",
                        f"field 'result' of benchmark '{TRAIN}' must be a list (one value per "
                        f"parameter combination) or null, got 0.01"),
    "a time of zero": ("result", benchmark_field("result", [0.01, 0]), "result",
                       f"field 'result' of benchmark '{TRAIN}' must hold positive times, NaN or "
                       f"null, got 0 at index 1"),
    "a result true": ("result", benchmark_field("result", [True], PARITY), "result",
                      f"field 'result' of benchmark '{PARITY}' must hold numbers, NaN or null, "
                      f"got true at index 0"),
    "samples not lists": ("result", benchmark_field("samples", [0.01, 0.02]), "samples",
                          f"field 'samples' of benchmark '{TRAIN}' must hold lists of positive "
                          f"times or null, got 0.01 at index 0"),
    "a string among the samples": ("result", benchmark_field("samples", [[0.01], [0.02, "x"]]),
                                   "samples",
                                   f"field 'samples' of benchmark '{TRAIN}' must hold lists of "
                                   f"positive times or null, got [0.02, \"x\"] at index 1"),
    "stats_repeat strings": ("result", benchmark_field("stats_repeat", ["two", "two"]),
                             "stats_repeat",
                             f"field 'stats_repeat' of benchmark '{TRAIN}' must hold numbers or "
                             f"null, got 'two' at index 0"),
    "started_at a string": ("result", benchmark_field("started_at", "noon"), "started_at",
                            f"field 'started_at' of benchmark '{TRAIN}' must be a number "
                            f"(milliseconds since 1970), got 'noon'"),
    "duration a list": ("result", benchmark_field("duration", [1.5]), "duration",
                        f"field 'duration' of benchmark '{TRAIN}' must be a number (seconds), "
                        f"got [1.5]"),
    "benchmark version a number": ("result", benchmark_field("version", 2), "version",
                                   f"field 'version' of benchmark '{TRAIN}' must be a string, got 2"),
    "a long value cut short": ("result", setting("date", "x" * 500), "date",
                               "field 'date' must be a number (milliseconds since 1970), "
                               "got 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."),
    "machine.json not JSON": ("machine", b"{'cpu': 'x'}", None,
                              "is not valid JSON at line 1, column 2: expecting property name "
                              "enclosed in double quotes"),
    "machine.json empty": ("machine", b"", None, "the file is empty"),
    "machine.json a list": ("machine", lambda data: ["handbox"], None,
                            "the top level must be an object, got [\"handbox\"]"),
    "machine.json num_cpu not a number": ("machine", setting("num_cpu", "many"), "num_cpu",
                                          "field 'num_cpu' must be a number of CPUs, got 'many'"),
    "machine.json cpu a list": ("machine", setting("cpu", ["x86"]), "cpu",
                                "field 'cpu' must be a string, got [\"x86\"]"),
    "machine.json version 2": ("machine", setting("version", 2), "version",
                               "field 'version' must be 1 (asv's machine file format), got 2"),
    "benchmarks.json a list": ("benchmarks", lambda data: [TRAIN], None,
                               f"the top level must be an object, got [\"{TRAIN}\"]"),
    "benchmarks.json not JSON": ("benchmarks", b"{\n", None,
                                 "is not valid JSON at line 2, column 1: expecting property "
                                 "name enclosed in double quotes"),
    "a benchmark's description a string": (
        "benchmarks", setting(TRAIN, "time"), TRAIN,
        f"field '{TRAIN}' must be an object (the benchmark's description), got 'time'"),
    "param_names a string": ("benchmarks", benchmark_description("param_names", "framework"),
                             "param_names",
                             f"field 'param_names' of benchmark '{TRAIN}' must be a list of "
                             f"strings, got 'framework'"),
}
FILE_KINDS = {"result": "asv result file", "machine": "asv machine file",
              "benchmarks": "asv benchmarks file"}
#: The cases also run through the command line (each a fresh interpreter).
THROUGH_THE_COMMAND = ["commit_hash missing", "date a string", "results null",
                       "a string among the results", "not JSON", "empty", "not UTF-8",
                       "top level a list", "version 1", "params numbers",
                       "result_columns a string", "a benchmark longer than result_columns",
                       "samples not lists", "machine.json num_cpu not a number",
                       "machine.json a list", "param_names a string"]


def malformed_results(tmp_path, case):
    """The handmade results folder with one file broken as ``MALFORMED[case]`` says; returns
    the folder and the message export must give, whole."""
    kind, change, _, message = MALFORMED[case]
    results, paths = handmade_results(tmp_path / "results")
    path = paths[kind]
    if isinstance(change, bytes):
        path.write_bytes(change)
    else:
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
    return results, f"{FILE_KINDS[kind]} '{path}': {message}"


def test_handmade_results_are_exported(tmp_path):
    """The unbroken handmade folder is valid: each case below breaks one thing in it."""
    results, _ = handmade_results(tmp_path / "results")
    rows, paths = asv_export.export(results, out=tmp_path / "out")
    assert [(r["framework"], r["status"]) for r in rows] == [("scratch_numpy", "ok"), ("pytorch", "ok")]
    assert rows[1]["train_time_ratio"] == pytest.approx(0.5)
    assert rows[0]["parity_max_abs_diff"] == 1e-7 and rows[0]["cpu_count"] == 2
    assert all(Path(path).exists() for path in paths.values())


@pytest.mark.parametrize("change", [
    pytest.param(lambda entry: entry[:2], id="trailing nulls left out, as asv writes them"),
    pytest.param(lambda entry: [None, *entry[1:]], id="the whole benchmark failed"),
    pytest.param(lambda entry: [[math.nan, 0.02], *entry[1:11], [None, [0.019]]],
                 id="one combination skipped"),
])
def test_what_asv_writes_passes_the_checks(tmp_path, change):
    results, paths = handmade_results(tmp_path / "results")
    data = handmade_result()
    data["results"][TRAIN] = change(data["results"][TRAIN])
    paths["result"].write_text(json.dumps(data))
    [read] = result_files(results, "handbox")
    assert read["commit_hash"] == HANDMADE_COMMIT


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_file_is_one_line_naming_the_file_and_field(tmp_path, case):
    results, expected = malformed_results(tmp_path, case)
    with pytest.raises(ValueError) as error:
        asv_export.export(results, out=tmp_path / "out")
    assert str(error.value) == expected
    _, _, field, _ = MALFORMED[case]
    assert field is None or f"'{field}'" in expected
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", THROUGH_THE_COMMAND)
def test_the_export_command_reports_a_malformed_file_in_one_line(tmp_path, case):
    results, expected = malformed_results(tmp_path, case)
    kind, _, field, _ = MALFORMED[case]
    done = subprocess.run([sys.executable, "-m", "scratchnet", "export", "--results", str(results),
                           "--out", str(tmp_path / "out")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"scratchnet export: error: {expected}"]
    assert str(results) in done.stderr and (field is None or f"'{field}'" in done.stderr)
    assert not (tmp_path / "out").exists()


@real_asv
def test_your_own_class_is_tracked_by_the_suite_and_exported(asv_work, tmp_path):
    """SCRATCHNET_MODELS adds a user class to the training, error-rate and parity benchmarks;
    the exporter gives it a row whose ratio is its time over the twin's."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    results = tmp_path / "results"
    config = json.loads((asv_work / "asv.json").read_text())
    config["results_dir"] = str(results)
    (asv_work / "asv-user.json").write_text(json.dumps(config))
    student = ROOT / "tests" / "students" / "student_mlp.py"
    asv(asv_work, "run", "-E", "existing", "--quick", "--bench",
        r"Training\.time_train_epoch|time_inference_single|track_parity|track_error_rate",
        "--machine", "testbox",
        "--set-commit-hash", head, config="asv-user.json",
        SCRATCHNET_MODELS=f"student={student}:StudentNetwork")
    rows, _ = asv_export.export(results, out=tmp_path / "reports")
    by = {(r["preset"], r["framework"]): r for r in rows}
    for preset in ("default", "deep", "wide"):
        student, torch_row = by[preset, "student"], by[preset, "pytorch"]
        assert student["status"] == "ok", student["notes"]
        assert student["parity_max_abs_diff"] <= reports.PARITY_LIMIT["float32"]
        assert student["final_accuracy"] == pytest.approx(torch_row["final_accuracy"], abs=0.01)
        assert student["train_time_ratio"] == pytest.approx(
            student["train_time_per_epoch_s"] / torch_row["train_time_per_epoch_s"])
        assert student["single_sample_latency_ratio"] == pytest.approx(
            student["single_sample_latency_s"] / torch_row["single_sample_latency_s"])


@real_asv
def test_a_failing_user_class_fails_only_its_own_benchmarks():
    student = ROOT / "tests" / "students" / "student_mlp.py"
    script = ("import json\nfrom benchmarks.common import TrainedBenchmark, trained_models\n"
              "cache = trained_models()\n"
              "outcome = {}\n"
              "for name in ('scratch_numpy', 'pytorch', 'bad', 'missing'):\n"
              "    try:\n"
              "        TrainedBenchmark().trained(cache, name, 'default')\n"
              "        outcome[name] = 'ok'\n"
              "    except RuntimeError as exc:\n"
              "        outcome[name] = str(exc)\n"
              "print(json.dumps(outcome))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "SCRATCHNET_MODELS":
                                            f"bad={student}:FitRaises,missing=/no/such.py:Net"})
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert outcome["scratch_numpy"] == outcome["pytorch"] == "ok"
    assert outcome["bad"] == "bad on default: ValueError: the student's own error"
    assert outcome["missing"].startswith("missing on default: CheckError: model file '/no/such.py'")


def test_scratchnet_models_names_each_class_once_and_knows_the_layouts():
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.common import _user_models
    finally:
        sys.path.remove(str(ROOT))
    assert _user_models(" mine=/a/net.py:Net@out_in, other=pkg.mod:MLP ,") == {
        "mine": ("/a/net.py:Net", "out_in"), "other": ("pkg.mod:MLP", "in_out")}
    assert _user_models("") == {}
    for bad, words in (("pytorch=m:C", "the name 'pytorch' is taken"),
                       ("a=m:C,a=m:D", "the name 'a' is taken"),
                       ("a=m:C@sideways", "is not NAME=package.module:Class"),
                       ("a=mC", "is not NAME=package.module:Class")):
        with pytest.raises(ValueError, match=words):
            _user_models(bad)
