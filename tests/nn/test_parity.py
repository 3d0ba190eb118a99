"""The NumPy network and its PyTorch twin compute the same function.

Same seed, same data, same batch order: outputs before training, every
gradient, the per-epoch history, the weights and the predicted
probabilities after training must agree. Every assertion prints the largest
difference and where it is.
"""
import numpy as np
import pytest

from helpers import assert_close
from scratchnet import NeuralNetwork, PrecisionConfig
from scratchnet.nn.init import initialize_weights

torch = pytest.importorskip("torch")
from scratchnet import TorchNeuralNetwork  # noqa: E402

# Every activation appears as a hidden and as an output activation; both
# losses; two-, three- and four-layer networks.
CASES = [
    ([20, 16, 10], ["relu", "softmax"], "mse"),
    ([20, 16, 10], ["relu", "softmax"], "cross_entropy"),
    ([20, 16, 10], ["sigmoid", "softmax"], "cross_entropy"),
    ([20, 16, 10], ["tanh", "sigmoid"], "mse"),
    ([20, 16, 10], ["linear", "linear"], "mse"),
    ([20, 16, 10], ["relu", "tanh"], "mse"),
    ([20, 16, 10], ["tanh", "relu"], "mse"),
    ([20, 24, 12, 10], ["tanh", "relu", "softmax"], "cross_entropy"),
    ([20, 24, 16, 12, 10], ["relu", "tanh", "sigmoid", "softmax"], "mse"),
    ([20, 24, 16, 12, 10], ["sigmoid", "linear", "relu", "softmax"], "cross_entropy"),
]
IDS = ["{}-{}-{}".format("x".join(map(str, s)), "/".join(a), l) for s, a, l in CASES]
FLOAT64 = PrecisionConfig(train_dtype="float64", infer_precision="float64")
FLOAT32 = PrecisionConfig(train_dtype="float32", infer_precision="float32")
TRAINING = dict(epochs=3, alpha=0.1, batch_size=16, seed=7)


def twins(sizes, activations, loss, config, seed=11):
    return (NeuralNetwork(sizes, activations, precision_config=config, seed=seed, loss=loss),
            TorchNeuralNetwork(sizes, activations, precision_config=config, seed=seed, loss=loss))


@pytest.mark.parametrize("sizes,activations,loss", CASES, ids=IDS)
def test_float64_outputs_agree_before_training(sizes, activations, loss, small_data):
    X = small_data[2]
    ours, theirs = twins(sizes, activations, loss, FLOAT64)
    assert_close(ours.forward(X), theirs.forward(X), 1e-12, "outputs before training")


@pytest.mark.parametrize("sizes,activations,loss", CASES, ids=IDS)
def test_float64_loss_and_every_gradient_agree_with_autograd(sizes, activations, loss, small_data):
    X, y = small_data[0][:48], small_data[1][:48]
    ours, theirs = twins(sizes, activations, loss, FLOAT64)
    our_loss, our_grads = ours.loss_and_gradients(X, y)
    their_loss, their_grads = theirs.loss_and_gradients(X, y)
    assert_close(our_loss, their_loss, 1e-13, "loss")
    for layer, ((dW, db), (tdW, tdb)) in enumerate(zip(our_grads, their_grads)):
        assert_close(dW, tdW, 1e-13, f"dW{layer} vs torch autograd")
        assert_close(db, tdb, 1e-13, f"db{layer} vs torch autograd")


@pytest.mark.parametrize("sizes,activations,loss", CASES, ids=IDS)
def test_float64_training_agrees_after_three_epochs(sizes, activations, loss, small_data):
    X_train, y_train, X_test, _ = small_data
    ours, theirs = twins(sizes, activations, loss, FLOAT64)
    our_history = ours.fit(X_train, y_train, **TRAINING)
    their_history = theirs.fit(X_train, y_train, **TRAINING)
    assert_close(our_history["loss"], their_history["loss"], 1e-9, "history['loss']")
    assert our_history["accuracy"] == their_history["accuracy"]
    for layer, ((W, b), (tW, tb)) in enumerate(zip(ours.get_weights(), theirs.get_weights())):
        assert_close(W, tW, 1e-9, f"W{layer} after training")
        assert_close(b, tb, 1e-9, f"b{layer} after training")
    assert_close(ours.predict_proba(X_test), theirs.predict_proba(X_test), 1e-9,
                 "predicted probabilities after training")


@pytest.mark.parametrize("sizes,activations,loss", CASES, ids=IDS)
def test_float32_training_agrees_after_three_epochs(sizes, activations, loss, small_data):
    X_train, y_train, X_test, _ = small_data
    ours, theirs = twins(sizes, activations, loss, FLOAT32)
    ours.fit(X_train, y_train, **TRAINING)
    theirs.fit(X_train, y_train, **TRAINING)
    ours_out, theirs_out = ours.predict_proba(X_test), theirs.predict_proba(X_test)
    assert ours_out.dtype == theirs_out.dtype == np.float32
    assert_close(ours_out, theirs_out, 1e-4, "float32 predicted probabilities after training")


def test_digits_at_784_inputs_agree_after_the_specs_training():
    from scratchnet.data import load_dataset
    X_train, y_train, X_test, _ = load_dataset("digits", n_features=784, n_samples=600, seed=42)
    for config, atol in ((FLOAT64, 1e-9), (FLOAT32, 1e-4)):
        ours, theirs = twins([784, 64, 10], ["relu", "softmax"], "mse", config, seed=42)
        spec = dict(epochs=3, alpha=0.1, batch_size=32, seed=42)
        ours.fit(X_train, y_train, **spec)
        theirs.fit(X_train, y_train, **spec)
        assert_close(ours.predict_proba(X_test), theirs.predict_proba(X_test), atol,
                     f"{config.train_dtype} digits probabilities")


def test_twin_starts_from_the_shared_initializer_through_one_transpose():
    sizes, activations = [12, 8, 6, 4], ["relu", "tanh", "softmax"]
    twin = TorchNeuralNetwork(sizes, activations, precision_config=FLOAT64, seed=5)
    linears = [m for m in twin.module.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3
    for layer, (linear, (W, b)) in enumerate(zip(linears, initialize_weights(sizes, activations, 5))):
        assert tuple(linear.weight.shape) == (W.shape[1], W.shape[0])
        assert_close(linear.weight.detach().numpy(), W.T, 0.0, f"twin weight{layer}")
        assert_close(linear.bias.detach().numpy(), b, 0.0, f"twin bias{layer}")


def test_twin_is_trained_by_torch_optim_sgd(small_data):
    twin = TorchNeuralNetwork([20, 8, 10], ["relu", "softmax"], seed=1)
    twin.fit(small_data[0], small_data[1], epochs=1, alpha=0.05, batch_size=32)
    assert isinstance(twin._optimizer, torch.optim.SGD)
    assert twin._optimizer.param_groups[0]["lr"] == 0.05


def test_same_order_with_seed_none(small_data):
    X, y = small_data[0], small_data[1]
    ours, theirs = twins([20, 16, 10], ["relu", "softmax"], "mse", FLOAT64, seed=9)
    for _ in range(2):  # two calls: the model's own generator moves on identically
        ours.fit(X, y, epochs=1, alpha=0.1, batch_size=10)
        theirs.fit(X, y, epochs=1, alpha=0.1, batch_size=10)
    assert_close(ours.forward(X), theirs.forward(X), 1e-10, "outputs after seed=None training")
