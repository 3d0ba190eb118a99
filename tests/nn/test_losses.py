"""Properties of the losses (Hypothesis) and agreement with torch.nn.functional."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from helpers import assert_close
from scratchnet.nn.activations import get_activation
from scratchnet.nn.losses import LOSSES, get_loss, one_hot


@st.composite
def batches(draw):
    n, k = draw(st.integers(1, 6)), draw(st.integers(2, 6))
    values = draw(arrays(np.float64, (n, k), elements=st.floats(-30, 30, allow_nan=False)))
    labels = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    return values, labels


def test_registry_and_unknown_names():
    assert sorted(LOSSES) == ["cross_entropy", "mse"]
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'; valid: \['cross_entropy', 'mse'\]"):
        get_loss("hinge")


@given(batches())
def test_mse_is_nonnegative_and_zero_only_at_the_target(batch):
    outputs, labels = batch
    mse = get_loss("mse")
    assert mse.forward(outputs, labels) >= 0
    target = one_hot(labels, outputs.shape[1])
    assert mse.forward(target, labels) == 0
    assert_close(mse.backward(target, labels), np.zeros_like(target), 0.0, "mse gradient at target")


@given(batches())
def test_mse_is_the_mean_over_all_elements(batch):
    outputs, labels = batch
    expected = np.mean((outputs - one_hot(labels, outputs.shape[1])) ** 2)
    assert_close(get_loss("mse").forward(outputs, labels), expected, 1e-12, "mse")


@given(batches())
def test_cross_entropy_is_nonnegative_and_shift_invariant(batch):
    logits, labels = batch
    ce = get_loss("cross_entropy")
    assert ce.forward(logits, labels) >= 0
    assert_close(ce.forward(logits + 7.5, labels), ce.forward(logits, labels), 1e-12, "CE shift")


@given(batches())
def test_cross_entropy_gradient_rows_sum_to_zero(batch):
    logits, labels = batch
    grad = get_loss("cross_entropy").backward(logits, labels)
    assert_close(grad.sum(axis=1), np.zeros(len(labels)), 1e-15, "CE gradient row sums")


@given(batches())
def test_losses_match_torch_functional_and_autograd(batch):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    values, labels = batch
    labels_t = torch.tensor(labels)
    for name in LOSSES:
        x = torch.tensor(values, requires_grad=True)
        if name == "mse":
            expected = F.mse_loss(x, F.one_hot(labels_t, values.shape[1]).double())
        else:
            expected = F.cross_entropy(x, labels_t)
        expected.backward()
        loss = get_loss(name)
        assert_close(loss.forward(values, labels), expected.item(), 1e-12, f"{name} vs torch")
        assert_close(loss.backward(values, labels), x.grad.numpy(), 1e-15, f"d{name} vs autograd")


def test_cross_entropy_backward_equals_softmax_chain_rule():
    """The closed form (softmax - onehot)/N equals softmax backward of dL/da."""
    rng = np.random.default_rng(2)
    z, labels = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    a = get_activation("softmax").forward(z)
    da = -one_hot(labels, 4) / (a * len(labels))  # d(mean -log a_label)/da
    chained = get_activation("softmax").backward(da, z, a)
    assert_close(get_loss("cross_entropy").backward(z, labels), chained, 1e-15, "closed form")


def test_losses_keep_float32():
    z = np.ones((3, 4), dtype=np.float32)
    labels = np.array([0, 1, 2])
    for name in LOSSES:
        assert get_loss(name).backward(z, labels).dtype == np.float32
