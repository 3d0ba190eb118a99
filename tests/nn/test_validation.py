"""all_finite: the row-sum pass for large arrays must say what np.isfinite says."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.nn.validation import ROW_SUM_FINITE_CHECK_FROM, all_finite

ROWS, COLUMNS = 128, 784  # 100,352 values: over ROW_SUM_FINITE_CHECK_FROM, the row-sum path


def test_the_arrays_here_take_the_row_sum_path():
    assert ROWS * COLUMNS >= ROW_SUM_FINITE_CHECK_FROM


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, None])
@given(row=st.integers(0, ROWS - 1), column=st.integers(0, COLUMNS - 1),
       layout=st.sampled_from(["C", "F", "strided"]))
def test_all_finite_agrees_with_isfinite(dtype, bad, row, column, layout):
    X = np.random.default_rng(row * COLUMNS + column).standard_normal((ROWS, 2 * COLUMNS))
    X = X.astype(dtype)
    X = X[:, ::2] if layout == "strided" else np.asarray(X[:, :COLUMNS], order=layout)
    if bad is not None:
        X[row, column] = bad
    assert all_finite(X) == bool(np.isfinite(X).all()) == (bad is None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_values_whose_row_sum_overflows_are_finite(dtype):
    X = np.full((ROWS, COLUMNS), np.finfo(dtype).max / 2, dtype)  # each row sums to inf
    with np.errstate(over="ignore"):
        assert np.isinf(X @ np.ones(COLUMNS, dtype)).all()
    with np.errstate(all="raise"):
        assert all_finite(X)
    X[5, 7] = -np.inf  # and one inf among them is still found
    assert not all_finite(X)


def test_inf_and_minus_inf_in_one_row_are_found_without_a_warning():
    X = np.zeros((ROWS, COLUMNS), np.float32)[:, ::1]
    X[3, 0], X[3, 1] = np.inf, -np.inf  # the row sums to NaN
    with np.errstate(all="raise"):
        assert not all_finite(X)
        assert not all_finite(np.asfortranarray(X)[:, ::-1])


def test_fit_rejects_a_large_x_with_one_nan_and_names_its_place():
    from scratchnet import NeuralNetwork
    X = np.random.default_rng(0).random((ROWS, COLUMNS), dtype=np.float32)
    X[100, 700] = np.nan
    model = NeuralNetwork([COLUMNS, 8, 10], ["relu", "softmax"])
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"X contains NaN or inf \(first at row 100, column 700"):
        model.fit(X, np.zeros(ROWS, int), epochs=1, alpha=0.1, batch_size=32)
    for (W0, b0), (W1, b1) in zip(before, model.get_weights()):
        assert np.array_equal(W0, W1) and np.array_equal(b0, b1)

