"""The reports' tables as text: the console's medians table, the roofline, instruction
counts and the breakdown, with the number format and the grouping by configuration every
report shares."""
from __future__ import annotations

from ..harness.frameworks import REGISTRY, SCRATCH, TWIN
from ..harness.result import architecture_of

# The metric columns of the console and Markdown tables (names carry their units).
TABLE = ["train_time_per_epoch_s", "inference_latency_per_sample_s", "single_sample_latency_s",
         "batch_throughput_samples_per_s", "peak_memory_mb", "final_accuracy", "contention"]


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


def group(row):
    return row.get("preset") or row.get("layer_sizes")


def by_group(rows):
    groups = {}
    for row in rows:
        groups.setdefault(group(row), {})[row["framework"]] = row
    return groups


def table_rows(rows):
    """The spec's columns (framework, status, metrics), then the configuration."""
    columns = TABLE + (["time_to_accuracy_s", "epochs_to_accuracy"]
                       if any(row.get("target_accuracy") for row in rows) else [])
    header = ["framework", "status"] + columns + ["preset"]
    body = [[row["framework"], row["status"]] + [_cell(row, column) for column in columns]
            + [group(row) or ""] for row in rows]
    return header, body


def text_table(header, body):
    """Columns padded to their widest cell, joined by " | ", a rule under the header."""
    widths = [max(len(str(line[i])) for line in [header] + body) for i in range(len(header))]
    lines = [" | ".join(str(cell).ljust(width) for cell, width in zip(line, widths))
             for line in [header] + body]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def console_table(rows):
    """The spec's ``framework | status | ...`` table, medians with [min-max] after them."""
    return text_table(*table_rows(rows))


def disturbed_rows(rows):
    """The rows measured while something else competed for the CPU (``disturbed``)."""
    return [row for row in rows if row.get("disturbed")]


def roofline_table(rows):
    """Per configuration: both frameworks' training time, their ratio, achieved GFLOP/s,
    the sgemm rate each one's worker measured and the fraction of it achieved."""
    header = ["preset", "scratch_numpy_s", "pytorch_s", "ratio", "scratch_gflops", "torch_gflops",
              "scratch_sgemm", "torch_sgemm", "scratch_frac", "torch_frac"]
    lines = []
    for name, by_framework in by_group(rows).items():
        scratch, torch_row = by_framework.get(SCRATCH, {}), by_framework.get(TWIN, {})
        ratio = (scratch["train_time_per_epoch_s"] / torch_row["train_time_per_epoch_s"]
                 if scratch.get("train_time_per_epoch_s") and torch_row.get("train_time_per_epoch_s")
                 else None)
        lines.append([name, scratch.get("train_time_per_epoch_s"), torch_row.get("train_time_per_epoch_s"),
                      ratio, scratch.get("train_gflops_per_s"), torch_row.get("train_gflops_per_s"),
                      scratch.get("sgemm_gflops_per_s"), torch_row.get("sgemm_gflops_per_s"),
                      scratch.get("fraction_of_sgemm"), torch_row.get("fraction_of_sgemm")])
    return text_table(header, [[format_number(v) for v in line] for line in lines])


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
    for config, by_framework in by_group(rows).items():
        scratch = by_framework.get(SCRATCH, {})
        for framework, row in by_framework.items():
            line = [config, framework]
            for column in ("train_step_instructions", "inference_instructions"):
                mine, theirs = row.get(column), scratch.get(column)
                line += [format_number(mine), format_number(theirs / mine if mine and theirs else None)]
            body.append(line)
    return text_table(header, body)


def has_breakdown(rows):
    return any(row.get("breakdown") for row in rows)


def breakdown_tables(rows):
    """[(title, header, body)]: per configuration with a breakdown, its training step's
    table and its forward pass's (``scratchnet.harness.breakdown.table``)."""
    from ..harness.breakdown import SECTIONS, table
    tables = []
    for config, by_framework in by_group(rows).items():
        parts = {name: row["breakdown"] for name, row in by_framework.items()
                 if row.get("breakdown")}
        if not parts:
            continue
        first = next(row for row in by_framework.values() if row.get("breakdown"))
        sizes, _ = architecture_of(first)
        for section, what in SECTIONS.items():
            measured = next(iter(parts.values()))[section]
            runs = measured["runs"]
            title = (f"{config} ({first['layer_sizes']}): {what} of {measured['rows']} rows, "
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
    return "\n\n".join(f"{title}\n{text_table(header, body)}" for title, header, body in tables) \
        + "\n\n" + " ".join(filter(None, [BREAKDOWN_NOTE, breakdown_left_out(rows)]))

