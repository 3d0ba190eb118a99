"""The public API both models share: construction, fit, inference, weights."""
import numpy as np
import pytest

from helpers import assert_close
from scratchnet import NeuralNetwork, PrecisionConfig, TrainingDivergedError
from scratchnet.nn.init import initialize_weights

FLOAT64 = PrecisionConfig(train_dtype="float64", infer_precision="float64")


def weights_equal(a, b):
    return all(np.array_equal(x, y) for pa, pb in zip(a, b) for x, y in zip(pa, pb))


# ---------------------------------------------------------------- initializer
def test_he_for_relu_and_glorot_for_the_rest():
    sizes = [400, 300, 200, 10]
    params = initialize_weights(sizes, ["relu", "tanh", "softmax"], seed=0)
    (W0, b0), (W1, b1), (W2, b2) = params
    assert W0.shape == (400, 300) and W1.shape == (300, 200) and W2.shape == (200, 10)
    assert np.abs(W0.std() / np.sqrt(2 / 400) - 1) < 0.02  # He normal
    assert abs(W0.mean()) < 0.01 * W0.std()
    limit = np.sqrt(6 / (300 + 200))  # Glorot uniform
    assert np.abs(W1).max() <= limit and np.abs(W1).max() > 0.99 * limit
    assert np.abs(W1.std() / (limit / np.sqrt(3)) - 1) < 0.02
    assert all(not b.any() for b in (b0, b1, b2))


def test_same_seed_same_weights_other_seed_other_weights(model_class):
    a = model_class([6, 5, 3], ["relu", "softmax"], seed=1)
    b = model_class([6, 5, 3], ["relu", "softmax"], seed=1)
    c = model_class([6, 5, 3], ["relu", "softmax"], seed=2)
    assert weights_equal(a.get_weights(), b.get_weights())
    assert not weights_equal(a.get_weights(), c.get_weights())
    expected = initialize_weights([6, 5, 3], ["relu", "softmax"], 1)
    for (W, b), (eW, eb) in zip(a.get_weights(), expected):
        assert W.dtype == np.float32
        assert_close(W, eW, 1e-7, "initial W against the initializer")


# ------------------------------------------------------------------------ fit
def test_history_has_one_entry_per_epoch(model_class, small_data):
    X, y, X_val, y_val = small_data
    model = model_class([20, 16, 10], ["relu", "softmax"], loss="cross_entropy")
    history = model.fit(X, y, epochs=4, alpha=0.1, batch_size=32, seed=0)
    assert sorted(history) == ["accuracy", "loss"]
    assert all(len(v) == 4 for v in history.values())
    history = model.fit(X, y, epochs=2, alpha=0.1, batch_size=32, seed=0,
                        validation_data=(X_val, y_val))
    assert sorted(history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history["val_accuracy"][-1] == model.evaluate(X_val, y_val, precision="float32")["accuracy"]
    assert_close(history["val_loss"][-1], model.evaluate(X_val, y_val)["loss"], 1e-6, "val_loss")


def test_on_epoch_end_sees_each_epochs_entries_as_they_are_made(model_class, small_data):
    X, y, X_val, y_val = small_data
    model = model_class([20, 16, 10], ["relu", "softmax"])
    seen = []
    history = model.fit(X, y, epochs=3, alpha=0.1, batch_size=32, seed=0,
                        validation_data=(X_val, y_val),
                        on_epoch_end=lambda epoch, logs: seen.append((epoch, dict(logs))))
    assert [epoch for epoch, _ in seen] == [1, 2, 3]
    for epoch, logs in seen:
        assert logs == {name: values[epoch - 1] for name, values in history.items()}
    before = model.get_weights()
    with pytest.raises(TypeError, match="on_epoch_end must be a callable or None"):
        model.fit(X, y, epochs=1, alpha=0.1, batch_size=32, on_epoch_end="print")
    assert weights_equal(before, model.get_weights())


def test_training_lowers_the_loss(model_class, small_data):
    X, y, X_test, y_test = small_data
    model = model_class([20, 16, 10], ["relu", "softmax"], loss="cross_entropy")
    before = model.evaluate(X_test, y_test)
    history = model.fit(X, y, epochs=15, alpha=0.2, batch_size=16, seed=0)
    after = model.evaluate(X_test, y_test)
    assert history["loss"][-1] < history["loss"][0]
    assert after["loss"] < before["loss"] and after["accuracy"] > 0.8


def test_the_last_partial_batch_is_trained_on(model_class):
    rng = np.random.default_rng(0)
    X, y = rng.random((35, 6)), rng.integers(0, 3, 35)
    model = model_class([6, 4, 3], ["tanh", "softmax"], precision_config=FLOAT64)
    reference = NeuralNetwork([6, 4, 3], ["tanh", "softmax"], precision_config=FLOAT64)
    # By hand: one step on rows 0-31, one on rows 32-34 (shuffle=False keeps the order).
    for rows in (slice(0, 32), slice(32, 35)):
        _, grads = reference.loss_and_gradients(X[rows], y[rows])
        reference.set_weights([(W - 0.5 * dW, b - 0.5 * db)
                               for (W, b), (dW, db) in zip(reference.get_weights(), grads)])
    model.fit(X, y, epochs=1, alpha=0.5, batch_size=32, shuffle=False)
    for layer, ((W, b), (rW, rb)) in enumerate(zip(model.get_weights(), reference.get_weights())):
        assert_close(W, rW, 1e-14, f"W{layer}")
        assert_close(b, rb, 1e-14, f"b{layer}")


def test_one_hot_and_integer_labels_train_the_same(model_class, small_data):
    X, y = small_data[0], small_data[1]
    a = model_class([20, 8, 10], ["sigmoid", "softmax"], precision_config=FLOAT64)
    b = model_class([20, 8, 10], ["sigmoid", "softmax"], precision_config=FLOAT64)
    a.fit(X, y, epochs=2, alpha=0.3, batch_size=16, seed=4)
    b.fit(X, np.eye(10)[y], epochs=2, alpha=0.3, batch_size=16, seed=4)
    assert weights_equal(a.get_weights(), b.get_weights())


def test_fit_seed_fixes_the_order_and_shuffle_matters(model_class, small_data):
    X, y = small_data[0], small_data[1]

    def trained(**kwargs):
        model = model_class([20, 8, 10], ["relu", "softmax"], precision_config=FLOAT64, seed=0)
        model.fit(X, y, epochs=2, alpha=0.1, batch_size=16, **kwargs)
        return model.get_weights()

    assert weights_equal(trained(seed=5), trained(seed=5))
    assert not weights_equal(trained(seed=5), trained(seed=6))
    assert weights_equal(trained(shuffle=False), trained(shuffle=False, seed=9))
    assert not weights_equal(trained(shuffle=False), trained(seed=5))
    assert weights_equal(trained(), trained())  # seed=None: the model's own generator


# ------------------------------------------------------------------ inference
def test_forward_predict_and_proba(model_class, small_data):
    X = small_data[2]
    model = model_class([20, 16, 10], ["relu", "softmax"])
    out = model.forward(X)
    assert out.shape == (40, 10) and out.dtype == np.float32
    assert_close(out.sum(axis=1), np.ones(40), 1e-6, "softmax rows")
    assert_close(model.predict_proba(X), out, 0.0, "predict_proba is forward")
    labels = model.predict(X)
    assert labels.shape == (40,) and np.array_equal(labels, out.argmax(axis=1))
    assert model.forward(X[:1]).shape == (1, 10)


@pytest.mark.parametrize("precision", ["float16", "float32", "float64"])
def test_inference_precision(model_class, small_data, precision):
    X = small_data[2]
    model = model_class([20, 16, 10], ["relu", "softmax"], precision_config=FLOAT64)
    reference = model.forward(X)
    out = model.forward(X, precision=precision)
    assert out.dtype == np.dtype(precision)
    tolerance = {"float16": 5e-3, "float32": 1e-6, "float64": 0.0}[precision]
    assert_close(out, reference, tolerance, f"{precision} forward against float64")
    assert model.forward(X).dtype == np.float64  # the cast is per call, weights are untouched


def test_default_precisions_come_from_the_config(model_class, small_data):
    X = small_data[2]
    model = model_class([20, 4, 10], ["relu", "softmax"],
                        precision_config=PrecisionConfig("float64", "float16"))
    assert model.forward(X).dtype == np.float16
    assert model.forward(X, training=True).dtype == np.float64
    assert model.forward(X, training=False, precision="float32").dtype == np.float32


def test_precision_cast_is_refreshed_after_training(model_class, small_data):
    X, y = small_data[0], small_data[1]
    model = model_class([20, 4, 10], ["relu", "softmax"], precision_config=FLOAT64)
    before = model.forward(X, precision="float32")
    model.fit(X, y, epochs=1, alpha=0.5, batch_size=8)
    assert_close(model.forward(X, precision="float32"), model.forward(X), 1e-6, "fresh cast")
    assert not np.allclose(before, model.forward(X, precision="float32"))


# -------------------------------------------------------------------- weights
def test_get_weights_returns_copies_and_set_weights_round_trips(model_class):
    model = model_class([5, 4, 3], ["tanh", "softmax"], precision_config=FLOAT64)
    weights = model.get_weights()
    weights[0][0][:] = 7.0
    assert not np.any(model.get_weights()[0][0] == 7.0)
    model.set_weights(weights)
    assert np.all(model.get_weights()[0][0] == 7.0)


# ----------------------------------------------------------------- divergence
def test_divergence_names_the_epoch_and_keeps_the_weights_before_the_bad_step(model_class,
                                                                             small_data):
    X, y = small_data[0], small_data[1]
    settings = dict(layer_sizes=[20, 16, 10], activations=["linear", "linear"],
                    precision_config=FLOAT64, seed=1)
    model = model_class(**settings)
    with pytest.raises(TrainingDivergedError, match=r"diverged in epoch (\d+): the loss became") as info:
        model.fit(X, y, epochs=50, alpha=3.0, batch_size=len(y), shuffle=False)
    epoch = info.value.epoch
    assert epoch >= 3 and len(info.value.history["loss"]) == epoch - 1
    weights = model.get_weights()
    assert all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in weights)
    # One step per epoch: the weights made by step epoch-1 gave the bad loss,
    # so the model must hold the weights after epoch-2 steps.
    replay = model_class(**settings)
    replay.fit(X, y, epochs=epoch - 2, alpha=3.0, batch_size=len(y), shuffle=False)
    assert weights_equal(weights, replay.get_weights())
    assert np.isfinite(model.evaluate(X, y)["loss"])


def test_divergence_in_the_last_update_is_undone(model_class, small_data):
    X, y = small_data[0] * 1000, small_data[1]
    model = model_class([20, 16, 10], ["linear", "linear"], precision_config=FLOAT64, seed=1)
    before = model.get_weights()
    with pytest.raises(TrainingDivergedError, match="epoch 1: the weights became non-finite"):
        model.fit(X, y, epochs=1, alpha=1e308, batch_size=len(y), shuffle=False)
    assert weights_equal(before, model.get_weights())


# (batch_size, alpha): the first three blow up in the middle of epoch 1; the
# last two on the first batch of epoch 3, so the update to undo is the last
# one of epoch 2 (with a partial last batch for 53).
@pytest.mark.parametrize("batch_size,alpha", [(16, 1.5), (16, 3.0), (16, 8.0), (40, 1.4), (53, 1.4)])
def test_divergence_keeps_the_weights_before_the_bad_step(model_class, small_data, batch_size, alpha):
    X, y = small_data[0], small_data[1]
    settings = dict(layer_sizes=[20, 16, 10], activations=["linear", "linear"],
                    precision_config=FLOAT64, seed=1)
    n_batches = -(-len(y) // batch_size)
    model = model_class(**settings)
    with pytest.raises(TrainingDivergedError) as info:
        model.fit(X, y, epochs=50, alpha=alpha, batch_size=batch_size, shuffle=False)
    assert info.value.batch is not None
    bad_step = (info.value.epoch - 1) * n_batches + info.value.batch - 1  # 0-based, global
    assert bad_step >= 2
    # The update made by step bad_step - 1 is the one that blew up: the model must
    # hold the weights after bad_step - 1 steps. Rebuild them by whole epochs, then
    # a prefix of the data (shuffle=False keeps the order).
    reference = model_class(**settings)
    whole_epochs, extra_steps = divmod(bad_step - 1, n_batches)
    if whole_epochs:
        reference.fit(X, y, epochs=whole_epochs, alpha=alpha, batch_size=batch_size, shuffle=False)
    if extra_steps:
        rows = extra_steps * batch_size
        reference.fit(X[:rows], y[:rows], epochs=1, alpha=alpha, batch_size=batch_size, shuffle=False)
    assert weights_equal(model.get_weights(), reference.get_weights()), (
        f"diverged at epoch {info.value.epoch} batch {info.value.batch}")


# Finite blow-ups: the cross-entropy loss runs past 1000x its scale; a saturated MSE
# output keeps its loss small while the weights run away.
@pytest.mark.parametrize("activations,loss,message", [
    (["relu", "softmax"], "cross_entropy", r"the loss became \S+ on batch 2, over 1000 times"),
    (["relu", "softmax"], "mse", "a weight of layer 1 reached .*, over 1000 times"),
    (["relu", "sigmoid"], "mse", "a weight of layer 1 reached .*, over 1000 times"),
])
def test_training_that_blew_up_while_finite_is_divergence(model_class, small_data, activations,
                                                          loss, message):
    X, y = small_data[0], small_data[1]
    model = model_class([20, 16, 10], activations, loss=loss, seed=1)
    with pytest.raises(TrainingDivergedError, match=message) as info:
        model.fit(X, y, epochs=5, alpha=1e6, batch_size=16, seed=0)
    assert info.value.epoch == 1 and info.value.history["loss"] == []
    assert all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in model.get_weights())


def test_both_frameworks_find_the_same_blow_up(small_data):
    pytest.importorskip("torch")
    from scratchnet import TorchNeuralNetwork
    X, y = small_data[0], small_data[1]
    found = []
    for cls in (NeuralNetwork, TorchNeuralNetwork):
        model = cls([20, 16, 10], ["relu", "softmax"], loss="cross_entropy", seed=1)
        with pytest.raises(TrainingDivergedError) as info:
            model.fit(X, y, epochs=5, alpha=1e3, batch_size=16, seed=0)
        found.append((info.value.epoch, info.value.batch))
    assert found[0] == found[1]


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize("scale", [1.0, 400.0], ids=["logits near 0", "logits past exp's range"])
def test_the_softmax_agrees_with_autograd_and_torch_at_any_logit_size(loss, scale, small_data):
    """The step's and the forward pass's softmax skip the shift by the row maximum only
    while every logit is small; logits of several hundred (exp overflows float32 past 88)
    take the shift."""
    pytest.importorskip("torch")
    from scratchnet import TorchNeuralNetwork
    X, y = small_data[0][:48], small_data[1][:48]
    models = [cls([20, 16, 10], ["relu", "softmax"], loss=loss, seed=3)
              for cls in (NeuralNetwork, TorchNeuralNetwork)]
    weights = [(W, b) for W, b in models[0].get_weights()]
    weights[-1] = (weights[-1][0] * scale, weights[-1][1])
    for model in models:
        model.set_weights(weights)
    (W1, b1), (W2, b2) = weights
    largest = np.abs(np.maximum(X @ W1 + b1, 0) @ W2 + b2).max()
    assert (largest > 100) == (scale > 1), f"largest |logit| {largest}"
    (our_loss, ours), (their_loss, theirs) = (m.loss_and_gradients(X, y) for m in models)
    assert np.isfinite(our_loss), our_loss
    assert_close(our_loss, their_loss, 1e-5 * max(1.0, abs(their_loss)), "loss")
    for layer, ((dW, db), (tdW, tdb)) in enumerate(zip(ours, theirs), start=1):
        tolerance = 1e-5 * max(1.0, float(np.abs(tdW).max()))
        assert_close(dW, tdW, tolerance, f"dW{layer} vs torch autograd")
        assert_close(db, tdb, tolerance, f"db{layer} vs torch autograd")
    for precision, atol in (("float32", 1e-6), ("float64", 1e-6), ("float16", 2e-3)):
        ours, theirs = (m.forward(X, precision=precision) for m in models)
        assert np.isfinite(ours).all(), precision
        assert_close(ours, theirs, atol, f"{precision} outputs vs torch")


@pytest.mark.parametrize("activations,loss,alpha", [
    (["relu", "softmax"], "mse", 3.0), (["relu", "softmax"], "cross_entropy", 0.5),
    (["tanh", "sigmoid"], "mse", 3.0), (["relu", "linear"], "mse", 0.05)])
def test_healthy_training_is_not_divergence(small_data, activations, loss, alpha):
    """Large but workable learning rates over many epochs stay inside every rule."""
    X, y, X_test, y_test = small_data
    model = NeuralNetwork([20, 16, 10], activations, loss=loss, seed=1)
    history = model.fit(X, y, epochs=60, alpha=alpha, batch_size=16, seed=0)
    assert history["loss"][-1] < history["loss"][0]


def test_a_large_first_loss_sets_the_scale(small_data):
    """Unscaled inputs give a first loss far above a uniform guess's; that is not divergence."""
    X, y = small_data[0] * 300, small_data[1]
    model = NeuralNetwork([20, 16, 10], ["relu", "linear"], seed=1)
    first = model.evaluate(X, y)["loss"]
    assert first > 1000 * 0.09
    model.fit(X, y, epochs=3, alpha=1e-6, batch_size=16, seed=0)


def test_small_products_train_on_one_blas_thread_and_restore_the_limit(small_data):
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    def threads_inside(model, batch_size, threads):
        with threadpool_limits(threads), model._blas_threads_for(batch_size):
            return set(blas_threads())

    small = NeuralNetwork([20, 16, 10], ["relu", "softmax"])
    big = NeuralNetwork([2000, 1000, 10], ["relu", "softmax"])
    assert threads_inside(small, 256, 2) == {1}  # small product
    assert threads_inside(big, 32, 2) == {1}  # few rows
    assert threads_inside(big, 64, 2) == {2}
    assert threads_inside(big, 32, 1) == {1}  # already one: nothing to limit
    before = blas_threads()
    small.fit(small_data[0], small_data[1], epochs=1, alpha=0.1, batch_size=32)
    assert blas_threads() == before
    with threadpool_limits(1):
        small.fit(small_data[0], small_data[1], epochs=1, alpha=0.1, batch_size=32)
        assert set(blas_threads()) == {1}
    assert blas_threads() == before


@pytest.mark.parametrize("config", [None, FLOAT64], ids=["float32", "float64"])
@pytest.mark.parametrize("fortran", [False, True], ids=["C-ordered", "Fortran-ordered"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize("threads", [1, 2], ids=["fused update", "separate update"])
def test_a_training_step_subtracts_alpha_times_the_gradient(config, fortran, loss, threads):
    """On one BLAS thread fit's step fuses the update into BLAS calls that write the
    weights in place; on more it subtracts separately. Both must equal W - alpha * dW from
    loss_and_gradients, whatever the weights' memory order."""
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(0)
    X, y = rng.random((64, 256), dtype=np.float32), np.arange(64) % 10
    # 64 rows, and 64 x 256 x 256 is 4.2 M multiply-adds: fit keeps the threads in force
    model = NeuralNetwork([256, 256, 12, 10], ["relu", "tanh", "softmax"], config, seed=5,
                          loss=loss)
    if fortran:  # weights handed over as transposed views, Fortran-ordered
        model.set_weights([(np.asfortranarray(W), b) for W, b in model.get_weights()])
    before = model.get_weights()
    _, gradients = model.loss_and_gradients(X, y)
    with threadpool_limits(threads):
        assert model.fuses_updates(64) is (threads == 1)
    with threadpool_limits(threads):
        model.fit(X, y, epochs=1, alpha=0.5, batch_size=64, shuffle=False)
    atol = 1e-6 if config is None else 1e-13
    for layer, ((W0, b0), (dW, db), (W1, b1)) in enumerate(
            zip(before, gradients, model.get_weights()), start=1):
        assert not np.array_equal(W0, W1), f"layer {layer}'s weights did not change"
        assert_close(W1, W0 - 0.5 * dW, atol, f"layer {layer} W")
        assert_close(b1, b0 - 0.5 * db, atol, f"layer {layer} b")


def test_the_base_class_hooks_are_abstract_and_none_runs_before_the_subclass_is_ready():
    from scratchnet.nn.base import BaseNetwork
    from scratchnet.nn.network import NeuralNetwork

    class Incomplete(BaseNetwork):
        def _set_params(self, params):
            pass

    with pytest.raises(TypeError, match="abstract method"):
        Incomplete([4, 3], ["softmax"])

    class Recorded(NeuralNetwork):
        def __init__(self, *args, **kwargs):
            self.calls = []
            super().__init__(*args, **kwargs)

        def _set_params(self, params):
            assert hasattr(self, "_loss_fn"), "a hook ran before NeuralNetwork.__init__ was done"
            self.calls.append(len(params))
            super()._set_params(params)

    assert Recorded([4, 3, 2], ["relu", "softmax"]).calls == [2]
