"""``scratchnet train``, ``predict`` and ``export-onnx``: a network from training to an
ONNX file; the work is ``scratchnet.deploy``'s and ``scratchnet.nn.onnx``'s."""
from __future__ import annotations

import sys

from ..deploy.train import TRAIN_FRAMEWORKS
from ..harness.frameworks import SCRATCH
from ..nn.onnx import DEFAULT_OPSET
from .arguments import add_training_arguments


def add_parsers(commands):
    """The train, predict and export-onnx commands and their flags."""
    train = commands.add_parser(
        "train", help="train one model and save its checkpoint",
        description="Train the NumPy network (or its PyTorch twin) on a data set's training "
                    "split, print each epoch's loss and accuracy, report the held-out accuracy "
                    "and save an .npz checkpoint that either framework can load.")
    add_training_arguments(train)
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
