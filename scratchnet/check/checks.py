"""The checks of ``scratchnet check``, one function each, in one registry (``CHECKS``;
``yield_checks`` picks those the class can take, as scikit-learn's
``_yield_all_checks``). A check takes the ``Context`` and returns its ``Line``; a call
into the user's class that raises, exits, crashes or hangs is turned into the line by
the runner, so a check only says what its comparison found.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from . import diagnose
from .card import CODES, Line
from .loader import CheckError
from .session import UserRaised
from .view import WeightsError, raw_shapes, read_weights

#: Largest |difference| accepted, by what is compared.
TOLERANCE = {"float64": 1e-9, "float32": 1e-5}
#: The most that storing these weights (|w| < 4) in float32 changes them.
FLOAT32_ROUNDING = 1e-6


@dataclasses.dataclass
class Context:
    """What every check reads: the settings, the data, the start weights, the reference
    (the twin, float64, under the declared convention), the user's class, and the facts
    earlier checks found (``facts``)."""

    settings: object  # runner.Settings
    X: np.ndarray  # (N, D) float64
    y: np.ndarray  # (N,) int
    start: list  # [(W (in, out), b (out,))] float64
    reference: object
    reference_in: Callable  # dtype -> the reference in that precision
    user: object  # user.UserClass
    facts: dict = dataclasses.field(default_factory=dict)

    @property
    def problem(self):
        s = self.settings
        return diagnose.Problem(tuple(s.activations), s.convention, self.X, self.y, self.start,
                                s.alpha)

    def fresh(self, dtype="float64"):
        """A new instance of the user's class holding the start weights."""
        instance = self.user.build(dtype)
        instance.set_weights(self.start)
        return instance

    def reference_after(self, epochs, batch_size):
        self.reference.set_weights(self.start)
        self.reference.fit(self.X, self.y, epochs=epochs, alpha=self.settings.alpha,
                           batch_size=batch_size, seed=self.settings.fit_seed)
        return [(np.asarray(W, np.float64), np.asarray(b, np.float64))
                for W, b in self.reference.get_weights()]


@dataclasses.dataclass(frozen=True)
class Check:
    key: str  # stable: the JSON's "check"
    label: Callable  # settings -> the card's label
    run: Callable  # context -> Line
    needs: str | None = None  # an optional method the class must have


def check_api(ctx):
    optional = [name for name in ("predict", "loss_and_gradients") if ctx.user.has(name)]
    return Line("", "pass", detail=(f"{' and '.join(optional)} too" if optional
                                    else "no predict, no loss_and_gradients (both optional)"))


def _expected_shapes(ctx):
    sizes, transposed = ctx.settings.layer_sizes, ctx.settings.layout == "out_in"
    return [((n_out, n_in) if transposed else (n_in, n_out), (n_out,))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def layout_hint(ctx, own):
    """A hint to the other ``--layout`` where the class's own W are the transposes of the
    ones the check gives it, else ""."""
    try:
        shapes = raw_shapes(own)
    except TypeError:
        return ""
    expected = _expected_shapes(ctx)
    if len(shapes) != len(expected) or any(len(W) != 2 for W, _ in shapes):
        return ""
    if all(W[::-1] == wanted for (W, _), (wanted, _) in zip(shapes, expected)):
        other = "out_in" if ctx.settings.layout == "in_out" else "in_out"
        return (f"; your class's own W have shapes {[W for W, _ in shapes]}: check it with "
                f"--layout {other}")
    return ""


def check_read_back(ctx):
    instance = ctx.user.build()
    try:
        ctx.facts["layout_hint"] = layout_hint(ctx, instance.raw_weights())
    except (UserRaised, WeightsError):
        ctx.facts["layout_hint"] = ""
    try:
        instance.set_weights(ctx.start)
    except UserRaised as exc:
        shapes = ", ".join(f"W{i} {W.shape}" for i, (W, _) in enumerate(ctx.start, 1))
        raise CheckError(f"set_weights refused the reference's weights ({shapes}, layout "
                         f"{ctx.settings.layout}): {exc.text}{ctx.facts['layout_hint']}") from None
    back = instance.raw_weights()
    weights = read_weights(back, len(ctx.start), ctx.settings.layout)  # WeightsError: its line
    for layer, ((W, b), (W_shape, b_shape)) in enumerate(zip(raw_shapes(back), _expected_shapes(ctx)), 1):
        if b != b_shape and b in ((b_shape[0], 1), (1, b_shape[0])):
            return Line("", "fail", code="bias_column", layer=layer, quantity="b", detail=(
                f"layer {layer} b came back with shape {b}, a {'column' if b[1] == 1 else 'row'}, "
                f"where set_weights was given {b_shape}: return b as a 1-D array (b.ravel())"))
        if (W, b) != (W_shape, b_shape):
            return Line("", "fail", code="wrong_shape", layer=layer, detail=(
                f"layer {layer} came back as W {W}, b {b} after set_weights was given W "
                f"{W_shape}, b {b_shape}{ctx.facts['layout_hint']}"))
    drift = max(max(diagnose.largest(W, W0), diagnose.largest(b, b0))
                for (W, b), (W0, b0) in zip(weights, ctx.start))
    if drift <= FLOAT32_ROUNDING:
        return Line("", "pass", drift, FLOAT32_ROUNDING,
                    "" if drift == 0 else "kept at float32 precision, not float64")
    return Line("", "fail", drift, FLOAT32_ROUNDING, code="weights_not_kept",
                detail="get_weights does not return what set_weights was given; every check "
                       "below starts from them")


def _check_forward(ctx, dtype):
    reference = ctx.reference_in(dtype)
    reference.set_weights(ctx.start)
    try:
        instance = ctx.fresh(dtype)
    except CheckError as exc:  # the class cannot be built, or take weights, in this precision
        return Line("", "skip", code="not_run", detail=str(exc))
    mine = instance.forward(ctx.X.astype(dtype))
    ctx.facts["forward_ok"] = True
    diff = diagnose.largest(mine, reference.forward(ctx.X, precision=dtype))
    if diff <= TOLERANCE[dtype]:
        return Line("", "pass", diff, TOLERANCE[dtype])
    if diff <= TOLERANCE["float32"]:
        return Line("", "fail", diff, TOLERANCE[dtype], code="float32_roundoff", quantity="outputs",
                    detail="differences at float32 round-off: does your class store or compute "
                           "in float32?")
    return Line("", "fail", diff, TOLERANCE[dtype], code="wrong_outputs", quantity="outputs",
                detail="the outputs differ from the same weights: check each layer's activation "
                       "and the order z = a @ W + b")


def _from_diagnosis(found, figure, tolerance):
    return Line("", "warn" if found.benign else "fail", figure, tolerance, found.text,
                code=found.code, layer=found.layer, quantity=found.quantity, factor=found.factor)


def _largest_difference(mine, theirs):
    return max(max(diagnose.largest(W, Wr), diagnose.largest(b, br))
               for (W, b), (Wr, br) in zip(mine, theirs))


def _figure(mine, theirs):
    """The largest difference between two weight (or gradient) sets; None where their
    shapes differ."""
    same = all(W.shape == Wr.shape and b.shape == br.shape
               for (W, b), (Wr, br) in zip(mine, theirs))
    return _largest_difference(mine, theirs) if same else None


def _train_both(ctx, epochs, batch_size):
    """(the user's weights, the figure, the pass line or None) after ``epochs`` of
    ``batch_size`` from the start weights, the twin trained alike; the figure is None
    where the shapes differ."""
    theirs = ctx.reference_after(epochs, batch_size)
    instance = ctx.fresh()
    instance.fit(ctx.X, ctx.y, epochs, ctx.settings.alpha, batch_size, ctx.settings.fit_seed)
    mine = instance.get_weights()
    figure = _figure(mine, theirs)
    agreed = diagnose.agree(mine, theirs, TOLERANCE["float64"])
    return mine, figure, Line("", "pass", figure, TOLERANCE["float64"]) if agreed else None


def check_one_step(ctx):
    ctx.facts["step"] = "failed"
    mine, figure, passed = _train_both(ctx, 1, ctx.X.shape[0])
    if passed:
        ctx.facts["step"] = None
        return passed
    found = ctx.facts["step"] = diagnose.diagnose_step(ctx.problem, mine)
    return _from_diagnosis(found, figure, TOLERANCE["float64"])


def check_epochs(ctx):
    s = ctx.settings
    mine, figure, passed = _train_both(ctx, s.epochs, s.batch_size)
    if passed:
        return passed
    step = ctx.facts.get("step")
    if step == "failed" or (step is not None and step.variant is None):
        cause = (f"{CODES[step.code]}" if step != "failed" else "which did not complete")
        return Line("", "fail", figure, TOLERANCE["float64"],
                    code=step.code if step != "failed" and step.code == "float32_roundoff"
                    else "after_step", detail=f"follows from the one step above ({cause})")
    base = step.variant if step is not None else diagnose.Variant()
    follows = "follows from the one step above" if step is not None else None
    momentum = None if step is not None else _fitted_momentum(ctx)
    found = diagnose.diagnose_epochs(ctx.problem, mine, s.epochs, s.batch_size, s.fit_seed,
                                     base=base, momentum=momentum, follows=follows)
    return _from_diagnosis(found, figure, TOLERANCE["float64"])


def _fitted_momentum(ctx):
    """mu from the user's two full-batch steps (one more call into its fit)."""
    rows = ctx.X.shape[0]
    instance = ctx.fresh()
    instance.fit(ctx.X, ctx.y, 2, ctx.settings.alpha, rows, ctx.settings.fit_seed)
    return diagnose.fit_momentum(ctx.problem, instance.get_weights())


def check_gradients(ctx):
    ctx.reference.set_weights(ctx.start)
    loss_ref, theirs = ctx.reference.loss_and_gradients(ctx.X, ctx.y)
    theirs = [(np.asarray(dW, np.float64), np.asarray(db, np.float64)) for dW, db in theirs]
    loss, mine = ctx.fresh().loss_and_gradients(ctx.X, ctx.y)
    tolerance = TOLERANCE["float64"]
    if not diagnose.agree(mine, theirs, tolerance):
        found = diagnose.diagnose_gradients(ctx.problem, mine)
        figure = _figure(mine, theirs)
        return _from_diagnosis(found, figure, tolerance)
    if not abs(loss - loss_ref) <= tolerance * max(1.0, abs(loss_ref)):
        return Line("", "fail", abs(loss - loss_ref), tolerance, code="loss_value",
                    factor=loss / loss_ref if loss_ref else None,
                    detail=f"the gradients agree but the loss is {loss:.6g}, the twin's "
                           f"{loss_ref:.6g} ({loss / loss_ref:.4g} times): is it a sum, or a mean "
                           f"over another count?" if loss_ref else "the loss differs")
    return Line("", "pass", max(abs(loss - loss_ref), _largest_difference(mine, theirs)), tolerance)


def check_predict(ctx):
    ctx.reference.set_weights(ctx.start)
    agree = ctx.fresh().predict(ctx.X) == ctx.reference.predict(ctx.X)
    if agree.all():
        return Line("", "pass", 0.0, 0.0)
    return Line("", "fail", float(1 - agree.mean()), 0.0, code="predictions_differ",
                detail="share of samples whose class differs")


def _check_refused(ctx, bad):
    if not ctx.facts.get("forward_ok"):
        return Line("", "skip", code="not_run", detail="forward did not run cleanly above, so an "
                                                       "error here would say nothing")
    instance = ctx.fresh()
    try:
        instance.call("forward", bad)
    except UserRaised as exc:
        if exc.is_exit:
            raise
        return Line("", "pass", code="refused", detail=exc.type)
    return Line("", "warn", code="not_refused", detail="computed without an error")


def _with_nan(X):
    X = X.copy()
    X[0, 0] = np.nan
    return X


CHECKS = (
    Check("api", lambda s: "API: fit, forward, get_weights, set_weights", check_api),
    Check("read_back", lambda s: "set_weights then get_weights", check_read_back),
    Check("forward_float64", lambda s: "forward (float64 inputs)", lambda c: _check_forward(c, "float64")),
    Check("forward_float32", lambda s: "forward (float32 inputs)", lambda c: _check_forward(c, "float32")),
    Check("one_step", lambda s: "one SGD step (full batch)", check_one_step),
    Check("epochs", lambda s: f"{s.epochs} epochs, batch {s.batch_size}, seed {s.fit_seed}",
          check_epochs),
    Check("gradients", lambda s: "loss_and_gradients (full batch)", check_gradients,
          needs="loss_and_gradients"),
    Check("predict", lambda s: "predict", check_predict, needs="predict"),
    Check("nan_refused", lambda s: "NaN input refused", lambda c: _check_refused(c, _with_nan(c.X))),
    Check("width_refused", lambda s: "wrong width refused", lambda c: _check_refused(c, c.X[:, :-1])),
)


def yield_checks(user):
    """The checks this class can take, in the card's order."""
    for check in CHECKS:
        if check.needs is None or user.has(check.needs):
            yield check
