"""Why a user's weights differ from the twin's: a finding is a variant of the twin
(``replay.Variant``) that reproduces the user's numbers to round-off, or a uniform factor
that a loss convention accounts for; where nothing reproduces them, the layer and the
quantity nearest the output that differ, and that no known variant explains them.

Every search here replays the twin in float64 on the check's own small data set, so it
costs milliseconds; the user's code is not called again, except by the caller for the
two full-batch steps that fit a momentum.
"""
from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np

from ..nn.losses import LOSSES, OUTPUT_REDUCTIONS, SAMPLE_REDUCTIONS, LossConvention
from . import replay
from .replay import ORDERS, Variant

#: Largest |difference| between two float64 weight sets that is round-off.
AGREE = 1e-9
#: Largest |difference| that float32 storage or arithmetic explains, on these weights.
FLOAT32 = 1e-5
#: A factor is uniform when no parameter's step departs from factor x the twin's step by
#: more than this share of the largest step.
UNIFORM = 1e-6
#: Orders and their kind of difference: a batch order or a dropped last batch is a choice,
#: not an error in the math (a WARN); everything else is a FAIL.
BENIGN_FIELDS = ("order", "drop_last")


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """A cause, with a stable ``code`` and its text; ``variant`` reproduces the numbers."""

    code: str
    text: str
    layer: int | None = None
    quantity: str | None = None
    factor: float | None = None
    variant: Variant | None = None
    convention: LossConvention | None = None  # the convention the numbers match
    benign: bool = False  # correct code doing something else: the line is a WARN


@dataclasses.dataclass(frozen=True)
class Problem:
    """What the check knows: the network, the data, the declared convention, the start."""

    activations: tuple
    convention: LossConvention
    X: np.ndarray
    y: np.ndarray
    start: list
    alpha: float

    @property
    def n_outputs(self):
        return self.start[-1][0].shape[1]

    def replay(self, variant, epochs, batch_size, seed):
        return replay.train(self.start, self.X, self.y, self.convention, self.activations,
                            variant, epochs=epochs, alpha=self.alpha, batch_size=batch_size,
                            seed=seed)


def largest(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def agree(mine, theirs, tolerance=AGREE):
    """Whether two weight sets agree everywhere to ``tolerance`` (False on NaN)."""
    return all(W.shape == Wr.shape and b.shape == br.shape and largest(W, Wr) <= tolerance
               and largest(b, br) <= tolerance for (W, b), (Wr, br) in zip(mine, theirs))


def first_difference(mine, theirs, tolerance, before=None):
    """(layer (1-based), quantity, largest difference, factor) of the W or b nearest the
    output that differs, or None: backpropagation carries an error from where it is made
    towards the input, so the layer nearest the output that differs is where it was made.
    The factor is the least-squares factor between the user's change of that quantity since
    ``before`` and the reference's (without ``before``: between the quantities themselves,
    e.g. two gradients); None where the shapes differ."""
    before = before or [(0.0, 0.0)] * len(mine)
    for layer, ((W, b), (Wr, br), (W0, b0)) in reversed(list(enumerate(zip(mine, theirs, before), 1))):
        for name, value, ref, start in (("W", W, Wr, W0), ("b", b, br, b0)):
            if value.shape != ref.shape:
                return layer, name, math.inf, None
            diff = largest(value, ref)
            if not diff <= tolerance:  # NaN too
                return layer, name, diff, _factor(value - start, ref - start)
    return None


def _factor(step, ref_step):
    scale = float(np.vdot(ref_step, ref_step))
    return float(np.vdot(step, ref_step)) / scale if scale else None


def _flat_steps(weights, before):
    return np.concatenate([np.ravel(part - part0) for pair, pair0 in zip(weights, before)
                           for part, part0 in zip(pair, pair0)])


def uniform_factor(mine, theirs, before):
    """The one factor c with every W and b step of ``mine`` = c x that of ``theirs`` (since
    ``before``), or None where no single factor fits."""
    step, ref_step = _flat_steps(mine, before), _flat_steps(theirs, before)
    if not (np.all(np.isfinite(step)) and np.any(ref_step)):
        return None
    c = _factor(step, ref_step)
    if c is None or not np.max(np.abs(step - c * ref_step)) <= UNIFORM * np.max(np.abs(step)):
        return None
    return c


def conventions(loss):
    """Every convention of ``loss`` this checker knows."""
    outputs = OUTPUT_REDUCTIONS if not LOSSES[loss].on_logits else ("mean",)
    return [LossConvention(loss, samples, out) for samples, out in
            itertools.product(SAMPLE_REDUCTIONS, outputs)]


def matching_convention(c, declared, n_rows, n_outputs):
    """The convention of the declared loss whose step is c times the declared one's."""
    base = declared.scale(n_rows, n_outputs)
    for candidate in conventions(declared.loss):
        if candidate != declared and abs(candidate.scale(n_rows, n_outputs) / base - c) <= 1e-6 * abs(c):
            return candidate
    return None


def convention_diagnosis(convention, declared, factor, what="update"):
    flags = convention.flags() or "no flags (the default: mean over the outputs and the samples)"
    exactly = f", exactly {factor:.4g} times the declared one's" if factor is not None else ""
    return Diagnosis(
        "convention", f"your loss is {convention.describe()}, where the check assumed "
                      f"{declared.describe()}: every W and b {what} is the twin's under that "
                      f"convention{exactly}; declare it with {flags}",
        factor=factor, convention=convention, variant=Variant(loss=convention))


def explain_factor(c, problem, n_rows, what="update"):
    """A uniform factor c of a step or gradient, named by the convention it matches."""
    declared = problem.convention
    if abs(c - 1) < 1e-3:
        return Diagnosis("float32_roundoff", f"the {what} agrees to 0.1 % ({c:.6g} times the "
                         f"twin's): differences at float32 round-off; does your class store or "
                         f"compute in float32? (these checks compare in float64)", factor=c)
    if abs(c) < 0.01:
        return Diagnosis("never_updated", f"the weights barely move ({c:.3g} times the twin's "
                         f"{what}): does fit update W and b?", factor=c)
    found = matching_convention(c, declared, n_rows, problem.n_outputs)
    if found is not None:
        return convention_diagnosis(found, declared, c, what)
    if c < 0:
        return Diagnosis("sign_flipped", f"every {what} points the other way ({c:.4g} times the "
                         f"twin's): is alpha added instead of subtracted?", factor=c,
                         variant=Variant(scale=c))
    meaning = ("is the MSE gradient missing its 2?" if abs(c - 0.5) < 1e-6 and declared.loss == "mse"
               else "is the learning rate, or the loss, scaled by that factor somewhere?")
    return Diagnosis("uniform_factor", f"every W and b {what} is exactly {c:.4g} times the twin's, "
                     f"and no loss convention gives that factor: {meaning}", factor=c,
                     variant=Variant(scale=c))


def describe_variant(variant, base=Variant()):
    """What a variant does differently from ``base``, in words, and its code."""
    parts, codes = [], []
    for field in dataclasses.fields(Variant):
        value, default = getattr(variant, field.name), getattr(base, field.name)
        if value == default or field.name == "decay_bias":
            continue
        codes.append(_CODES[field.name])
        parts.append(_describe_field(field.name, value, variant))
    return parts, codes


_CODES = {"order": "batch_order", "drop_last": "drop_last", "full_batch": "full_batch",
          "momentum": "momentum", "weight_decay": "weight_decay",
          "updated_backprop": "updated_weights_backprop", "bias_mean": "bias_averaged",
          "flip_layer": "sign_flipped", "derivative_from_z": "derivative_from_z",
          "loss": "convention", "scale": "uniform_factor"}


def _describe_field(name, value, variant):
    if name == "order":
        return f"the batch order is {ORDERS[value]}"
    if name == "loss":
        flags = value.flags() or "no flags"
        return f"the loss is {value.describe()} (declare it with {flags})"
    return {
        "drop_last": "the last partial batch is dropped",
        "full_batch": "fit takes one step on the whole set per epoch, whatever batch_size says",
        "momentum": f"the update has momentum mu = {variant.momentum:.4g} (v = mu v + g)",
        "weight_decay": f"the update has weight decay lambda = {variant.weight_decay:.4g} "
                        f"(g += lambda W{' and b' if variant.decay_bias else ''})",
        "updated_backprop": "the error is propagated back through a layer's W after its update, "
                            "not before: compute every gradient first, then update",
        "bias_mean": "db is averaged over the batch where the reduction of the loss sums it "
                     "(every b step is 1/B of the twin's)",
        "flip_layer": f"layer {variant.flip_layer}'s update is added instead of subtracted",
        "scale": f"every step is {variant.scale:.4g} times the twin's",
        "derivative_from_z": "the activation's derivative is computed from z where it needs the "
                             "activation a (sigmoid: z(1 - z) instead of a(1 - a); tanh: 1 - z^2 "
                             "instead of 1 - a^2)",
    }[name]


def variant_diagnosis(variant, base=Variant(), follows=None):
    """The finding of a variant that reproduced the numbers."""
    parts, codes = describe_variant(variant, base)
    benign = all(field in BENIGN_FIELDS for field in _changed(variant, base))
    prefix = "same math, " if benign and not follows else ""
    text = prefix + "; ".join(parts)
    if follows:
        text = f"{follows}; on top of it, {text}" if parts else follows
    return Diagnosis(codes[0] if codes else "follows_from_step", text + " (this reproduces your "
                     "weights to round-off)", variant=variant, benign=benign and not follows,
                     layer=variant.flip_layer or None)


def _changed(variant, base):
    return [field.name for field in dataclasses.fields(Variant)
            if getattr(variant, field.name) != getattr(base, field.name)
            and field.name != "decay_bias"]


def gradient_variants(problem):
    """The variants that change a gradient itself: the bias's reduction, the derivative from
    z (where a sigmoid or tanh layer has one), and the other loss under each convention."""
    variants = [Variant(bias_mean=True)]
    if any(name in replay.FROM_A for name in problem.activations):
        variants.append(Variant(derivative_from_z=True))
    other = [loss for loss in LOSSES if loss != problem.convention.loss
             and (not LOSSES[loss].on_logits or problem.activations[-1] == "softmax")]
    return variants + [Variant(loss=convention) for loss in other
                       for convention in conventions(loss)]


def step_variants(problem, mine, reference_step):
    """The one-step variants worth replaying: each layer's sign, backpropagation through
    updated weights, a fitted weight decay, and the gradient variants."""
    n_layers = len(problem.start)
    variants = [Variant(flip_layer=layer) for layer in range(1, n_layers + 1)]
    if n_layers > 1:
        variants.append(Variant(updated_backprop=True))
    decay = fit_weight_decay(problem, mine, reference_step)
    if decay is not None:
        variants += [Variant(weight_decay=decay), Variant(weight_decay=decay, decay_bias=True)]
    return variants + gradient_variants(problem)


def fit_weight_decay(problem, mine, reference_step):
    """lambda from one step, W1 = W0 - alpha (g + lambda W0); None where it is not positive."""
    residual = np.concatenate([np.ravel((Wr - W) / problem.alpha)
                               for (W, _), (Wr, _) in zip(mine, reference_step)])
    W0 = np.concatenate([np.ravel(W) for W, _ in problem.start])
    decay = _factor(residual, W0)
    return decay if decay is not None and math.isfinite(decay) and decay > 1e-8 else None


def diagnose_step(problem, mine):
    """Why one full-batch step of the user's class differs from the twin's."""
    rows = problem.X.shape[0]
    reference = problem.replay(Variant(), 1, rows, 0)
    found = (_shape_or_finite(mine, reference) or _float32(mine, reference)
             or _never_updated(mine, reference, problem.start))
    if found:
        return found
    c = uniform_factor(mine, reference, problem.start)
    if c is not None:
        return explain_factor(c, problem, rows)
    for variant in step_variants(problem, mine, reference):
        if agree(mine, problem.replay(variant, 1, rows, 0)):
            if variant.loss is not None:
                return convention_diagnosis(variant.loss, problem.convention, None)
            return variant_diagnosis(variant)
    return unexplained(mine, reference, problem.start, "one step")


def _float32(mine, reference, what="weights"):
    if agree(mine, reference, FLOAT32) and not agree(mine, reference):
        return Diagnosis("float32_roundoff", f"the {what} agree to {FLOAT32:g}: differences at "
                         f"float32 round-off; does your class store or compute in float32? (these "
                         f"checks compare in float64)")
    return None


def _never_updated(mine, reference, before):
    """The W or b nearest the output that fit left exactly as it was while the twin's moved."""
    for layer in range(len(mine), 0, -1):
        for index, name in ((0, "W"), (1, "b")):
            start, value, ref = before[layer - 1][index], mine[layer - 1][index], reference[layer - 1][index]
            if np.array_equal(value, start) and not np.array_equal(ref, start):
                return Diagnosis("never_updated", f"layer {layer} {name} is never updated: fit "
                                 f"leaves it as it was", layer=layer, quantity=name, factor=0.0)
    return None


def _shape_or_finite(mine, reference):
    for layer, ((W, b), (Wr, br)) in enumerate(zip(mine, reference), 1):
        for name, value, ref in (("W", W, Wr), ("b", b, br)):
            if value.shape != ref.shape:
                return Diagnosis("wrong_shape", f"layer {layer} {name} has shape {value.shape}, "
                                 f"the twin's {ref.shape}", layer=layer, quantity=name)
            if not np.all(np.isfinite(value)):
                return Diagnosis("not_finite", f"layer {layer} {name} holds NaN or inf after fit",
                                 layer=layer, quantity=name)
    return None


def unexplained(mine, reference, before, what):
    found = first_difference(mine, reference, AGREE, before)
    if found is None:
        return None
    layer, quantity, _, factor = found
    ratio = f" (its change is {factor:.3g} times the twin's)" if factor is not None else ""
    return Diagnosis("unexplained", f"layer {layer} {quantity} differs first, from the output "
                     f"side{ratio}; no known variant reproduces {what} (tried: conventions, the "
                     f"other loss, a sign, the bias's reduction, the activation's derivative, "
                     f"backpropagation through updated weights, weight decay, momentum, batch "
                     f"orders, a dropped or a full batch)", layer=layer, quantity=quantity,
                     factor=factor)


def fit_momentum(problem, two_steps):
    """mu from the user's weights after two full-batch steps: W2 = W1 - alpha (mu g0 + g1),
    with W1 the twin's one step (the caller checked that it agrees); None if not positive."""
    rows = problem.X.shape[0]
    one = problem.replay(Variant(), 1, rows, 0)
    g0 = replay.gradients(problem.start, problem.X, problem.y, problem.convention, problem.activations)
    g1 = replay.gradients(one, problem.X, problem.y, problem.convention, problem.activations)
    flat = lambda pairs: np.concatenate([np.ravel(part) for pair in pairs for part in pair])
    residual = (flat(one) - flat(two_steps)) / problem.alpha - flat(g1)
    mu = _factor(residual, flat(g0))
    return mu if mu is not None and math.isfinite(mu) and 1e-6 < mu < 1.5 else None


def diagnose_epochs(problem, mine, epochs, batch_size, seed, base=Variant(), momentum=None,
                    follows=None):
    """Why several epochs differ: the first of the order, batch and momentum variants (on
    top of ``base``, the step's finding) that reproduces the user's weights."""
    reference = problem.replay(base, epochs, batch_size, seed)
    if follows and agree(mine, reference):
        return Diagnosis("follows_from_step", f"{follows}: the same finding reproduces these "
                         f"weights too", variant=base)
    found = _shape_or_finite(mine, reference) or _float32(mine, reference)
    if found:
        return found
    momenta = [0.0] + ([momentum] if momentum else [])
    candidates = [dataclasses.replace(base, order=order, drop_last=drop, momentum=mu)
                  for mu in momenta for drop in (False, True) for order in ORDERS]
    candidates += [dataclasses.replace(base, full_batch=True, momentum=mu) for mu in momenta]
    for variant in candidates:
        if variant != base and agree(mine, problem.replay(variant, epochs, batch_size, seed)):
            return variant_diagnosis(variant, base, follows)
    found = unexplained(mine, reference, problem.start, f"{epochs} epochs")
    if found is not None and follows:
        return dataclasses.replace(found, code="after_step", text=f"{follows}, and more: "
                                   + found.text)
    return found


def diagnose_gradients(problem, grads):
    """Why ``loss_and_gradients`` on the whole set differs from the twin's gradients."""
    rows = problem.X.shape[0]
    reference = replay.gradients(problem.start, problem.X, problem.y, problem.convention,
                                 problem.activations)
    zeros = [(np.zeros_like(W), np.zeros_like(b)) for W, b in reference]
    found = _shape_or_finite(grads, reference) or _float32(grads, reference, "gradients")
    if found:
        return found
    c = uniform_factor(grads, reference, zeros)
    if c is not None:
        return explain_factor(c, problem, rows, what="gradient")
    for variant in gradient_variants(problem):
        theirs = replay.gradients(problem.start, problem.X, problem.y, problem.convention,
                                  problem.activations, variant)
        if agree(grads, theirs):
            if variant.loss is not None:
                return convention_diagnosis(variant.loss, problem.convention, None, "gradient")
            return variant_diagnosis(variant)
    found = first_difference(grads, reference, AGREE)
    layer, quantity, _, factor = found
    ratio = f" ({factor:.3g} times the twin's)" if factor is not None else ""
    return Diagnosis("unexplained", f"layer {layer} d{quantity} differs first, from the output "
                     f"side{ratio}; no known variant reproduces these gradients (tried: "
                     f"conventions, the other loss, the bias's reduction, the activation's "
                     f"derivative)", layer=layer, quantity=f"d{quantity}", factor=factor)
