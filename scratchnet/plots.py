"""Every figure the reports draw, with one look: the comparison summary, the learning
curves and the breakdown (``scratchnet.reports`` writes them; the asv exporter's history
figure shares the colours and the writer).

A bare matplotlib ``Figure`` renders with Agg by itself, so no global backend is
switched (a user's notebook keeps its own).
"""
from __future__ import annotations

import io

from .files import atomic_write
from .frameworks import REGISTRY, color
from .metrics import METRICS
from .reports import _group, disturbed_rows, format_number

PANELS = [("train_time_per_epoch_s", "Training time per epoch", "seconds", 1),
          ("inference_latency_per_sample_s", "Inference latency per sample", "microseconds", 1e6),
          ("peak_memory_mb", "Peak memory during build + training", "MB (resident)", 1),
          ("final_accuracy", "Final accuracy (held-out split)", "accuracy (0-1)", 1)]
COLORS = {name: entry.color for name, entry in REGISTRY.items()}
PNG_SIZE = (1200, 900)  # pixels


def summary_figure(rows):
    """A 2x2 summary: one bar per framework, configurations side by side, whiskers over the
    middle half of the runs (the quartiles: one slow run among many does not move them)."""
    from matplotlib.figure import Figure

    groups = list(dict.fromkeys(_group(row) for row in rows))
    frameworks = list(dict.fromkeys(row["framework"] for row in rows))
    users = [f for f in frameworks if f not in REGISTRY]
    figure = Figure(figsize=(PNG_SIZE[0] / 100, PNG_SIZE[1] / 100), dpi=100)
    axes = figure.subplots(2, 2).ravel()
    handles = {}
    for ax, (column, title, unit, scale) in zip(axes, PANELS):
        # the frameworks with a figure in this panel (an onnxruntime row has no training ones)
        present = [f for f in frameworks
                   if any(r["framework"] == f and r.get(column) is not None for r in rows)]
        width = 0.8 / max(1, len(present))
        for f_index, framework in enumerate(present):
            xs, heights, low, high = [], [], [], []
            for g_index, group in enumerate(groups):
                row = next((r for r in rows if _group(r) == group and r["framework"] == framework), None)
                if row is None or row.get(column) is None:
                    continue
                value = row[column] * scale
                xs.append(g_index + (f_index - (len(present) - 1) / 2) * width)
                heights.append(value)
                low.append(value - _or(row.get(f"{column}_q25"), row[column]) * scale)
                high.append(_or(row.get(f"{column}_q75"), row[column]) * scale - value)
            if xs:
                spread = [low, high] if any(low) or any(high) else None
                bars = ax.bar(xs, heights, width, yerr=spread, capsize=3, label=framework,
                              color=color(framework, users))
                handles.setdefault(framework, bars)
                crowded = len(groups) * len(present) > 6  # narrow bars: labels stand upright
                ax.bar_label(bars, [format_number(h) for h in heights], fontsize=8,
                             label_type="center", color="white", rotation=90 if crowded else 0)
        ax.set_title(title)
        ax.set_ylabel(f"{unit} ({METRICS[column].better} is better)")
        ax.set_xticks(range(len(groups)), [str(g) for g in groups])
        if column == "final_accuracy":
            ax.set_ylim(0, 1)
        elif _spans_decades(rows, column):
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    if handles:
        axes[0].legend(handles.values(), handles.keys())
    figure.suptitle("\n".join([f"scratchnet: {' vs '.join(frameworks)} (bars: medians; whiskers: "
                               f"the middle half of the runs, 25th-75th percentile)"]
                              + _title_notes(rows)), fontsize=11)
    figure.tight_layout()
    return figure


#: Characters per line of the summary's title, and lines of notes under its first line.
TITLE_WIDTH, TITLE_NOTE_LINES = 150, 3


def _title_notes(rows):
    """What the summary's title says under its first line: the rows not measured (each cut
    short) and the rows measured on a busy machine (named when few, counted when many),
    wrapped to the figure's width."""
    import textwrap
    notes = [textwrap.shorten(f"{r['framework']} ({_group(r)}): {r['status']}, {r['notes']}",
                              TITLE_WIDTH // 2) for r in rows if r["status"] != "ok"]
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


def _or(value, default):
    return default if value is None else value


def _spans_decades(rows, column):
    """Whether the panel's bars and whiskers span more than a factor of 20 (then a log
    axis: frameworks or presets that far apart would otherwise flatten the smaller bars)."""
    values = [r[key] for r in rows for key in (column, f"{column}_q25", f"{column}_q75")
              if r.get(column) and r.get(key)]
    return len(values) > 1 and max(values) / min(values) > 20


#: The curves' panels: the history key, its title and its axis label.
CURVES = [("loss", "Training loss (mean over the epoch's batches)", "loss (lower is better)"),
          ("accuracy", "Training accuracy (mean over the epoch's batches)",
           "accuracy (higher is better)"),
          ("val_loss", "Held-out loss (after the epoch)", "loss (lower is better)"),
          ("val_accuracy", "Held-out accuracy (after the epoch)", "accuracy (higher is better)")]


def curves_figure(rows):
    """Each framework's per-epoch history, overlaid: colour per framework, marker per
    configuration. Same seed, same batches: lines that coincide learn the same."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    rows = [row for row in rows if row.get("history")]
    groups = list(dict.fromkeys(_group(row) for row in rows))
    frameworks = list(dict.fromkeys(row["framework"] for row in rows))
    users = [f for f in frameworks if f not in REGISTRY]
    markers = "os^Dvx"
    figure = Figure(figsize=(PNG_SIZE[0] / 100, PNG_SIZE[1] / 100), dpi=100, layout="constrained")
    axes = figure.subplots(2, 2).ravel()
    for ax, (key, title, label) in zip(axes, CURVES):
        for row in rows:
            values = row["history"].get(key)
            if not values:
                continue
            index = frameworks.index(row["framework"])
            group = _group(row)
            ax.plot(range(1, len(values) + 1), values, color=color(row["framework"], users),
                    linestyle="-" if index == 0 else (0, (4, 2 + index)),
                    marker=markers[groups.index(group) % len(markers)],
                    markersize=7 - 1.5 * index, fillstyle="full" if index == 0 else "none",
                    label=f"{row['framework']}" + (f" ({group})" if len(groups) > 1 else ""))
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if "accuracy" in key:
            ax.set_ylim(0, 1)
    axes[0].legend(fontsize=8)
    figure.suptitle("Learning curves: same initial weights, same batches; lines that coincide "
                    "learn the same (the timed fits are not these: this fit evaluates every epoch)",
                    fontsize=10)
    return figure


#: The breakdown's colours: one per kind of work, whatever the layer.
KINDS = [("data", "moving data in and out", "#9e9e9e"),
         ("forward_product", "forward: matrix products (PyTorch: with the bias)", "#1f4e99"),
         ("forward_elementwise", "forward: bias, activation", "#8fb3e8"),
         ("loss", "loss and output gradient", "#7b3f9e"),
         ("backward_product", "backward: matrix products (dW, dX; PyTorch: with db)", "#c25400"),
         ("backward_elementwise", "backward: db, activation derivative", "#f2b27a"),
         ("update", "SGD update", "#2e8b57")]


_DARK = ("forward_product", "loss", "backward_product", "update")


def _kind(phase):
    if phase in ("batch", "input", "output"):
        return "data"
    if phase in ("loss", "output gradient"):
        return "loss"
    if phase == "update":
        return "update"
    product = phase in ("forward: matmul", "forward: linear", "backward: linear",
                        "backward: weight gradient", "backward: input gradient")
    return ("forward_" if phase.startswith("forward") else "backward_") + (
        "product" if product else "elementwise")


def breakdown_figure(rows):
    """Per configuration, a training step and a forward pass as stacked bars, one bar per
    framework on a shared linear axis: each part a segment coloured by its kind of work,
    the layer written in it where it fits, the rest (measured minus the parts) hatched."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from .breakdown import SECTIONS, _sort_key
    groups = {}
    for row in rows:
        if row.get("breakdown"):
            groups.setdefault(_group(row), []).append(row)
    colors = {key: value for key, _, value in KINDS}
    figure = Figure(figsize=(12, 1.3 + 2.0 * len(groups)), dpi=100, layout="constrained")
    axes = figure.subplots(len(groups), 2, squeeze=False)
    for (group, members), pair in zip(groups.items(), axes):
        for ax, (section, what) in zip(pair, SECTIONS.items()):
            names = [row["framework"] for row in members]
            largest = max(max(row["breakdown"][section]["plain_s"],
                              sum(p["seconds"] for p in row["breakdown"][section]["parts"]))
                          for row in members) * 1e6
            for y, row in enumerate(members):
                measured = row["breakdown"][section]
                parts = sorted(measured["parts"], key=lambda p: _sort_key(p["layer"], p["phase"]))
                left = 0.0
                for part in parts:
                    width = part["seconds"] * 1e6
                    ax.barh(y, width, left=left, color=colors[_kind(part["phase"])],
                            edgecolor="white", linewidth=0.6, height=0.6)
                    if part["layer"] is not None and width > largest * 0.045:
                        kind = _kind(part["phase"])
                        ax.text(left + width / 2, y, f"L{part['layer']}", ha="center",
                                va="center", fontsize=7,
                                color="white" if kind in _DARK else "black")
                    left += width
                rest = measured["plain_s"] * 1e6 - left
                if rest > 0:
                    ax.barh(y, rest, left=left, color="white", edgecolor="#555555",
                            hatch="///", linewidth=0.6, height=0.6)
                ax.text(max(left, left + rest) + largest * 0.01, y,
                        f"{measured['plain_s'] * 1e6:.4g} µs measured, parts {left:.4g}",
                        va="center", fontsize=8)
            ax.set_yticks(range(len(names)), names)
            ax.invert_yaxis()
            ax.set_xlim(0, largest * 1.45)
            ax.set_xlabel("µs (lower is better)")
            ax.set_title(f"{group}: {what} ({members[0]['breakdown'][section]['rows']} rows)",
                         fontsize=10)
            ax.grid(axis="x", alpha=0.3)
    handles = [Patch(color=value, label=text) for _, text, value in KINDS] + [
        Patch(facecolor="white", edgecolor="#555555", hatch="///",
              label="rest: measured without laps, minus the parts")]
    figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
    figure.suptitle("Where the time goes: medians of each part over the lapped runs; "
                    "L1, L2...: the layer", fontsize=11)
    return figure
