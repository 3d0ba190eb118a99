"""``check_model``: the user's class in a worker process, the twin in this one, and the
checks of ``checks.CHECKS`` run in turn, each line handed to ``on_line`` as soon as it
is measured. A call into the user's class that raises, exits, crashes or hangs becomes
its check's FAIL line and the card goes on (in a fresh worker where the last one died);
where building the class itself kills its process, the checks after it are skipped.
"""
from __future__ import annotations

import dataclasses
import sys

import numpy as np

from ..nn.base import TrainingDivergedError
from ..nn.losses import LossConvention
from ..nn.precision import PrecisionConfig
from ..nn.validation import (check_alpha, check_architecture, check_int, check_seed,
    check_time_limit)
from .card import Line
from .checks import CHECKS, Context, yield_checks
from .loader import LAYOUTS, SHAPE_WORDS, CheckError, check_spec, class_spec
from .session import Session, UserRaised, WorkerDied
from .user import UserClass
from .view import ShapeError, WeightsError

#: Seconds one call into the user's class (fit, forward, predict) may take.
TIME_LIMIT = 60.0


@dataclasses.dataclass(frozen=True)
class Settings:
    """One check's configuration, checked once (``make_settings``)."""

    layer_sizes: tuple = (20, 16, 10)
    activations: tuple = ("relu", "softmax")
    convention: LossConvention = LossConvention()
    seed: int = 0  # the weights and the data
    layout: str = "in_out"
    n_samples: int = 50
    alpha: float = 0.5
    epochs: int = 3
    batch_size: int = 16
    fit_seed: int = 7
    time_limit: float = TIME_LIMIT

    def as_dict(self):
        values = dataclasses.asdict(self)
        values.update(layer_sizes=list(self.layer_sizes), activations=list(self.activations),
                      convention=self.convention.text)
        return values


def make_settings(layer_sizes=(20, 16, 10), activations=("relu", "softmax"), seed=0,
                  layout="in_out", n_samples=50, alpha=0.5, time_limit=TIME_LIMIT, loss="mse",
                  samples=None, outputs=None):
    """``Settings`` from the arguments of ``check_model``; ValueError or TypeError naming
    the one that is wrong."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    convention = LossConvention.parse(loss)
    if samples is not None or outputs is not None:
        convention = LossConvention(convention.loss, samples or convention.samples,
                                    outputs or convention.outputs)
    sizes, names, _ = check_architecture(layer_sizes, activations, convention)
    n_samples = check_int(n_samples, "n_samples")
    if n_samples < sizes[-1]:
        raise ValueError(f"n_samples must be at least the number of classes {sizes[-1]}, got "
                         f"{n_samples}")
    # every convention takes steps of the same size: the declared one's factor for a full
    # batch divides the learning rate (a sum over 16 samples and 10 outputs would otherwise
    # step 160 times as far as the default, and diverge)
    alpha = check_alpha(alpha) / convention.scale(Settings.batch_size, sizes[-1])
    return Settings(sizes, names, convention, check_seed(seed), layout, n_samples, alpha,
                    time_limit=check_time_limit(time_limit))


def reference_name():
    from ..nn.torch_network import TorchNeuralNetwork, reference_class
    return ("the PyTorch twin" if reference_class() is TorchNeuralNetwork
            else "scratchnet's NumPy network (torch is not installed)")


def make_reference(settings, dtype):
    """The twin (or NeuralNetwork without torch) in ``dtype`` under the declared convention."""
    from ..nn.torch_network import reference_class
    config = PrecisionConfig(train_dtype=dtype, infer_precision=dtype)
    return reference_class()(settings.layer_sizes, settings.activations, config,
                             seed=settings.seed, loss=settings.convention)


@dataclasses.dataclass
class Card:
    """What ``check_model`` returns: the lines, the reference's name, what the class printed."""

    name: str
    what: str
    lines: list
    settings: Settings
    printed: str = ""

    @property
    def failed(self):
        return any(line.status == "fail" for line in self.lines)


def labels(settings):
    """Every check's label, for a card whose width is set before its lines arrive."""
    return [check.label(settings) for check in CHECKS]


def check_model(model, *, on_line=None, python_path=None, settings=None, **arguments):
    """The report card of ``model`` (a class, or ``"module:Class"`` / ``"file.py:Class"``)
    against the twin (``Card``). ``arguments`` are ``make_settings``'s (or ``settings`` is
    what it made). Raises CheckError if the class cannot be loaded or built or lacks the
    protocol's methods."""
    settings = settings or make_settings(**arguments)
    # the worker starts in this folder: a relative spec means what the user typed
    spec = model if isinstance(model, str) else class_spec(model, "model")
    check_spec(spec)
    name = model if isinstance(model, str) else model.__name__
    with Session(spec, settings.time_limit, sys.path if python_path is None else python_path) as session:
        session.launch()
        reference = make_reference(settings, "float64")  # torch loads while the worker starts
        session.loaded()
        user = UserClass(session, settings)
        missing = [method for method in ("fit", "forward", "get_weights", "set_weights")
                   if not user.has(method)]
        if missing:
            raise CheckError(f"{user.name} lacks {', '.join(missing)}: the protocol needs fit, "
                             f"forward, get_weights and set_weights")
        context = _context(settings, user, reference)
        lines = []
        for check in yield_checks(user):
            line = _run(check, context)
            line.check, line.key = check.label(settings), check.key
            lines.append(line)
            if on_line is not None:
                on_line(line)
        return Card(name, reference_name(), lines, settings, session.printed())


def _context(settings, user, reference):
    rng = np.random.default_rng(settings.seed)
    X = rng.random((settings.n_samples, settings.layer_sizes[0]))  # (N, D)
    y = np.arange(settings.n_samples) % settings.layer_sizes[-1]  # every class present
    start = [(np.asarray(W, np.float64), np.asarray(b, np.float64))
             for W, b in reference.get_weights()]
    references = {"float64": reference}

    def reference_in(dtype):
        if dtype not in references:
            references[dtype] = make_reference(settings, dtype)
        return references[dtype]
    return Context(settings, X, y, start, reference, reference_in, user)


def _run(check, context):
    if context.facts.get("build_dies"):
        return Line("", "skip", code="not_run", detail="not run: building your class ended its "
                                                       "process above")
    try:
        return check.run(context)
    except (UserRaised, WorkerDied, ShapeError, WeightsError) as exc:
        return failed_line(exc, context)
    except TrainingDivergedError as exc:
        return Line("", "skip", code="not_run", detail=f"the twin itself diverged at these "
                                                       f"settings, so there is nothing to compare: {exc}")


def failed_line(exc, context):
    """The FAIL line of a call into the user's class that did not return a usable value."""
    if isinstance(exc, WorkerDied):
        text = str(exc)
        if text.startswith("building "):
            context.facts["build_dies"] = True
        code = ("timed_out" if "did not return" in text else
                "crashed" if "killed by" in text else "exited")
        return Line("", "fail", code=code, detail=text)
    if isinstance(exc, (ShapeError, WeightsError)):
        return Line("", "fail", code="wrong_shape", detail=str(exc))
    where = f" (at {exc.where})" if exc.where else ""
    if exc.is_exit:
        return Line("", "fail", code="exited", detail=f"{exc.during}: {exc.text}{where}")
    hint = context.facts.get("layout_hint", "") if any(
        word in exc.text for word in SHAPE_WORDS) else ""
    return Line("", "fail", code="raised", detail=f"{exc.during} raised {exc.text}{where}{hint}")
