"""The figures beside the summary: the learning curves (``comparison_curves.png``) and
where the time goes (``comparison_breakdown.png``); with the summary (``summary``) and the
look they share (``look``), everything the reports draw."""
from __future__ import annotations

from ..harness.breakdown import PRODUCTS
from ..harness.frameworks import REGISTRY, color
from .look import COLORS, TITLE_NOTE_LINES, TITLE_WIDTH, WIDTH, label as _label, png_bytes, save_png
from .look import title_notes as _title_notes
from .summary import summary_figure
from .tables import group as _group

__all__ = ["COLORS", "TITLE_NOTE_LINES", "TITLE_WIDTH", "WIDTH", "breakdown_figure",
           "curves_figure", "png_bytes", "save_png", "summary_figure", "_title_notes"]

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
