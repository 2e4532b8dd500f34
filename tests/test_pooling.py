"""The pooling layers against netlite/kernels/reference.py, and properties of their gradients."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import netlite as nl
from netlite.kernels import reference

POOL_SHAPES = [(1, 2, 2, 1), (2, 5, 5, 1), (3, 8, 8, 4), (2, 7, 6, 3), (1, 28, 28, 6)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", POOL_SHAPES)
def test_avgpool_layer_matches_reference(shape, dtype):
    rng = np.random.default_rng(20)
    X = rng.standard_normal(shape).astype(dtype)
    N, H, W, C = shape
    grad_output = rng.standard_normal((N, H // 2, W // 2, C)).astype(dtype)
    layer = nl.AvgPoolingLayer()

    Y = layer.forward(X)
    dX = layer.backward(grad_output)

    tolerance = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(Y, reference.avgpool2x2_forward(X), **tolerance)
    np.testing.assert_allclose(dX, reference.avgpool2x2_backward(grad_output, shape), **tolerance)
    assert Y.dtype == dtype
    assert dX.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", POOL_SHAPES)
def test_maxpool_layer_matches_reference(shape, dtype):
    rng = np.random.default_rng(21)
    X = rng.standard_normal(shape).astype(dtype)
    N, H, W, C = shape
    grad_output = rng.standard_normal((N, H // 2, W // 2, C)).astype(dtype)
    layer = nl.MaxPoolingLayer()

    Y = layer.forward(X)
    dX = layer.backward(grad_output)

    expected_Y, expected_argmax = reference.maxpool2x2_forward(X)
    np.testing.assert_array_equal(Y, expected_Y)
    np.testing.assert_array_equal(dX, reference.maxpool2x2_backward(grad_output, expected_argmax, shape))
    assert dX.dtype == dtype


def test_avgpool_hand_computed():
    X = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)  # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    layer = nl.AvgPoolingLayer()

    Y = layer.forward(X)
    dX = layer.backward(np.array([[[[8.0]]]], dtype=np.float32))

    assert Y.shape == (1, 1, 1, 1)
    assert Y[0, 0, 0, 0] == pytest.approx((1 + 2 + 4 + 5) / 4)
    # The odd last row and column are dropped and get zero gradient.
    np.testing.assert_array_equal(dX[0, :, :, 0], [[2, 2, 0], [2, 2, 0], [0, 0, 0]])


def test_maxpool_hand_computed():
    X = np.array([[1, 9, 2, 3], [4, 5, 8, 7]], dtype=np.float32).reshape(1, 2, 4, 1)
    layer = nl.MaxPoolingLayer()

    Y = layer.forward(X)
    dX = layer.backward(np.array([10.0, 20.0], dtype=np.float32).reshape(1, 1, 2, 1))

    np.testing.assert_array_equal(Y[0, 0, :, 0], [9, 8])
    np.testing.assert_array_equal(dX[0, :, :, 0], [[0, 10, 0, 0], [0, 0, 20, 0]])


def image_batches(min_side=2, max_side=9):
    """Hypothesis strategy: float64 batches (N, H, W, C) with odd and even sides."""
    shapes = st.tuples(
        st.integers(1, 3), st.integers(min_side, max_side), st.integers(min_side, max_side), st.integers(1, 3)
    )
    elements = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=64)
    return shapes.flatmap(lambda shape: arrays(np.float64, shape, elements=elements))


@settings(max_examples=60, deadline=None)
@given(X=image_batches(), seed=st.integers(0, 2**32 - 1))
def test_avgpool_gradient_sums_to_upstream_gradient(X, seed):
    N, H, W, C = X.shape
    grad_output = np.random.default_rng(seed).standard_normal((N, H // 2, W // 2, C))
    layer = nl.AvgPoolingLayer()
    layer.forward(X)

    dX = layer.backward(grad_output)

    # Each window passes on exactly its output gradient, so per image and channel the sums agree.
    np.testing.assert_allclose(dX.sum(axis=(1, 2)), grad_output.sum(axis=(1, 2)), rtol=1e-10, atol=1e-10)
    if H % 2:
        assert not dX[:, -1].any()
    if W % 2:
        assert not dX[:, :, -1].any()


@settings(max_examples=60, deadline=None)
@given(X=image_batches(), seed=st.integers(0, 2**32 - 1))
def test_maxpool_routes_each_gradient_to_one_window_maximum(X, seed):
    N, H, W, C = X.shape
    OH, OW = H // 2, W // 2
    # Gradients in [1, 2): never zero, so a routed gradient is always visible in dX.
    grad_output = 1 + np.random.default_rng(seed).random((N, OH, OW, C))
    layer = nl.MaxPoolingLayer()
    Y = layer.forward(X)

    dX = layer.backward(grad_output)

    windows = dX[:, : 2 * OH, : 2 * OW].reshape(N, OH, 2, OW, 2, C)
    inputs = X[:, : 2 * OH, : 2 * OW].reshape(N, OH, 2, OW, 2, C)
    nonzero_per_window = (windows != 0).sum(axis=(2, 4))
    np.testing.assert_array_equal(nonzero_per_window, 1)
    np.testing.assert_array_equal(windows.sum(axis=(2, 4)), grad_output)
    # The input that receives the gradient contains the window's maximum.
    np.testing.assert_array_equal(inputs[windows != 0], np.broadcast_to(Y[:, :, None, :, None], inputs.shape)[windows != 0])
    assert not dX[:, 2 * OH :].any()
    assert not dX[:, :, 2 * OW :].any()


@pytest.mark.parametrize("layer_class", [nl.MaxPoolingLayer, nl.AvgPoolingLayer])
def test_pooling_output_shape_and_repr(layer_class):
    layer = layer_class()

    assert layer.output_shape((28, 28, 6)) == (14, 14, 6)
    assert layer.output_shape((7, 9, 3)) == (3, 4, 3)
    assert repr(layer) == f"{layer_class.__name__}()"


@pytest.mark.parametrize("layer_class", [nl.MaxPoolingLayer, nl.AvgPoolingLayer])
def test_pooling_rejects_bad_input(layer_class):
    layer = layer_class()

    with pytest.raises(ValueError, match=rf"{layer_class.__name__}\(\): expected input of shape \(batch, height, width, channels\), got \(28, 28\)"):
        layer.forward(np.zeros((28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match=r"at least 2x2 pixels, got 1x5"):
        layer.forward(np.zeros((2, 1, 5, 3), dtype=np.float32))
    with pytest.raises(TypeError, match=layer_class.__name__):
        layer.forward(np.zeros((2, 4, 4, 1), dtype=complex))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((2, 2, 2, 1), dtype=np.float32))
    layer.forward(np.zeros((2, 4, 4, 1), dtype=np.float32))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(2, 2, 2, 1\)"):
        layer.backward(np.zeros((2, 2, 2, 3), dtype=np.float32))


def test_global_avgpool_forward_and_backward():
    rng = np.random.default_rng(22)
    X = rng.standard_normal((3, 5, 4, 2)).astype(np.float32)
    grad_output = rng.standard_normal((3, 2)).astype(np.float32)
    layer = nl.GlobalAvgPoolingLayer()

    Y = layer.forward(X)
    dX = layer.backward(grad_output)

    assert Y.shape == (3, 2)
    np.testing.assert_allclose(Y, X.reshape(3, 20, 2).mean(axis=1), rtol=1e-6)
    assert dX.shape == X.shape
    np.testing.assert_allclose(dX, np.broadcast_to(grad_output[:, None, None, :] / 20, X.shape), rtol=1e-6)
    assert layer.output_shape((5, 4, 2)) == (2,)


def test_global_avgpool_rejects_bad_input():
    layer = nl.GlobalAvgPoolingLayer()

    with pytest.raises(ValueError, match=r"GlobalAvgPoolingLayer\(\): expected input of shape"):
        layer.forward(np.zeros((3, 4), dtype=np.float32))
    layer.forward(np.zeros((3, 4, 4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(3, 2\)"):
        layer.backward(np.zeros((3, 4), dtype=np.float32))


@pytest.mark.parametrize("layer_class", [nl.MaxPoolingLayer, nl.AvgPoolingLayer, nl.GlobalAvgPoolingLayer])
def test_pooling_gradient_check_float64(layer_class):
    X = np.random.default_rng(23).standard_normal((2, 5, 6, 3))

    # Random inputs keep max pooling away from ties; a correct backward pass gives about 1e-9.
    assert nl.gradient_check(layer_class(), X) < 1e-7
