"""The argument types the commands share (argparse's ``type=``)."""
from __future__ import annotations

import argparse

from ..harness.presets import PRESETS
from ..nn.activations import ACTIVATIONS, OUTPUT_ONLY


def int_list(text):
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 784,64,10, "
                                         f"got {text!r}") from None


def threads(text):
    """--threads: a positive integer, or "all" for every core this process may use."""
    if text == "all":
        from ..harness.timing import available_cores
        return available_cores()
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of threads or 'all', got {text!r}") from None


def name_list(text):
    return [part.strip() for part in text.split(",")]


def flag_text(value):
    """A flag's value as the user typed it: 784,64,10 for a list."""
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def add_training_arguments(parser):
    """The model and training flags of train and demo, defaulting to compare's default preset."""
    preset = PRESETS["default"]
    parser.add_argument("--layer-sizes", type=int_list, default=list(preset["layer_sizes"]),
                        help=f"comma-separated layer widths (default: {flag_text(preset['layer_sizes'])})")
    parser.add_argument("--activations", type=name_list, default=list(preset["activations"]),
                        help="comma-separated activations, one per layer: " + ", ".join(
                            name + (" (last only)" if name in OUTPUT_ONLY else "")
                            for name in ACTIVATIONS) + f" (default: {flag_text(preset['activations'])})")
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
