"""The whole report as one self-contained HTML page."""
from __future__ import annotations

import base64
import html

from .interpret import interpretation
from .tables import (BREAKDOWN_NOTE, breakdown_left_out, breakdown_tables, format_number, group,
                     has_breakdown, table_rows)

#: The environment a report states, from its first row.
ENVIRONMENT = ["machine", "cpu", "cpu_count", "platform", "python_version", "numpy_version",
               "torch_version", "onnxruntime_version", "blas", "threads", "precision", "repeats",
               "rounds", "started_utc", "commit", "source"]


def html_report(rows, images):
    """The whole report as one HTML page: the table, the interpretation, each row's
    contention, the environment and ``images`` (PNG bytes) embedded as data, with no script
    and no reference to anything outside the page (it opens from file:// offline)."""
    def table(header, body):
        head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
        lines = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in line)
                        + "</tr>" for line in body)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>"

    images = [base64.b64encode(data).decode("ascii") for data in images]
    first = rows[0] if rows else {}
    environment = [[key, first.get(key)] for key in ENVIRONMENT if first.get(key) is not None]
    busy = [[row["framework"], group(row) or "", format_number(row.get("contention")),
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

