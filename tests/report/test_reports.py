"""The report writers: round trips, the PNG, the tables, atomic writes."""
import math
import os
import struct

import pytest

from scratchnet import report as reports
from scratchnet.report import figures as plots
from scratchnet.report import COLUMNS


def fake_rows():
    """Rows shaped like benchmark_scratch_vs_torch's, with made-up numbers (writer tests only)."""
    rows = []
    for preset, scale in (("default", 1.0), ("deep", 12.0)):
        for framework, factor, memory in (("scratch_numpy", 1.0, 8.25), ("pytorch", 2.2, 86.0)):
            row = dict.fromkeys(COLUMNS)
            median = 0.0035 * scale * factor
            row.update(framework=framework, status="ok", layer_sizes="784x64x10", preset=preset,
                       train_time_per_epoch_s=median, train_time_per_epoch_s_min=median * 0.9,
                       train_time_per_epoch_s_max=median * 1.2,
                       inference_latency_per_sample_s=1.1e-6 * factor,
                       inference_latency_per_sample_s_min=1e-6 * factor,
                       inference_latency_per_sample_s_max=1.3e-6 * factor,
                       single_sample_latency_s=2e-5 * factor, batch_throughput_samples_per_s=4e5 / factor,
                       peak_memory_mb=memory, final_accuracy=0.265625, parity_max_abs_diff=1.6e-7,
                       notes="", precision="float32", threads=2, n_samples=512, alpha=0.1)
            rows.append(row)
    rows.append({**dict.fromkeys(COLUMNS), "framework": "pytorch_cuda", "status": "skipped",
                 "notes": "CUDA not available", "preset": "default", "layer_sizes": "784x64x10"})
    return rows


def test_json_round_trip(tmp_path):
    rows = fake_rows()
    reports.write_json(rows, tmp_path / "m.json")
    loaded = reports.read_json(tmp_path / "m.json")
    assert loaded == rows
    assert list(loaded[0]) == COLUMNS[:len(loaded[0])]


def test_csv_round_trip(tmp_path):
    rows = fake_rows()
    reports.write_csv(rows, tmp_path / "m.csv")
    with open(tmp_path / "m.csv") as handle:
        assert handle.readline().strip().split(",") == COLUMNS
    loaded = reports.read_csv(tmp_path / "m.csv")
    expected = [{k: (None if v == "" else v) for k, v in row.items()} for row in rows]
    assert loaded == expected


def test_json_refuses_nan(tmp_path):
    row = {**fake_rows()[0], "peak_memory_mb": math.nan}
    with pytest.raises(ValueError):
        reports.write_json([row], tmp_path / "m.json")
    assert not os.path.exists(tmp_path / "m.json")


def png_size(path):
    with open(path, "rb") as handle:
        header = handle.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR"
    return struct.unpack(">II", header[16:24])


def test_png_is_a_valid_image_of_the_expected_size(tmp_path):
    reports.write_png(fake_rows(), tmp_path / "s.png")
    width, height = png_size(tmp_path / "s.png")
    assert width == plots.WIDTH and 400 < height < 1600
    import matplotlib.image
    pixels = matplotlib.image.imread(tmp_path / "s.png")
    assert pixels.shape[:2] == (height, width)
    assert pixels.std() > 0.05  # not a blank canvas


def test_console_table_follows_the_spec_and_interprets(tmp_path):
    rows = fake_rows()
    table = reports.console_table(rows)
    header, rule = table.splitlines()[:2]
    assert header.startswith("framework") and header.split(" | ")[1].strip() == "status"
    assert header.split(" | ")[2].strip() == "train_time_per_epoch_s"
    assert set(rule) == {"-"}
    assert "0.0035 [0.00315-0.0042]" in table
    text = reports.interpretation(rows)
    # no interval columns (as in asv results): the ratio of the medians, no interval
    assert "default: Training time per epoch: scratch_numpy 0.0035 s / pytorch 0.0077 s = 0.455 " \
           "(scratch_numpy 2.20x faster)" in text
    assert "default: Memory ratio: pytorch 86 MB / scratch_numpy 8.25 MB = 10.42x" in text
    assert "Parity: largest |p_scratch - p_torch| on the held-out split = 1.600e-07" in text


def with_intervals(rows, low, high, rounds=3):
    for row in rows:
        row["rounds"] = rounds
        if row["framework"] == "pytorch":
            row.update(train_time_ratio=1 / 2.2, train_time_ratio_ci_low=low,
                       train_time_ratio_ci_high=high)
    return rows


def test_ratios_are_printed_with_their_interval():
    text = reports.interpretation(with_intervals(fake_rows(), 0.41, 0.5))
    assert "default: Training time per epoch: scratch_numpy 0.0035 s / pytorch 0.0077 s = 0.455 " \
           "[0.41-0.5, 95% CI] (scratch_numpy 2.20x faster)" in text
    assert "single round" not in text
    text = reports.interpretation(with_intervals(fake_rows(), 0.41, 1.05, rounds=1))
    assert "= 0.455 [0.41-1.05, 95% CI] (no clear winner: the interval includes 1)" in text
    assert "Intervals from a single round show only the spread inside one pair of processes" in text


def test_disturbed_rows_are_named_with_the_reason():
    rows = fake_rows()
    for row in rows[:4]:
        row.update(contention=0.01, disturbed=False)
    rows[1].update(contention=0.48, disturbed=True, contention_others_cpu=0.47, contention_steal=0.01,
                   contention_runqueue_wait=0.3, contention_own_cpu_per_thread=0.9,
                   contention_window_s=1.5, contention_cpus=2, load_average_before=1.0,
                   load_average_after=1.9)
    assert reports.disturbed_rows(rows) == [rows[1]]
    warning = reports.contention_warnings(rows)
    assert warning[0].startswith("WARNING: 1 of 5 rows were measured while other work competed")
    assert warning[1] == ("  pytorch (default): contention 0.48; other processes used 47% of the 2 "
                          "CPUs, the hypervisor took 1%, our threads waited for a CPU 30% of the "
                          "time, load average 1.00 -> 1.90 (over 1.50 s)")
    assert warning[-1] == ("  To trust these figures, rerun when the machine is quiet, or with "
                           "--threads 1, which leaves the other cores to the other work; --strict "
                           "makes such a run exit with status 3.")
    assert "\n".join(warning) in reports.interpretation(rows)
    assert "| 0.48 |" in reports.markdown_table(rows)
    assert reports.contention_warnings(rows[:1] + rows[2:]) == []
    rows[1]["contention_steal"] = 0.001  # rounds to 0 %: not worth a word
    assert "hypervisor" not in reports.contention_warnings(rows)[1]


def test_instruction_counts_reach_the_markdown():
    rows = fake_rows()
    assert "Instructions (valgrind" not in reports.markdown_table(rows)
    rows[0].update(train_step_instructions=1.66e6, inference_instructions=2.3e6)
    rows[1].update(train_step_instructions=2.21e6, inference_instructions=2.23e6)
    text = reports.markdown_table(rows)
    assert "Instructions (valgrind, one thread" in text
    line = next(l for l in text.splitlines() if l.startswith("default | pytorch"))
    assert [cell.strip() for cell in line.split(" | ")[2:]] == ["2.210e+06", "0.7511", "2.230e+06",
                                                               "1.031"]


def test_markdown_table_pastes_into_a_pull_request():
    text = reports.markdown_table(fake_rows())
    lines = text.splitlines()
    assert lines[0].startswith("| framework | status |") and lines[1].startswith("|---|")
    assert len(lines[2].split("|")) == len(lines[0].split("|"))


def test_writes_are_atomic(tmp_path, monkeypatch):
    reports.write_reports(fake_rows(), tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in reports.FILES.values()}

    def broken_savefig(self, handle, **kwargs):
        handle.write(b"half a picture")
        raise KeyboardInterrupt  # an interrupted run

    from matplotlib.figure import Figure
    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(KeyboardInterrupt):
        reports.write_png(fake_rows()[:2], tmp_path / reports.FILES["png"])
    assert (tmp_path / reports.FILES["png"]).read_bytes() == before[reports.FILES["png"]]
    assert sorted(os.listdir(tmp_path)) == sorted([*reports.FILES.values(), reports.HTML_FILE])


def test_one_slow_run_moves_neither_the_whiskers_nor_the_scale():
    """One run 70 times the median (a busy moment): the lines span the quartiles, so the
    training panel's scale follows the medians and quartiles, not the outlier."""
    rows = fake_rows()[:2]
    for row in rows:
        median = row["train_time_per_epoch_s"]
        row.update(train_time_per_epoch_s_q25=median * 0.97, train_time_per_epoch_s_q75=median * 1.04)
    rows[1]["train_time_per_epoch_s_max"] = rows[1]["train_time_per_epoch_s"] * 70
    training = next(ax for ax in plots.summary_figure(rows).axes
                    if ax.get_ylabel().startswith("training\nper epoch"))
    assert training.get_xscale() == "linear" and training.get_xlim()[0] == 0
    highest = max(row["train_time_per_epoch_s_q75"] for row in rows) * 1e3  # ms
    assert training.get_xlim()[1] < 2 * highest, (training.get_xlim(), highest)


def test_the_speed_ratios_share_one_log_scale_around_1():
    rows = fake_rows()
    for row in rows:
        if row["framework"] == "pytorch":
            row.update(train_time_ratio=0.4, train_time_ratio_ci_low=0.35, train_time_ratio_ci_high=0.5,
                       inference_latency_ratio=3.0, inference_latency_ratio_ci_low=2.5,
                       inference_latency_ratio_ci_high=3.3)
    axes = [ax for ax in plots.summary_figure(rows).axes if ax.get_xscale() == "log"]
    assert [ax.get_title() for ax in axes] == ["Training time per epoch", "Inference latency per sample"]
    assert axes[0].get_xlim() == axes[1].get_xlim()
    low, high = axes[0].get_xlim()
    assert low < 0.35 and high > 3.3
    assert [tick.get_text() for tick in axes[0].get_yticklabels()] == ["default", "deep"]


def test_a_run_that_measured_nothing_gets_a_figure_that_says_so():
    failed = [{**row, "status": "error", "notes": "worker process failed"} for row in fake_rows()]
    figure = plots.summary_figure(failed)
    assert "No row was measured" in figure.axes[0].texts[0].get_text()


def test_the_summary_title_fits_however_many_rows_were_busy_or_failed():
    """Named when few, counted when many; never wider than the figure, at most three lines."""
    from scratchnet.report.figures import TITLE_NOTE_LINES, TITLE_WIDTH, _title_notes

    def row(framework, preset, **values):
        return {"framework": framework, "preset": preset, "status": "ok", "notes": "",
                "contention": None, "contention_runqueue_wait": None, "disturbed": False, **values}

    busy = [row(f, p, contention=0.5 + i / 100, disturbed=True)
            for i, (f, p) in enumerate((f, p) for p in ("default", "deep", "wide", "large")
                                       for f in ("scratch_numpy", "pytorch"))]
    failed = [row("onnxruntime", p, status="error", notes="x" * 500) for p in ("default", "deep")]
    lines = _title_notes(busy + failed)
    assert 1 <= len(lines) <= TITLE_NOTE_LINES and all(len(line) <= TITLE_WIDTH for line in lines)
    assert "8 of 10 rows measured on a busy machine (contention 0.50-0.57)" in " ".join(lines)
    assert _title_notes(busy[:2]) == [
        "scratch_numpy (default) measured on a busy machine (contention 0.50); pytorch "
        "(default) measured on a busy machine (contention 0.51)"]


def test_every_registered_framework_gets_its_lines():
    """A row of any registered framework besides the pair (here pytorch_cuda) is set against
    scratch_numpy in the interpretation, ratios from its own columns."""
    from scratchnet.report import COLUMNS, interpretation
    base = dict.fromkeys(COLUMNS) | {"status": "ok", "preset": "default", "precision": "float32",
                                     "final_accuracy": 0.9, "peak_memory_mb": 10.0}
    rows = [base | {"framework": name, "train_time_per_epoch_s": seconds,
                    "inference_latency_per_sample_s": seconds / 100,
                    "single_sample_latency_s": seconds / 10}
            for name, seconds in (("scratch_numpy", 0.01), ("pytorch", 0.02), ("pytorch_cuda", 0.04))]
    rows[1]["parity_max_abs_diff"] = rows[0]["parity_max_abs_diff"] = 1e-7
    rows[2]["parity_max_abs_diff"] = 2e-7
    text = interpretation(rows)
    assert "Training time per epoch: scratch_numpy 0.01 s / pytorch_cuda 0.04 s = 0.25 (scratch_numpy 4.00x faster)" in text
    assert "Parity: largest |p_scratch - p_pytorch_cuda| on the held-out split = 2.000e-07" in text


def test_the_curves_are_drawn_when_a_row_has_its_history(tmp_path):
    from scratchnet.report import COLUMNS, CURVES_FILE, write_reports
    row = dict.fromkeys(COLUMNS) | {"framework": "scratch_numpy", "status": "ok", "preset": "default",
                                    "train_time_per_epoch_s": 0.01, "final_accuracy": 0.5}
    paths = write_reports([row], tmp_path / "plain")  # asv's rows have no history
    assert "curves_png" not in paths and not (tmp_path / "plain" / CURVES_FILE).exists()
    history = {"loss": [1.0, 0.5], "accuracy": [0.3, 0.6], "val_loss": [1.1, 0.6],
               "val_accuracy": [0.4, 0.5]}
    paths = write_reports([row | {"history": history}], tmp_path / "curves")
    assert paths["curves_png"] == str(tmp_path / "curves" / CURVES_FILE)
    assert (tmp_path / "curves" / CURVES_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from scratchnet.report import read_json
    assert read_json(paths["json"])[0]["history"] == history


def test_a_figure_from_an_earlier_run_is_removed_once_the_new_reports_are_in_place(
        tmp_path, monkeypatch):
    from scratchnet.report import COLUMNS, CURVES_FILE, write_reports
    row = dict.fromkeys(COLUMNS) | {"framework": "scratch_numpy", "status": "ok", "preset": "default",
                                    "train_time_per_epoch_s": 0.01, "final_accuracy": 0.5,
                                    "history": {"loss": [1.0, 0.5], "accuracy": [0.3, 0.6]}}
    write_reports([row], tmp_path)
    curves = (tmp_path / CURVES_FILE).read_bytes()
    (tmp_path / "notes.txt").write_text("the user's own file")
    plain = row | {"history": None}

    def broken_savefig(self, handle, **kwargs):
        raise OSError(28, "No space left on device")

    from matplotlib.figure import Figure
    with monkeypatch.context() as patched:  # a run whose reports fail: the earlier set stays whole
        patched.setattr(Figure, "savefig", broken_savefig)
        with pytest.raises(OSError):
            write_reports([plain], tmp_path)
    assert (tmp_path / CURVES_FILE).read_bytes() == curves
    paths = write_reports([plain], tmp_path)  # a run without curves: the old ones go
    assert "curves_png" not in paths and not (tmp_path / CURVES_FILE).exists()
    assert sorted(os.listdir(tmp_path)) == sorted([*reports.FILES.values(), reports.HTML_FILE,
                                                   "notes.txt"])


def test_an_exports_history_is_written_with_the_set_and_removed_by_a_run_without_one(tmp_path):
    import matplotlib.pyplot as plt

    from scratchnet.report import COLUMNS, HISTORY_FILES, read_csv, write_reports
    row = dict.fromkeys(COLUMNS) | {"framework": "scratch_numpy", "status": "ok", "preset": "default",
                                    "train_time_per_epoch_s": 0.01, "final_accuracy": 0.5}
    history = [{"commit": "abc", "metric": "train_time_per_epoch_s", "value": 0.01}]
    figure = plt.figure()
    paths = write_reports([row], tmp_path, figures={"history_png": (HISTORY_FILES["png"], figure)},
                          tables={"history_csv": (HISTORY_FILES["csv"], history,
                                                  ["commit", "metric", "value", "unit"])})
    plt.close(figure)
    assert paths["history_csv"] == os.path.join(tmp_path, HISTORY_FILES["csv"])
    assert read_csv(paths["history_csv"]) == [history[0] | {"unit": None}]
    assert os.path.isfile(paths["history_png"])
    paths = write_reports([row], tmp_path)  # a compare into the same folder: the history goes
    assert not any((tmp_path / name).exists() for name in HISTORY_FILES.values())
    assert sorted(os.listdir(tmp_path)) == sorted([*reports.FILES.values(), reports.HTML_FILE])


def test_a_low_mse_accuracy_is_explained():
    from scratchnet.report import COLUMNS, interpretation
    base = dict.fromkeys(COLUMNS) | {"status": "ok", "preset": "default", "precision": "float32",
                                     "epochs": 3, "alpha": 0.1, "train_time_per_epoch_s": 0.01,
                                     "parity_max_abs_diff": 1e-7}
    for loss, accuracy, explained in (("mse", 0.27, True), ("mse", 0.9, False),
                                      ("cross_entropy", 0.27, False)):
        rows = [base | {"framework": name, "loss": loss, "final_accuracy": accuracy}
                for name in ("scratch_numpy", "pytorch")]
        assert ("is not a fault: with the MSE loss, 3 epochs and alpha 0.1" in interpretation(rows)) \
            is explained, (loss, accuracy)


def test_the_html_report_needs_nothing_outside_itself(tmp_path):
    """Every src and href is data the page carries, no script, no address elsewhere."""
    import html.parser
    paths = reports.write_reports(fake_rows(), tmp_path)
    text = open(paths["html"], encoding="utf-8").read()

    class References(html.parser.HTMLParser):
        found, tags = [], set()

        def handle_starttag(self, tag, attributes):
            self.tags.add(tag)
            self.found += [value for name, value in attributes if name in ("src", "href", "srcset")]

    parser = References()
    parser.feed(text)
    assert parser.found and all(value.startswith("data:image/png;base64,") for value in parser.found)
    assert "script" not in parser.tags and "link" not in parser.tags
    assert "http://" not in text and "https://" not in text and "url(" not in text
    for row in fake_rows():
        assert f"<td>{row['framework']}</td>" in text
    assert reports.interpretation(fake_rows()).splitlines()[0] in html_unescape(text)


def html_unescape(text):
    import html
    return html.unescape(text)


def test_the_curves_give_each_configuration_its_own_loss_scale():
    """An MSE and a cross-entropy loss are not one quantity: a row of panels per
    configuration. Two losses equal to the seventh digit do not fill their panel."""
    base = {"status": "ok", "layer_sizes": "784x64x10"}
    rows = [dict(base, framework=framework, preset=preset, loss=loss,
                 history={"loss": [first + offset, first / 2 + offset],
                          "accuracy": [0.5, 0.6], "val_loss": [first, first / 2],
                          "val_accuracy": [0.5, 0.7]})
            for preset, loss, first in (("default", "mse", 0.09), ("time_to_accuracy", "cross_entropy", 1.1))
            for framework, offset in (("scratch_numpy", 0.0), ("pytorch", 1e-9))]
    rows.append(dict(base, framework="scratch_numpy", preset="large", loss="mse",
                     history={"loss": [0.0949], "accuracy": [0.1], "val_loss": [0.0938],
                              "val_accuracy": [0.11]}))
    axes = plots.curves_figure(rows).axes
    assert len(axes) == 3 * 4
    mse, cross_entropy, single = axes[0], axes[4], axes[8]
    assert mse.get_ylim()[1] < 0.1 < cross_entropy.get_ylim()[1]
    low, high = single.get_ylim()
    assert high - low >= 0.02 * 0.0949, (low, high)
    assert [tick.get_text() for tick in single.get_xticklabels()] == ["1"]


def _all_presets_with_onnxruntime():
    """Rows like ``compare --preset all --with-onnxruntime``'s: six configurations (two on
    synthetic data), an ONNX Runtime row on each (inference only, as it measures) and a
    time-to-accuracy figure on the last."""
    rows = []
    for preset in ("default", "deep", "wide", "small_batch", "large", "time_to_accuracy"):
        dataset = "synthetic" if preset in ("small_batch", "large") else "digits"
        for framework, factor in (("scratch_numpy", 1.0), ("pytorch", 2.2), ("onnxruntime", 1.3)):
            row = dict.fromkeys(COLUMNS)
            row.update(framework=framework, status="ok", layer_sizes="784x64x10", preset=preset,
                       dataset=dataset, inference_latency_per_sample_s=1.1e-6 * factor,
                       single_sample_latency_s=2e-5 * factor, final_accuracy=0.265625, notes="",
                       precision="float32", threads=1)
            if framework != "onnxruntime":
                row.update(train_time_per_epoch_s=0.0035 * factor, peak_memory_mb=8.25 * factor)
                if preset == "time_to_accuracy":
                    row["time_to_accuracy_s"] = 0.03 * factor
            rows.append(row)
    return rows


def test_each_time_row_has_a_lane_only_for_the_frameworks_it_measured():
    figure = plots.summary_figure(_all_presets_with_onnxruntime())
    lanes = {}
    for ax in figure.axes:
        label = ax.get_ylabel()
        if label:
            lanes[label.split("\n")[0]] = ax.get_ylim()
    # ylim (lanes - 0.4, -0.6): two lanes where ONNX Runtime has no figure, three where it has
    assert lanes == {"training": (1.6, -0.6), "inference": (2.6, -0.6), "time to the": (1.6, -0.6)}


def test_every_label_of_the_summary_lies_inside_the_figure():
    """Each panel's drawn extent (its labels, ticks, titles and written values) and the
    figure's titles and legend fall inside the image: none is cut at an edge."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    figure = plots.summary_figure(_all_presets_with_onnxruntime())
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    width, height = figure.bbox.width, figure.bbox.height
    boxes = [(ax.get_ylabel() or ax.get_title(), ax.get_tightbbox(renderer)) for ax in figure.axes]
    boxes += [(text.get_text(), text.get_window_extent(renderer))
              for text in figure.findobj(lambda artist: artist in (*figure.texts, *[
                  t for sub in figure.subfigs for t in sub.texts]))]
    boxes += [("legend", legend.get_window_extent(renderer)) for legend in figure.legends]
    outside = [(what, box.bounds) for what, box in boxes
               if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > width + 0.5 or box.y1 > height + 0.5]
    assert len(boxes) > 10 and outside == [], outside
