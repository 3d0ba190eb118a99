"""Which floating-point types a network trains and infers in."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: dtypes a network may train in (float16 has too little range for SGD).
TRAIN_DTYPES = ("float32", "float64")
#: dtypes ``forward(..., precision=...)`` accepts.
INFER_PRECISIONS = ("float16", "float32", "float64")


def check_dtype_name(value, argument, accepted):
    """Return ``value`` as a dtype name from ``accepted`` or raise naming ``argument``.

    Accepts the name as a string, a NumPy dtype or a NumPy scalar type.
    """
    try:
        name = np.dtype(value).name if not isinstance(value, str) else value
    except TypeError:
        name = None
    if name not in accepted:
        raise ValueError(f"{argument} must be one of {list(accepted)}, got {value!r}")
    return name


@dataclass(frozen=True)
class PrecisionConfig:
    """Floating-point types for training and for inference.

    train_dtype: dtype of the weights, activations and gradients during ``fit``.
    infer_precision: default dtype of ``forward``/``predict`` (overridable per call).
    """

    train_dtype: str = "float32"  # "float32" or "float64"
    infer_precision: str = "float32"  # "float16", "float32" or "float64"

    def __post_init__(self):
        object.__setattr__(self, "train_dtype",
                           check_dtype_name(self.train_dtype, "train_dtype", TRAIN_DTYPES))
        object.__setattr__(self, "infer_precision",
                           check_dtype_name(self.infer_precision, "infer_precision",
                                            INFER_PRECISIONS))
