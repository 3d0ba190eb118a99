"""``scratchnet demo``: train both networks once, print their accuracy and largest
disagreement."""
from __future__ import annotations

import sys

from .arguments import add_training_arguments


def add_parser(commands):
    """The demo command and its flags."""
    demo = commands.add_parser(
        "demo", help="train both models on the embedded digits and compare them",
        description="Train the NumPy network and its PyTorch twin with identical settings, "
                    "initial weights and batch order, then print each one's accuracy and the "
                    "largest difference between their predicted probabilities.")
    add_training_arguments(demo)
    demo.set_defaults(run=run_demo)


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
