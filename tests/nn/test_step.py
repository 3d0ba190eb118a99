"""The engine (``NeuralNetwork``: buffers, in place, updates fused into BLAS calls) computes
what the readable step (``scratchnet.nn.step``) writes out formula by formula."""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from helpers import assert_close
from scratchnet import NeuralNetwork, PrecisionConfig, batch_order
from scratchnet.harness.timing import available_cores
from scratchnet.nn import step
from scratchnet.nn.losses import LossConvention

F64 = PrecisionConfig(train_dtype="float64", infer_precision="float64")
CASES = [(["relu", "softmax"], "mse"), (["tanh", "sigmoid"], "mse"),
         (["sigmoid", "softmax"], "cross_entropy"), (["relu", "linear"], "mse")]


def _data(n, width=12, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, width)), rng.integers(0, classes, n)


def _by_hand(params, activations, loss, X, labels, epochs, batch_size, alpha, seed, scale=None):
    losses = []
    for order in batch_order(seed, len(X), epochs):
        for start in range(0, len(X), batch_size):
            rows = order[start:start + batch_size]
            factor = scale(len(rows)) if scale else 1.0
            value, params = step.train_step(params, activations, loss, X[rows], labels[rows],
                                            alpha, factor)
            losses.append(value)
    return losses, params


@pytest.mark.parametrize("activations, loss", CASES)
@pytest.mark.parametrize("threads", [1, 2])
def test_fit_is_the_readable_step_batch_after_batch(activations, loss, threads):
    """Two epochs of uneven batches (the last one partial); one BLAS thread takes the fused
    update, two (batches of 64 rows and more) the plain one."""
    width = 2000 if threads == 2 else 200  # 64 rows x 2000 x 16: past the one-thread rule
    X, labels = _data(150, width=width)
    net = NeuralNetwork([width, 16, 5], activations, F64, seed=3, loss=loss)
    start = net.get_weights()
    batch = 64 if threads == 2 else 32
    with threadpool_limits(threads):
        assert net.fuses_updates(batch) is (threads == 1) or available_cores() < 2
        net.fit(X, labels, epochs=2, alpha=0.05, batch_size=batch, seed=9)
    _, expected = _by_hand(start, activations, loss, X, labels, 2, batch, 0.05, 9)
    for layer, ((W, b), (W_hand, b_hand)) in enumerate(zip(net.get_weights(), expected), start=1):
        assert_close(W, W_hand, 1e-12, f"W{layer}")
        assert_close(b, b_hand, 1e-12, f"b{layer}")


def test_a_loss_convention_scales_each_readable_step():
    X, labels = _data(40)
    convention = LossConvention("mse", samples="sum", outputs="half_sum")
    net = NeuralNetwork([12, 8, 5], ["sigmoid", "sigmoid"], F64, seed=1, loss=convention)
    start = net.get_weights()
    net.fit(X, labels, epochs=1, alpha=0.01, batch_size=16, seed=2)
    _, expected = _by_hand(start, ["sigmoid", "sigmoid"], "mse", X, labels, 1, 16, 0.01, 2,
                           scale=lambda rows: convention.scale(rows, 5))
    for (W, b), (W_hand, b_hand) in zip(net.get_weights(), expected):
        assert_close(W, W_hand, 1e-12, "W")
        assert_close(b, b_hand, 1e-12, "b")


@pytest.mark.parametrize("activations, loss", CASES)
def test_loss_and_gradients_are_the_readable_backward(activations, loss):
    X, labels = _data(20)
    net = NeuralNetwork([12, 8, 5], activations, F64, seed=4, loss=loss)
    value, grads = net.loss_and_gradients(X, labels)
    zs, As = step.forward(net.get_weights(), activations, X)
    hand_value, dz = step.output_gradient(loss, activations[-1], zs[-1], As[-1], labels)
    assert value == pytest.approx(hand_value, rel=1e-12)
    for (dW, db), (dW_hand, db_hand) in zip(grads, step.backward(net.get_weights(), activations,
                                                                 zs, As, dz)):
        assert_close(dW, dW_hand, 1e-12, "dW")
        assert_close(db, db_hand, 1e-12, "db")


def test_a_wrong_step_is_told_apart():
    """The comparison above can fail: a step that forgets the bias update differs."""
    X, labels = _data(32)
    net = NeuralNetwork([12, 8, 5], ["relu", "softmax"], F64, seed=5)
    start = net.get_weights()
    net.fit(X, labels, epochs=1, alpha=0.1, batch_size=32, seed=1)
    zs, As = step.forward(start, ["relu", "softmax"], X[batch_order(1, 32, 1)[0]])
    _, dz = step.output_gradient("mse", "softmax", zs[-1], As[-1], labels[batch_order(1, 32, 1)[0]])
    grads = step.backward(start, ["relu", "softmax"], zs, As, dz)
    no_bias = [(W - 0.1 * dW, b) for (W, b), (dW, _) in zip(start, grads)]
    assert np.abs(net.get_weights()[1][1] - no_bias[1][1]).max() > 1e-6
