"""The ``scratchnet`` command: thin argparse wrappers over the package."""
from __future__ import annotations

import argparse
import sys

from ..nn.activations import ACTIVATIONS, OUTPUT_ONLY
from ..nn.base import TrainingDivergedError
from ..harness.compare import DEFAULT_MAX_TIME, DEFAULT_ROUNDS, DEFAULT_THREADS, WORKER_TIMEOUT
from ..harness.frameworks import REGISTRY, SCRATCH
from ..nn.onnx import DEFAULT_OPSET
from ..harness.presets import ALL_PRESETS, EXTRA_PRESETS, GOAL_PRESETS, PRESETS
from ..deploy.train import TRAIN_FRAMEWORKS
from . import check as check_command
from .arguments import int_list as _int_list, name_list as _name_list, threads as _threads


def _add_training_arguments(parser):
    """The model and training flags of train and demo, defaulting to compare's default preset."""
    preset = PRESETS["default"]
    parser.add_argument("--layer-sizes", type=_int_list, default=list(preset["layer_sizes"]),
                        help=f"comma-separated layer widths (default: {_flag_text(preset['layer_sizes'])})")
    parser.add_argument("--activations", type=_name_list, default=list(preset["activations"]),
                        help="comma-separated activations, one per layer: " + ", ".join(
                            name + (" (last only)" if name in OUTPUT_ONLY else "")
                            for name in ACTIVATIONS) + f" (default: {_flag_text(preset['activations'])})")
    parser.add_argument("--loss", default="mse", help="mse or cross_entropy (default: mse)")
    parser.add_argument("--epochs", type=int, default=preset["epochs"],
                        help=f"default: {preset['epochs']}")
    parser.add_argument("--alpha", type=float, default=preset["alpha"],
                        help=f"SGD learning rate (default: {preset['alpha']})")
    parser.add_argument("--batch-size", type=int, default=preset["batch_size"],
                        help=f"default: {preset['batch_size']}")
    parser.add_argument("--seed", type=int, default=preset["seed"],
                        help=f"weights, split and batch order (default: {preset['seed']})")
    parser.add_argument("--dataset", default="digits",
                        help="digits, synthetic or mnist:<folder> (default: digits)")
    parser.add_argument("--train-dtype", default="float32", help="float32 or float64 "
                                                                 "(default: float32)")


def run_demo(args, out=None):
    """Train both models identically and print their accuracy and largest disagreement."""
    out = sys.stdout if out is None else out  # the stdout of the moment, not of import time
    from ..deploy.train import train_both

    run = train_both(args.layer_sizes, args.activations, loss=args.loss, epochs=args.epochs,
                     alpha=args.alpha, batch_size=args.batch_size, dataset=args.dataset,
                     seed=args.seed, train_dtype=args.train_dtype)
    print(f"dataset {args.dataset}: {run.n_train} training, {run.n_test} held-out samples; "
          f"{'x'.join(map(str, args.layer_sizes))} {','.join(args.activations)}, loss {args.loss}, "
          f"{args.epochs} epochs, alpha {args.alpha}, batch {args.batch_size}, {args.train_dtype}",
          file=out)
    for framework, (train_accuracy, test) in run.results.items():
        print(f"{framework:>14}: train accuracy {train_accuracy:.4f}, held-out "
              f"accuracy {test['accuracy']:.4f}, held-out loss {test['loss']:.6f}", file=out)
    if run.largest_difference is not None:
        diff, row, col = run.largest_difference
        print(f"largest difference between their predicted probabilities on the held-out split: "
              f"{diff:.3e} (sample {row}, class {col})", file=out)
    else:
        from ..nn.torch_network import INSTALL_HINT
        print(f"pytorch: skipped, torch not installed ({INSTALL_HINT})", file=out)
    return 0


def _progress_printer():
    """Progress lines on stderr when it is a terminal; nothing when it is not."""
    if sys.stderr.isatty():
        return lambda message: print(f"... {message}", file=sys.stderr, flush=True)
    return None


#: compare flags that set the model, its data or its training (the rest set the measurement).
_ARCHITECTURE_FLAGS = ("layer_sizes", "activations", "n_samples", "epochs", "batch_size", "alpha",
                       "seed", "dataset", "loss", "precision")


def _flag_text(value):
    """A flag's value as the user typed it: 784,64,10 for a list."""
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


#: compare's exit status when --strict is given and a --model row is an error.
EXIT_MODEL_ERROR = 1
#: compare's exit status when --strict is given and a row was measured on a busy machine.
EXIT_DISTURBED = 3


def run_compare(args, out=None):
    """Run the comparison for one preset or all, print the table, write the reports."""
    out = sys.stdout if out is None else out
    from ..harness.compare import (ALL_PRESETS as PRESETS, default_frameworks, prepare_comparison,
        run_comparison)
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
            prepared = prepare_comparison(**settings, repeats=args.repeats, warmup=args.warmup,
                                          rounds=args.rounds, target_ci=args.target_ci,
                                          max_time=args.max_time, roofline=args.roofline,
                                          breakdown=args.breakdown,
                                          threads=args.threads, frameworks=frameworks,
                                          models=models, time_limit=args.time_limit)
        except (ValueError, TypeError) as exc:
            if len(names) == 1:
                raise
            given = " ".join(f"--{key.replace('_', '-')} {_flag_text(overrides[key])}"
                             for key in changed)
            raise type(exc)(f"preset {name}" + (f", with {given} in place of its own" if given
                                                else "") + f": {exc}") from None
        runs.append((label, settings, prepared))
    rows = []
    for label, settings, prepared in runs:
        if progress:
            progress(f"preset {label}: {'x'.join(map(str, settings['layer_sizes']))}")
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


def run_export(args, out=None):
    """Turn asv's results into the comparison reports and the history."""
    out = sys.stdout if out is None else out
    from ..asv.export import configured_branch, export

    from ..files import check_output_folder, written_together

    check_output_folder(args.out, "out")
    branch = args.branch if args.branch is not None else configured_branch()
    with written_together():  # the reports and the history: all new, or all as they were
        rows, paths = export(args.results, commit=args.commit, machine=args.machine, env=args.env,
                             out=args.out, branch=branch)
    print(f"asv results of commit {rows[0]['commit'][:8]} on machine {rows[0]['machine']}", file=out)
    _print_reports(rows, paths, out)
    from ..metrics import QUICK_NOTE
    if any(QUICK_NOTE in (row["notes"] or "") for row in rows):
        print(f"WARNING: {QUICK_NOTE}", file=out)
    return 0


def run_site(args, out=None):
    """asv-tachyon's offline UI over asv publish's folder."""
    out = sys.stdout if out is None else out
    import contextlib

    from ..asv.site import install_site

    with contextlib.redirect_stdout(out):
        marked = install_site(args.html)
    print(f"{marked} benchmarks marked lower-is-better; serve it on this machine only with:\n"
          f"  python -m http.server --bind 127.0.0.1 --directory {args.html} 8080", file=out)
    return 0


def _progress_bar(done, total, width=20):
    filled = round(width * done / total)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def run_train(args, out=None):
    """Train one framework's model, print each epoch, save the checkpoint."""
    out = sys.stdout if out is None else out
    import time

    from ..deploy.train import train_model

    started = time.perf_counter()
    terminal = out.isatty() if hasattr(out, "isatty") else False
    print(f"training {args.framework}: {'x'.join(map(str, args.layer_sizes))} "
          f"{','.join(args.activations)}, loss {args.loss}, {args.epochs} epochs, alpha {args.alpha}, "
          f"batch {args.batch_size}, {args.train_dtype}, dataset {args.dataset}, seed {args.seed}",
          file=out, flush=True)

    def report(epoch, logs):
        line = f"epoch {epoch}/{args.epochs}  " + "  ".join(
            f"{name} {value:.4f}" for name, value in logs.items())
        if terminal:  # a progress line: bar, elapsed time and what is left, rewritten in place
            elapsed = time.perf_counter() - started
            left = elapsed / epoch * (args.epochs - epoch)
            line = f"\r{_progress_bar(epoch, args.epochs)} {line}  {elapsed:.1f}s, ~{left:.1f}s left"
            print(line, end="\n" if epoch == args.epochs else "", file=out, flush=True)
        else:
            print(line, file=out, flush=True)

    result = train_model(args.layer_sizes, args.activations, loss=args.loss, epochs=args.epochs,
                         alpha=args.alpha, batch_size=args.batch_size, dataset=args.dataset,
                         framework=args.framework, out=args.out, seed=args.seed,
                         train_dtype=args.train_dtype, validation=args.validation,
                         on_epoch_end=report)
    print(f"held-out: accuracy {result.test_metrics['accuracy']:.4f}, loss "
          f"{result.test_metrics['loss']:.6f} ({result.n_test} samples; {result.n_train} trained on)",
          file=out)
    print(f"checkpoint written to {result.checkpoint}", file=out)
    return 0


def run_predict(args, out=None):
    """Predict with a checkpoint for every sample of an input file."""
    out = sys.stdout if out is None else out
    from ..deploy.predict import predict_file

    result, text = predict_file(args.checkpoint, args.input, args.output, proba=args.proba,
                                precision=args.precision, framework=args.framework)
    if args.output is None:
        out.write(text)
    else:
        print(f"{len(result)} predictions written to {args.output}", file=out)
    return 0


def run_export_onnx(args, out=None):
    """Export a checkpoint to ONNX; check it with ONNX Runtime where that is installed."""
    out = sys.stdout if out is None else out
    import os

    from ..files import check_output_path
    from ..nn.onnx import (check_with_onnxruntime, export_onnx, external_data_files,
        is_onnx_available)
    from ..deploy.predict import load_model

    check_output_path(args.output, "output", (".onnx",))
    model = load_model(args.checkpoint)
    export_onnx(model, args.output, opset=args.opset, dtype=args.dtype)
    external = [os.path.join(os.path.dirname(args.output), name)
                for name in external_data_files(args.output)]
    print(f"wrote {args.output}: {'x'.join(map(str, model.layer_sizes))} "
          f"{','.join(model.activations)}, opset {args.opset}, {args.dtype}, input 'input' "
          f"(N, {model.layer_sizes[0]}), output 'output' (N, {model.layer_sizes[-1]}); "
          f"onnx.checker passed"
          + "".join(f"; weights over 2 GB, written as ONNX external data to {data} "
                    f"({os.path.getsize(data):,} bytes; keep it beside {args.output})"
                    for data in external), file=out)
    if is_onnx_available():
        diff, provider = check_with_onnxruntime(model, args.output, args.dtype)
        print(f"ONNX Runtime {provider}: largest |difference| from the "
              f"NumPy network's forward on 256 random inputs in [0, 1): {diff:.3e}", file=out)
    else:
        from ..nn.onnx import INSTALL_HINT
        print(f"onnxruntime is not installed: the file was not run ({INSTALL_HINT})", file=out)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="scratchnet",
        description="A NumPy neural network written from scratch, checked against its PyTorch twin.")
    from .. import __version__
    parser.add_argument("--version", action="version", version=f"scratchnet {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    demo = commands.add_parser(
        "demo", help="train both models on the embedded digits and compare them",
        description="Train the NumPy network and its PyTorch twin with identical settings, "
                    "initial weights and batch order, then print each one's accuracy and the "
                    "largest difference between their predicted probabilities.")
    _add_training_arguments(demo)
    demo.set_defaults(run=run_demo)

    compare = commands.add_parser(
        "compare", help="benchmark both models side by side and write the reports",
        description="Train and time the NumPy network and its PyTorch twin with identical "
                    "settings, each in a fresh process with the same thread count, and write "
                    "comparison_metrics.json/.csv/.md and comparison_summary.png. Without flags "
                    "it runs the spec's default: 784x64x10 relu/softmax, 512 samples, 3 epochs, "
                    "batch 32, alpha 0.1, seed 42. Flags override the preset's values.")
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
                              f"may use, or 'all' (default: {DEFAULT_THREADS}; see the README for "
                              f"why)")
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
    compare.set_defaults(run=run_compare)

    train = commands.add_parser(
        "train", help="train one model and save its checkpoint",
        description="Train the NumPy network (or its PyTorch twin) on a data set's training "
                    "split, print each epoch's loss and accuracy, report the held-out accuracy "
                    "and save an .npz checkpoint that either framework can load.")
    _add_training_arguments(train)
    train.add_argument("--framework", choices=TRAIN_FRAMEWORKS, default=SCRATCH,
                       help="which model to train (default: scratch_numpy)")
    train.add_argument("--validation", action="store_true",
                       help="also report held-out loss and accuracy after every epoch")
    train.add_argument("--out", default="model.npz", help="checkpoint path, ending in .npz "
                                                          "(default: model.npz)")
    train.set_defaults(run=run_train)

    predict = commands.add_parser(
        "predict", help="predict with a checkpoint for every sample in a .npy or .csv file",
        description="Load a checkpoint saved by either framework and write one prediction per "
                    "input sample: the class, or with --proba the class and every output. "
                    "Input: .npy (N, D) or .csv with one sample per row (a header row is "
                    "skipped). Output: .csv or .npy, or CSV on standard output.")
    predict.add_argument("checkpoint", help="an .npz checkpoint written by scratchnet")
    predict.add_argument("--input", required=True, help="samples: X.npy or X.csv")
    predict.add_argument("--output", help="predictions file, .csv or .npy (default: standard output)")
    predict.add_argument("--proba", action="store_true", help="write every output (class "
                                                              "probabilities for softmax)")
    predict.add_argument("--precision", help="float64, float32 or float16 (default: the "
                                             "checkpoint's inference precision)")
    predict.add_argument("--framework", choices=TRAIN_FRAMEWORKS, default=SCRATCH,
                         help="which engine runs the checkpoint (default: scratch_numpy)")
    predict.set_defaults(run=run_predict)

    export_onnx = commands.add_parser(
        "export-onnx", help="write a checkpoint as an ONNX graph (needs onnx and onnxruntime)",
        description="Build an ONNX graph (Gemm and the activation operators, dynamic batch "
                    "dimension, input 'input', output 'output') from a checkpoint's weights with "
                    "the onnx package, check it with onnx.checker and write it; where onnxruntime "
                    "is installed, run it and print its largest difference from the NumPy network.")
    export_onnx.add_argument("checkpoint", help="an .npz checkpoint written by scratchnet")
    export_onnx.add_argument("output", help="the .onnx file to write")
    export_onnx.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                             help=f"ONNX opset, 13 or newer (default: {DEFAULT_OPSET})")
    export_onnx.add_argument("--dtype", default="float32", help="float32 (default) or float64")
    export_onnx.set_defaults(run=run_export_onnx)

    check_command.add_parser(commands)

    export = commands.add_parser(
        "export", help="turn asv's results into the comparison reports and their history",
        description="Read Airspeed Velocity's result files and write comparison_metrics.json/"
                    ".csv/.md and comparison_summary.png for one commit (the same columns as "
                    "`scratchnet compare`; what asv does not measure is empty, with a note), plus "
                    "comparison_history.csv/.png over every commit of the machine.")
    export.add_argument("--results", default=".asv/results",
                        help="asv's results directory (default: .asv/results)")
    export.add_argument("--commit", help="commit hash or prefix (default: the newest with results "
                        "among the commits of --branch)")
    export.add_argument("--machine", help="asv machine name (default: the only one; required "
                                          "when there are several)")
    export.add_argument("--branch", help="without --commit, report the newest commit of this "
                        "branch that has results (default: the first of asv.conf.json's branches, "
                        "as asv publish; without that file, the newest of all)")
    export.add_argument("--env", help="asv environment, by its name or any part of it no other "
                        "has (default: asv's built environment before an -E existing one)")
    export.add_argument("--out", default="benchmarks/comparison",
                        help="folder for the reports (default: benchmarks/comparison)")
    export.set_defaults(run=run_export)

    site = commands.add_parser(
        "site", help="make asv publish's history site work offline (asv-tachyon's UI; needs "
                     "asv-tachyon)",
        description="Install asv-tachyon's UI, which carries its own JavaScript, into the folder "
                    "asv publish wrote, and mark every benchmark lower-is-better for it. asv's "
                    "own page, which needs internet access, is kept as index.legacy.html.")
    site.add_argument("--html", default=".asv/html",
                      help="the folder asv publish wrote (default: .asv/html)")
    site.set_defaults(run=run_site)
    return parser


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so that temporary files and workers are
    cleaned up on the way out as after Ctrl-C."""


def _raise_terminated(signum, frame):
    raise Terminated()


#: Exit statuses of an interrupted command, as a shell reports a process killed by the signal.
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C)
EXIT_TERMINATED = 143  # SIGTERM


def _out_of_memory(exc):
    """A one-line message for running out of memory: NumPy's names the size asked for;
    PyTorch's allocator raises a RuntimeError that does."""
    if isinstance(exc, MemoryError):
        return f"out of memory: {str(exc) or 'an allocation failed'}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text):
        return f"out of memory: {text}"
    return None


def main(argv=None):
    import signal
    import threading

    from .. import files

    parser = build_parser()
    args = parser.parse_args(argv)
    files.written.clear()
    # SIGTERM handlers can only be set from the main thread (main() may run in another)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        return args.run(args)
    except (ValueError, TypeError, ImportError, OSError, TrainingDivergedError) as exc:
        print(f"scratchnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:
        message = _out_of_memory(exc)
        if message is None:
            raise
        print(f"scratchnet {args.command}: error: {message}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Terminated) as exc:
        kept = (f"written before it: {', '.join(files.written)}" if files.written
                else "nothing written")
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
        print(f"scratchnet {args.command}: {what}; {kept}", file=sys.stderr)
        status = EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_TERMINATED
        if argv is None:  # the command itself, not a call from Python: end now
            _exit_now(status)
        return status
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _exit_now(status):
    """Leave at once, once everything above has cleaned up on the way out: tearing down an
    interpreter that imported torch (and its compiler, which torch.optim loads) takes
    0.8 s here, too long for a command told to stop."""
    import os
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
