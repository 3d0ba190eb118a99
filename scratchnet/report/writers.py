"""The report files shared by ``scratchnet compare`` and the asv exporter: one schema
(``scratchnet.harness.result.COLUMNS``), written as JSON, CSV, Markdown, PNGs and an HTML
page, all renamed into place together.

Every file is written atomically. Missing values are ``null`` in JSON and
empty cells in CSV.
"""
from __future__ import annotations

import csv
import io
import json
import os

from ..files import WriteError, atomic_write, atomic_write_text, remove_quietly, written_together
from ..harness.result import COLUMNS, ordered
from . import figures as plots
from .html import html_report
from .interpret import interpretation
from .tables import (BREAKDOWN_NOTE, breakdown_left_out, breakdown_tables, has_breakdown,
                     has_instruction_counts, instructions_table, table_rows)

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

