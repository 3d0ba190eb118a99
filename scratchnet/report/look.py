"""The look every figure shares: the frameworks' colours, the width, how a configuration is
named, the notes under the summary's title, and the PNG writers. A bare matplotlib
``Figure`` renders with Agg by itself, so no global backend is switched (a user's
notebook keeps its own)."""
from __future__ import annotations

import io

from ..files import atomic_write
from ..harness.frameworks import REGISTRY
from ..metrics import QUICK_NOTE
from .tables import disturbed_rows, group as _group

COLORS = {name: entry.color for name, entry in REGISTRY.items()}


#: Every figure's width in pixels (at 100 dpi); its height follows what it shows.
WIDTH = 1200


def label(row):
    """A configuration as the figures name it: its preset and, where it is not the
    digits, its data set (the presets do not all draw the same data)."""
    dataset = row.get("dataset")
    return f"{_group(row)}" + (f" ({dataset})" if dataset and dataset != "digits" else "")


#: Characters per line of the summary's title, and lines of notes under its first line.
TITLE_WIDTH, TITLE_NOTE_LINES = 150, 3


def title_notes(rows):
    """What the summary's title says under its first line: the rows not measured (each cut
    short) and the rows measured on a busy machine (named when few, counted when many),
    wrapped to the figure's width."""
    import textwrap
    notes = [textwrap.shorten(f"{r['framework']} ({_group(r)}): {r['status']}, {r['notes']}",
                              TITLE_WIDTH // 2) for r in rows if r["status"] != "ok"]
    if any(QUICK_NOTE in (r.get("notes") or "") for r in rows):
        notes.append("times from one run each (asv run --quick), first-call costs included: a "
                     "smoke test, not figures to quote")
    busy = disturbed_rows(rows)
    if 0 < len(busy) <= 2:
        notes += [f"{r['framework']} ({_group(r)}) measured on a busy machine (contention "
                  f"{r['contention']:.2f})" for r in busy]
    elif busy:
        levels = [r["contention"] for r in busy]
        notes.append(f"{len(busy)} of {len(rows)} rows measured on a busy machine (contention "
                     f"{min(levels):.2f}-{max(levels):.2f})")
    lines = textwrap.wrap("; ".join(notes), TITLE_WIDTH)
    if len(lines) > TITLE_NOTE_LINES:
        lines = lines[:TITLE_NOTE_LINES - 1] + ["... and more: see the reports' notes"]
    return lines


def save_png(figure, path):
    """Write a matplotlib Figure as PNG atomically. A bare Figure renders with Agg by
    itself, so no global backend is switched (a user's notebook keeps its own)."""
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=100))


def png_bytes(figure):
    """A matplotlib Figure rendered as PNG, as ``save_png`` writes it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
