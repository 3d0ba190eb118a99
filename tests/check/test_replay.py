"""The twin replayed in NumPy (``scratchnet.check.replay``): with no variant it is the
PyTorch twin to round-off under every loss convention, and its batch orders are the ones
the libraries they are named after draw."""
import random

import numpy as np
import pytest

from scratchnet import PrecisionConfig, batch_order
from scratchnet.check import protocol
from scratchnet.check.replay import ORDERS, Variant, epoch_orders, gradients, train
from scratchnet.nn.losses import LossConvention

torch_model = pytest.importorskip("scratchnet.nn.torch_network")
if not torch_model.is_torch_available():
    pytest.skip("torch not installed", allow_module_level=True)

FLOAT64 = PrecisionConfig("float64", "float64")
CASES = [(("relu", "softmax"), LossConvention()),
         (("relu", "softmax"), LossConvention("cross_entropy", "sum")),
         (("sigmoid", "sigmoid"), LossConvention("mse", "mean", "half_sum")),
         (("tanh", "linear"), LossConvention("mse", "sum", "sum"))]
ALPHA = 0.05  # divided by the convention's factor for a batch of 16, as check does


@pytest.mark.parametrize("activations,convention", CASES)
def test_the_plain_replay_is_the_twin(activations, convention):
    rng = np.random.default_rng(0)
    X, y = rng.random((50, 20)), np.arange(50) % 10
    twin = torch_model.TorchNeuralNetwork([20, 16, 10], activations, FLOAT64, seed=1,
                                          loss=convention)
    start = twin.get_weights()
    _, their_grads = twin.loss_and_gradients(X, y)
    for (dW, db), (rW, rb) in zip(their_grads, gradients(start, X, y, convention, activations)):
        assert np.max(np.abs(dW - rW)) < 1e-12 and np.max(np.abs(db - rb)) < 1e-12
    alpha = ALPHA / convention.scale(16, 10)
    twin.fit(X, y, epochs=3, alpha=alpha, batch_size=16, seed=7)
    mine = train(start, X, y, convention, activations, Variant(), epochs=3, alpha=alpha,
                 batch_size=16, seed=7)
    for (W, b), (tW, tb) in zip(mine, twin.get_weights()):
        assert np.max(np.abs(W - tW)) < 1e-12 and np.max(np.abs(b - tb)) < 1e-12


def test_the_orders_are_the_libraries_own():
    n, seed = 23, 5
    assert [list(o) for o in epoch_orders("twin", seed, n, 3)] == [list(o) for o in batch_order(seed, n, 3)]
    python = random.Random(seed)
    data = list(range(n))
    expected = []
    for _ in range(3):  # Nielsen's network.py: random.shuffle(training_data) every epoch
        python.shuffle(data)
        expected.append(list(data))
    assert [list(o) for o in epoch_orders("python_in_place", seed, n, 3)] == expected
    from sklearn.utils import shuffle  # scikit-learn's MLP: shuffle(sample_idx, random_state)
    state, index, expected = np.random.RandomState(seed), np.arange(n), []
    for _ in range(3):
        index = shuffle(index, random_state=state)
        expected.append(list(index))
    assert [list(o) for o in epoch_orders("legacy_in_place", seed, n, 3)] == expected
    np.random.seed(seed)
    assert list(epoch_orders("legacy", seed, n, 1)[0]) == list(np.random.permutation(n))
    assert all(sorted(o) == list(range(n)) for name in ORDERS for o in epoch_orders(name, seed, n, 2))


def test_batch_order_is_the_order_fit_visits():
    from scratchnet import NeuralNetwork
    rng = np.random.default_rng(1)
    X, y = rng.random((37, 8)), np.arange(37) % 3
    whole = NeuralNetwork([8, 5, 3], ["relu", "softmax"], FLOAT64, seed=2)
    by_epoch = NeuralNetwork([8, 5, 3], ["relu", "softmax"], FLOAT64, seed=2)
    whole.fit(X, y, epochs=3, alpha=0.3, batch_size=10, seed=4)
    for order in batch_order(4, 37, 3):
        by_epoch.fit(X[order], y[order], epochs=1, alpha=0.3, batch_size=10, shuffle=False)
    for (W, b), (W2, b2) in zip(whole.get_weights(), by_epoch.get_weights()):
        assert np.array_equal(W, W2) and np.array_equal(b, b2)


@pytest.mark.parametrize("seed,n,epochs,error", [(-1, 5, 1, ValueError), (1.5, 5, 1, TypeError),
                                                 (1, 0, 1, ValueError), (1, 5, "2", TypeError)])
def test_batch_order_refuses_bad_arguments(seed, n, epochs, error):
    with pytest.raises(error):
        batch_order(seed, n, epochs)


def test_messages_cross_as_arrays_and_json_only():
    message = {"value": [np.ones((2, 3)), (np.float32(2.5), 3, "x", None, float("nan")),
                         {"k": np.arange(3)}, object()]}
    back = protocol.decode(protocol.encode(message))
    W, (scalar, three, text, none, nan), inner, other = back["value"]
    assert np.array_equal(W, np.ones((2, 3))) and scalar.dtype == np.float32 and scalar == 2.5
    assert (three, text, none) == (3, "x", None) and np.isnan(nan)
    assert np.array_equal(inner["k"], np.arange(3))
    assert isinstance(other, protocol.Unsendable) and other.type_name == "object"
    with pytest.raises(ValueError, match="could not be read"):
        protocol.decode(b"not an archive")
