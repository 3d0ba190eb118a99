"""The asv history figure: each exported metric over the commits asv measured, in the
reports' colours (``scratchnet.report.figures``)."""
from __future__ import annotations

import math

from ..harness.frameworks import REGISTRY, color
from ..metrics import label as metric_label
from ..report.figures import COLORS
from .suite import MACHINE_METRICS, PAIR_METRICS, UNITS


def history_figure(rows):
    """Each metric over commits: one line per framework and preset (one per preset for the
    pair's figures, one for the machine's sgemm rate, in black); points from a single timed
    run (asv --quick) hollow."""
    from matplotlib.figure import Figure  # matplotlib only where a figure is drawn
    from matplotlib.lines import Line2D

    commits = list(dict.fromkeys(row["commit"] for row in rows))
    metrics = [m for m in UNITS if any(row["metric"] == m for row in rows)]
    users = sorted({row["framework"] for row in rows if row["framework"]
                    and row["framework"] not in REGISTRY})
    columns = 2
    n_rows = math.ceil(max(1, len(metrics)) / columns)
    figure = Figure(figsize=(12, 1.4 + 3.2 * n_rows), dpi=100, layout="constrained")
    axes = figure.subplots(n_rows, columns, squeeze=False).ravel()
    styles = {"default": "-", "deep": "--", "wide": ":", "time_to_accuracy": "-."}
    legend = {}
    quick = False
    for ax, metric in zip(axes, metrics):
        series = {}
        for row in rows:
            if row["metric"] == metric and row["value"] is not None:
                who = (f"{row['framework']} vs pytorch" if metric in PAIR_METRICS
                       and row["framework"] not in REGISTRY else
                       "scratch_numpy vs pytorch" if metric in PAIR_METRICS else
                       "NumPy sgemm 2048x2048" if metric in MACHINE_METRICS else row["framework"])
                series.setdefault((who, row["preset"]), {})[row["commit"]] = (row["value"], row["runs"])
        for (who, preset), values in sorted(series.items(), key=lambda item: (str(item[0][0]), str(item[0][1]))):
            xs = [commits.index(c) for c in commits if c in values]
            colour = COLORS.get(who, color(who, users) if who in users else "black")
            ys = [values[commits[x]][0] for x in xs]
            ax.plot(xs, ys, styles.get(preset, "-"), color=colour)
            single = [values[commits[x]][1] == 1 for x in xs]
            quick = quick or any(single)
            ax.scatter([x for x, one in zip(xs, single) if not one],
                       [y for y, one in zip(ys, single) if not one], color=colour, s=18, zorder=3)
            ax.scatter([x for x, one in zip(xs, single) if one],
                       [y for y, one in zip(ys, single) if one], facecolors="white",
                       edgecolors=colour, s=18, zorder=3)
            legend.setdefault(f"{who} {preset or ''}".strip(), Line2D([], [], linestyle=styles.get(preset, "-"),
                                                        color=colour, marker="o", markersize=4))
        ax.set_title(metric, fontsize=10)
        ax.set_ylabel(metric_label(metric))
        ax.set_xticks(range(len(commits)), [c[:8] for c in commits], rotation=45, fontsize=7)
        if UNITS[metric] == "s" and series:
            ax.set_yscale("log")
        elif series:  # from 0, so that a change of 0.1 % does not look like a cliff
            highest = max(value for values in series.values() for value, _ in values.values())
            ax.set_ylim(0, highest * 1.1 if highest > 0 else 1)
        ax.grid(alpha=0.3)
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    if quick:
        legend["one timed run (asv --quick)"] = Line2D([], [], linestyle="", marker="o",
                                                       markerfacecolor="white", color="black")
    if legend:
        figure.legend(legend.values(), legend.keys(), loc="outside lower center",
                      ncols=min(4, len(legend)), fontsize=8)
    figure.suptitle(f"scratchnet asv history on {rows[0]['machine'] if rows else '?'} "
                    f"(oldest commit left)", fontsize=11)
    return figure
