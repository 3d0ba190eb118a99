"""Every bad input raises ValueError/TypeError naming the argument, and the
model that rejected it keeps exactly the weights it had."""
import numpy as np
import pytest

from scratchnet import NeuralNetwork, PrecisionConfig

rng = np.random.default_rng(0)
X = rng.random((12, 6))
y = rng.integers(0, 3, 12)


def with_nan(a):
    a = a.copy()
    a[3, 2] = np.nan
    return a


def with_inf(a):
    a = a.copy()
    a[1, 1] = -np.inf
    return a


def with_huge(a, value=1e39):
    """Finite in float64, too large for float32 (1e39) or float16 (7e4)."""
    a = a.copy()
    a[2, 4] = value
    return a


FIT = dict(epochs=1, alpha=0.1, batch_size=4)
# (id, call on a model, expected exception, message pattern)
BAD_CALLS = [
    ("nan-X", lambda m: m.fit(with_nan(X), y, **FIT), ValueError, r"X contains NaN or inf .*row 3, column 2"),
    ("inf-X", lambda m: m.fit(with_inf(X), y, **FIT), ValueError, r"X contains NaN or inf"),
    ("wide-X", lambda m: m.fit(rng.random((12, 7)), y, **FIT), ValueError, r"X must have 6 columns"),
    ("1d-X", lambda m: m.fit(X[0], y[:1], **FIT), ValueError, r"X must be 2-D .*reshape\(1, -1\)"),
    ("3d-X", lambda m: m.fit(X[None], y, **FIT), ValueError, r"X must be 2-D"),
    ("empty-X", lambda m: m.fit(X[:0], y[:0], **FIT), ValueError, r"X is empty"),
    ("text-X", lambda m: m.fit(np.full((12, 6), "a"), y, **FIT), TypeError, r"X must be a 2-D numeric"),
    ("timedelta-X", lambda m: m.fit(np.zeros((12, 6), "timedelta64[s]"), y, **FIT), TypeError,
     r"X must be a 2-D numeric .* got dtype timedelta64"),
    ("short-y", lambda m: m.fit(X, y[:-1], **FIT), ValueError, r"y has 11 rows but X has 12"),
    ("label-too-big", lambda m: m.fit(X, np.where(y == 0, 3, y), **FIT), ValueError,
     r"y must hold class labels in \[0, 3\)"),
    ("negative-label", lambda m: m.fit(X, y - 1, **FIT), ValueError, r"y must hold class labels in \[0, 3\)"),
    ("fractional-label", lambda m: m.fit(X, y + 0.5, **FIT), ValueError,
     r"y must hold whole-number class labels in \[0, 3\), got non-integral values such as \d\.5$"),
    ("nan-label", lambda m: m.fit(X, np.where(y == 0, np.nan, y), **FIT), ValueError, r"y contains NaN"),
    ("bad-one-hot", lambda m: m.fit(X, np.ones((12, 3)), **FIT), ValueError, r"y is 2-D but not one-hot"),
    ("wrong-one-hot-width", lambda m: m.fit(X, np.eye(4)[y], **FIT), ValueError, r"y must be integer labels"),
    ("epochs-0", lambda m: m.fit(X, y, epochs=0, alpha=0.1, batch_size=4), ValueError, r"epochs must be an integer >= 1"),
    ("epochs-float", lambda m: m.fit(X, y, epochs=2.5, alpha=0.1, batch_size=4), TypeError, r"epochs must be an integer"),
    ("batch-0", lambda m: m.fit(X, y, epochs=1, alpha=0.1, batch_size=0), ValueError, r"batch_size must be an integer >= 1"),
    ("alpha-0", lambda m: m.fit(X, y, epochs=1, alpha=0, batch_size=4), ValueError, r"alpha must be a positive finite"),
    ("alpha-negative", lambda m: m.fit(X, y, epochs=1, alpha=-0.1, batch_size=4), ValueError, r"alpha must be a positive"),
    ("alpha-nan", lambda m: m.fit(X, y, epochs=1, alpha=float("nan"), batch_size=4), ValueError, r"alpha must be a positive"),
    ("alpha-inf", lambda m: m.fit(X, y, epochs=1, alpha=float("inf"), batch_size=4), ValueError, r"alpha must be a positive"),
    ("alpha-text", lambda m: m.fit(X, y, epochs=1, alpha="0.1", batch_size=4), TypeError, r"alpha must be a positive"),
    ("seed-negative", lambda m: m.fit(X, y, seed=-1, **FIT), ValueError, r"seed must be a non-negative integer or None"),
    ("shuffle-text", lambda m: m.fit(X, y, shuffle="yes", **FIT), TypeError, r"shuffle must be True or False"),
    ("validation-bad", lambda m: m.fit(X, y, validation_data=(with_nan(X), y), **FIT), ValueError,
     r"validation_data\[0\] contains NaN"),
    ("validation-labels", lambda m: m.fit(X, y, validation_data=(X, y + 5), **FIT), ValueError,
     r"validation_data\[1\] must hold class labels"),
    ("validation-shape", lambda m: m.fit(X, y, validation_data=X, **FIT), TypeError, r"validation_data must be a pair"),
    ("forward-precision", lambda m: m.forward(X, precision="float8"), ValueError,
     r"precision must be one of \['float16', 'float32', 'float64'\], got 'float8'"),
    ("forward-nan", lambda m: m.forward(with_nan(X)), ValueError, r"X contains NaN"),
    ("predict-wide", lambda m: m.predict(rng.random((2, 5))), ValueError, r"X must have 6 columns"),
    ("evaluate-labels", lambda m: m.evaluate(X, y + 3), ValueError, r"y must hold class labels"),
    ("set-weights-shape", lambda m: m.set_weights([(np.zeros((6, 4)), np.zeros(4)), (np.zeros((4, 3)), np.zeros(2))]),
     ValueError, r"weights\[1\] must be W of shape \(4, 3\) and b of shape \(3,\)"),
    ("set-weights-count", lambda m: m.set_weights([(np.zeros((6, 4)), np.zeros(4))]), ValueError,
     r"weights must be a list of 2 \(W, b\) pairs"),
    ("set-weights-nan", lambda m: m.set_weights([(np.full((6, 4), np.nan), np.zeros(4)), (np.zeros((4, 3)), np.zeros(3))]),
     ValueError, r"weights\[0\] W contains NaN"),
    ("loss-and-gradients-nan", lambda m: m.loss_and_gradients(with_nan(X), y), ValueError, r"X contains NaN"),
    ("fit-float32-overflow", lambda m: m.fit(with_huge(X), y, **FIT), ValueError,
     r"X holds 1e\+39 at row 2, column 4, which float32 cannot represent"),
    ("validation-overflow", lambda m: m.fit(X, y, validation_data=(with_huge(X), y), **FIT), ValueError,
     r"validation_data\[0\] holds 1e\+39 at row 2, column 4"),
    ("forward-float16-overflow", lambda m: m.forward(with_huge(X, 7e4), precision="float16"), ValueError,
     r"X holds 70000.0 at row 2, column 4, which float16 cannot represent \(its largest value is 65504.0\)"),
    ("evaluate-overflow", lambda m: m.evaluate(with_huge(X), y), ValueError, r"float32 cannot represent"),
    ("loss-and-gradients-overflow", lambda m: m.loss_and_gradients(with_huge(X), y), ValueError,
     r"float32 cannot represent"),
]


@pytest.mark.parametrize("call,error,pattern", [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS])
def test_bad_call_is_rejected_and_changes_nothing(model_class, call, error, pattern):
    model = model_class([6, 4, 3], ["relu", "softmax"])
    before = model.get_weights()
    with pytest.raises(error, match=pattern):
        call(model)
    for (W, b), (W0, b0) in zip(model.get_weights(), before):
        assert np.array_equal(W, W0) and np.array_equal(b, b0), "a rejected call changed the weights"
    model.fit(X, y, **FIT)  # and the model still works


BAD_CONSTRUCTIONS = [
    ("unknown-activation", dict(layer_sizes=[6, 4, 3], activations=["relu", "gelu"]), ValueError,
     r"unknown activation 'gelu'; valid: \['linear', 'relu', 'sigmoid', 'softmax', 'tanh'\]"),
    ("unknown-loss", dict(layer_sizes=[6, 4, 3], activations=["relu", "softmax"], loss="hinge"), ValueError,
     r"unknown loss 'hinge'; valid: \['cross_entropy', 'mse'\]"),
    ("too-few-activations", dict(layer_sizes=[6, 4, 3], activations=["relu"]), ValueError,
     r"activations needs len\(layer_sizes\) - 1 = 2 entries"),
    ("too-many-activations", dict(layer_sizes=[6, 3], activations=["relu", "softmax"]), ValueError,
     r"activations needs len\(layer_sizes\) - 1 = 1 entries"),
    ("one-layer-size", dict(layer_sizes=[6], activations=[]), ValueError, r"layer_sizes needs at least 2"),
    ("zero-width", dict(layer_sizes=[6, 0, 3], activations=["relu", "softmax"]), ValueError,
     r"layer_sizes\[1\] must be an integer >= 1, got 0"),
    ("float-width", dict(layer_sizes=[6, 4.5, 3], activations=["relu", "softmax"]), TypeError,
     r"layer_sizes\[1\] must be an integer"),
    ("string-sizes", dict(layer_sizes="784,64,10", activations=["relu", "softmax"]), TypeError,
     r"layer_sizes must be a list of positive integers"),
    ("hidden-softmax", dict(layer_sizes=[6, 4, 3], activations=["softmax", "softmax"]), ValueError,
     r"activations\[0\] is 'softmax', which is allowed only as the output"),
    ("ce-without-softmax", dict(layer_sizes=[6, 4, 3], activations=["relu", "sigmoid"], loss="cross_entropy"),
     ValueError, r"last activation must be 'softmax'"),
    ("bad-config", dict(layer_sizes=[6, 4, 3], activations=["relu", "softmax"], precision_config="float32"),
     TypeError, r"precision_config must be a scratchnet.PrecisionConfig"),
    ("bad-seed", dict(layer_sizes=[6, 4, 3], activations=["relu", "softmax"], seed=1.5), TypeError,
     r"seed must be a non-negative integer"),
]


@pytest.mark.parametrize("kwargs,error,pattern", [c[1:] for c in BAD_CONSTRUCTIONS],
                         ids=[c[0] for c in BAD_CONSTRUCTIONS])
def test_bad_construction_is_rejected(model_class, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        model_class(**kwargs)


@pytest.mark.parametrize("kwargs,pattern", [
    (dict(train_dtype="float16"), r"train_dtype must be one of \['float32', 'float64'\], got 'float16'"),
    (dict(infer_precision="int8"), r"infer_precision must be one of \['float16', 'float32', 'float64'\]"),
])
def test_bad_precision_config(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        PrecisionConfig(**kwargs)


def test_precision_config_accepts_numpy_dtypes():
    config = PrecisionConfig(train_dtype=np.float64, infer_precision=np.dtype("float16"))
    assert (config.train_dtype, config.infer_precision) == ("float64", "float16")


def test_checkpoint_of_another_architecture_is_rejected(model_class, tmp_path):
    other = NeuralNetwork([6, 5, 3], ["relu", "softmax"], seed=3)
    other.save(tmp_path / "other.npz")
    model = model_class([6, 4, 3], ["relu", "softmax"])
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"holds layer_sizes \[6, 5, 3\] .* this model has \[6, 4, 3\]"):
        model.load_weights(tmp_path / "other.npz")
    assert all(np.array_equal(a, b) for p, q in zip(before, model.get_weights()) for a, b in zip(p, q))


@pytest.mark.parametrize("device", ["tpu", "gpu", 3])
def test_bad_device(device):
    pytest.importorskip("torch")
    from scratchnet import TorchNeuralNetwork
    with pytest.raises(ValueError, match=r"device must be 'cpu' or 'cuda'"):
        TorchNeuralNetwork([4, 3], ["softmax"], device=device)


def test_cuda_without_a_gpu_is_a_clear_error():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from scratchnet import TorchNeuralNetwork
    with pytest.raises(ValueError, match=r"torch.cuda.is_available\(\) is False"):
        TorchNeuralNetwork([4, 3], ["softmax"], device="cuda")


def test_non_contiguous_input_is_accepted(model_class):
    model = model_class([6, 4, 3], ["relu", "softmax"])
    flipped = X[::-1, :]
    model.fit(flipped, y[::-1], **FIT)
    assert model.forward(np.asfortranarray(X)).shape == (12, 3)
