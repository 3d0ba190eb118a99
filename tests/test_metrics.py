"""One description per figure: the report schema, the exporter and the ratios agree with it."""
from scratchnet.asv import suite
from scratchnet import metrics
from scratchnet import report as reports
from scratchnet.report import figures as plots
from scratchnet.harness.ratios import RATIO_COLUMNS


def test_every_figure_is_a_report_column_with_its_spread():
    for column, metric in metrics.METRICS.items():
        assert column in reports.COLUMNS, column
        assert metric.better in ("lower", "higher"), column
        for spread in metric.spread_columns:
            assert spread in reports.COLUMNS, spread
    assert reports.TIMED == ["train_time_per_epoch_s", "inference_latency_per_sample_s",
                             "single_sample_latency_s", "batch_throughput_samples_per_s",
                             "time_to_accuracy_s"]


def test_the_ratios_speak_one_convention():
    for ratio in RATIO_COLUMNS.values():
        assert metrics.METRICS[ratio].unit == metrics.RATIO and metrics.METRICS[ratio].better == "lower"


def test_the_exporter_takes_its_units_from_the_table():
    for column, unit in suite.UNITS.items():
        assert unit == metrics.METRICS[column].unit, column


def test_the_summary_axes_say_which_way_is_better():
    rows = [dict.fromkeys(reports.COLUMNS) | {"framework": "scratch_numpy", "status": "ok",
                                              "preset": "default",
                                              "train_time_per_epoch_s": 0.01,
                                              "inference_latency_per_sample_s": 1e-6,
                                              "peak_memory_mb": 10.0, "final_accuracy": 0.9}]
    figure = plots.summary_figure(rows)
    labels = [ax.get_xlabel() for ax in figure.axes if ax.get_xlabel()]
    assert labels[-2:] == ["MB (resident) (lower is better)", "accuracy (higher is better)"]
    titles = [sub.get_suptitle() for sub in figure.subfigs if sub.get_suptitle()]
    assert any("(lower is better)" in title for title in titles), titles


def test_the_asv_suites_units_are_the_tables():
    """The suite keeps its own unit strings (it imports at commits older than metrics.py);
    each track's equals the table's unit of the report column it is exported to."""
    import importlib
    import inspect
    import sys
    from pathlib import Path
    root = str(Path(__file__).parents[1])
    sys.path.insert(0, root)
    try:
        seen = 0
        for name in ("instructions", "quality", "training"):
            module = importlib.import_module(f"benchmarks.{name}")
            for cls in (c for c in vars(module).values() if inspect.isclass(c)):
                for method, function in vars(cls).items():
                    if method.startswith("track_") and hasattr(function, "unit"):
                        unit = metrics.METRICS[suite.METRICS[method]].unit
                        # asv formats a figure in "seconds" as a time (ms, us), as its time_ ones
                        assert function.unit == ("seconds" if unit == "s" else unit), method
                        seen += 1
        assert seen >= 5
    finally:
        sys.path.remove(root)
