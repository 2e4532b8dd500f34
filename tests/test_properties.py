"""Invariants that must hold for any input (hypothesis property tests)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import netlite as nl

finite_floats = st.floats(-50, 50, allow_nan=False, width=64)


def matrices(min_rows=1, max_rows=6, min_cols=1, max_cols=6):
    shapes = st.tuples(st.integers(min_rows, max_rows), st.integers(min_cols, max_cols))
    return shapes.flatmap(lambda shape: arrays(np.float64, shape, elements=finite_floats))


@settings(max_examples=60, deadline=None)
@given(matrices())
def test_softmax_rows_sum_to_one(X):
    probabilities = nl.Softmax().forward(X)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(probabilities >= 0)


@settings(max_examples=60, deadline=None)
@given(matrices(), st.floats(-1e3, 1e3, allow_nan=False))
def test_softmax_ignores_constant_shift(X, shift):
    np.testing.assert_allclose(nl.Softmax().forward(X + shift), nl.Softmax().forward(X), atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-800, 800, allow_nan=False)))
def test_sigmoid_symmetry_and_no_overflow(x):
    with np.errstate(over="raise", invalid="raise"):
        positive = nl.Sigmoid().forward(x)
        negative = nl.Sigmoid().forward(-x)
    np.testing.assert_allclose(negative, 1 - positive, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.integers(1, 20), elements=st.floats(width=32)))
def test_relu_matches_definition(x):
    relu = nl.ReLU()
    with np.errstate(invalid="raise"):
        y = relu.forward(x)
        grad = relu.backward(np.ones_like(x))
    expected = np.where(np.isnan(x), np.nan, np.where(x > 0, x, 0)).astype(np.float32)
    np.testing.assert_array_equal(y, expected)  # -inf gives 0, NaN stays NaN
    np.testing.assert_array_equal(grad, (x > 0).astype(np.float32))
    assert y.dtype == np.float32


@settings(max_examples=40, deadline=None)
@given(matrices(min_cols=2), st.data())
def test_cross_entropy_nonnegative_zero_sum_gradient(logits, data):
    n_rows, n_classes = logits.shape
    labels = np.array(data.draw(st.lists(st.integers(0, n_classes - 1), min_size=n_rows, max_size=n_rows)))
    loss = nl.CrossEntropyLoss()
    assert loss(logits * 100, labels) >= 0
    np.testing.assert_allclose(loss.backward().sum(axis=1), 0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 1000))
def test_average_pooling_gradient_sums_to_upstream(batch, half_height, half_width, channels, seed):
    rng = np.random.default_rng(seed)
    layer = nl.AvgPoolingLayer()
    layer.forward(rng.standard_normal((batch, 2 * half_height, 2 * half_width, channels)))
    upstream = rng.standard_normal((batch, half_height, half_width, channels))
    np.testing.assert_allclose(layer.backward(upstream).sum(), upstream.sum(), rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 1000))
def test_max_pooling_routes_each_gradient_to_one_input(batch, half_height, half_width, channels, seed):
    rng = np.random.default_rng(seed)
    layer = nl.MaxPoolingLayer()
    layer.forward(rng.standard_normal((batch, 2 * half_height, 2 * half_width, channels)))
    upstream = rng.uniform(1, 2, size=(batch, half_height, half_width, channels))
    grad = layer.backward(upstream)
    np.testing.assert_allclose(grad.sum(), upstream.sum(), rtol=1e-9)
    assert np.count_nonzero(grad) == upstream.size
