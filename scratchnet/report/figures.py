"""Every figure the reports draw, with one look (the frameworks' colours, a title over the
whole, titled panels, the legend under them): the comparison summary, the learning curves,
and the breakdown (``scratchnet.report.writers`` writes them); the asv history
(``scratchnet.asv.history``) borrows its look.

A bare matplotlib ``Figure`` renders with Agg by itself, so no global backend is
switched (a user's notebook keeps its own).
"""
from __future__ import annotations

import io

from ..harness.breakdown import PRODUCTS
from ..files import atomic_write
from ..harness.frameworks import REGISTRY, color
from ..metrics import METRICS, QUICK_NOTE
from .tables import disturbed_rows, format_number, group as _group

COLORS = {name: entry.color for name, entry in REGISTRY.items()}
#: Every figure's width in pixels (at 100 dpi); its height follows what it shows.
WIDTH = 1200
#: The summary's speed ratios: the ratio column and what it divides.
RATIO_PANELS = [("train_time_ratio", "Training time per epoch"),
                ("inference_latency_ratio", "Inference latency per sample"),
                ("single_sample_latency_ratio", "Single-sample latency"),
                ("time_to_accuracy_ratio", "Time to the target accuracy")]
#: Its absolute figures, one small panel per configuration: column, title, unit, scale.
TIME_PANELS = [("train_time_per_epoch_s", "training\nper epoch", "ms", 1e3),
               ("inference_latency_per_sample_s", "inference\nper sample", "µs", 1e6),
               ("time_to_accuracy_s", "time to the\ntarget accuracy", "s", 1.0)]
OTHER_PANELS = [("peak_memory_mb", "Peak memory while building and training", "MB (resident)"),
                ("final_accuracy", "Held-out accuracy after training", "accuracy")]
#: Inches per row of a dot panel, and between two configurations' rows.
ROW, GAP = 0.24, 0.5


def _label(row):
    """A configuration as the figures name it: its preset and, where it is not the
    digits, its data set (the presets do not all draw the same data)."""
    dataset = row.get("dataset")
    return f"{_group(row)}" + (f" ({dataset})" if dataset and dataset != "digits" else "")


def _layout(entries):
    """Row positions of a dot panel: ``entries`` is [(configuration, [frameworks])]; each
    framework gets its own row (so no two labels share one), configurations apart.
    Returns ({(configuration, framework): y}, [(y of a configuration's middle, name)], height)."""
    positions, ticks, y = {}, [], 0.0
    for group, members in entries:
        first = y
        for framework in members:
            positions[(group, framework)] = y
            y += 1
        ticks.append(((first + y - 1) / 2, group))
        y += GAP
    return positions, ticks, max(y - GAP, 1.0)


def _dot(ax, y, value, low, high, colour, text):
    """A median (dot), its spread (a line from low to high) and its value written just past
    the spread's end, on the row ``y``."""
    if low is not None and high is not None:
        ax.plot([low, high], [y, y], color=colour, linewidth=2.2, alpha=0.55,
                solid_capstyle="butt")
    ax.plot([value], [y], "o", color=colour, markersize=6.5, zorder=3)
    ax.annotate(text, (high if high is not None else value, y), xytext=(5, 0),
                textcoords="offset points", va="center", fontsize=8, zorder=4,
                bbox=dict(facecolor="white", edgecolor="none", pad=0.5, alpha=0.85))


def _ratio_scale(ax, low, high):
    """A logarithmic axis from ``low`` to ``high``, labelled at 1, 2 and 5 times powers of
    ten (at powers of ten only where it spans more than two decades, so labels never
    meet), written plainly (0.5, 1, 2), with no labels on the minor ticks."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    subs = (1.0,) if high / low > 100 else (1.0, 2.0, 5.0)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _rows_axes(ax, ticks, height):
    ax.set_yticks([y for y, _ in ticks], [name for _, name in ticks], fontsize=9)
    ax.set_ylim(height - 0.4, -0.6)
    ax.grid(axis="x", alpha=0.3)
    ax.tick_params(axis="y", length=0)


def summary_figure(rows):
    """The comparison at a glance, one question per panel:

    - the speed ratios, hand-written over framework, with their 95 % intervals, one row per
      configuration and framework, on one logarithmic scale around a line at 1;
    - each configuration's absolute times on its own linear scale from 0 (small
      multiples): medians with the middle half of the runs (25th-75th percentile, so one
      slow run among many moves neither the line nor the scale);
    - peak memory and accuracy.

    Dots, not bars (a bar's length on a log axis means nothing); every value written in
    its own row, so no two labels meet."""
    from matplotlib.figure import Figure

    everyone = list(dict.fromkeys(row["framework"] for row in rows))
    users = [f for f in everyone if f not in REGISTRY]
    frameworks = [f for f in everyone if any(r["framework"] == f and r["status"] == "ok"
                                             for r in rows)] or everyone  # the measured ones
    groups = {}
    for row in rows:
        groups.setdefault(_group(row), {})[row["framework"]] = row
    labels = {group: _label(next(iter(members.values()))) for group, members in groups.items()}
    colours = {name: color(name, users) for name in everyone}

    def present(column):
        return [(group, [f for f, row in members.items() if row.get(column) is not None])
                for group, members in groups.items()]

    ratios = [(column, title) for column, title in RATIO_PANELS
              if any(row.get(column) is not None for row in rows)]
    ratio_entries = [(group, [f for f, row in members.items()
                              if any(row.get(column) is not None for column, _ in ratios)])
                     for group, members in groups.items()]
    ratio_entries = [(group, members) for group, members in ratio_entries if members]
    times = [panel for panel in TIME_PANELS if any(row.get(panel[0]) is not None for row in rows)]
    others = [panel for panel in OTHER_PANELS if any(row.get(panel[0]) is not None for row in rows)]
    # each dot panel's rows, laid out once: they size the figure and place the dots
    ratio_layout = _layout(ratio_entries)
    other_layouts = {column: _layout([(g, m) for g, m in present(column) if m])
                     for column, _, _ in others}
    other_height = max((height for _, _, height in other_layouts.values()), default=1.0)
    title = _title_notes(rows)
    if not any(row["status"] == "ok" for row in rows):
        figure = Figure(figsize=(WIDTH / 100, 1.6 + 0.2 * len(title)), dpi=100, layout="constrained")
        figure.suptitle("\n".join([f"scratchnet: {' vs '.join(everyone)}"] + title), fontsize=11)
        ax = figure.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, "No row was measured: each row's reason is in the reports' notes",
                ha="center", va="center", fontsize=10)
        return figure
    heights = [1.2 + ROW * ratio_layout[2] if ratios and ratio_entries else 0.6,
               0.9 + (0.6 + 0.3 * len(frameworks)) * len(times),
               1.2 + ROW * other_height]
    figure = Figure(figsize=(WIDTH / 100, 0.9 + 0.2 * len(title) + sum(heights)), dpi=100,
                    layout="constrained")
    top, middle, bottom = figure.subfigures(3, 1, height_ratios=heights)

    # 1. the speed ratios
    if ratios and ratio_entries:
        positions, ticks, height = ratio_layout
        axes = top.subplots(1, len(ratios), sharey=True, sharex=True, squeeze=False)[0]
        extremes = [1.0]
        for ax, (column, what) in zip(axes, ratios):
            ax.axvline(1.0, color="black", linewidth=0.9)
            for (group, framework), y in positions.items():
                row = groups[group][framework]
                value = row.get(column)
                if value is None:
                    continue
                low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
                extremes += [v for v in (value, low, high) if v]
                _dot(ax, y, value, low, high, colours[framework], f"{value:.3g}")
            ax.set_title(what, fontsize=10)
            ax.set_xlabel("ratio (below 1: hand-written faster)", fontsize=8)
            _rows_axes(ax, [(y, labels[group]) for y, group in ticks], height)
        reach = max(max(extremes), 1 / min(extremes)) ** 1.25 * 1.05
        for ax in axes:  # room on the right for the values
            _ratio_scale(ax, 1 / reach, reach * 1.9)
        top.suptitle("Speed: the hand-written network's median over each framework's "
                     "(dots), with its 95 % interval (lines)", fontsize=10)
    else:
        ax = top.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, "No speed ratio: scratch_numpy and another framework must both be "
                          "measured", ha="center", va="center", fontsize=10)

    # 2. absolute figures, each configuration on its own scale
    if times:
        columns = list(groups)
        axes = middle.subplots(len(times), len(columns), squeeze=False)
        for r, (column, what, unit, scale) in enumerate(times):
            # a lane for each framework measured on this row (ONNX Runtime does not train)
            lanes = [f for f in frameworks
                     if any(members.get(f, {}).get(column) is not None for members in groups.values())]
            for c, group in enumerate(columns):
                ax = axes[r][c]
                members = [f for f, row in groups[group].items() if row.get(column) is not None]
                for y, framework in enumerate(lanes):
                    row = groups[group].get(framework)
                    if row is None or row.get(column) is None:
                        continue
                    value = row[column] * scale
                    low, high = (row.get(f"{column}_q25"), row.get(f"{column}_q75"))
                    low, high = ((low * scale, high * scale) if low is not None and high is not None
                                 else (None, None))
                    _dot(ax, y, value, low, high, colours[framework], format_number(value))
                largest = max([groups[group][f][column] * scale for f in members]
                              + [groups[group][f].get(f"{column}_q75") * scale for f in members
                                 if groups[group][f].get(f"{column}_q75") is not None] or [1.0])
                ax.set_xlim(0, largest * 1.6)
                ax.set_ylim(len(lanes) - 0.4, -0.6)
                ax.set_yticks([])
                ax.grid(axis="x", alpha=0.3)
                ax.tick_params(labelsize=7)
                if not members:  # e.g. time-to-accuracy, measured on one configuration
                    ax.set_xticks([])
                    ax.grid(False)
                    for spine in ax.spines.values():
                        spine.set_visible(False)
                    ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center",
                            va="center", fontsize=8, color="#777777")
                if r == 0:
                    ax.set_title(labels[group], fontsize=9)
                if c == 0:
                    ax.set_ylabel(f"{what}\n({unit})", fontsize=8, rotation=0, ha="right",
                                  va="center")
        middle.suptitle("Times, each configuration on its own scale from 0 (lower is better): "
                        "medians (dots) and the middle half of the runs (lines)", fontsize=10)

    # 3. memory and accuracy
    if others:
        axes = bottom.subplots(1, len(others), squeeze=False)[0]
        for ax, (column, what, unit) in zip(axes, others):
            positions, ticks, height = other_layouts[column]
            for (group, framework), y in positions.items():
                value = groups[group][framework][column]
                _dot(ax, y, value, None, None, colours[framework], format_number(value))
            largest = max([groups[g][f][column] for g, f in positions] or [1.0])
            ax.set_xlim(0, 1.12 if column == "final_accuracy" else largest * 1.25)
            ax.set_title(what, fontsize=10)
            ax.set_xlabel(f"{unit} ({METRICS[column].better} is better)", fontsize=8)
            _rows_axes(ax, [(y, labels[group]) for y, group in ticks], height)

    from matplotlib.lines import Line2D
    figure.legend(handles=[Line2D([], [], marker="o", linestyle="", color=colours[f], label=f)
                           for f in frameworks], loc="outside lower center", ncols=len(frameworks),
                  fontsize=9, frameon=False)
    figure.suptitle("\n".join([f"scratchnet: {' vs '.join(everyone)}"] + title), fontsize=11)
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


#: The curves' panels: the history key and its title.
CURVES = [("loss", "Training loss"), ("accuracy", "Training accuracy"),
          ("val_loss", "Held-out loss"), ("val_accuracy", "Held-out accuracy")]


def _loss_scale(ax, values):
    """A loss axis at least 2 % of the loss wide: with an automatic scale, two losses equal
    to the seventh digit (float32 round-off between the frameworks) would fill the panel
    and look far apart."""
    values = [v for v in values if v is not None]
    if values:
        low, high = min(values), max(values)
        middle, half = (low + high) / 2, max((high - low) / 2, abs(high) * 0.01, 1e-12)
        ax.set_ylim(middle - half * 1.15, middle + half * 1.15)


def curves_figure(rows):
    """Each framework's per-epoch history, overlaid, one row of panels per configuration
    (its loss on its own scale: an MSE and a cross-entropy loss are not one quantity).
    Same seed, same batches: lines that coincide learn the same; the first framework's
    line solid and filled, the others' dashed and hollow over it, so both show."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    rows = [row for row in rows if row.get("history")]
    groups = {}
    for row in rows:
        groups.setdefault(_group(row), []).append(row)
    frameworks = list(dict.fromkeys(row["framework"] for row in rows))
    users = [f for f in frameworks if f not in REGISTRY]

    def style(framework):
        index = frameworks.index(framework)
        return dict(color=color(framework, users),
                    linestyle="-" if index == 0 else (0, (4, 2 + index)), marker="o",
                    markersize=7 - 1.5 * index, fillstyle="full" if index == 0 else "none")

    figure = Figure(figsize=(WIDTH / 100, 1.2 + 2.3 * max(1, len(groups))), dpi=100,
                    layout="constrained")
    axes = figure.subplots(max(1, len(groups)), len(CURVES), squeeze=False)
    for r, (group, members) in enumerate(groups.items()):
        for c, (key, title) in enumerate(CURVES):
            ax = axes[r][c]
            epochs = 1
            for row in members:
                values = row["history"].get(key) or []
                epochs = max(epochs, len(values))
                ax.plot(range(1, len(values) + 1), values, **style(row["framework"]))
            ax.set_xlim(0.5, epochs + 0.5)
            if epochs <= 12:
                ax.set_xticks(range(1, epochs + 1))
            ax.ticklabel_format(axis="y", useOffset=False)
            if "accuracy" not in key:
                _loss_scale(ax, [v for row in members for v in row["history"].get(key) or []])
            if r == 0:
                ax.set_title(title, fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{_label(members[0])}\n{members[0].get('loss') or ''} loss",
                              fontsize=9)
            if c == 1:
                ax.set_ylabel("accuracy", fontsize=8)
            if epochs > 12:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
            if "accuracy" in key:
                ax.set_ylim(0, 1.04)
            if r == len(groups) - 1:
                ax.set_xlabel("epoch", fontsize=9)
    handles = [Line2D([], [], label=framework, **style(framework)) for framework in frameworks]
    figure.legend(handles=handles, loc="outside lower center", ncols=max(1, len(handles)),
                  fontsize=9, frameon=False)
    figure.suptitle("Learning curves: same initial weights, same batches, so lines that coincide "
                    "learn the same\ntraining figures: means over the epoch's batches; held-out: "
                    "after the epoch; from one more fit, untimed, that evaluates every epoch",
                    fontsize=11)
    return figure


#: The breakdown's colours: one per kind of work, whatever the layer.
KINDS = [("data", "moving data in and out", "#9e9e9e"),
         ("forward_product", "forward: matrix products (PyTorch: with the bias)", "#1f4e99"),
         ("forward_elementwise", "forward: bias, activation", "#8fb3e8"),
         ("loss", "loss and output gradient", "#7b3f9e"),
         ("backward_product", "backward: matrix products (dW, dX; PyTorch: with db;\n"
                              "scratch_numpy on one BLAS thread: with W's update)", "#c25400"),
         ("backward_elementwise", "backward: db, activation derivative\n(scratch_numpy on one "
                                  "BLAS thread: db with b's update)", "#f2b27a"),
         ("update", "SGD update", "#2e8b57")]


_SECTION_TITLES = {"train": "a training step", "inference": "a forward pass"}
_DARK = ("forward_product", "loss", "backward_product", "update")


def _kind(phase):
    if phase in ("batch", "input", "output"):
        return "data"
    if phase in ("loss", "output gradient"):
        return "loss"
    if phase == "update":
        return "update"
    return ("forward_" if phase.startswith("forward") else "backward_") + (
        "product" if phase in PRODUCTS else "elementwise")


def breakdown_figure(rows):
    """Per configuration, a training step and a forward pass as stacked bars, one bar per
    framework on a shared linear axis from 0 (a stacked bar's length is the sum of its
    parts, so bars are right here): each part a segment coloured by its kind of work, the
    layer written in it where it fits, the rest (measured minus the parts) hatched."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from ..harness.breakdown import SECTIONS, _sort_key
    groups = {}
    for row in rows:
        if row.get("breakdown"):
            groups.setdefault(_group(row), []).append(row)
    colors = {key: value for key, _, value in KINDS}
    figure = Figure(figsize=(WIDTH / 100, 1.3 + 2.0 * len(groups)), dpi=100, layout="constrained")
    axes = figure.subplots(len(groups), 2, squeeze=False)
    for (group, members), pair in zip(groups.items(), axes):
        for ax, section in zip(pair, SECTIONS):
            names = [row["framework"] for row in members]
            largest_s = max(max(row["breakdown"][section]["plain_s"],
                                sum(p["seconds"] for p in row["breakdown"][section]["parts"]))
                            for row in members)
            scale, unit = (1e3, "ms") if largest_s >= 0.01 else (1e6, "µs")
            largest = largest_s * scale
            for y, row in enumerate(members):
                measured = row["breakdown"][section]
                parts = sorted(measured["parts"], key=lambda p: _sort_key(p["layer"], p["phase"]))
                left = 0.0
                for part in parts:
                    width = part["seconds"] * scale
                    kind = _kind(part["phase"])
                    ax.barh(y, width, left=left, color=colors[kind], edgecolor="white",
                            linewidth=0.6, height=0.6)
                    if part["layer"] is not None and width > largest * 0.07:  # room for "L2"
                        ax.text(left + width / 2, y, f"L{part['layer']}", ha="center",
                                va="center", fontsize=7,
                                color="white" if kind in _DARK else "black")
                    left += width
                plain = measured["plain_s"] * scale
                if plain > left:
                    ax.barh(y, plain - left, left=left, color="white", edgecolor="#555555",
                            hatch="///", linewidth=0.6, height=0.6)
                ax.text(max(left, plain) + largest * 0.015, y,
                        f"{plain:.4g} {unit} measured\nparts {left:.4g}", va="center", fontsize=8)
            ax.set_yticks(range(len(names)), names)
            ax.invert_yaxis()
            ax.set_xlim(0, largest * 1.4)
            ax.set_xlabel(f"{unit} (lower is better)", fontsize=9)
            ax.set_title(f"{_label(members[0])}: {_SECTION_TITLES[section]} of "
                         f"{members[0]['breakdown'][section]['rows']} rows", fontsize=10)
            ax.grid(axis="x", alpha=0.3)
    handles = [Patch(color=value, label=text) for _, text, value in KINDS] + [
        Patch(facecolor="white", edgecolor="#555555", hatch="///",
              label="rest: measured without laps, minus the parts")]
    figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    figure.suptitle("Where the time goes: medians of each part over the lapped runs; "
                    "L1, L2...: the layer", fontsize=11)
    return figure
