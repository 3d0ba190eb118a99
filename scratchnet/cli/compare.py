"""``scratchnet compare``: its flags, the run over the presets, the table, the reports and
the exit status; the measuring is ``scratchnet.harness.compare``'s."""
from __future__ import annotations

import sys

from ..harness.compare import DEFAULT_MAX_TIME
from ..harness.config import DEFAULT_ROUNDS, DEFAULT_THREADS, WORKER_TIMEOUT
from ..harness.frameworks import REGISTRY
from ..harness.presets import ALL_PRESETS, EXTRA_PRESETS, GOAL_PRESETS, PRESETS
from .arguments import flag_text as _flag_text, int_list as _int_list, name_list as _name_list
from .arguments import threads as _threads

#: compare's exit status when --strict is given and a --model row is an error.
EXIT_MODEL_ERROR = 1
#: compare's exit status when --strict is given and a row was measured on a busy machine.
EXIT_DISTURBED = 3


def _progress_printer():
    """Progress lines on stderr when it is a terminal; nothing when it is not."""
    if sys.stderr.isatty():
        return lambda message: print(f"... {message}", file=sys.stderr, flush=True)
    return None


#: compare flags that set the model, its data or its training (the rest set the measurement).
_ARCHITECTURE_FLAGS = ("layer_sizes", "activations", "n_samples", "epochs", "batch_size", "alpha",
                       "seed", "dataset", "loss", "precision")


def add_parser(commands):
    """The compare command and its flags."""
    compare = commands.add_parser(
        "compare", help="benchmark both models side by side and write the reports",
        description="Train and time the NumPy network and its PyTorch twin with identical "
                    "settings, each in a fresh process with the same thread count, and write "
                    "comparison_metrics.json/.csv/.md, comparison_summary.png and "
                    "comparison_report.html (one page with everything). Without flags "
                    "it runs the spec's default: 784x64x10 relu/softmax, 512 samples, 3 epochs, "
                    "batch 32, alpha 0.1, seed 42. Flags override the preset's values.")
    _add_what_to_measure(compare)
    _add_network_settings(compare)
    _add_measuring(compare)
    _add_rows(compare)
    compare.set_defaults(run=run_compare)


def _add_what_to_measure(compare):
    """The presets and the optional figures."""
    compare.add_argument("--preset", choices=[*ALL_PRESETS, "all"], default="default",
                         help="the spec's configurations: " + ", ".join(
                             f"{name} ({_flag_text(p['layer_sizes']).replace(',', 'x')})"
                             for name, p in PRESETS.items()) + "; the performance ones: " + ", ".join(
                             f"{name} ({_flag_text(p['layer_sizes']).replace(',', 'x')}, batch "
                             f"{p['batch_size']}, {p['n_samples']} samples)"
                             for name, p in EXTRA_PRESETS.items()) + "; time-to-accuracy: " + ", ".join(
                             f"{name} ({_flag_text(p['layer_sizes']).replace(',', 'x')}, "
                             f"{p['loss']}, to {p['target_accuracy']} held-out accuracy)"
                             for name, p in GOAL_PRESETS.items()) + "; or all")
    compare.add_argument("--roofline", action="store_true",
                         help="also measure NumPy's sgemm rate at 2048x2048 in each training "
                              "worker (same process and threads, just before the timed training) "
                              "and report the achieved training GFLOP/s against it")
    compare.add_argument("--breakdown", action="store_true",
                         help="also time the parts of one training step and of one forward pass, "
                              "layer by layer and phase by phase (matrix product, bias, "
                              "activation, loss, dW, dX, db, update) for scratch_numpy and the "
                              "PyTorch twin; printed, and drawn in comparison_breakdown.png")
    compare.add_argument("--target-accuracy", type=float, metavar="ACCURACY",
                         help="also measure time-to-accuracy (as DAWNBench and MLPerf Training "
                              "define it): train fresh models until their held-out accuracy, "
                              "checked after each epoch, reaches ACCURACY (e.g. 0.9); the "
                              "evaluations are timed apart and left out")
    compare.add_argument("--max-epochs", type=int,
                         help="epochs a time-to-accuracy run may take before it is 'not "
                              "reached' (default 50)")


def _add_network_settings(compare):
    """Flags overriding the preset's network and training."""
    compare.add_argument("--layer-sizes", type=_int_list, help="e.g. 784,64,10")
    compare.add_argument("--activations", type=_name_list, help="e.g. relu,softmax")
    compare.add_argument("--n-samples", type=int, help="training samples (a quarter as many more "
                                                       "are held out for accuracy and latency)")
    compare.add_argument("--epochs", type=int)
    compare.add_argument("--batch-size", type=int)
    compare.add_argument("--alpha", type=float, help="SGD learning rate")
    compare.add_argument("--seed", type=int)
    compare.add_argument("--dataset", help="digits, synthetic or mnist:<folder> (default: digits "
                                           "where the width is a square, else synthetic)")
    compare.add_argument("--loss", help="mse (default) or cross_entropy")
    compare.add_argument("--precision", help="float32 (default) or float64")


def _add_measuring(compare):
    """How the figures are measured: runs, rounds, threads, exit status."""
    compare.add_argument("--repeats", type=int, default=7, help="timed runs per metric (default: 7)")
    compare.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                         help="run the frameworks' workers in turn this many times and pool their "
                              "timed runs, so a burst of load on a shared machine hits both sides; "
                              "the ratios' 95%% intervals come from these rounds "
                              f"(default: {DEFAULT_ROUNDS})")
    compare.add_argument("--target-ci", type=float,
                         help="keep adding rounds (after at least 3) until every speed ratio's "
                              "95%% interval is within +-TARGET_CI of it (half the interval's "
                              "width over the ratio; e.g. 0.05 for +-5%%), or until --max-time")
    compare.add_argument("--max-time", type=float, default=DEFAULT_MAX_TIME,
                         help="seconds --target-ci may spend per configuration "
                              f"(default: {DEFAULT_MAX_TIME:g})")
    compare.add_argument("--strict", action="store_true",
                         help=f"exit with status {EXIT_MODEL_ERROR} when a --model row is an "
                              f"error, {EXIT_DISTURBED} when a row was measured while other work "
                              f"competed for the CPU (for CI)")
    compare.add_argument("--instructions", action="store_true",
                         help="also count the CPU instructions of one training step and one "
                              "inference under valgrind (one thread; deterministic; needs valgrind)")
    compare.add_argument("--warmup", type=int, default=1, help="untimed runs first (default: 1)")
    compare.add_argument("--threads", type=_threads,
                         help=f"threads for both frameworks: a number up to the cores this process "
                              f"may use, or 'all' (default: {DEFAULT_THREADS}; docs/measurement.md "
                              f"says why)")


def _add_rows(compare):
    """The rows: frameworks, ONNX Runtime, user classes, and where the reports go."""
    compare.add_argument("--frameworks", type=_name_list,
                         help="comma-separated rows: " + "; ".join(
                             f"{name} ({entry.summary})" for name, entry in REGISTRY.items())
                         + " (default: " + ", ".join(
                             name for name, entry in REGISTRY.items() if entry.default)
                         + ", and pytorch_cuda where CUDA is available)")
    compare.add_argument("--with-onnxruntime", action="store_true",
                         help="add an onnxruntime row: the scratch network exported to ONNX and "
                              "run by ONNX Runtime (inference metrics only; needs onnx and onnxruntime)")
    compare.add_argument("--model", action="append", metavar="[NAME=]SPEC[@OPTIONS]",
                         help="add a row for your own class, SPEC = package.module:ClassName or "
                              "path/to/file.py:ClassName (repeatable; NAME defaults to the class "
                              "name); measured like the others from scratchnet's initial weights, "
                              "its speed and parity taken against the PyTorch twin. OPTIONS, "
                              "comma-separated: out_in (its layout, overriding --layout), "
                              "samples=mean|sum and outputs=mean|sum|half_sum (its loss's "
                              "reductions, as check's flags: its parity is then against the twin "
                              "trained that way)")
    compare.add_argument("--time-limit", type=float, metavar="SECONDS",
                         help=f"stop a worker that runs longer (its row becomes an error), e.g. "
                              f"a --model class whose fit never returns (default: "
                              f"{WORKER_TIMEOUT})")
    compare.add_argument("--layout", choices=("in_out", "out_in"), default="in_out",
                         help="how --model classes store W: (fan_in, fan_out) (default) or "
                              "(fan_out, fan_in) as torch.nn.Linear does")
    compare.add_argument("--out", default="benchmarks/comparison",
                         help="folder for the reports (default: benchmarks/comparison)")


def run_compare(args, out=None):
    """Run the comparison for one preset or all, print the table, write the reports."""
    out = sys.stdout if out is None else out
    from ..harness.compare import ALL_PRESETS as PRESETS, default_frameworks, prepare, run_comparison
    from ..harness.config import Config
    from ..files import check_output_folder
    from ..report import instructions_table, roofline_table, write_reports

    check_output_folder(args.out, "out")
    names = list(PRESETS) if args.preset == "all" else [args.preset]
    overrides = {key: getattr(args, key) for key in _ARCHITECTURE_FLAGS
                 if getattr(args, key) is not None}
    progress = _progress_printer()
    frameworks = args.frameworks
    models = _user_models(args.model, args.layout)  # each class imported once, here
    if args.with_onnxruntime:
        frameworks = list(frameworks or default_frameworks())
        frameworks += [] if "onnxruntime" in frameworks else ["onnxruntime"]
    runs = []  # every configuration is checked, and its data loaded, before the first runs
    for name in names:
        # the time-to-accuracy target is a measurement, not the configuration's: no "custom"
        settings = {**PRESETS[name], **overrides, **{
            key: getattr(args, key) for key in ("target_accuracy", "max_epochs")
            if getattr(args, key) is not None}}
        # A flag that changes what the preset fixes makes the run "custom".
        changed = [key for key, value in overrides.items() if PRESETS[name].get(key) != value]
        label = "custom" if changed else name
        try:
            config = Config.of(**settings, repeats=args.repeats, warmup=args.warmup,
                               rounds=args.rounds, roofline=args.roofline,
                               breakdown=args.breakdown, threads=args.threads,
                               time_limit=args.time_limit)
            prepared = prepare(config, frameworks=frameworks, target_ci=args.target_ci,
                               max_time=args.max_time, models=models)
        except (ValueError, TypeError) as exc:
            if len(names) == 1:
                raise
            given = " ".join(f"--{key.replace('_', '-')} {_flag_text(overrides[key])}"
                             for key in changed)
            raise type(exc)(f"preset {name}" + (f", with {given} in place of its own" if given
                                                else "") + f": {exc}") from None
        runs.append((label, config, prepared))
    rows = []
    for label, config, prepared in runs:
        if progress:
            progress(f"preset {label}: {'x'.join(map(str, config.layer_sizes))}")
        for row in run_comparison(prepared, progress=progress):
            row["preset"] = label
            rows.append(row)
    if args.instructions:  # after every preset's timing, one valgrind process per framework
        from ..harness.instructions import add_instruction_counts
        add_instruction_counts(rows, progress=progress)
    if not any(row["status"] == "ok" for row in rows):
        from ..report import console_table
        print(console_table(rows), file=out)
        _print_failures(rows, out)
        print(f"\nno row was measured, so no report was written: the reports in {args.out} (if "
              f"any) were left as they were", file=out)
        return 1
    _print_reports(rows, write_reports(rows, args.out), out)
    _print_failures(rows, out)
    if args.roofline:
        print("\nroofline (training, medians; GFLOP/s counts 6 x sum(fan_in x fan_out) x n per epoch; "
              "sgemm: NumPy float32 at 2048x2048 in each worker)",
              file=out)
        print(roofline_table(rows), file=out)
    if args.breakdown:
        from ..report import breakdown_text
        print("\nwhere the time goes (--breakdown)\n" + (
            breakdown_text(rows) or "no row has a breakdown: it needs scratch_numpy or pytorch"),
            file=out)
    if args.instructions:
        print("\ninstructions (valgrind, one thread; a regression signal, not a speed; "
              "scratch/this: scratch_numpy's count over this row's)", file=out)
        print(instructions_table(rows), file=out)
    return _strict_status(rows, models) if args.strict else 0


def _strict_status(rows, models):
    """--strict: 1 where a --model row is an error, 3 where a row was measured on a busy
    machine, else 0; the reason on stderr."""
    from ..report import disturbed_rows
    broken = sorted({row["framework"] for row in rows if row["framework"] in models
                     and row["status"] == "error"})
    if broken:
        print(f"scratchnet compare: exit status {EXIT_MODEL_ERROR} (--strict): the row of "
              f"{', '.join(broken)} is an error", file=sys.stderr)
        return EXIT_MODEL_ERROR
    busy = disturbed_rows(rows)
    if busy:
        print(f"scratchnet compare: exit status {EXIT_DISTURBED} (--strict): "
              f"{len(busy)} rows were measured on a busy machine", file=sys.stderr)
        return EXIT_DISTURBED
    return 0


def _user_models(values, layout):
    """{row name: registry entry} of the --model values ``[NAME=]SPEC[@OPTIONS]``
    (``frameworks.parse_model_value``), NAME defaulting to the class's name."""
    from ..harness.frameworks import parse_model_value, user_framework
    models = {}
    for value in values or []:
        name, spec, options = parse_model_value(value, layout)
        if name in models:
            raise ValueError(f"--model: two rows named {name!r}; name one NAME=SPEC")
        models[name] = user_framework(name, spec, **options)
    return models


def _print_failures(rows, out):
    """Why each row that was not measured was not: its note, on one line."""
    failed = [row for row in rows if row["status"] != "ok"]
    if failed:
        print("\nnot measured:", file=out)
    for row in failed:
        print(f"  {row.get('preset') or ''} {row['framework']}: {row['status']}: {row['notes']}"
              .replace("   ", "  "), file=out)


def _print_reports(rows, paths, out):
    """The spec's console table, its interpretation, and where the files went."""
    from ..report import console_table, interpretation
    print(console_table(rows), file=out)
    print(file=out)
    print(interpretation(rows), file=out)
    print(f"\nreports: {', '.join(paths.values())}", file=out)
