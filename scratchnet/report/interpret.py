"""What the figures say, in words: per configuration, the speed ratios with their
intervals, memory, parity, a user class's row and the busy-machine warnings."""
from __future__ import annotations

from ..harness import contention
from ..harness.frameworks import REGISTRY, SCRATCH, TWIN
from ..harness.ratios import RATIO_COLUMNS
from ..metrics import NOT_LIKE_FOR_LIKE, PARITY_LIMIT
from .tables import by_group, disturbed_rows, format_number, group

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
    groups = by_group(rows)
    for config, by_framework in groups.items():
        scratch, torch_row = by_framework.get(SCRATCH), by_framework.get(TWIN)
        prefix = f"{config}: " if len(groups) > 1 else ""
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
    stops = list(dict.fromkeys(f"{group(r)}: {r['rounds_stopped_by']}" if len(groups) > 1
                               else r["rounds_stopped_by"] for r in rows if r.get("rounds_stopped_by")))
    lines += [f"Rounds: {stop}" for stop in stops]
    if any(r.get("rounds") == 1 and r.get(ratio) is not None for r in rows
           for ratio in RATIO_COLUMNS.values()):
        lines.append("Intervals from a single round show only the spread inside one pair of "
                     "processes; --rounds 3 or more also covers the variation between processes.")
    return "\n".join(lines + contention_warnings(rows))


def contention_warnings(rows):
    """Console lines naming every disturbed row and why; none for a quiet run."""
    disturbed = disturbed_rows(rows)
    if not disturbed:
        return []
    lines = [f"WARNING: {len(disturbed)} of {len(rows)} rows were measured while other work "
             f"competed for the CPU (contention or run-queue wait >= "
             f"{contention.DISTURBED_AT:.2f}); their times are inflated and the ratios "
             f"may be wrong:"]
    lines += [f"  {row['framework']} ({group(row)}): contention {row['contention']:.2f}; "
              f"{contention.describe(contention.from_columns(row))}" for row in disturbed]
    advice = "rerun when the machine is quiet"
    if any((row.get("threads") or 1) > 1 for row in disturbed):
        advice += ", or with --threads 1, which leaves the other cores to the other work"
    lines.append(f"  To trust these figures, {advice}; --strict makes such a run exit with "
                 f"status 3.")
    return lines

