"""The runaway-weights rule after each epoch: the sum-of-squares shortcut must never clear a
layer that the exact rule (largest |w| against the limit) would flag."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet import NeuralNetwork
from scratchnet.nn.divergence import DIVERGENCE_FACTOR, _largest, _surely_below, runaway_weights
from scratchnet.nn.init import initial_std


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-3, 1e3),
       bad=st.sampled_from([None, np.nan, np.inf, -np.inf, "huge"]),
       order=st.sampled_from(["C", "F"]))
def test_surely_below_implies_every_weight_is_finite_and_below(dtype, seed, scale, bad, order):
    rng = np.random.default_rng(seed)
    W = np.asarray(rng.standard_normal((37, 23)) * scale, dtype=dtype, order=order)
    b = (rng.standard_normal(23) * scale).astype(dtype)
    if bad == "huge":
        W[5, 6] = 40 * scale
    elif bad is not None:
        b[3] = bad
    bound = float(rng.uniform(0.1, 300)) * scale
    largest = _largest(W, b)
    if _surely_below(W, b, bound):
        assert math.isfinite(largest) and largest < bound, (largest, bound)
    if bad is not None and bad != "huge":
        assert not _surely_below(W, b, bound)


def test_fresh_layers_are_cleared_without_looking_at_the_largest_weight():
    # the case the shortcut is there for: weights at their initial scale
    model = NeuralNetwork([784, 64, 10], ["relu", "softmax"])
    limits = [None, None]
    assert runaway_weights(model.get_weights(), model.get_weights(), limits, model.layer_sizes, model.activations) is None
    assert limits == [None, None]
    # a 1024 x 1024 layer's sum of squares is over (1000 std)^2: its limit is looked up
    # once, from its largest initial weight, and clears it from then on
    model = NeuralNetwork([784, 1024, 1024, 10], ["relu", "relu", "softmax"])
    initial, limits = model.get_weights(), [None] * 3
    assert runaway_weights(model.get_weights(), initial, limits, model.layer_sizes, model.activations) is None
    W0, b0 = initial[1]
    assert limits[1] == DIVERGENCE_FACTOR * _largest(W0, b0)
    assert limits[0] is None and limits[2] is None
    assert runaway_weights(model.get_weights(), initial, limits, model.layer_sizes, model.activations) is None


def test_too_many_values_for_the_dtype_skip_the_shortcut():
    W = np.zeros((64, 64), np.float16)  # 4161 * eps(float16) = 4.1, over 0.5
    assert not _surely_below(W, np.zeros(64, np.float16), 1.0)


@pytest.mark.parametrize("grow", [1.0, 300.0, 1100.0, 5000.0, 1e5, np.inf])
def test_runaway_weights_agrees_with_the_exact_rule(grow):
    model = NeuralNetwork([64, 32, 10], ["relu", "softmax"], seed=3)
    initial = model.get_weights()
    weights = [(W.copy(), b.copy()) for W, b in initial]
    weights[0][0][7, 3] = grow * initial_std(64, 32, "relu") if math.isfinite(grow) else grow
    limits = [None, None]
    found = runaway_weights(weights, initial, limits, model.layer_sizes, model.activations)
    expected = None
    for layer, ((W, b), (W0, b0), fan_in, fan_out, activation) in enumerate(
            zip(weights, initial, [64, 32], [32, 10], ["relu", "softmax"]), start=1):
        largest = _largest(W, b)
        limit = DIVERGENCE_FACTOR * max(initial_std(fan_in, fan_out, activation), _largest(W0, b0))
        if not math.isfinite(largest) or largest > limit:
            expected = layer
            break
    assert (found is None) == (expected is None), (grow, found)
    if expected is not None:
        assert ("non-finite" in found) if grow == np.inf else f"layer {expected} reached" in found
