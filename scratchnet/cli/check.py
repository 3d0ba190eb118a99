"""``scratchnet check``: parse the flags, print the card line by line as the checks
measure it, write it as JSON where asked; the checks are ``scratchnet.check``'s."""
from __future__ import annotations

import argparse
import math
import sys

from ..nn.losses import LOSSES, OUTPUT_REDUCTIONS, SAMPLE_REDUCTIONS, LossConvention
from .arguments import int_list, name_list

#: Exit statuses: every check passed (warnings allowed), a check failed, the class could not
#: be loaded or built (``main`` turns CheckError, a ValueError, into 2).
EXIT_MATCHES, EXIT_FAILED = 0, 1


def positive_seconds(text):
    """--time-limit: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive, finite number of seconds such "
                                         f"as 60, got {text!r}")
    return value


def add_parser(commands):
    check = commands.add_parser(
        "check", help="check your own network class against the PyTorch twin",
        description="Build your class (in a worker process of its own) and the PyTorch twin "
                    "from the same weights and compare forward outputs (float64, float32), one "
                    "SGD step and several epochs layer by layer, loss_and_gradients and "
                    "predict, and whether bad input is refused. Where your numbers differ, the "
                    "card names the variant of the twin that reproduces them (a loss "
                    "convention, a batch order, momentum ...). Exit status 0: it matches "
                    "(warnings allowed); 1: a check failed; 2: the class cannot be imported, "
                    "lacks the protocol's methods, or its constructor raises.")
    check.add_argument("model", help="package.module:ClassName or path/to/file.py:ClassName")
    check.add_argument("--layout", choices=["in_out", "out_in"], default="in_out",
                       help="how your get_weights/set_weights store W: (fan_in, fan_out), the "
                            "default, or (fan_out, fan_in) as torch.nn.Linear does")
    check.add_argument("--layer-sizes", type=int_list, default=[20, 16, 10],
                       help="the network checked (default: 20,16,10)")
    check.add_argument("--activations", type=name_list, default=["relu", "softmax"],
                       help="one per layer (default: relu,softmax)")
    check.add_argument("--loss", choices=sorted(LOSSES), default="mse",
                       help="your loss: mse on the outputs (default) or cross_entropy on the "
                            "logits of a softmax output")
    check.add_argument("--samples", choices=SAMPLE_REDUCTIONS, default="mean",
                       help="how your loss reduces over a batch's samples (default: mean)")
    check.add_argument("--outputs", choices=OUTPUT_REDUCTIONS, default="mean",
                       help="MSE only: how it reduces one sample's squared errors over the "
                            "outputs: mean (PyTorch's MSELoss, the default), sum, or half_sum "
                            "(C = 1/2 ||a - y||^2, Nielsen's book)")
    check.add_argument("--seed", type=int, default=0, help="weights and data (default: 0)")
    check.add_argument("--time-limit", type=positive_seconds, default=60.0,
                       help="seconds one call into your class (importing it included) may take "
                            "before its process is stopped and its check fails (default: 60)")
    check.add_argument("--json", metavar="PATH",
                       help="also write the card as JSON to PATH ('-': to stdout, instead of "
                            "the text card)")
    check.set_defaults(run=run)


def run(args, out=None):
    """Check a user's class against the twin; exit 0 if it matches, 1 if not."""
    out = sys.stdout if out is None else out
    from ..check import (as_data, check_model, format_line, labels, make_settings, reference_name,
        summarize_output, verdict)
    from ..check.card import to_json
    from ..files import atomic_write_text, check_output_path

    settings = make_settings(layer_sizes=args.layer_sizes, activations=args.activations,
                             seed=args.seed, layout=args.layout, time_limit=args.time_limit,
                             loss=args.loss, samples=args.samples, outputs=args.outputs)
    to_stdout = args.json == "-"
    if args.json and not to_stdout:
        check_output_path(args.json, "--json", (".json",))
    text = None if to_stdout else out
    width = max(map(len, labels(settings)))
    if text:
        print(f"scratchnet check: {args.model} against {reference_name()}"
              + (f" ({settings.convention.describe()})" if settings.convention != LossConvention()
                 else ""), file=text, flush=True)
    card = check_model(args.model, on_line=(lambda line: print(format_line(line, width),
                                                               file=text, flush=True))
                       if text else None, settings=settings)
    printed = summarize_output(card.printed)
    if text:
        print(verdict(card.lines, args.model), file=text)
        if printed:
            print(printed, file=text)
    if args.json:
        data = to_json(as_data(card.lines, card.what, args.model, settings.as_dict(), card.printed))
        if to_stdout:
            out.write(data)
        else:
            atomic_write_text(args.json, data)
            if text:
                print(f"card written to {args.json}", file=text)
    return EXIT_FAILED if card.failed else EXIT_MATCHES
