"""The NumPy backward pass against central finite differences, for every W and b.

float64, relative error |a - n| / (|a| + |n|) <= 1e-6 per element (elements
whose |a| + |n| is below 1e-8 must instead agree to 1e-9 absolutely: there
the ratio measures only the differences' round-off, about 1e-16 / EPS). Inputs are
checked to stay away from ReLU kinks, where the derivative is not defined.
"""
import numpy as np
import pytest

from helpers import relative_error
from scratchnet import NeuralNetwork, PrecisionConfig
from scratchnet.nn.activations import get_activation

FLOAT64 = PrecisionConfig(train_dtype="float64", infer_precision="float64")
EPS = 1e-6
CASES = [
    ([5, 4, 3], ["relu", "softmax"], "mse"),
    ([5, 4, 3], ["relu", "softmax"], "cross_entropy"),
    ([5, 4, 3], ["sigmoid", "sigmoid"], "mse"),
    ([5, 4, 3], ["tanh", "linear"], "mse"),
    ([5, 4, 3], ["linear", "tanh"], "mse"),
    ([5, 4, 3], ["tanh", "relu"], "mse"),
    ([6, 5, 4, 3], ["relu", "tanh", "softmax"], "cross_entropy"),
    ([6, 5, 4, 4, 3], ["sigmoid", "relu", "linear", "softmax"], "mse"),
]


def loss_at(model, X, y):
    return model.loss_and_gradients(X, y)[0]


def numerical_gradients(model, X, y):
    """Central differences of the loss for every element of every W and b."""
    weights = model.get_weights()
    grads = []
    for layer, (W, b) in enumerate(weights):
        layer_grads = []
        for array in (W, b):
            numeric = np.zeros_like(array)
            for index in np.ndindex(array.shape):
                original = array[index]
                array[index] = original + EPS
                model.set_weights(weights)
                plus = loss_at(model, X, y)
                array[index] = original - EPS
                model.set_weights(weights)
                minus = loss_at(model, X, y)
                array[index] = original
                numeric[index] = (plus - minus) / (2 * EPS)
            layer_grads.append(numeric)
        grads.append(tuple(layer_grads))
    model.set_weights(weights)
    return grads


def pre_activations(model, X):
    """Every layer's z for X, computed from the weights."""
    zs, a = [], X
    for (W, b), name in zip(model.get_weights(), model.activations):
        z = a @ W + b
        zs.append(z)
        a = get_activation(name).forward(z)
    return zs


@pytest.mark.parametrize("sizes,activations,loss", CASES,
                         ids=["x".join(map(str, c[0])) + "-" + "/".join(c[1]) + "-" + c[2] for c in CASES])
def test_backward_matches_central_differences(sizes, activations, loss):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, sizes[0]))
    y = rng.integers(0, sizes[-1], size=7)
    model = NeuralNetwork(sizes, activations, precision_config=FLOAT64, seed=3, loss=loss)
    # Non-zero biases so no unit is dead by symmetry, then keep every ReLU input
    # far from 0 compared with the perturbation.
    model.set_weights([(W, rng.normal(scale=0.5, size=b.shape)) for W, b in model.get_weights()])
    for z, name in zip(pre_activations(model, X), activations):
        if name == "relu":
            assert np.abs(z).min() > 1e-3, "test input too close to a ReLU kink"
    _, analytic = model.loss_and_gradients(X, y)
    numeric = numerical_gradients(model, X, y)
    for layer, ((dW, db), (nW, nb)) in enumerate(zip(analytic, numeric)):
        for name, a, n in ((f"dW{layer}", dW, nW), (f"db{layer}", db, nb)):
            tiny = np.abs(a) + np.abs(n) < 1e-8
            error = np.where(tiny, 0.0, relative_error(a, n))
            worst = np.unravel_index(np.argmax(error), error.shape)
            assert error.max() <= 1e-6, (f"{name}: relative error {error.max():.2e} at {worst} "
                                         f"(analytic {a[worst]!r}, numeric {n[worst]!r})")
            assert np.abs(a - n)[tiny].max(initial=0.0) <= 1e-9, f"{name}: near-zero gradients"


def test_sgd_step_is_weights_minus_alpha_times_gradient():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(9, 5)), rng.integers(0, 3, size=9)
    model = NeuralNetwork([5, 4, 3], ["tanh", "softmax"], precision_config=FLOAT64, loss="mse")
    before = model.get_weights()
    _, grads = model.loss_and_gradients(X, y)
    model.fit(X, y, epochs=1, alpha=0.3, batch_size=9, shuffle=False)
    for (W0, b0), (dW, db), (W1, b1) in zip(before, grads, model.get_weights()):
        np.testing.assert_allclose(W1, W0 - 0.3 * dW, rtol=0, atol=1e-15)
        np.testing.assert_allclose(b1, b0 - 0.3 * db, rtol=0, atol=1e-15)
