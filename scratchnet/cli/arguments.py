"""The argument types the commands share (argparse's ``type=``)."""
from __future__ import annotations

import argparse


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
