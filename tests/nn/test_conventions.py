"""Loss conventions (``scratchnet.nn.losses.LossConvention``): their factors, their text and
flags, and both networks trained under them, equal to each other and kept by a checkpoint."""
import numpy as np
import pytest

from helpers import assert_close
from scratchnet import NeuralNetwork, PrecisionConfig
from scratchnet.nn.losses import LossConvention

FLOAT64 = PrecisionConfig("float64", "float64")


@pytest.mark.parametrize("convention,rows,outputs,factor", [
    (LossConvention(), 16, 10, 1.0),
    (LossConvention("mse", "mean", "half_sum"), 16, 10, 5.0),
    (LossConvention("mse", "mean", "half_sum"), 16, 4, 2.0),
    (LossConvention("mse", "sum", "sum"), 16, 10, 160.0),
    (LossConvention("cross_entropy", "sum"), 2, 10, 2.0),
])
def test_each_convention_is_the_default_times_its_factor(convention, rows, outputs, factor):
    assert convention.scale(rows, outputs) == factor


@pytest.mark.parametrize("text,flags", [
    ("mse", ""), ("mse(outputs=half_sum)", "--outputs half_sum"),
    ("mse(samples=sum,outputs=sum)", "--samples sum --outputs sum"),
    ("cross_entropy(samples=sum)", "--loss cross_entropy --samples sum"),
])
def test_text_and_flags_round_trip(text, flags):
    convention = LossConvention.parse(text)
    assert convention.text == text and convention.flags() == flags


@pytest.mark.parametrize("value,error,words", [
    ("hinge", ValueError, "unknown loss 'hinge'"),
    ("mse(samples=all)", ValueError, "samples must be one of ['mean', 'sum'], got 'all'"),
    ("mse(batch=sum)", ValueError, "unknown reduction 'batch'"),
    ("cross_entropy(outputs=half_sum)", ValueError, "outputs='half_sum' is for the MSE only"),
    ("mse(", ValueError, "optionally followed by (samples=mean|sum"),
    (3, TypeError, "loss must be a name"),
])
def test_a_bad_convention_names_what_is_accepted(value, error, words):
    with pytest.raises(error) as raised:
        LossConvention.parse(value)
    assert words in str(raised.value)


@pytest.mark.parametrize("convention", [LossConvention("mse", "sum", "half_sum"),
                                        LossConvention("cross_entropy", "sum")])
def test_both_networks_train_under_a_convention_alike(model_class, convention):
    rng = np.random.default_rng(0)
    X, y = rng.random((50, 20)), np.arange(50) % 10
    ours = NeuralNetwork([20, 16, 10], ["relu", "softmax"], FLOAT64, seed=1, loss=convention)
    other = model_class([20, 16, 10], ["relu", "softmax"], FLOAT64, seed=1, loss=convention)
    for model in (ours, other):
        model.fit(X, y, epochs=3, alpha=0.01, batch_size=16, seed=7)  # a last batch of 2
    for i, ((W, b), (W2, b2)) in enumerate(zip(ours.get_weights(), other.get_weights())):
        assert_close(W, W2, 1e-12, f"layer {i} W")
        assert_close(b, b2, 1e-12, f"layer {i} b")
    default = NeuralNetwork([20, 16, 10], ["relu", "softmax"], FLOAT64, seed=1,
                            loss=convention.loss)
    loss, grads = ours.loss_and_gradients(X, y)
    default.set_weights(ours.get_weights())
    base_loss, base_grads = default.loss_and_gradients(X, y)
    factor = convention.scale(50, 10)
    assert loss == pytest.approx(base_loss * factor, rel=1e-12)
    assert_close(grads[0][0], base_grads[0][0] * factor, 1e-12, "dW under the convention")


def test_a_checkpoint_keeps_the_convention(tmp_path):
    convention = LossConvention("mse", "sum", "half_sum")
    model = NeuralNetwork([6, 4, 3], ["relu", "softmax"], seed=1, loss=convention)
    model.save(tmp_path / "model.npz")
    loaded = NeuralNetwork.load(tmp_path / "model.npz")
    assert loaded.convention == convention and loaded.loss == "mse"
    assert "mse(samples=sum,outputs=half_sum)" in repr(loaded)
