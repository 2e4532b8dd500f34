"""ConvolutionalLayer against the direct loops in netlite/kernels/reference.py."""

import numpy as np
import pytest

import netlite as nl
from netlite.kernels import reference

# (N, H, W, C_in, C_out, K): batch 1, one channel, odd and non-square sizes, kernel 1, 3, 5.
LAYER_SHAPES = [
    (1, 5, 5, 1, 1, 5),
    (1, 8, 7, 1, 6, 5),
    (2, 6, 9, 3, 2, 1),
    (3, 9, 9, 2, 5, 3),
    (2, 14, 14, 6, 16, 5),
]


def make_layer(shape, dtype, seed=0):
    N, H, W, C_in, C_out, K = shape
    layer = nl.ConvolutionalLayer(K, C_in, C_out, rng=np.random.default_rng(seed))
    layer.params["b"] = np.random.default_rng(seed + 1).standard_normal(C_out).astype(np.float32)
    layer.astype(dtype)
    return layer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", LAYER_SHAPES)
def test_forward_and_backward_match_reference(shape, dtype):
    N, H, W, C_in, C_out, K = shape
    rng = np.random.default_rng(10)
    layer = make_layer(shape, dtype)
    X = rng.standard_normal((N, H, W, C_in)).astype(dtype)
    grad_output = rng.standard_normal((N, H - K + 1, W - K + 1, C_out)).astype(dtype)
    tolerance = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)

    Y = layer.forward(X)
    dX = layer.backward(grad_output)

    ref_dX, ref_dW, ref_db = reference.conv2d_backward(X, layer.params["W"], grad_output)
    assert Y.dtype == dtype
    assert dX.dtype == dtype
    assert layer.grads["W"].dtype == dtype
    np.testing.assert_allclose(Y, reference.conv2d_forward(X, layer.params["W"], layer.params["b"]), **tolerance)
    np.testing.assert_allclose(dX, ref_dX, **tolerance)
    np.testing.assert_allclose(layer.grads["W"], ref_dW, **tolerance)
    np.testing.assert_allclose(layer.grads["b"], ref_db, **tolerance)


def test_without_input_grad_returns_none():
    shape = (3, 10, 9, 2, 4, 3)
    rng = np.random.default_rng(11)
    X = rng.standard_normal(shape[:4]).astype(np.float32)
    grad_output = rng.standard_normal((3, 8, 7, 4)).astype(np.float32)
    full = make_layer(shape, np.float32)
    first_layer = make_layer(shape, np.float32)
    first_layer.compute_input_grad = False

    full.forward(X)
    first_layer.forward(X)
    dX_full = full.backward(grad_output)
    dX_first = first_layer.backward(grad_output)

    assert dX_full is not None
    assert dX_first is None
    np.testing.assert_array_equal(first_layer.grads["W"], full.grads["W"])
    np.testing.assert_array_equal(first_layer.grads["b"], full.grads["b"])


def test_gradient_check_float64():
    layer = nl.ConvolutionalLayer(3, 2, 3, rng=np.random.default_rng(12))
    X = np.random.default_rng(13).standard_normal((2, 6, 5, 2))

    # A correct backward pass gives about 1e-9 in float64; 1e-7 leaves room for rounding.
    assert nl.gradient_check(layer, X) < 1e-7


def test_integer_input_is_converted_to_parameter_dtype():
    layer = nl.ConvolutionalLayer(3, 1, 2, rng=np.random.default_rng(14))
    X = np.arange(2 * 5 * 5).reshape(2, 5, 5, 1)

    Y = layer.forward(X)

    assert Y.dtype == np.float32
    expected = reference.conv2d_forward(X.astype(np.float64), layer.params["W"].astype(np.float64), layer.params["b"])
    # float32 sums of up to 9 terms of size up to 50: allow a few float32 steps of the largest output.
    np.testing.assert_allclose(Y, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


def test_non_contiguous_input_matches_contiguous():
    layer = nl.ConvolutionalLayer(3, 2, 2, rng=np.random.default_rng(15))
    X = np.random.default_rng(16).standard_normal((2, 2, 8, 8)).astype(np.float32).transpose(0, 2, 3, 1)

    np.testing.assert_array_equal(layer.forward(X), layer.forward(np.ascontiguousarray(X)))


def test_he_initialisation():
    K, C_in, C_out = 5, 6, 200
    layer = nl.ConvolutionalLayer(K, C_in, C_out, rng=np.random.default_rng(17))
    W = layer.params["W"]

    assert W.shape == (K, K, C_in, C_out)
    assert W.dtype == np.float32
    # 30,000 normal draws: the sample std is within 2 % of sqrt(2 / 150) with overwhelming probability.
    assert W.std() == pytest.approx(np.sqrt(2 / (K * K * C_in)), rel=0.02)
    assert abs(W.mean()) < 0.01
    np.testing.assert_array_equal(layer.params["b"], np.zeros(C_out, dtype=np.float32))


def test_initialisation_uses_package_seed():
    nl.seed(123)
    first = nl.ConvolutionalLayer(3, 2, 4).params["W"]
    nl.seed(123)
    second = nl.ConvolutionalLayer(3, 2, 4).params["W"]

    np.testing.assert_array_equal(first, second)


def test_repr_and_output_shape():
    layer = nl.ConvolutionalLayer(5, 1, 6)

    assert repr(layer) == "ConvolutionalLayer(5x5, 1 -> 6)"
    assert layer.output_shape((32, 32, 1)) == (28, 28, 6)
    assert layer.output_shape((14, 9, 1)) == (10, 5, 6)


def test_wrong_channel_count_names_layer_and_shapes():
    layer = nl.ConvolutionalLayer(5, 1, 6)

    with pytest.raises(ValueError) as error:
        layer.forward(np.zeros((32, 28, 28, 3), dtype=np.float32))

    message = str(error.value)
    assert "ConvolutionalLayer(5x5, 1 -> 6)" in message
    assert "(batch, height, width, 1)" in message
    assert "(32, 28, 28, 3)" in message


def test_image_smaller_than_kernel_raises():
    layer = nl.ConvolutionalLayer(5, 1, 6)

    with pytest.raises(ValueError, match=r"at least 5x5 pixels, got 4x9"):
        layer.forward(np.zeros((2, 4, 9, 1), dtype=np.float32))


def test_grey_images_get_channel_hint():
    layer = nl.ConvolutionalLayer(3, 1, 2)

    with pytest.raises(ValueError, match=r"got \(4, 28, 28\); add the channel axis of grey images with X\[\.\.\., None\]"):
        layer.forward(np.zeros((4, 28, 28), dtype=np.float32))


def test_one_image_gets_batch_axis_hint():
    layer = nl.ConvolutionalLayer(3, 1, 2)

    with pytest.raises(ValueError, match=r"got \(32, 32, 1\); for one image, add the batch axis with X\[None\]"):
        layer.forward(np.zeros((32, 32, 1), dtype=np.float32))


def test_wrong_ndim_raises():
    layer = nl.ConvolutionalLayer(3, 1, 2)

    with pytest.raises(ValueError, match=r"ConvolutionalLayer\(3x3, 1 -> 2\).*got \(28, 28, 1\)"):
        layer.forward(np.zeros((28, 28, 1), dtype=np.float32))


def test_non_numeric_input_raises_type_error():
    layer = nl.ConvolutionalLayer(3, 1, 2)

    with pytest.raises(TypeError, match="ConvolutionalLayer"):
        layer.forward(np.zeros((1, 5, 5, 1), dtype=complex))
    with pytest.raises(TypeError, match="ConvolutionalLayer"):
        layer.forward(np.full((1, 5, 5, 1), "a"))


@pytest.mark.parametrize("arguments", [(0, 1, 2), (3, 0, 2), (3, 1, -1), (2.5, 1, 2), (True, 1, 2)])
def test_invalid_sizes_raise(arguments):
    with pytest.raises(ValueError, match="ConvolutionalLayer: .* must be a positive integer"):
        nl.ConvolutionalLayer(*arguments)


def test_backward_before_forward_raises():
    layer = nl.ConvolutionalLayer(3, 1, 2)

    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 3, 3, 2), dtype=np.float32))


def test_backward_with_wrong_gradient_shape_raises():
    layer = nl.ConvolutionalLayer(3, 1, 2)
    layer.forward(np.zeros((1, 5, 5, 1), dtype=np.float32))

    with pytest.raises(ValueError, match=r"expected grad_output of shape \(1, 3, 3, 2\)"):
        layer.backward(np.zeros((1, 3, 3, 3), dtype=np.float32))


@pytest.mark.parametrize("n_threads", [1, 2, 4])
def test_passes_split_between_threads_match_reference(use_threads, n_threads):
    # 5 images between 4 threads: ranges of 1, 1, 1 and 2 images.
    use_threads(n_threads)
    rng = np.random.default_rng(18)
    layer = make_layer((5, 9, 8, 2, 3, 3), np.float64)
    X = rng.standard_normal((5, 9, 8, 2))
    grad_output = rng.standard_normal((5, 7, 6, 3))

    Y = layer.forward(X)
    dX = layer.backward(grad_output)

    ref_dX, ref_dW, ref_db = reference.conv2d_backward(X, layer.params["W"], grad_output)
    np.testing.assert_allclose(Y, reference.conv2d_forward(X, layer.params["W"], layer.params["b"]), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(dX, ref_dX, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(layer.grads["W"], ref_dW, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(layer.grads["b"], ref_db, rtol=1e-11, atol=1e-11)
