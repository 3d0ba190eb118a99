"""The report writers shared by ``scratchnet compare`` and the asv exporter:
one schema (``COLUMNS``), written as JSON, CSV, Markdown, a PNG and a console table.

Every file is written atomically. Missing values are ``null`` in JSON and
empty cells in CSV.
"""
from __future__ import annotations

import csv
import io
import json
import os

from . import contention
from .files import WriteError, atomic_write, atomic_write_text, remove_quietly, written_together
from .frameworks import REGISTRY, SCRATCH, TWIN
from .metrics import NOT_LIKE_FOR_LIKE, PARITY_LIMIT, timed
from .ratios import RATIO_COLUMNS

#: The spec's keys first, in its order, then spreads, settings and versions.
SPEC_COLUMNS = ["framework", "status", "layer_sizes", "train_time_per_epoch_s",
                "inference_latency_per_sample_s", "batch_throughput_samples_per_s",
                "peak_memory_mb", "final_accuracy", "notes"]
#: The timed columns: each has ``_min``, ``_max`` and the quartiles ``_q25``, ``_q75`` of its runs.
TIMED = timed()
COLUMNS = SPEC_COLUMNS + [
    "train_time_per_epoch_s_min", "train_time_per_epoch_s_max",
    "inference_latency_per_sample_s_min", "inference_latency_per_sample_s_max",
    "single_sample_latency_s", "single_sample_latency_s_min", "single_sample_latency_s_max",
    "batch_throughput_samples_per_s_min", "batch_throughput_samples_per_s_max",
    "time_to_accuracy_s", "time_to_accuracy_s_min", "time_to_accuracy_s_max", "epochs_to_accuracy",
    "time_to_accuracy_status", "best_accuracy", "evaluation_time_s",
    *[f"{column}{suffix}" for column in TIMED for suffix in ("_q25", "_q75")],
    "peak_traced_mb", "peak_memory_method", "peak_gpu_memory_mb",
    "train_accuracy", "parity_max_abs_diff", "diagnosis",
    *[f"{ratio}{suffix}" for ratio in RATIO_COLUMNS.values() for suffix in ("", "_ci_low", "_ci_high")],
    "target_ci", "rounds_stopped_by",
    "disturbed", *contention.COLUMNS,
    "train_step_instructions", "inference_instructions",
    "train_gflops_per_s", "sgemm_gflops_per_s", "fraction_of_sgemm",
    "preset", "activations", "loss", "dataset", "n_samples", "n_test", "epochs", "batch_size",
    "target_accuracy", "max_epochs",
    "alpha", "seed", "precision", "device", "threads", "blas_threads", "torch_threads",
    "repeats", "rounds", "warmup",
    "python_version", "numpy_version", "torch_version", "onnxruntime_version", "blas", "platform",
    "cpu", "cpu_count",
    "started_utc", "commit", "machine", "source",
]
FILES = {"json": "comparison_metrics.json", "csv": "comparison_metrics.csv",
         "markdown": "comparison_metrics.md", "png": "comparison_summary.png"}
#: Written beside them when a row has its per-epoch history (``history`` in the JSON).
CURVES_FILE = "comparison_curves.png"
#: Written beside them when a row has its ``breakdown`` (compare's ``breakdown=True``).
BREAKDOWN_FILE = "comparison_breakdown.png"
#: Everything above in one page that needs nothing outside itself.
HTML_FILE = "comparison_report.html"
#: Written beside them by ``scratchnet export``: the history of the commits asv measured.
HISTORY_FILES = {"csv": "comparison_history.csv", "png": "comparison_history.png"}
#: The files only some runs write: a run that does not write one removes an earlier run's.
OPTIONAL_FILES = (CURVES_FILE, BREAKDOWN_FILE, *HISTORY_FILES.values())

# The metric columns of the console and Markdown tables (names carry their units).
TABLE = ["train_time_per_epoch_s", "inference_latency_per_sample_s", "single_sample_latency_s",
         "batch_throughput_samples_per_s", "peak_memory_mb", "final_accuracy", "contention"]


def ordered(row):
    """The row with every column of ``COLUMNS`` in order (missing ones None), extras after."""
    result = {column: row.get(column) for column in COLUMNS}
    result.update({key: value for key, value in row.items() if key not in result})
    return result


def write_json(rows, path):
    text = json.dumps([ordered(row) for row in rows], indent=2, allow_nan=False,
                      default=_json_default)
    atomic_write_text(path, text + "\n")


def _json_default(value):
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def write_csv(rows, path):
    write_table_csv([ordered(row) for row in rows], COLUMNS, path)


def write_table_csv(rows, columns, path):
    """Rows (dicts) as CSV with ``columns`` as the header, None as an empty cell, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    atomic_write_text(path, buffer.getvalue())


def read_csv(path):
    """Rows back from a CSV: numbers as int/float, empty cells as None."""
    with open(path, newline="") as handle:
        return [{key: _parse_cell(value) for key, value in row.items()}
                for row in csv.DictReader(handle)]


def _parse_cell(text):
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def format_number(value):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3e}"


def _cell(row, column):
    value = format_number(row.get(column))
    low, high = row.get(f"{column}_min"), row.get(f"{column}_max")
    if low is not None and high is not None:
        value += f" [{format_number(low)}-{format_number(high)}]"
    return value


def _group(row):
    return row.get("preset") or row.get("layer_sizes")


def table_rows(rows):
    """The spec's columns (framework, status, metrics), then the configuration."""
    columns = TABLE + (["time_to_accuracy_s", "epochs_to_accuracy"]
                       if any(row.get("target_accuracy") for row in rows) else [])
    header = ["framework", "status"] + columns + ["preset"]
    body = [[row["framework"], row["status"]] + [_cell(row, column) for column in columns]
            + [_group(row) or ""] for row in rows]
    return header, body


def _text_table(header, body):
    """Columns padded to their widest cell, joined by " | ", a rule under the header."""
    widths = [max(len(str(line[i])) for line in [header] + body) for i in range(len(header))]
    lines = [" | ".join(str(cell).ljust(width) for cell, width in zip(line, widths))
             for line in [header] + body]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def console_table(rows):
    """The spec's ``framework | status | ...`` table, medians with [min-max] after them."""
    return _text_table(*table_rows(rows))


def _ratio_line(prefix, what, scratch, other, column, holder=None):
    """``what: scratch_numpy X s / other Y s = R [low-high] (... faster, F x)``, or None when a
    side lacks the figure (e.g. a metric the asv suite does not measure). R comes from the
    ratio column of ``holder`` (default: the other row), with its 95 % interval; without
    one (asv results), from the two medians."""
    ratio_column = RATIO_COLUMNS[column]
    holder = other if holder is None else holder
    if not (other.get(column) and scratch.get(column)):
        return None
    ratio, low, high = (holder.get(ratio_column), holder.get(f"{ratio_column}_ci_low"),
                        holder.get(f"{ratio_column}_ci_high"))
    if ratio is None or low is None or high is None:
        ratio, interval = scratch[column] / other[column], ""
    else:
        interval = f" [{low:.3g}-{high:.3g}, 95% CI]"
    mine, name = scratch["framework"], other["framework"]
    winner = mine if ratio < 1 else name
    verdict = f"{winner} {max(ratio, 1 / ratio):.2f}x faster"
    if interval and low <= 1 <= high:
        verdict = "no clear winner: the interval includes 1"
    return (f"{prefix}{what}: {mine} {format_number(scratch[column])} s / {name} "
            f"{format_number(other[column])} s = {ratio:.3g}{interval} ({verdict})")


_TIMES = (("train_time_per_epoch_s", "Training time per epoch"),
          ("inference_latency_per_sample_s", "Inference latency per sample"),
          ("single_sample_latency_s", "Single-sample latency"),
          ("time_to_accuracy_s", "Time to the target accuracy"))


def _by_group(rows):
    groups = {}
    for row in rows:
        groups.setdefault(_group(row), {})[row["framework"]] = row
    return groups


def _user_lines(prefix, user, torch_row):
    """A user class's row: its speed against the twin's, and its parity with it."""
    name = user["framework"]
    if user["status"] != "ok":
        return [f"{prefix}{name}: {user['status']}: {user['notes']}"]
    if not (torch_row and torch_row["status"] == "ok"):
        return [f"{prefix}{name}: no ratio: the pytorch row must be ok; parity against "
                f"scratch_numpy = {format_number(user.get('parity_max_abs_diff'))}"]
    lines = [line for column, what in _TIMES
             if (line := _ratio_line(prefix, what, user, torch_row, column, holder=user))]
    if NOT_LIKE_FOR_LIKE in (user.get("diagnosis") or "") and lines:
        lines[0] += f" - NOT LIKE FOR LIKE: {name} makes another number of updates per epoch (below)"
    parity = user.get("parity_max_abs_diff")
    above = parity is not None and parity > PARITY_LIMIT[user["precision"]]
    verdict = ("" if not above else f": above {PARITY_LIMIT[user['precision']]:g}: "
               + (user.get("diagnosis") or f"{name} does not compute what the twin computes; "
                                            f"`scratchnet check` names the layer that differs"))
    # a row that declared its loss's reductions was compared with the twin trained that way
    against = ("" if user.get("loss") == torch_row.get("loss") else
               f" (against the twin trained under its loss, {user.get('loss')})")
    accuracy = (f"accuracy {format_number(user['final_accuracy'])} vs "
                f"{format_number(torch_row['final_accuracy'])}" if not against else
                f"accuracy {format_number(user['final_accuracy'])}; the pytorch row's, under "
                f"{torch_row.get('loss')}, {format_number(torch_row['final_accuracy'])}")
    lines.append(f"{prefix}Parity: largest |p_{name} - p_torch| on the held-out split{against} = "
                 f"{format_number(parity)} ({user['precision']}); {accuracy}{verdict}")
    if user.get("diagnosis") and not above:
        lines.append(f"{prefix}Note on {name}: {user['diagnosis']}")
    return lines


def interpretation(rows):
    """Per configuration: the speed ratios scratch_numpy / other with their intervals, the
    memory ratio and parity, as the spec's example words them; an onnxruntime row adds
    its inference ratios and its parity with the scratch network."""
    lines = []
    groups = _by_group(rows)
    for group, by_framework in groups.items():
        scratch, torch_row = by_framework.get(SCRATCH), by_framework.get(TWIN)
        prefix = f"{group}: " if len(groups) > 1 else ""
        if not (scratch and torch_row and scratch["status"] == torch_row["status"] == "ok"):
            if scratch and torch_row:  # both asked for, one not measured
                lines.append(f"{prefix}no ratio: both scratch_numpy and pytorch rows must be ok")
        else:
            lines += filter(None, (_ratio_line(prefix, what, scratch, torch_row, column)
                                   for column, what in _TIMES))
            if scratch.get("peak_memory_mb") and torch_row.get("peak_memory_mb"):
                ratio = torch_row["peak_memory_mb"] / scratch["peak_memory_mb"]
                lines.append(f"{prefix}Memory ratio: pytorch "
                             f"{format_number(torch_row['peak_memory_mb'])} MB / scratch_numpy "
                             f"{format_number(scratch['peak_memory_mb'])} MB = {ratio:.2f}x")
            if scratch.get("time_to_accuracy_status") or torch_row.get("time_to_accuracy_status"):
                lines.append(f"{prefix}Time to {scratch['target_accuracy']:g} held-out accuracy "
                             f"(checked after each epoch; the evaluations' time left out): " + "; ".join(
                                 f"{row['framework']} {row.get('time_to_accuracy_status')}"
                                 for row in (scratch, torch_row)))
            if scratch.get("parity_max_abs_diff") is not None or scratch.get("final_accuracy") is not None:
                lines.append(f"{prefix}Parity: largest |p_scratch - p_torch| on the held-out split = "
                             f"{format_number(scratch.get('parity_max_abs_diff'))} "
                             f"({scratch['precision']}); accuracy "
                             f"{format_number(scratch['final_accuracy'])} vs "
                             f"{format_number(torch_row['final_accuracy'])}")
            if scratch.get("loss") == "mse" and scratch.get("final_accuracy") is not None \
                    and scratch["final_accuracy"] < 0.5:
                shown = " (comparison_curves.png shows it)" if scratch.get("history") else ""
                lines.append(f"{prefix}Accuracy {format_number(scratch['final_accuracy'])} is not a "
                             f"fault: with the MSE loss, {scratch.get('epochs')} epochs and alpha "
                             f"{scratch.get('alpha')} on pixels in [0, 1] both networks have barely begun "
                             f"to learn{shown}; --loss cross_entropy, or more --epochs, or "
                             f"--preset time_to_accuracy shows networks that learn")
        for user in (row for name, row in by_framework.items() if name not in REGISTRY):
            lines += _user_lines(prefix, user, torch_row)
        # every other registered framework (onnxruntime, pytorch_cuda...): scratch_numpy
        # against it, for the figures it has
        for name, other in by_framework.items():
            if name in (SCRATCH, TWIN) or name not in REGISTRY:
                continue
            if not (scratch and scratch["status"] == other["status"] == "ok"):
                continue
            lines += filter(None, (_ratio_line(prefix, what, scratch, other, column)
                                   for column, what in _TIMES))
            if other.get("parity_max_abs_diff") is not None:  # the asv suite does not measure it
                lines.append(f"{prefix}Parity: largest |p_scratch - p_{name}| on the held-out "
                             f"split = {format_number(other['parity_max_abs_diff'])}; accuracy "
                             f"{format_number(scratch['final_accuracy'])} vs "
                             f"{format_number(other['final_accuracy'])}")
    stops = list(dict.fromkeys(f"{_group(r)}: {r['rounds_stopped_by']}" if len(groups) > 1
                               else r["rounds_stopped_by"] for r in rows if r.get("rounds_stopped_by")))
    lines += [f"Rounds: {stop}" for stop in stops]
    if any(r.get("rounds") == 1 and r.get(ratio) is not None for r in rows
           for ratio in RATIO_COLUMNS.values()):
        lines.append("Intervals from a single round show only the spread inside one pair of "
                     "processes; --rounds 3 or more also covers the variation between processes.")
    return "\n".join(lines + contention_warnings(rows))


def disturbed_rows(rows):
    """The rows measured while something else competed for the CPU (``disturbed``)."""
    return [row for row in rows if row.get("disturbed")]


def contention_warnings(rows):
    """Console lines naming every disturbed row and why; none for a quiet run."""
    disturbed = disturbed_rows(rows)
    if not disturbed:
        return []
    lines = [f"WARNING: {len(disturbed)} of {len(rows)} rows were measured while other work "
             f"competed for the CPU (contention or run-queue wait >= "
             f"{contention.DISTURBED_AT:.2f}); their times are inflated and the ratios "
             f"may be wrong:"]
    lines += [f"  {row['framework']} ({_group(row)}): contention {row['contention']:.2f}; "
              f"{contention.describe(contention.from_columns(row))}" for row in disturbed]
    advice = "rerun when the machine is quiet"
    if any((row.get("threads") or 1) > 1 for row in disturbed):
        advice += ", or with --threads 1, which leaves the other cores to the other work"
    lines.append(f"  To trust these figures, {advice}; --strict makes such a run exit with "
                 f"status 3.")
    return lines


def roofline_table(rows):
    """Per configuration: both frameworks' training time, their ratio, achieved GFLOP/s,
    the sgemm rate each one's worker measured and the fraction of it achieved."""
    header = ["preset", "scratch_numpy_s", "pytorch_s", "ratio", "scratch_gflops", "torch_gflops",
              "scratch_sgemm", "torch_sgemm", "scratch_frac", "torch_frac"]
    lines = []
    groups = {}
    for row in rows:
        groups.setdefault(_group(row), {})[row["framework"]] = row
    for group, by_framework in groups.items():
        scratch, torch_row = by_framework.get(SCRATCH, {}), by_framework.get(TWIN, {})
        ratio = (scratch["train_time_per_epoch_s"] / torch_row["train_time_per_epoch_s"]
                 if scratch.get("train_time_per_epoch_s") and torch_row.get("train_time_per_epoch_s")
                 else None)
        lines.append([group, scratch.get("train_time_per_epoch_s"), torch_row.get("train_time_per_epoch_s"),
                      ratio, scratch.get("train_gflops_per_s"), torch_row.get("train_gflops_per_s"),
                      scratch.get("sgemm_gflops_per_s"), torch_row.get("sgemm_gflops_per_s"),
                      scratch.get("fraction_of_sgemm"), torch_row.get("fraction_of_sgemm")])
    return _text_table(header, [[format_number(v) for v in line] for line in lines])


def has_instruction_counts(rows):
    return any(row.get("train_step_instructions") or row.get("inference_instructions")
               for row in rows)


def instructions_table(rows):
    """Per configuration and framework: instructions of one training step and of one inference
    over the held-out split, and scratch_numpy's count over this row's (the direction of
    every ratio here)."""
    header = ["preset", "framework", "train_step_instructions", "scratch/this",
              "inference_instructions", "scratch/this"]
    body = []
    for group, by_framework in _by_group(rows).items():
        scratch = by_framework.get(SCRATCH, {})
        for framework, row in by_framework.items():
            line = [group, framework]
            for column in ("train_step_instructions", "inference_instructions"):
                mine, theirs = row.get(column), scratch.get(column)
                line += [format_number(mine), format_number(theirs / mine if mine and theirs else None)]
            body.append(line)
    return _text_table(header, body)


def has_breakdown(rows):
    return any(row.get("breakdown") for row in rows)


def breakdown_tables(rows):
    """[(title, header, body)]: per configuration with a breakdown, its training step's
    table and its forward pass's (``scratchnet.breakdown.table``)."""
    from .breakdown import SECTIONS, table
    tables = []
    for group, by_framework in _by_group(rows).items():
        parts = {name: row["breakdown"] for name, row in by_framework.items()
                 if row.get("breakdown")}
        if not parts:
            continue
        first = next(row for row in by_framework.values() if row.get("breakdown"))
        sizes = [int(n) for n in first["layer_sizes"].split("x")]
        for section, what in SECTIONS.items():
            measured = next(iter(parts.values()))[section]
            runs = measured["runs"]
            title = (f"{group} ({first['layer_sizes']}): {what} of {measured['rows']} rows, "
                     f"medians over {runs} lapped runs, microseconds")
            header, body = table(parts, section, sizes, reference=SCRATCH)
            tables.append((title, header, body))
    return tables


#: What every breakdown table's columns mean, said once under them.
BREAKDOWN_NOTE = (
    "GFLOP/s: the part's matrix-product flops over its time, with its share of the float32 "
    "sgemm rate (2048x2048) its worker measured. A ratio below 1: scratch_numpy's part is "
    "faster. PyTorch's Linear is one operation forward (addmm: product and bias) and one "
    "autograd node backward (dX, dW and db), so it has no finer lines. On one BLAS thread "
    "scratch_numpy subtracts each gradient from its weights in the call that computes it (a "
    "BLAS gemm and gemv with beta = 1), so its update is inside its backward: linear lines "
    "and its update line is empty. rest: the step "
    "measured without laps minus the sum of the lapped parts: the laps' own cost when "
    "negative, time no lap saw when positive. fit's time per step: the training time per "
    "epoch over the epoch's steps, which adds fit's per-epoch shuffle and per-batch checks; "
    "it comes from the timed runs, another moment than the breakdown's, so on a machine "
    "whose speed drifts it is a rough guide only.")


def breakdown_left_out(rows):
    """Why the measured rows without a breakdown have none, one line (or "")."""
    if not has_breakdown(rows):
        return ""
    reasons = {}
    for row in rows:
        if row["status"] == "ok" and not row.get("breakdown"):
            why = ("CUDA runs asynchronously: laps read on the CPU would time kernel launches"
                   if row.get("device") == "cuda" else
                   "inference only, in ONNX Runtime's own kernels" if row["framework"] in REGISTRY
                   else "your class: its parts are its own code, which scratchnet does not lap")
            reasons.setdefault(row["framework"], why)
    return ("No breakdown for " + "; ".join(f"{name} ({why})" for name, why in reasons.items())
            + ".") if reasons else ""


def breakdown_text(rows):
    """The breakdown tables as text, their note at the end ("" without a breakdown)."""
    tables = breakdown_tables(rows)
    if not tables:
        return ""
    return "\n\n".join(f"{title}\n{_text_table(header, body)}" for title, header, body in tables) \
        + "\n\n" + " ".join(filter(None, [BREAKDOWN_NOTE, breakdown_left_out(rows)]))


def markdown_table(rows):
    header, body = table_rows(rows)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in line) + " |" for line in body]
    settings = {key: rows[0].get(key) for key in ("threads", "repeats", "rounds", "precision", "numpy_version",
                                                  "torch_version", "python_version", "cpu")} if rows else {}
    notes = ("Medians over the timed runs, [min-max] after them; contention: the share of the "
             "CPUs' time other processes or the hypervisor used while a row was timed (worst "
             "round). ") + ", ".join(
        f"{key}: {value}" for key, value in settings.items())
    text = "\n".join(lines) + "\n\n" + notes + "\n\n" + interpretation(rows) + "\n"
    if has_instruction_counts(rows):
        text += ("\nInstructions (valgrind, one thread; a regression signal, not a speed):\n\n"
                 + instructions_table(rows) + "\n")
    if has_breakdown(rows):
        text += "\nWhere the time goes:\n\n" + "\n\n".join(
            f"{title}\n\n" + "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                                        + ["| " + " | ".join(line) + " |" for line in body])
            for title, header, body in breakdown_tables(rows)) + "\n\n" + " ".join(
            filter(None, [BREAKDOWN_NOTE, breakdown_left_out(rows)])) + "\n"
    return text


def write_markdown(rows, path):
    atomic_write_text(path, markdown_table(rows))


def write_png(rows, path):
    """Write ``plots.summary_figure(rows)`` as a PNG."""
    from . import plots
    plots.save_png(plots.summary_figure(rows), path)


def write_reports(rows, out_dir, figures=None, tables=None):
    """Write JSON, CSV, Markdown, the summary PNG, the learning curves (where a row has its
    history), the breakdown (where a row has one), ``figures`` ({kind: (file name, matplotlib
    Figure)}: more figures, e.g. the asv history), ``tables`` ({kind: (file name, rows,
    columns)}: more CSVs, e.g. the asv history's) and the HTML page into ``out_dir``
    (created if missing); return their paths.
    They are renamed into place only once all are written: a failure (a full disk at the
    PNG) leaves the earlier set as it was."""
    paths = {kind: os.path.join(out_dir, name) for kind, name in FILES.items()}
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create the folder {out_dir!r}: {exc.strerror or exc}") from None
    from . import plots
    drawn = {"png": plots.summary_figure}
    if any(row.get("history") for row in rows):
        paths["curves_png"] = os.path.join(out_dir, CURVES_FILE)
        drawn["curves_png"] = plots.curves_figure
    if has_breakdown(rows):
        paths["breakdown_png"] = os.path.join(out_dir, BREAKDOWN_FILE)
        drawn["breakdown_png"] = plots.breakdown_figure
    paths["html"] = os.path.join(out_dir, HTML_FILE)
    # each figure rendered once: its PNG file and the HTML page carry the same bytes
    images = {kind: plots.png_bytes(draw(rows)) for kind, draw in drawn.items()}
    for kind, (name, figure) in (figures or {}).items():
        paths[kind] = os.path.join(out_dir, name)
        images[kind] = plots.png_bytes(figure)
    for kind, (name, _, _) in (tables or {}).items():
        paths[kind] = os.path.join(out_dir, name)
    with written_together():
        write_json(rows, paths["json"])
        write_csv(rows, paths["csv"])
        write_markdown(rows, paths["markdown"])
        for kind, (_, table, columns) in (tables or {}).items():
            write_table_csv(table, columns, paths[kind])
        for kind, data in images.items():
            atomic_write(paths[kind], lambda handle, data=data: handle.write(data))
        atomic_write_text(paths["html"], html_report(rows, list(images.values())))
    # An optional file this run did not write is an earlier run's: removed once the new set
    # is in place, so no report in the folder belongs to another run.
    for name in OPTIONAL_FILES:
        stale = os.path.join(out_dir, name)
        if stale not in paths.values() and os.path.isfile(stale):
            remove_quietly(stale)
    return paths


#: The environment a report states, from its first row.
ENVIRONMENT = ["machine", "cpu", "cpu_count", "platform", "python_version", "numpy_version",
               "torch_version", "onnxruntime_version", "blas", "threads", "precision", "repeats",
               "rounds", "started_utc", "commit", "source"]


def html_report(rows, images):
    """The whole report as one HTML page: the table, the interpretation, each row's
    contention, the environment and ``images`` (PNG bytes) embedded as data, with no script
    and no reference to anything outside the page (it opens from file:// offline)."""
    import base64
    import html

    def table(header, body):
        head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
        lines = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in line)
                        + "</tr>" for line in body)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>"

    images = [base64.b64encode(data).decode("ascii") for data in images]
    first = rows[0] if rows else {}
    environment = [[key, first.get(key)] for key in ENVIRONMENT if first.get(key) is not None]
    busy = [[row["framework"], _group(row) or "", format_number(row.get("contention")),
             format_number(row.get("contention_runqueue_wait")), row.get("disturbed")]
            for row in rows]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>scratchnet comparison</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1250px}"
        "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
        "td,th{border:1px solid #bbb;padding:3px 8px;text-align:left}"
        "th{background:#eee}img{max-width:100%;border:1px solid #ddd}"
        "pre{white-space:pre-wrap}.wide{overflow-x:auto}</style></head><body>",
        "<h1>scratchnet comparison</h1>",
        "<h2>Medians [min-max]</h2>", f'<div class="wide">{table(*table_rows(rows))}</div>',
        "<h2>What the figures say</h2>", f"<pre>{html.escape(interpretation(rows))}</pre>",
        "<h2>Was the machine busy?</h2>",
        "<p>contention: the share of the allowed CPUs' time that other processes or the "
        "hypervisor used while a row was timed (worst round); run-queue wait: the share of "
        "our threads' runnable time spent waiting for a CPU; disturbed: either is 0.10 or "
        "more.</p>",
        table(["framework", "preset", "contention", "run-queue wait", "disturbed"], busy),
        *([f"<h2>Where the time goes</h2><p>{html.escape(BREAKDOWN_NOTE)} "
           f"{html.escape(breakdown_left_out(rows))}</p>"]
          + [f"<h3>{html.escape(title)}</h3>" + f'<div class="wide">{table(header, body)}</div>'
             for title, header, body in breakdown_tables(rows)] if has_breakdown(rows) else []),
        "<h2>Environment</h2>", table(["setting", "value"], environment),
        "<h2>Figures</h2>",
        *[f'<p><img alt="figure {i + 1}" src="data:image/png;base64,{data}"></p>'
          for i, data in enumerate(images)],
        "</body></html>"]
    return "\n".join(parts) + "\n"


