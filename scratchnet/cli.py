"""The ``scratchnet`` command: thin argparse wrappers over the package."""
from __future__ import annotations

import argparse
import sys

import numpy as np


def _int_list(text):
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 784,64,10, "
                                         f"got {text!r}") from None


def _name_list(text):
    return [part.strip() for part in text.split(",")]


def _add_training_arguments(parser):
    parser.add_argument("--layer-sizes", type=_int_list, default=[784, 64, 10],
                        help="comma-separated layer widths (default: 784,64,10)")
    parser.add_argument("--activations", type=_name_list, default=["relu", "softmax"],
                        help="comma-separated activations, one per layer: relu, sigmoid, tanh, "
                             "linear, softmax (last only) (default: relu,softmax)")
    parser.add_argument("--loss", default="mse", help="mse or cross_entropy (default: mse)")
    parser.add_argument("--epochs", type=int, default=3, help="default: 3")
    parser.add_argument("--alpha", type=float, default=0.1, help="SGD learning rate (default: 0.1)")
    parser.add_argument("--batch-size", type=int, default=32, help="default: 32")
    parser.add_argument("--seed", type=int, default=42, help="weights, split and batch order "
                                                             "(default: 42)")
    parser.add_argument("--dataset", default="digits",
                        help="digits, synthetic or mnist:<folder> (default: digits)")
    parser.add_argument("--train-dtype", default="float32", help="float32 or float64 "
                                                                 "(default: float32)")


def run_demo(args, out=sys.stdout):
    """Train both models identically and print their accuracy and largest disagreement."""
    from . import NeuralNetwork, PrecisionConfig, TorchNeuralNetwork, is_torch_available
    from .data import load_dataset

    X_train, y_train, X_test, y_test = load_dataset(args.dataset, n_features=args.layer_sizes[0],
                                                    seed=args.seed)
    config = PrecisionConfig(train_dtype=args.train_dtype, infer_precision=args.train_dtype)
    settings = dict(layer_sizes=args.layer_sizes, activations=args.activations,
                    precision_config=config, seed=args.seed, loss=args.loss)
    fit_args = dict(epochs=args.epochs, alpha=args.alpha, batch_size=args.batch_size,
                    seed=args.seed)
    classes = [NeuralNetwork] + ([TorchNeuralNetwork] if is_torch_available() else [])
    print(f"dataset {args.dataset}: {len(y_train)} training, {len(y_test)} held-out samples; "
          f"{'x'.join(map(str, args.layer_sizes))} {','.join(args.activations)}, loss {args.loss}, "
          f"{args.epochs} epochs, alpha {args.alpha}, batch {args.batch_size}, {args.train_dtype}",
          file=out)
    probabilities = {}
    for cls in classes:
        model = cls(**settings)
        history = model.fit(X_train, y_train, **fit_args)
        probabilities[model.framework] = model.predict_proba(X_test)
        test = model.evaluate(X_test, y_test)
        print(f"{model.framework:>14}: train accuracy {history['accuracy'][-1]:.4f}, held-out "
              f"accuracy {test['accuracy']:.4f}, held-out loss {test['loss']:.6f}", file=out)
    if len(probabilities) == 2:
        diff = np.abs(probabilities["scratch_numpy"].astype(np.float64)
                      - probabilities["pytorch"].astype(np.float64))
        row, col = np.unravel_index(diff.argmax(), diff.shape)
        print(f"largest difference between their predicted probabilities on the held-out split: "
              f"{diff.max():.3e} (sample {row}, class {col})", file=out)
    else:
        print("pytorch: skipped, torch not installed (pip install \"torch==2.13.0\")", file=out)
    return 0


def _progress_printer():
    """Progress lines on stderr when it is a terminal; nothing when it is not."""
    if sys.stderr.isatty():
        return lambda message: print(f"... {message}", file=sys.stderr, flush=True)
    return None


#: compare flags that set the model, its data or its training (the rest set the measurement).
_ARCHITECTURE_FLAGS = ("layer_sizes", "activations", "n_samples", "epochs", "batch_size", "alpha",
                       "seed", "dataset", "loss", "precision")


def run_compare(args, out=sys.stdout):
    """Run the comparison for one preset or all, print the table, write the reports."""
    from .benchmark import limit_threads, measure_sgemm_gflops
    from .compare import ALL_PRESETS as PRESETS, add_roofline, benchmark_scratch_vs_torch
    from .reports import roofline_table, write_reports

    names = list(PRESETS) if args.preset == "all" else [args.preset]
    overrides = {key: getattr(args, key) for key in _ARCHITECTURE_FLAGS
                 if getattr(args, key) is not None}
    progress = _progress_printer()
    rows = []
    for name in names:
        settings = {**PRESETS[name], **overrides}
        # A flag that changes what the preset fixes makes the run "custom".
        changed = [key for key, value in overrides.items() if PRESETS[name].get(key) != value]
        label = "custom" if changed else name
        if progress:
            progress(f"preset {label}: {'x'.join(map(str, settings['layer_sizes']))}")
        for row in benchmark_scratch_vs_torch(**settings, repeats=args.repeats, warmup=args.warmup,
                                              threads=args.threads, frameworks=args.frameworks,
                                              progress=progress):
            row["preset"] = label
            rows.append(row)
    if args.roofline:
        if progress:
            progress("sgemm 2048x2048, float32: the roofline")
        with limit_threads(rows[0]["threads"]):
            add_roofline(rows, measure_sgemm_gflops())
    _print_reports(rows, write_reports(rows, args.out), out)
    if args.roofline:
        print("\nroofline (training, medians; GFLOP/s counts 6 x sum(fan_in x fan_out) x n per epoch)",
              file=out)
        print(roofline_table(rows), file=out)
    return 0 if any(row["status"] == "ok" for row in rows) else 1


def _print_reports(rows, paths, out):
    """The spec's console table, its interpretation, and where the files went."""
    from .reports import console_table, interpretation
    print(console_table(rows), file=out)
    print(file=out)
    print(interpretation(rows), file=out)
    print(f"\nreports: {', '.join(paths.values())}", file=out)


def run_export(args, out=sys.stdout):
    """Turn asv's results into the comparison reports and the history."""
    from .asv_export import export

    rows, paths = export(args.results, commit=args.commit, machine=args.machine, env=args.env,
                         out=args.out)
    print(f"asv results of commit {rows[0]['commit'][:8]} on machine {rows[0]['machine']}", file=out)
    _print_reports(rows, paths, out)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="scratchnet",
        description="A NumPy neural network written from scratch, checked against its PyTorch twin.")
    from . import __version__
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
    compare.add_argument("--preset", choices=["default", "deep", "wide", "small_batch", "large", "all"],
                         default="default",
                         help="the spec's configurations: default (784x64x10), deep "
                              "(1024x512x256x128x10), wide (784x256x256x10); the performance "
                              "ones: small_batch (784x64x10, batch 8, 8192 samples), large "
                              "(784x1024x1024x10, batch 256, 4096 samples); or all five")
    compare.add_argument("--roofline", action="store_true",
                         help="also measure NumPy's sgemm rate at 2048x2048 with the same threads "
                              "and report each run's achieved training GFLOP/s against it")
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
    compare.add_argument("--warmup", type=int, default=1, help="untimed runs first (default: 1)")
    compare.add_argument("--threads", type=int, help="threads for both frameworks "
                                                     "(default: all cores)")
    compare.add_argument("--frameworks", type=_name_list,
                         help="comma-separated rows: scratch_numpy,pytorch,pytorch_cuda "
                              "(default: the first two, and pytorch_cuda where CUDA is available)")
    compare.add_argument("--out", default="benchmarks/comparison",
                         help="folder for the reports (default: benchmarks/comparison)")
    compare.set_defaults(run=run_compare)

    export = commands.add_parser(
        "export", help="turn asv's results into the comparison reports and their history",
        description="Read Airspeed Velocity's result files and write comparison_metrics.json/"
                    ".csv/.md and comparison_summary.png for one commit (the same columns as "
                    "`scratchnet compare`; what asv does not measure is empty, with a note), plus "
                    "comparison_history.csv/.png over every commit of the machine.")
    export.add_argument("--results", default=".asv/results",
                        help="asv's results directory (default: .asv/results)")
    export.add_argument("--commit", help="commit hash or prefix (default: the newest with results)")
    export.add_argument("--machine", help="asv machine name (default: the only one; required "
                                          "when there are several)")
    export.add_argument("--env", help="asv environment name, when a commit has several")
    export.add_argument("--out", default="benchmarks/comparison",
                        help="folder for the reports (default: benchmarks/comparison)")
    export.set_defaults(run=run_export)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, ImportError) as exc:
        print(f"scratchnet {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
