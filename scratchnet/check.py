"""Check a user's own network against the PyTorch twin: what ``scratchnet check`` runs.

``check_model(cls)`` builds the user's class and the twin from the same
weights and compares, each as a line of a report card with the measured
figure and its tolerance: the API; forward outputs in float64 and float32;
one SGD step (a full batch, so the batch order cannot matter), layer by
layer, W and b; several epochs of mini-batches with a seed;
``loss_and_gradients`` where the class has it; ``predict``; and whether NaN input and a wrong width are refused (warnings, not failures).

The protocol (the seed's, and ``NeuralNetwork``'s): ``Class(layer_sizes,
activations, seed=...)`` (``precision_config`` and ``seed`` are passed only
where the constructor takes them), ``fit(X, y, epochs, alpha, batch_size,
seed)`` with integer labels, ``forward(X)``, ``get_weights()`` and
``set_weights(list of (W, b))``; ``predict`` is optional. W is
(fan_in, fan_out); ``layout="out_in"`` reads and writes a class that stores
(fan_out, fan_in), as ``torch.nn.Linear`` does.

Without torch the reference is scratchnet's own ``NeuralNetwork``, which the
parity suite shows equal to the twin to float64 round-off; the card says so.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import math
import os
import signal
import sys
import threading
from dataclasses import dataclass

import numpy as np

from .precision import PrecisionConfig

#: Largest |difference| accepted, by what is compared.
TOLERANCE = {"float64": 1e-9, "float32": 1e-5}
#: The most that storing these weights (|w| < 4) in float32 changes them.
FLOAT32_ROUNDING = 1e-6
LAYOUTS = ("in_out", "out_in")
#: Seconds one call into the user's class (fit, forward, predict) may take.
TIME_LIMIT = 60.0


@dataclass
class Line:
    """One line of the report card."""

    check: str
    status: str  # "pass", "fail", "warn" or "skip"
    figure: float | None = None
    tolerance: float | None = None
    detail: str = ""


class CheckError(ValueError):
    """The class could not be loaded or built: ``scratchnet check`` exits with status 2."""


def load_class(spec):
    """The class named by ``"package.module:ClassName"`` or ``"path/to/file.py:ClassName"``.
    Importing it runs the user's module, which is what checking their code means; a file's
    folder stays first on ``sys.path``, so its imports (also inside methods) find its
    neighbours."""
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise CheckError(f"model must be 'package.module:ClassName' or 'path/to/file.py:ClassName', "
                         f"got {spec!r}")
    where, name = spec.split(":")
    from .frameworks import IN_WORKER
    previous = os.environ.get(IN_WORKER)
    os.environ[IN_WORKER] = "1"  # a comparison the import would start is refused
    try:
        if where.endswith(".py"):
            if not os.path.isfile(where):
                raise CheckError(f"model file {where!r} does not exist")
            module_name = os.path.splitext(os.path.basename(where))[0]
            loader = importlib.util.spec_from_file_location(module_name, where)
            module = importlib.util.module_from_spec(loader)
            sys.path.insert(0, os.path.dirname(os.path.abspath(where)))
            sys.modules[module_name] = module  # as an import would: dataclasses look it up
            loader.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:  # as `python -m` would: the current folder first
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(where)
    except CheckError:
        raise
    except (Exception, SystemExit) as exc:
        raise CheckError(f"cannot import {where!r}: {_describe(exc)}") from None
    finally:
        if previous is None:
            os.environ.pop(IN_WORKER, None)
        else:
            os.environ[IN_WORKER] = previous
    cls = getattr(module, name, None)
    if cls is None:
        raise CheckError(f"{where!r} has no class {name!r}")
    if not inspect.isclass(cls):
        raise CheckError(f"{where!r}: {name!r} is not a class (its type is "
                         f"{type(cls).__name__})")
    return cls


def _describe(exc):
    """``Type: message`` of an exception, whatever its ``str`` does; SystemExit in words."""
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({'' if exc.code is None else repr(exc.code)})"
    try:
        text = str(exc).splitlines()[0] if str(exc) else ""
    except Exception:
        text = ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def build_user_class(cls, layer_sizes, activations, seed, dtype, loss="mse"):
    """An instance, passing the optional arguments (``seed``, ``precision_config``, ``loss``)
    only where the constructor takes them; CheckError naming the call if it raises."""
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        parameters = {}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    kwargs = dict(layer_sizes=list(layer_sizes), activations=list(activations))
    if "seed" in parameters or takes_any:
        kwargs["seed"] = seed
    if "precision_config" in parameters or takes_any:
        kwargs["precision_config"] = PrecisionConfig(train_dtype=dtype, infer_precision=dtype)
    if "loss" in parameters:
        kwargs["loss"] = loss
    try:
        return cls(**kwargs)
    except (Exception, SystemExit) as exc:
        raise CheckError(f"cannot build {cls.__name__}({', '.join(kwargs)}): "
                         f"{_describe(exc)}") from None


def _reference(layer_sizes, activations, seed, dtype):
    """(the twin, or NeuralNetwork without torch, in ``dtype``; what it is, in words)."""
    from .pytorch_model import is_torch_available
    config = PrecisionConfig(train_dtype=dtype, infer_precision=dtype)
    if is_torch_available():
        from .pytorch_model import TorchNeuralNetwork
        return TorchNeuralNetwork(layer_sizes, activations, precision_config=config,
                                  seed=seed), "the PyTorch twin"
    from .network import NeuralNetwork
    return (NeuralNetwork(layer_sizes, activations, precision_config=config, seed=seed),
            "scratchnet's NumPy network (torch is not installed)")


class _User:
    """The user's model seen through the protocol, W always (fan_in, fan_out)."""

    def __init__(self, model, layout):
        self.model, self.transposed = model, layout == "out_in"

    def get_weights(self, n_layers):
        """The weights as float64 (W (fan_in, fan_out), b (fan_out,)) pairs; WeightsError if
        get_weights returns something else."""
        pairs = self.model.get_weights()
        if not isinstance(pairs, (list, tuple)) or not all(
                isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in pairs):
            raise WeightsError(f"get_weights must return a list of (W, b) pairs, got "
                               f"{type(pairs).__name__}")
        if len(pairs) != n_layers:
            raise WeightsError(f"get_weights returned {len(pairs)} (W, b) pairs, expected "
                               f"{n_layers}, one per layer")
        try:
            return [(_as_array(W).T if self.transposed else _as_array(W),
                     _as_array(b).reshape(-1)) for W, b in pairs]
        except (TypeError, ValueError) as exc:
            raise WeightsError(f"get_weights returned values that are not numeric arrays: "
                               f"{_describe(exc)}") from None

    def set_weights(self, weights):
        self.model.set_weights([(np.array(W.T if self.transposed else W), np.array(b))
                                for W, b in weights])

    def forward(self, X, n_outputs):
        """The outputs (N, K) as float64; ShapeError if forward returns another shape."""
        out = _as_array(self.model.forward(X))
        if out.shape != (X.shape[0], n_outputs):
            raise ShapeError(f"forward returned shape {out.shape}, expected "
                             f"({X.shape[0]}, {n_outputs})")
        return out


def user_view(model, layout):
    """A user's instance seen through ``get_weights``/``set_weights`` of (W (fan_in, fan_out),
    b) pairs, whatever its ``layout``."""
    return _User(model, layout)


class WeightsError(ValueError):
    """get_weights returned something other than the network's (W, b) pairs."""


class ShapeError(ValueError):
    """A method returned an array of the wrong shape."""


def _as_array(value):
    """float64 NumPy array of a NumPy array, a list or a torch tensor (detached)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _largest(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _first_difference(mine, theirs, tolerance, before=None):
    """(layer (1-based), quantity, largest difference, ratio) of the W or b nearest the
    output that differs, or None: backpropagation carries an error from where it is made
    towards the input, so the layer nearest the output that differs is where it was made.
    The ratio is the least-squares factor between the user's change of that quantity since
    ``before`` and the reference's (without ``before``: between the quantities themselves,
    e.g. two gradients); None where the shapes differ."""
    before = before or [(0.0, 0.0)] * len(mine)
    layers = list(enumerate(zip(mine, theirs, before), 1))
    for layer, ((W, b), (W_ref, b_ref), (W0, b0)) in reversed(layers):
        for name, value, ref, start in (("W", W, W_ref, W0), ("b", b, b_ref, b0)):
            if value.shape != ref.shape:
                return layer, name, float("inf"), None
            diff = _largest(value, ref)
            if not diff <= tolerance:  # NaN too
                step, step_ref = value - start, ref - start
                scale = float(np.vdot(step_ref, step_ref))
                ratio = float(np.vdot(step, step_ref)) / scale if scale else None
                return layer, name, diff, ratio
    return None


def _meaning(quantity, ratio):
    """What a disagreeing update usually means."""
    if ratio is None:
        return "the shapes differ"
    if abs(ratio - 1) < 1e-3:
        return ("the update agrees to 0.1 %: differences at float32 round-off; does your class "
                "store or compute in float32? (these checks compare in float64)")
    if not math.isfinite(ratio):
        return f"{quantity} holds NaN or inf after fit"
    if abs(ratio) < 0.01:
        return f"{quantity} is never updated"
    if abs(ratio - 0.5) < 0.05:
        return "a factor of 0.5: is the MSE gradient missing the 2?"
    if abs(ratio - 2) < 0.1:
        return "a factor of 2: is the loss a sum where the twin takes a mean, or the 2 counted twice?"
    if ratio < 0:
        return "the update points the other way: is alpha added instead of subtracted?"
    return "a different gradient: check the activation's derivative and the loss's gradient"


class TimeLimitError(Exception):
    """A call into the user's class did not return within the time limit."""


@contextlib.contextmanager
def _time_limit(seconds, call):
    """Raise TimeLimitError in the block after ``seconds`` (SIGALRM; only in the main thread
    of a Unix process, elsewhere no limit). A loop in Python code is stopped; one that
    catches every exception, or a C call that never returns, is not."""
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise TimeLimitError(f"{call} did not return within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_model(cls, layer_sizes=(20, 16, 10), activations=("relu", "softmax"), seed=0,
                layout="in_out", n_samples=50, alpha=0.5, time_limit=TIME_LIMIT):
    """The report card (a list of ``Line``) of ``cls`` against the reference, and what the
    reference was. Raises ``CheckError`` if the class cannot be built or lacks the API."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    missing = [name for name in ("fit", "forward", "get_weights", "set_weights")
               if not callable(getattr(cls, name, None))]
    if missing:
        raise CheckError(f"{cls.__name__} lacks {', '.join(missing)}: the protocol needs fit, "
                         f"forward, get_weights and set_weights")
    rng = np.random.default_rng(seed)
    X = rng.random((n_samples, layer_sizes[0]))  # (N, D)
    y = np.arange(n_samples) % layer_sizes[-1]  # every class present
    lines = [Line("API: fit, forward, get_weights, set_weights", "pass",
                  detail="predict too" if callable(getattr(cls, "predict", None)) else
                  "no predict (optional)")]
    reference, what = _reference(layer_sizes, activations, seed, "float64")
    start = reference.get_weights()
    n_layers, n_outputs = len(layer_sizes) - 1, layer_sizes[-1]

    def fresh(dtype="float64"):
        user = _User(build_user_class(cls, layer_sizes, activations, seed, dtype), layout)
        try:
            user.set_weights(start)
        except (Exception, SystemExit) as exc:
            hint = ("; if your class stores W as (fan_out, fan_in), use --layout out_in"
                    if layout == "in_out" else "")
            raise CheckError(f"set_weights refused the reference's weights ({_shapes(start)}, "
                             f"layout {layout}): {_describe(exc)}{hint}") from None
        return user

    # set_weights must take what it is given: everything below starts from those weights
    try:
        back = fresh().get_weights(n_layers)
        shapes = [(W.shape, b.shape) for W, b in back]
        wanted = [(W.shape, b.shape) for W, b in start]
        drift = (max(max(_largest(W, W0), _largest(b, b0)) for (W, b), (W0, b0) in zip(back, start))
                 if shapes == wanted else None)
        kept = drift is not None and drift <= FLOAT32_ROUNDING
        lines.append(Line("set_weights then get_weights", "pass" if kept else "fail", drift,
                          FLOAT32_ROUNDING, detail=(
            ("" if drift == 0 else "kept at float32 precision, not float64") if kept else
            f"get_weights returned shapes {shapes} after set_weights was given {wanted}"
            if drift is None else "get_weights does not return what set_weights was given; "
                                  "every check below starts from them")))
    except (Exception, SystemExit) as exc:
        if isinstance(exc, CheckError):
            raise
        lines.append(_raised("set_weights then get_weights", exc, layout))
    # forward, in both precisions
    for dtype in ("float64", "float32"):
        label = f"forward ({dtype} inputs)"
        ref = reference if dtype == "float64" else _reference(layer_sizes, activations, seed, dtype)[0]
        ref.set_weights(start)
        try:
            with _time_limit(time_limit, "forward"):
                mine = fresh(dtype).forward(X.astype(dtype), n_outputs)
            diff = _largest(mine, ref.forward(X, precision=dtype))
        except CheckError as exc:  # the class cannot be built in this precision
            lines.append(Line(label, "skip", detail=str(exc)))
            continue
        except (Exception, SystemExit) as exc:
            lines.append(_raised(label, exc, layout))
            continue
        ok = diff <= TOLERANCE[dtype]
        why = ("differences at float32 round-off: does your class store or compute in float32?"
               if diff <= TOLERANCE["float32"] else
               "the outputs differ from the same weights: check each layer's activation and "
               "the order z = a @ W + b")
        lines.append(Line(label, "pass" if ok else "fail", diff, TOLERANCE[dtype],
                          "" if ok else why))
    # one SGD step on the whole set, then several epochs of mini-batches
    for label, epochs, batch in (("one SGD step (full batch)", 1, n_samples),
                                 ("3 epochs, batch 16, seed 7", 3, 16)):
        user, ref = fresh(), reference
        ref.set_weights(start)
        ref.fit(X, y, epochs=epochs, alpha=alpha, batch_size=batch, seed=7)
        theirs = ref.get_weights()
        try:
            with _time_limit(time_limit, "fit"):
                user.model.fit(X, y, epochs=epochs, alpha=alpha, batch_size=batch, seed=7)
        except (Exception, SystemExit) as exc:
            lines.append(_raised(label, exc, layout, "fit"))
            continue
        try:
            mine = user.get_weights(n_layers)
        except (Exception, SystemExit) as exc:
            lines.append(_raised(label, exc, layout, "get_weights after fit"))
            continue
        found = _first_difference(mine, theirs, TOLERANCE["float64"], before=start)
        if found is None:
            diff = max(max(_largest(W, Wr), _largest(b, br)) for (W, b), (Wr, br) in zip(mine, theirs))
            lines.append(Line(label, "pass", diff, TOLERANCE["float64"]))
            continue
        layer, quantity, diff, ratio = found
        meaning = _meaning(quantity, ratio)
        if epochs > 1 and lines[-1].status == "fail":
            meaning = "follows from the step above"
        elif epochs > 1 and not any(line.status == "fail" for line in lines):
            meaning = ("one step agrees, several do not: the batch order or the batches differ "
                       "(the twin shuffles with numpy.random.default_rng(seed).permutation(N) "
                       "every epoch and trains on the last partial batch)")
        lines.append(Line(label, "fail", diff, TOLERANCE["float64"],
                          f"layer {layer} {quantity} differs (the layer nearest the output "
                          f"that does)"
                          + (f" (its update is {ratio:.3g} times the reference's)"
                             if ratio is not None and math.isfinite(ratio) else "")
                          + f": {meaning}"))
    # the gradients themselves, where the class offers them
    if callable(getattr(cls, "loss_and_gradients", None)):
        lines.append(_gradient_line(fresh(), reference, start, X, y, n_layers, layout, time_limit))
    # predict, and bad input
    if callable(getattr(cls, "predict", None)):
        reference.set_weights(start)
        try:
            with _time_limit(time_limit, "predict"):
                labels = _as_array(fresh().model.predict(X))
            if labels.shape != (n_samples,):
                raise ShapeError(f"predict returned shape {labels.shape}, expected class labels "
                                 f"of shape ({n_samples},)")
            agree = labels == reference.predict(X)
            lines.append(Line("predict", "pass" if agree.all() else "fail",
                              float(1 - agree.mean()), 0.0,
                              "" if agree.all() else "share of samples whose class differs"))
        except (Exception, SystemExit) as exc:
            lines.append(_raised("predict", exc, layout))
    for label, bad in (("NaN input refused", _with_nan(X)), ("wrong width refused", X[:, :-1])):
        try:
            with _time_limit(time_limit, "forward"):
                fresh().model.forward(bad)
        except (SystemExit, TimeLimitError) as exc:
            lines.append(_raised(label, exc, layout))
        except Exception as exc:
            lines.append(Line(label, "pass", detail=f"{type(exc).__name__}"))
        else:
            lines.append(Line(label, "warn", detail="computed without an error"))
    return lines, what


def _gradient_line(user, reference, start, X, y, n_layers, layout, time_limit):
    """``loss_and_gradients(X, y)`` on the whole set against the reference's: the loss, then
    every dW and db, naming the layer nearest the output that differs."""
    label = "loss_and_gradients (full batch)"
    reference.set_weights(start)
    loss_ref, grads_ref = reference.loss_and_gradients(X, y)
    try:
        with _time_limit(time_limit, "loss_and_gradients"):
            returned = user.model.loss_and_gradients(X, y)
        loss, grads = returned
        grads = [(_as_array(dW).T if user.transposed else _as_array(dW), _as_array(db).reshape(-1))
                 for dW, db in grads]
        loss = float(_as_array(loss))
    except (Exception, SystemExit) as exc:
        return _raised(label, exc, layout, "loss_and_gradients")
    if len(grads) != n_layers:
        return Line(label, "fail", detail=f"returned {len(grads)} (dW, db) pairs, expected {n_layers}")
    tolerance = TOLERANCE["float64"]
    found = _first_difference(grads, grads_ref, tolerance)
    if found is not None:
        layer, quantity, diff, ratio = found
        name, index = f"d{quantity}", "Wb".index(quantity)
        mine, ref = grads[layer - 1][index], grads_ref[layer - 1][index]
        if mine.shape != ref.shape:
            return Line(label, "fail", detail=f"layer {layer} {name} has shape {mine.shape}, "
                                              f"expected {ref.shape}")
        meaning = (f"{name} is zero" if ratio is not None and abs(ratio) < 0.01
                   else _meaning(name, ratio))
        return Line(label, "fail", diff, tolerance,
                    f"layer {layer} {name} differs (the layer nearest the output that does)"
                    + (f" ({ratio:.3g} times the reference's)" if ratio is not None
                       and math.isfinite(ratio) else "") + f": {meaning}")
    diff = max([abs(loss - loss_ref)] + [max(_largest(a, c), _largest(b, d))
                                         for (a, b), (c, d) in zip(grads, grads_ref)])
    if not abs(loss - loss_ref) <= tolerance:
        return Line(label, "fail", abs(loss - loss_ref), tolerance,
                    f"the gradients agree but the loss is {loss:.6g}, the reference's "
                    f"{loss_ref:.6g}: is it a sum, or a mean over another count?")
    return Line(label, "pass", diff, tolerance)


def _raised(check, exc, layout, call=None):
    """The line of a check whose call into the user's class raised (or returned a wrong
    shape, or called sys.exit)."""
    text = _describe(exc)
    if isinstance(exc, (ShapeError, WeightsError, TimeLimitError)):
        return Line(check, "fail", detail=text.split(": ", 1)[1])
    hint = ("; if your class stores W as (fan_out, fan_in), check it with --layout out_in"
            if layout == "in_out" and any(word in text for word in
                                          ("shape", "mismatch", "dimension", "align")) else "")
    return Line(check, "fail", detail=f"{call + ' ' if call else ''}raised {text}{hint}"
                if not isinstance(exc, SystemExit) else f"{call or 'the class'}: {text}")


def _with_nan(X):
    X = X.copy()
    X[0, 0] = np.nan
    return X


def _shapes(weights):
    return ", ".join(f"W{i} {W.shape}" for i, (W, _) in enumerate(weights))


def report_card(lines, what, name):
    """The card as text: one line per check, then the verdict."""
    width = max(len(line.check) for line in lines)
    out = [f"scratchnet check: {name} against {what}"]
    for line in lines:
        figure = "" if line.figure is None else f"  {line.figure:.3e}"
        if line.tolerance is not None:
            figure += f" (tolerance {line.tolerance:g})"
        out.append((f"  {line.status.upper():4}  {line.check:<{width}}{figure}"
                    + (f"  {line.detail}" if line.detail else "")).rstrip())
    failed = sum(line.status == "fail" for line in lines)
    out.append(f"{name}: " + ("matches" if not failed else f"{failed} check(s) failed"))
    return "\n".join(out)
