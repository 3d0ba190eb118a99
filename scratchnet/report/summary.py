"""The comparison at a glance (``comparison_summary.png``): the speed ratios with their
intervals, each configuration's times on its own scale, memory and accuracy."""
from __future__ import annotations

from ..harness.frameworks import REGISTRY, color
from ..metrics import METRICS
from .look import WIDTH, label, title_notes
from .tables import format_number, group as _group

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
    labels = {group: label(next(iter(members.values()))) for group, members in groups.items()}
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
    title = title_notes(rows)
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

    _ratio_panels(top, rows, ratios, ratio_entries, ratio_layout, groups, labels, colours)
    _time_panels(middle, times, groups, labels, colours, frameworks)
    _other_panels(bottom, others, other_layouts, groups, labels, colours)

    from matplotlib.lines import Line2D
    figure.legend(handles=[Line2D([], [], marker="o", linestyle="", color=colours[f], label=f)
                           for f in frameworks], loc="outside lower center", ncols=len(frameworks),
                  fontsize=9, frameon=False)
    figure.suptitle("\n".join([f"scratchnet: {' vs '.join(everyone)}"] + title), fontsize=11)
    return figure

def _ratio_panels(sub, rows, ratios, ratio_entries, ratio_layout, groups, labels, colours):
    """The speed ratios, hand-written over framework, with their 95 % intervals, one row
    per configuration and framework, on one logarithmic scale around a line at 1."""
    if ratios and ratio_entries:
        positions, ticks, height = ratio_layout
        axes = sub.subplots(1, len(ratios), sharey=True, sharex=True, squeeze=False)[0]
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
        sub.suptitle("Speed: the hand-written network's median over each framework's "
                     "(dots), with its 95 % interval (lines)", fontsize=10)
    else:
        ax = sub.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, "No speed ratio: scratch_numpy and another framework must both be "
                          "measured", ha="center", va="center", fontsize=10)



def _time_panels(sub, times, groups, labels, colours, frameworks):
    """Each configuration's absolute times on its own linear scale from 0 (small
    multiples): medians with the middle half of the runs."""
    if times:
        columns = list(groups)
        axes = sub.subplots(len(times), len(columns), squeeze=False)
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
        sub.suptitle("Times, each configuration on its own scale from 0 (lower is better): "
                        "medians (dots) and the middle half of the runs (lines)", fontsize=10)



def _other_panels(sub, others, other_layouts, groups, labels, colours):
    """Peak memory and accuracy, a dot per configuration and framework."""
    if others:
        axes = sub.subplots(1, len(others), squeeze=False)[0]
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

