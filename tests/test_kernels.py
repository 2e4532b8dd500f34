"""The fast kernels against the naive loops in netlite/kernels/reference.py, and the numba plumbing.

Every kernel is checked twice: the numba version (what training runs) and
its numpy fallback (what runs without numba). The subprocess tests cover how
the package behaves with NUMBA_DISABLE_JIT=1, without numba, without a
writable cache folder, and what ``import netlite`` loads.
"""

import functools
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from netlite import kernels
from netlite.kernels import convolution, pooling, reference

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# (N, H, W, C_in, K, C_out): batch 1, one channel, odd and non-square sizes,
# kernel 1, 3, 5, and a kernel as large as the image (a 1x1 output). The
# output channel counts include multiples and non-multiples of the kernels'
# groups of 2, 4 and 8. The last two shapes are LeNet-5's layers.
CONV_SHAPES = [
    (1, 5, 5, 1, 5, 1),
    (1, 7, 9, 1, 3, 2),
    (2, 6, 6, 3, 1, 4),
    (3, 11, 8, 2, 3, 5),
    (2, 9, 13, 4, 5, 3),
    (4, 12, 12, 6, 5, 16),
    (1, 32, 32, 1, 5, 6),
    (1, 14, 14, 6, 5, 16),
]
# (N, H, W, C): even, odd height, odd width, both odd, the 2x2 and 3x3 minimum, one channel.
POOL_SHAPES = [(1, 2, 2, 1), (2, 3, 3, 1), (3, 8, 8, 4), (2, 7, 6, 3), (2, 6, 9, 2), (1, 11, 13, 5), (4, 28, 28, 6)]

TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def compiled(fast_kernel):
    """Return the numba-compiled kernel."""
    function = fast_kernel.numba_function()
    assert function is not None, "numba is not available in the test environment"
    return function


def implementations(fast_kernel):
    """Return test parameters for the numba kernel and its numpy fallback."""
    return [pytest.param(lambda: compiled(fast_kernel), id="numba"), pytest.param(lambda: fast_kernel.fallback, id="numpy")]


def random_array(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# -- convolution ------------------------------------------------------------------


def conv_case(shape, dtype, seed):
    """Return random X, W, b and an upstream gradient for one entry of CONV_SHAPES."""
    N, H, W_in, C_in, K, C_out = shape
    rng = np.random.default_rng(seed)
    X = random_array(rng, (N, H, W_in, C_in), dtype)
    W = random_array(rng, (K, K, C_in, C_out), dtype)
    b = random_array(rng, (C_out,), dtype)
    grad_output = random_array(rng, (N, H - K + 1, W_in - K + 1, C_out), dtype)
    return X, W, b, grad_output


def kernel_function(fast_kernel, implementation):
    return compiled(fast_kernel) if implementation == "numba" else fast_kernel.fallback


# A sum of n rounded terms is off by at most about n * eps times the sum of the
# terms' absolute values, and in practice by far less. These bounds allow 16 eps.
SUM_ERROR = {np.float32: 16 * np.finfo(np.float32).eps, np.float64: 16 * np.finfo(np.float64).eps}


SEED = 1  # one random case per shape and dtype, shared by the three kernel tests


@functools.lru_cache(maxsize=None)
def reference_for(shape, dtype, seed):
    """The float64 reference results of ``conv_case(shape, dtype, seed)``, computed once (plain loops are slow)."""
    return reference_in_float64(*conv_case(shape, dtype, seed))


def reference_in_float64(X, W, b, grad_output):
    """Return the reference results, and the same sums over absolute values, both in float64."""
    X, W, b, grad_output = (np.asarray(a, dtype=np.float64) for a in (X, W, b, grad_output))
    exact = (reference.conv2d_forward(X, W, b), *reference.conv2d_backward(X, W, grad_output))
    absolute = (np.abs(X), np.abs(W), np.abs(b), np.abs(grad_output))
    scale = (reference.conv2d_forward(*absolute[:3]), *reference.conv2d_backward(absolute[0], absolute[1], absolute[3]))
    return dict(zip(["Y", "dX", "dW", "db"], exact)), dict(zip(["Y", "dX", "dW", "db"], scale))


def assert_sum_close(actual, expected, scale, dtype, name):
    """Check every entry against its float64 value, allowing the rounding error of a float sum."""
    error = np.abs(np.asarray(actual, dtype=np.float64) - expected)
    bound = SUM_ERROR[dtype] * scale + np.finfo(dtype).tiny
    worst = np.unravel_index(np.argmax(error / bound), error.shape)
    assert np.all(error <= bound), (
        f"{name}: entry {worst} is {actual[worst]!r}, expected {expected[worst]!r} "
        f"(error {error[worst]:.3g}, allowed {bound[worst]:.3g})"
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", CONV_SHAPES)
@pytest.mark.parametrize("implementation", ["numba", "numpy"])
@pytest.mark.parametrize("n_chunks", [1, 2, 5])
def test_conv_forward_kernel_matches_reference(implementation, shape, dtype, n_chunks):
    X, W, b, grad_output = conv_case(shape, dtype, seed=SEED)
    Y = np.full(grad_output.shape, np.nan, dtype=dtype)  # every entry must be overwritten

    kernel_function(convolution.forward_images, implementation)(X, W, b, Y, n_chunks)

    expected, scale = reference_for(shape, dtype, seed=SEED)
    assert Y.dtype == dtype
    assert_sum_close(Y, expected["Y"], scale["Y"], dtype, "Y")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", CONV_SHAPES)
@pytest.mark.parametrize("implementation", ["numba", "numpy"])
@pytest.mark.parametrize("n_chunks", [1, 2, 5])
def test_conv_weight_grad_kernel_adds_reference_gradient(implementation, shape, dtype, n_chunks):
    X, W, b, grad_output = conv_case(shape, dtype, seed=SEED)
    # The kernel adds to what is there, so that a caller can sum several batches.
    grad_W = np.ones_like(W)
    grad_b = np.full_like(b, 2.0)

    kernel_function(convolution.weight_grad_images, implementation)(X, grad_output, grad_W, grad_b, n_chunks)

    expected, scale = reference_for(shape, dtype, seed=SEED)
    assert_sum_close(grad_W, expected["dW"] + 1, scale["dW"] + 1, dtype, "dW")
    assert_sum_close(grad_b, expected["db"] + 2, scale["db"] + 2, dtype, "db")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", CONV_SHAPES)
@pytest.mark.parametrize("implementation", ["numba", "numpy"])
@pytest.mark.parametrize("n_chunks", [1, 2, 5])
def test_conv_input_grad_kernel_matches_reference(implementation, shape, dtype, n_chunks):
    X, W, b, grad_output = conv_case(shape, dtype, seed=SEED)
    grad_X = np.full(X.shape, np.nan, dtype=dtype)

    kernel_function(convolution.input_grad_images, implementation)(grad_output, W, grad_X, n_chunks)

    expected, scale = reference_for(shape, dtype, seed=SEED)
    assert_sum_close(grad_X, expected["dX"], scale["dX"], dtype, "dX")


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("n_images", [1, 2, 7])
def test_conv_split_between_threads_matches_reference(use_threads, n_threads, n_images):
    use_threads(n_threads)
    X, W, b, grad_output = conv_case((n_images, 10, 9, 3, 3, 5), np.float64, seed=4)

    Y = kernels.conv2d_forward(X, W, b)
    dX, dW, db = kernels.conv2d_backward(X, W, grad_output)

    ref_dX, ref_dW, ref_db = reference.conv2d_backward(X, W, grad_output)
    np.testing.assert_allclose(Y, reference.conv2d_forward(X, W, b), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dX, ref_dX, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dW, ref_dW, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, ref_db, rtol=1e-12, atol=1e-12)


def test_conv_backward_repeats_exactly_with_same_threads(use_threads):
    use_threads(2)
    X, W, b, grad_output = conv_case((9, 14, 14, 6, 5, 16), np.float32, seed=5)

    first = kernels.conv2d_backward(X, W, grad_output)
    second = kernels.conv2d_backward(X, W, grad_output)

    for a, b_ in zip(first, second):
        np.testing.assert_array_equal(a, b_)


def test_conv_backward_without_input_grad_returns_none():
    X, W, b, grad_output = conv_case((2, 8, 8, 2, 3, 3), np.float64, seed=6)

    dX, dW, db = kernels.conv2d_backward(X, W, grad_output, compute_input_grad=False)

    _, ref_dW, ref_db = reference.conv2d_backward(X, W, grad_output)
    assert dX is None
    np.testing.assert_allclose(dW, ref_dW, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, ref_db, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("implementation", ["numba", "numpy"])
def test_conv_forward_keeps_nonfinite_local(implementation):
    # The kernels pad their groups of taps with zero weights; a padding tap
    # must never multiply an inf (0 * inf = NaN) into an output pixel.
    X, W, b, grad_output = conv_case((1, 9, 8, 1, 5, 3), np.float64, seed=7)
    X[0, 0, 0, 0] = np.inf
    X[0, 8, 7, 0] = np.nan
    Y = np.empty(grad_output.shape)

    kernel_function(convolution.forward_images, implementation)(X, W, b, Y, 1)

    expected = reference.conv2d_forward(X, W, b)
    np.testing.assert_array_equal(np.isinf(Y), np.isinf(expected))
    np.testing.assert_array_equal(np.isnan(Y), np.isnan(expected))
    finite = np.isfinite(expected)
    assert finite.sum() > 0
    np.testing.assert_allclose(Y[finite], expected[finite], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("bad_value", [np.inf, np.nan])
def test_conv_backward_nonfinite_matches_reference(use_threads, n_threads, bad_value):
    # A zero the kernels multiply at thrown-away positions would turn inf into NaN.
    use_threads(n_threads)
    X, W, b, grad_output = conv_case((2, 7, 6, 2, 3, 3), np.float64, seed=8)
    X[0, 2, 0, 1] = bad_value
    X[1, 6, 5, 0] = bad_value
    W[0, 2, 1, 1] = bad_value

    dX, dW, db = kernels.conv2d_backward(X, W, grad_output)

    ref_dX, ref_dW, ref_db = reference.conv2d_backward(X, W, grad_output)
    for name, actual, expected in (("dX", dX, ref_dX), ("dW", dW, ref_dW), ("db", db, ref_db)):
        np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"NaN pattern of {name}")
        np.testing.assert_array_equal(np.isinf(actual), np.isinf(expected), err_msg=f"inf pattern of {name}")
        finite = np.isfinite(expected)
        np.testing.assert_allclose(actual[finite], expected[finite], rtol=1e-12, atol=1e-12, err_msg=name)


def test_conv_input_grad_fallback_keeps_inf_weights_local():
    X, W, b, grad_output = conv_case((1, 6, 6, 1, 3, 2), np.float64, seed=9)
    W[2, 2, 0, 0] = np.inf
    grad_X = np.empty(X.shape)

    convolution.input_grad_images.fallback(grad_output, W, grad_X, 1)

    ref_dX, _, _ = reference.conv2d_backward(X, W, grad_output)
    np.testing.assert_array_equal(np.isnan(grad_X), np.isnan(ref_dX))
    np.testing.assert_array_equal(np.isinf(grad_X), np.isinf(ref_dX))


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda X, W, b: (X.astype(np.int64), W, b), TypeError, "X must be float32 or float64, got int64"),
        (lambda X, W, b: (X, W, b[:-1]), ValueError, r"expected b of shape \(3,\), got \(2,\)"),
        (lambda X, W, b: (X, W.astype(np.float32), b), TypeError, "W has dtype float32, but X has float64"),
        (lambda X, W, b: (X, W[:2], b), ValueError, r"expected W of shape \(K, K, 2, C_out\)"),
        (lambda X, W, b: (X, W[:, :, :1], b), ValueError, r"expected W of shape \(K, K, 2, C_out\)"),
        (lambda X, W, b: (X[:, :2], W, b), ValueError, "the 3x3 kernel is larger than the 2x6 images"),
        (lambda X, W, b: (X[0], W, b), ValueError, r"expected X of shape \(N, H, W, C_in\).*X\[\.\.\., None\]"),
        (lambda X, W, b: (X, W[0], b), ValueError, "got X .* and W .*; give W four axes"),
        (lambda X, W, b: (X, W[:0, :0], b), ValueError, r"expected a kernel of at least 1x1, got W of shape \(0, 0, 2, 3\)"),
    ],
)
def test_conv_kernels_reject_bad_arrays(change, error, message):
    X, W, b, grad_output = conv_case((2, 7, 6, 2, 3, 3), np.float64, seed=10)

    with pytest.raises(error, match=message):
        kernels.conv2d_forward(*change(X, W, b))


def test_conv_backward_rejects_wrong_gradient_shape():
    X, W, b, grad_output = conv_case((2, 7, 6, 2, 3, 3), np.float64, seed=11)

    with pytest.raises(ValueError, match=r"expected grad_output of shape \(2, 5, 4, 3\), got \(2, 5, 4, 2\)"):
        kernels.conv2d_backward(X, W, grad_output[..., :2])


def test_conv_kernels_accept_big_endian_arrays():
    X, W, b, grad_output = conv_case((2, 7, 6, 2, 3, 3), np.float64, seed=13)

    Y = kernels.conv2d_forward(X.astype(">f8"), W.astype(">f8"), b)

    np.testing.assert_allclose(Y, reference.conv2d_forward(X, W, b), rtol=1e-12, atol=1e-12)


def test_conv_kernels_accept_fortran_order():
    X, W, b, grad_output = conv_case((2, 7, 6, 2, 3, 3), np.float64, seed=12)

    Y = kernels.conv2d_forward(np.asfortranarray(X), np.asfortranarray(W), b)

    np.testing.assert_allclose(Y, reference.conv2d_forward(X, W, b), rtol=1e-12, atol=1e-12)


def test_reference_convolution_matches_hand_computed_values():
    # One 3x3 image, one 2x2 kernel of ones: each output is the sum of a 2x2 window plus the bias.
    X = np.arange(9, dtype=np.float64).reshape(1, 3, 3, 1)
    W = np.ones((2, 2, 1, 1))
    b = np.array([0.5])

    Y = reference.conv2d_forward(X, W, b)

    np.testing.assert_array_equal(Y[0, :, :, 0], [[0 + 1 + 3 + 4 + 0.5, 1 + 2 + 4 + 5 + 0.5], [3 + 4 + 6 + 7 + 0.5, 4 + 5 + 7 + 8 + 0.5]])


# -- pooling --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", POOL_SHAPES)
@pytest.mark.parametrize("implementation", ["numba", "numpy"])
@pytest.mark.parametrize("n_chunks", [1, 2, 5])
def test_avgpool_forward_matches_reference(implementation, shape, dtype, n_chunks):
    X = random_array(np.random.default_rng(4), shape, dtype)
    N, H, W, C = shape
    Y = np.full((N, H // 2, W // 2, C), np.nan, dtype=dtype)  # every entry must be overwritten

    kernel_function(pooling.avgpool_forward_images, implementation)(X, Y, n_chunks)

    np.testing.assert_allclose(Y, reference.avgpool2x2_forward(X), **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", POOL_SHAPES)
@pytest.mark.parametrize("implementation", ["numba", "numpy"])
@pytest.mark.parametrize("n_chunks", [1, 2, 5])
def test_avgpool_backward_matches_reference(implementation, shape, dtype, n_chunks):
    N, H, W, C = shape
    grad_output = random_array(np.random.default_rng(5), (N, H // 2, W // 2, C), dtype)
    dX = np.zeros(shape, dtype=dtype)

    kernel_function(pooling.avgpool_backward_images, implementation)(grad_output, dX, n_chunks)

    np.testing.assert_allclose(dX, reference.avgpool2x2_backward(grad_output, shape), **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", POOL_SHAPES)
@pytest.mark.parametrize("implementation", ["numba", "numpy"])
@pytest.mark.parametrize("n_chunks", [1, 2, 5])
def test_maxpool_forward_matches_reference(implementation, shape, dtype, n_chunks):
    X = random_array(np.random.default_rng(6), shape, dtype)
    N, H, W, C = shape
    Y = np.full((N, H // 2, W // 2, C), np.nan, dtype=dtype)
    argmax = np.full(Y.shape, 255, dtype=np.uint8)

    kernel_function(pooling.maxpool_forward_images, implementation)(X, Y, argmax, n_chunks)

    expected_Y, expected_argmax = reference.maxpool2x2_forward(X)
    np.testing.assert_array_equal(Y, expected_Y)
    np.testing.assert_array_equal(argmax, expected_argmax)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf + -inf on purpose
@pytest.mark.parametrize("implementation", ["numba", "numpy"])
@pytest.mark.parametrize("n_chunks", [1, 2])
def test_pooling_non_finite_values_match_reference(implementation, n_chunks):
    # NaN, inf and -inf at random places, many windows with two of them: max pooling lets the
    # first NaN of a window win, and average pooling carries NaN and inf through.
    rng = np.random.default_rng(10)
    X = rng.standard_normal((4, 8, 6, 3))
    X.flat[rng.choice(X.size, size=X.size // 3, replace=False)] = rng.choice([np.nan, np.inf, -np.inf], size=X.size // 3)
    Y = np.empty((4, 4, 3, 3))
    argmax = np.empty(Y.shape, dtype=np.uint8)
    averaged = np.empty(Y.shape)

    kernel_function(pooling.maxpool_forward_images, implementation)(X, Y, argmax, n_chunks)
    kernel_function(pooling.avgpool_forward_images, implementation)(X, averaged, n_chunks)

    expected_Y, expected_argmax = reference.maxpool2x2_forward(X)
    np.testing.assert_array_equal(Y, expected_Y)  # NaN equals NaN here
    np.testing.assert_array_equal(argmax, expected_argmax)
    np.testing.assert_allclose(averaged, reference.avgpool2x2_forward(X), rtol=1e-12)


@pytest.mark.parametrize("implementation", ["numba", "numpy"])
def test_maxpool_ties_pick_first_in_row_major_order(implementation):
    # Window values (top-left, top-right, bottom-left, bottom-right) and the expected argmax.
    windows = [((1, 1, 1, 1), 0), ((0, 2, 2, 2), 1), ((0, 1, 3, 3), 2), ((-1, -1, -1, 0), 3)]
    X = np.zeros((1, 2, 2 * len(windows), 1), dtype=np.float32)
    for index, (values, _) in enumerate(windows):
        X[0, :, 2 * index : 2 * index + 2, 0] = np.reshape(values, (2, 2))
    Y = np.empty((1, 1, len(windows), 1), dtype=np.float32)
    argmax = np.empty(Y.shape, dtype=np.uint8)

    kernel_function(pooling.maxpool_forward_images, implementation)(X, Y, argmax, 1)

    np.testing.assert_array_equal(argmax[0, 0, :, 0], [position for _, position in windows])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", POOL_SHAPES)
@pytest.mark.parametrize("implementation", ["numba", "numpy"])
@pytest.mark.parametrize("n_chunks", [1, 2, 5])
def test_maxpool_backward_matches_reference(implementation, shape, dtype, n_chunks):
    rng = np.random.default_rng(7)
    N, H, W, C = shape
    grad_output = random_array(rng, (N, H // 2, W // 2, C), dtype)
    argmax = rng.integers(0, 4, size=grad_output.shape).astype(np.uint8)
    dX = np.zeros(shape, dtype=dtype)

    kernel_function(pooling.maxpool_backward_images, implementation)(grad_output, argmax, dX, n_chunks)

    np.testing.assert_array_equal(dX, reference.maxpool2x2_backward(grad_output, argmax, shape))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", POOL_SHAPES)
def test_pooling_functions_match_reference(shape, dtype):
    # The public functions allocate the outputs (zeros where a last row or column is dropped).
    rng = np.random.default_rng(9)
    X = random_array(rng, shape, dtype)
    N, H, W, C = shape
    grad_output = random_array(rng, (N, H // 2, W // 2, C), dtype)

    Y, argmax = kernels.maxpool2x2_forward(X)
    averaged = kernels.avgpool2x2_forward(X)
    dX_avg = kernels.avgpool2x2_backward(grad_output, shape)
    dX_max = kernels.maxpool2x2_backward(grad_output, argmax, shape)

    assert Y.dtype == averaged.dtype == dX_avg.dtype == dX_max.dtype == dtype
    assert argmax.dtype == np.uint8
    np.testing.assert_array_equal(Y, reference.maxpool2x2_forward(X)[0])
    np.testing.assert_allclose(averaged, reference.avgpool2x2_forward(X), **TOLERANCE[dtype])
    np.testing.assert_allclose(dX_avg, reference.avgpool2x2_backward(grad_output, shape), **TOLERANCE[dtype])
    np.testing.assert_array_equal(dX_max, reference.maxpool2x2_backward(grad_output, argmax, shape))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: kernels.avgpool2x2_forward(np.ones((1, 4, 4, 1), np.uint8)), TypeError, "float32 or float64, got uint8"),
        (lambda: kernels.maxpool2x2_forward(np.ones((4, 4, 1), np.float32)), ValueError, "channel axis"),
        (
            lambda: kernels.avgpool2x2_backward(np.ones((1, 2, 2, 1), np.float32), (1, 4, 4, 2)),
            ValueError,
            r"expected grad_output of shape \(1, 2, 2, 2\)",
        ),
        (
            lambda: kernels.maxpool2x2_backward(np.ones((1, 2, 2, 1), np.float32), np.full((1, 2, 2, 1), 5, np.uint8), (1, 4, 4, 1)),
            ValueError,
            "largest value 5",
        ),
        (
            lambda: kernels.maxpool2x2_backward(np.ones((1, 2, 2, 1), np.float32), np.zeros((1, 2, 2, 1), np.int64), (1, 4, 4, 1)),
            ValueError,
            "got dtype int64",
        ),
    ],
    ids=["uint8 images", "no channel axis", "gradient shape", "argmax out of range", "argmax dtype"],
)
def test_pooling_functions_reject_bad_input(call, error, message):
    # The kernels write without bounds checks, so the public functions check first.
    with pytest.raises(error, match=message):
        call()


def test_pooling_functions_accept_big_endian():
    X = np.random.default_rng(11).random((2, 5, 5, 3)).astype(">f4")

    averaged = kernels.avgpool2x2_forward(X)

    np.testing.assert_allclose(averaged, reference.avgpool2x2_forward(X.astype(np.float32)), rtol=1e-6)


def test_numba_and_numpy_pooling_bit_identical():
    # Without numba the numpy versions run, and a model must train the same either way.
    # (The convolution kernels sum in another order than numpy, so they are compared
    # with a tolerance above.)
    rng = np.random.default_rng(8)
    X = rng.standard_normal((5, 12, 11, 3)).astype(np.float32)
    pooled_grad = rng.standard_normal((5, 6, 5, 3)).astype(np.float32)
    argmax = rng.integers(0, 4, size=pooled_grad.shape).astype(np.uint8)

    def outputs():
        """Return fresh output arrays for the four kernels, in the order of ``cases``."""
        return [
            (np.empty_like(pooled_grad),),
            (np.zeros_like(X),),
            (np.empty_like(pooled_grad), np.empty_like(argmax)),
            (np.zeros_like(X),),
        ]

    cases = [
        (pooling.avgpool_forward_images, (X,)),
        (pooling.avgpool_backward_images, (pooled_grad,)),
        (pooling.maxpool_forward_images, (X,)),
        (pooling.maxpool_backward_images, (pooled_grad, argmax)),
    ]
    for (fast_kernel, inputs), numba_outputs, numpy_outputs in zip(cases, outputs(), outputs()):
        compiled(fast_kernel)(*inputs, *numba_outputs, 2)
        fast_kernel.fallback(*inputs, *numpy_outputs, 2)
        for numba_array, numpy_array in zip(numba_outputs, numpy_outputs):
            np.testing.assert_array_equal(numba_array, numpy_array, err_msg=fast_kernel.__name__)


# -- numba plumbing, in fresh processes ------------------------------------------------

CHECK_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    import numpy as np
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import netlite as nl
        from netlite.kernels import reference
        numba_kernels = nl.kernels.convolution.forward_images.numba_function() is not None
        rng = np.random.default_rng(0)
        layer = nl.ConvolutionalLayer(3, 2, 4, rng=rng)
        X = rng.standard_normal((2, 7, 6, 2)).astype(np.float32)
        Y = layer.forward(X)
        G = rng.standard_normal(Y.shape).astype(np.float32)
        dX = layer.backward(G)
        ref_dX, ref_dW, ref_db = reference.conv2d_backward(X, layer.params["W"], G)
        pooled, argmax = nl.kernels.maxpool2x2_forward(Y)
        averaged = nl.MaxPoolingLayer().forward(Y), nl.AvgPoolingLayer().forward(Y)
        errors = {
            "forward": float(np.abs(Y - reference.conv2d_forward(X, layer.params["W"], layer.params["b"])).max()),
            "dX": float(np.abs(dX - ref_dX).max()),
            "dW": float(np.abs(layer.grads["W"] - ref_dW).max()),
            "maxpool": float(np.abs(pooled - reference.maxpool2x2_forward(Y)[0]).max()),
            "avgpool": float(np.abs(averaged[1] - reference.avgpool2x2_forward(Y)).max()),
        }
    print(json.dumps({
        "errors": errors,
        "warnings": [str(w.message) for w in caught],
        "numba_loaded": "numba" in sys.modules,
        "numba_kernels": numba_kernels,
    }))
    """
)

BLOCK_NUMBA = textwrap.dedent(
    """
    import sys
    class BlockNumba:
        def find_spec(self, name, path=None, target=None):
            if name == "numba" or name.startswith("numba."):
                raise ImportError("numba is blocked for this test")
            return None
    sys.meta_path.insert(0, BlockNumba())
    """
)


def run_python(code, env_changes=None, cwd=PROJECT_ROOT):
    """Run ``code`` in a fresh interpreter of this environment; return (stdout JSON, stderr)."""
    env = dict(os.environ)
    env.pop("NUMBA_DISABLE_JIT", None)
    env.update(env_changes or {})
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )
    assert result.returncode == 0, f"subprocess failed:\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def assert_small_errors(errors):
    for name, error in errors.items():
        assert error < 1e-5, f"{name}: maximum deviation from the reference {error}"


def test_import_loads_neither_numba_nor_matplotlib():
    report, stderr = run_python(
        "import json, sys, netlite; "
        "print(json.dumps({name: name in sys.modules for name in ('numba', 'matplotlib', 'llvmlite')}))"
    )
    assert report == {"numba": False, "matplotlib": False, "llvmlite": False}
    assert stderr == ""


def test_kernels_run_without_stderr_output():
    report, stderr = run_python(CHECK_SCRIPT)
    assert_small_errors(report["errors"])
    assert report["warnings"] == []
    assert report["numba_loaded"]
    assert report["numba_kernels"]
    assert stderr == ""


def test_disable_jit_gives_same_results():
    report, _ = run_python(CHECK_SCRIPT, {"NUMBA_DISABLE_JIT": "1"})
    assert_small_errors(report["errors"])
    assert report["numba_kernels"]
    assert report["warnings"] == []


def test_without_numba_uses_numpy_and_warns_once():
    report, _ = run_python(BLOCK_NUMBA + CHECK_SCRIPT)
    assert_small_errors(report["errors"])
    assert not report["numba_loaded"]
    assert not report["numba_kernels"]
    assert len(report["warnings"]) == 1
    assert "numba could not be imported" in report["warnings"][0]


def test_unwritable_cache_still_runs(tmp_path):
    # No folder that numba tries can be created: a copy of the package has a
    # file named __pycache__ where numba would put its cache beside the
    # sources, and HOME, XDG_CACHE_HOME and NUMBA_CACHE_DIR lie below a
    # regular file. Unlike read-only permissions, this also stops root.
    package_copy = tmp_path / "site"
    shutil.copytree(PROJECT_ROOT / "netlite", package_copy / "netlite", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [package_copy / "netlite", *(package_copy / "netlite").rglob("*")]:
        if folder.is_dir():
            (folder / "__pycache__").write_text("a file, so no cache folder can be created here")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file, so no folder can be created below it")
    code = f"import sys; sys.path.insert(0, {str(package_copy)!r})\n" + CHECK_SCRIPT
    code += f"\nassert nl.__file__.startswith({str(package_copy)!r}), nl.__file__\n"
    environment = {
        "HOME": str(blocker / "home"),
        "XDG_CACHE_HOME": str(blocker / "cache"),
        "NUMBA_CACHE_DIR": str(blocker / "numba"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }

    report, stderr = run_python(code, environment, cwd=tmp_path)

    assert_small_errors(report["errors"])
    assert report["numba_loaded"]
    assert report["numba_kernels"]
    assert report["warnings"] == []
    assert stderr == ""
