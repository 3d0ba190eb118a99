"""Properties of the activation registry (Hypothesis) and agreement with torch."""
import importlib.util

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from helpers import assert_close, relative_error
from scratchnet.nn.activations import ACTIVATIONS, get_activation

finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False, width=64)
matrices = arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 8)), elements=finite)


def test_registry_holds_the_five_names():
    assert sorted(ACTIVATIONS) == ["linear", "relu", "sigmoid", "softmax", "tanh"]


@pytest.mark.parametrize("bad", ["ReLU", "gelu", ""])
def test_unknown_name_lists_the_valid_ones(bad):
    with pytest.raises(ValueError, match=r"unknown activation .*valid: \['linear', 'relu'"):
        get_activation(bad)


def test_non_string_name_is_a_type_error():
    with pytest.raises(TypeError, match="activation names must be strings"):
        get_activation(3)


@given(matrices)
def test_softmax_rows_are_distributions(z):
    a = get_activation("softmax").forward(z)
    assert np.all(a >= 0)
    assert_close(a.sum(axis=1), np.ones(z.shape[0]), 1e-12, "softmax row sums")


@given(matrices, st.floats(-1e3, 1e3, allow_nan=False))
def test_softmax_is_shift_invariant(z, shift):
    softmax = get_activation("softmax").forward
    assert_close(softmax(z + shift), softmax(z), 1e-12, "softmax(z + c) - softmax(z)")


def test_softmax_does_not_overflow():
    a = get_activation("softmax").forward(np.array([[1000.0, 0.0, -1000.0]]))
    assert_close(a, [[1.0, 0.0, 0.0]], 0.0, "softmax of extreme logits")


@given(matrices)
def test_sigmoid_is_symmetric_and_bounded(z):
    sigmoid = get_activation("sigmoid").forward
    assert_close(sigmoid(-z), 1 - sigmoid(z), 1e-15, "sigmoid(-x) - (1 - sigmoid(x))")
    assert np.all((sigmoid(z) >= 0) & (sigmoid(z) <= 1))


def test_sigmoid_saturates_without_nan():
    a = get_activation("sigmoid").forward(np.array([[-1000.0, 1000.0]]))
    assert_close(a, [[0.0, 1.0]], 0.0, "sigmoid at +-1000")


@given(matrices)
def test_relu_is_nonnegative_and_idempotent(z):
    relu = get_activation("relu").forward
    assert np.all(relu(z) >= 0)
    assert_close(relu(relu(z)), relu(z), 0.0, "relu(relu(z)) - relu(z)")
    assert_close(relu(z) - relu(-z), z, 0.0, "relu(z) - relu(-z) - z")


@given(matrices)
def test_tanh_is_odd_and_linear_is_identity(z):
    assert_close(get_activation("tanh").forward(-z), -get_activation("tanh").forward(z), 0.0, "tanh odd")
    assert get_activation("linear").forward(z) is z


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_backward_is_the_jacobian_vector_product(name):
    """dz from backward equals central differences of sum(da * forward(z))."""
    rng = np.random.default_rng(4)
    z = rng.normal(size=(4, 5))
    z[np.abs(z) < 0.05] += 0.1  # away from the ReLU kink
    da = rng.normal(size=z.shape)
    activation = get_activation(name)
    dz = activation.backward(da, z, activation.forward(z))
    numeric = np.zeros_like(z)
    eps = 1e-6
    for index in np.ndindex(z.shape):
        plus, minus = z.copy(), z.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (np.sum(da * activation.forward(plus))
                          - np.sum(da * activation.forward(minus))) / (2 * eps)
    error = relative_error(dz, numeric)
    assert error.max() <= 1e-6, f"{name}: relative error {error.max():.2e}"


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_forward_and_backward_match_torch(name):
    torch = pytest.importorskip("torch")
    functions = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
                 "linear": lambda t: t, "softmax": lambda t: torch.softmax(t, dim=1)}
    rng = np.random.default_rng(5)
    z, da = rng.normal(size=(6, 7)) * 3, rng.normal(size=(6, 7))
    z_t = torch.tensor(z, requires_grad=True)
    a_t = functions[name](z_t)
    a_t.backward(torch.tensor(da))
    activation = get_activation(name)
    a = activation.forward(z)
    assert_close(a, a_t.detach().numpy(), 1e-15, f"{name} forward vs torch")
    assert_close(activation.backward(da, z, a), z_t.grad.numpy(), 1e-15, f"{name} backward vs torch")


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@given(z=matrices, seed=st.integers(0, 2 ** 32 - 1))
def test_in_place_twins_compute_the_pure_values(name, z, seed):
    activation = get_activation(name)
    da = np.random.default_rng(seed).normal(size=z.shape)
    a = activation.forward(z)
    buffer = z.copy()
    activation.forward_(buffer)
    assert_close(buffer, a, 0.0, f"{name} forward_")
    d, scratch = da.copy(), np.empty_like(z)
    activation.backward_(d, a, scratch)
    assert_close(d, activation.backward(da, z, a), 1e-15 * (1 + np.abs(da).max()), f"{name} backward_")


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_exists_in_every_backend(name, tmp_path):
    """One table names each activation's torch module and ONNX operator: a network whose
    layer uses it computes the same in NumPy, in the PyTorch twin and in ONNX Runtime."""
    from scratchnet import NeuralNetwork, PrecisionConfig
    config = PrecisionConfig(train_dtype="float32", infer_precision="float32")
    model = NeuralNetwork([5, 4], [name], precision_config=config, seed=3)
    X = np.random.default_rng(3).normal(size=(7, 5)).astype(np.float32)  # (N, D)
    expected = model.forward(X)
    if importlib.util.find_spec("torch"):
        from scratchnet import TorchNeuralNetwork
        twin = TorchNeuralNetwork([5, 4], [name], precision_config=config, seed=3)
        layer = list(twin._module.modules())[-1]
        assert type(layer).__name__ == ACTIVATIONS[name].torch_module
        assert_close(twin.forward(X), expected, 1e-6, f"{name}: twin vs NumPy")
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
        from scratchnet.nn.onnx import OnnxRuntimeModel, export_onnx
        path = export_onnx(model, str(tmp_path / "model.onnx"), dtype="float32")
        assert_close(OnnxRuntimeModel(path).forward(X), expected, 1e-6, f"{name}: ONNX Runtime vs NumPy")


@pytest.mark.parametrize("shape", [(8, 16), (64, 64)], ids=["sign mask", "comparison mask"])
def test_relu_backward_twin_masks_the_same_entries_either_way(shape):
    """Below RELU_SIGN_BELOW elements relu's in-place backward takes its mask from sign,
    above from a comparison; both must zero exactly the entries where z <= 0."""
    from scratchnet.nn.activations import RELU_SIGN_BELOW
    rng = np.random.default_rng(1)
    z = rng.normal(size=shape)
    z[::3] = 0.0  # whole rows at exactly 0: the derivative there is taken as 0
    da = rng.normal(size=shape)
    relu = get_activation("relu")
    a = relu.forward(z)
    d, scratch = da.copy(), np.empty_like(z)
    relu.backward_(d, a, scratch)
    assert (z.size < RELU_SIGN_BELOW) == (shape == (8, 16))
    assert_close(d, relu.backward(da, z, a), 0.0, "relu backward_")
