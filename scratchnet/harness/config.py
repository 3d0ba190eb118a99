"""A comparison's settings, in one place: ``Config``, checked once, whether they come from
``scratchnet compare``'s flags, a preset or ``benchmark_scratch_vs_torch``'s arguments,
and then read by everything after (the runner, the worker through its ``Job``, the
report's setting columns)."""
from __future__ import annotations

import dataclasses
import numbers

from ..data import N_CLASSES, default_dataset
from ..nn.precision import TRAIN_DTYPES, check_dtype_name
from ..nn.validation import (check_alpha, check_architecture, check_int, check_seed,
                             check_time_limit)
from . import timing

#: Threads for both frameworks unless told (docs/measurement.md: one against all cores).
DEFAULT_THREADS = 1
#: Rounds of workers unless told: enough for the ratios' intervals to see how one
#: worker process differs from the next.
DEFAULT_ROUNDS = 3
#: Epochs a time-to-accuracy run may take before it is "not reached".
DEFAULT_MAX_EPOCHS = 50
#: Seconds a worker may run before it is stopped and its row becomes an error (the
#: ``large`` preset's worker takes some 20 s here; this only ends a worker that hangs).
WORKER_TIMEOUT = 1800


@dataclasses.dataclass(frozen=True)
class Config:
    """What one configuration trains and how it is measured. ``Config.of(**settings)``
    checks every field (ValueError or TypeError naming it) and fills the defaults that
    depend on others: ``dataset`` from the width, ``threads`` from the cores."""

    layer_sizes: tuple  # (D, hidden..., K)
    activations: tuple  # one name per layer
    loss: str = "mse"  # "mse" or "cross_entropy"
    n_samples: int = 512  # training samples; a quarter as many again are held out
    epochs: int = 3
    batch_size: int = 32
    alpha: float = 0.1  # the SGD learning rate
    seed: int = 42  # initial weights, split and batch order
    dataset: str | None = None  # "digits", "synthetic" or "mnist:<folder>"
    precision: str = "float32"  # the dtype models train and infer in
    repeats: int = 7  # timed runs per figure
    warmup: int = 1  # untimed runs before them
    threads: int | None = None  # BLAS and torch threads
    rounds: int = DEFAULT_ROUNDS  # worker rounds (the runner's; a worker measures one)
    roofline: bool = False  # also measure NumPy's sgemm rate in each training worker
    breakdown: bool = False  # also time the parts of a training step and a forward pass
    target_accuracy: float | None = None  # also time training to this held-out accuracy
    max_epochs: int = DEFAULT_MAX_EPOCHS  # ... for at most this many epochs
    time_limit: float = float(WORKER_TIMEOUT)  # seconds a worker may run

    @classmethod
    def of(cls, **settings):
        """A checked Config; an unknown setting is a TypeError listing the known ones."""
        known = {field.name for field in dataclasses.fields(Config)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise TypeError(f"unknown setting {unknown[0]!r}; the settings are: "
                            f"{', '.join(sorted(known))}")
        if settings.get("time_limit") is None:
            settings.pop("time_limit", None)
        return cls(**settings).checked()

    def checked(self):
        """This Config with every field checked and the defaults that follow filled in."""
        sizes, names, loss = check_architecture(list(self.layer_sizes), list(self.activations),
                                                self.loss)
        if sizes[-1] < N_CLASSES:
            raise ValueError(f"layer_sizes[-1] must be at least {N_CLASSES}: the benchmark data "
                             f"sets have {N_CLASSES} classes, got {sizes[-1]}")
        n_samples = check_int(self.n_samples, "n_samples")
        return dataclasses.replace(
            self, layer_sizes=tuple(sizes), activations=tuple(names), loss=loss,
            n_samples=n_samples, epochs=check_int(self.epochs, "epochs"),
            batch_size=check_int(self.batch_size, "batch_size"), alpha=check_alpha(self.alpha),
            seed=check_seed(self.seed), dataset=self.dataset or default_dataset(sizes[0], n_samples),
            precision=check_dtype_name(self.precision, "precision", TRAIN_DTYPES),
            repeats=check_int(self.repeats, "repeats"),
            warmup=check_int(self.warmup, "warmup", minimum=0),
            threads=check_threads(self.threads), rounds=check_int(self.rounds, "rounds"),
            roofline=bool(self.roofline), breakdown=bool(self.breakdown),
            target_accuracy=check_target_accuracy(self.target_accuracy),
            max_epochs=check_int(self.max_epochs, "max_epochs"),
            time_limit=check_time_limit(self.time_limit))

    def settings(self):
        """Every field but those marked ``{"setting": False}`` (a ``Job``'s arrays), as
        JSON-ready values (lists for the tuples)."""
        return {field.name: (list(value) if isinstance(value, tuple) else value)
                for field in dataclasses.fields(self) if field.metadata.get("setting", True)
                for value in [getattr(self, field.name)]}

    def columns(self):
        """The report's setting columns this Config fills (``layer_sizes`` and
        ``activations`` are formatted by the row's writer: they stay sequences here)."""
        keys = ["n_samples", "epochs", "batch_size", "alpha", "seed", "precision", "threads",
                "dataset", "loss", "repeats", "rounds", "warmup"]
        if self.target_accuracy is not None:
            keys += ["target_accuracy", "max_epochs"]
        return {key: getattr(self, key) for key in keys}


def check_threads(threads):
    """``threads`` as an int: None means ``DEFAULT_THREADS``; more than the cores this
    process may use (``os.sched_getaffinity``) is refused, since the extra threads would
    only queue for a core and time the operating system's scheduler."""
    if threads is None:
        return min(DEFAULT_THREADS, timing.available_cores())
    threads = check_int(threads, "threads")
    cores = timing.available_cores()
    if threads > cores:
        raise ValueError(f"threads must be between 1 and {cores}, the cores this process may use "
                         f"(os.sched_getaffinity), got {threads}")
    return threads


def check_target_accuracy(target_accuracy):
    """None, or a held-out accuracy in (0, 1] as a float."""
    if target_accuracy is None:
        return None
    if isinstance(target_accuracy, bool) or not isinstance(target_accuracy, numbers.Real) \
            or not 0 < target_accuracy <= 1:
        raise ValueError(f"target_accuracy must be a held-out accuracy in (0, 1], e.g. 0.9, got "
                         f"{target_accuracy!r}")
    return float(target_accuracy)
