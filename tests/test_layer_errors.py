"""Bad input to layers: each error names the layer, the expected and the actual value."""

import re
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

import netlite as nl


def test_fully_connected_wrong_width():
    layer = nl.FullyConnectedLayer(400, 120)
    with pytest.raises(ValueError) as error:
        layer.forward(np.zeros((32, 256), dtype=np.float32))
    assert str(error.value) == "FullyConnectedLayer(400 -> 120): expected input of shape (batch, 400), got (32, 256)"


def test_fully_connected_image_input_suggests_flatten_shape():
    with pytest.raises(ValueError, match=r"FullyConnectedLayer\(400 -> 120\): expected input of shape \(batch, 400\), got \(2, 5, 5, 16\); put nl.Flatten\(\) before this layer to turn each sample into 400 features$"):
        nl.FullyConnectedLayer(400, 120).forward(np.zeros((2, 5, 5, 16)))


def test_dense_flatten_hint_n_inputs():
    with pytest.raises(ValueError, match=r"into 16 features, and create this layer with n_inputs=16$"):
        nl.FullyConnectedLayer(4, 2).forward(np.zeros((2, 2, 2, 4)))


def test_fully_connected_one_axis_input():
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 3\), got \(3,\)$"):
        nl.FullyConnectedLayer(3, 2).forward(np.zeros(3))


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 3, 8, 12), (2, 3, 12, 5)])
def test_convolution_channels_first_input_suggests_transpose(shape):
    expected = rf"\(batch, height, width, 3\), got {re.escape(str(shape))}; if the images are stored channels first .*X.transpose\(0, 2, 3, 1\)"
    with pytest.raises(ValueError, match=expected):
        nl.ConvolutionalLayer(3, 3, 4).forward(np.zeros(shape))


@pytest.mark.parametrize(
    "layer, shape, message",
    [
        ((3, 3, 4), (2, 8, 8, 5), "the images or the previous layer's output must have 3 channels$"),
        ((3, 32, 32), (2, 32, 32, 16), "must have 32 channels$"),  # height 32 equals the channels by chance
        ((3, 32, 32), (2, 32, 40, 16), "must have 32 channels$"),  # the same, and not square
        ((5, 1, 8), (2, 28, 28, 3), "must have 1 channel$"),
    ],
)
def test_convolution_wrong_channel_count(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        nl.ConvolutionalLayer(*layer).forward(np.zeros(shape))


@pytest.mark.parametrize("bad", [np.array([["a", "b"]]), np.zeros((1, 2), dtype=complex), np.array([[None, 1]], dtype=object)])
def test_non_numeric_input(bad):
    with pytest.raises(TypeError, match=r"FullyConnectedLayer\(2 -> 1\): expected a real-valued numeric array, got dtype"):
        nl.FullyConnectedLayer(2, 1).forward(bad)


def test_integer_input_is_converted_to_float32():
    output = nl.FullyConnectedLayer(2, 1).forward(np.array([[0, 1]]))
    assert output.dtype == np.float32


def test_backward_before_forward_names_layer():
    with pytest.raises(RuntimeError, match=r"Sigmoid\(\): backward\(\) called before forward\(\)"):
        nl.Sigmoid().backward(np.ones((1, 1)))


def test_backward_wrong_gradient_shape():
    layer = nl.FullyConnectedLayer(3, 2)
    layer.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(4, 2\).*got \(4, 3\)"):
        layer.backward(np.zeros((4, 3)))


def test_convolution_wrong_channels():
    with pytest.raises(ValueError, match=r"ConvolutionalLayer\(5x5, 1 -> 6\).*got \(2, 32, 32, 3\)"):
        nl.ConvolutionalLayer(5, 1, 6).forward(np.zeros((2, 32, 32, 3), dtype=np.float32))


def test_convolution_image_smaller_than_kernel():
    with pytest.raises(ValueError, match=r"ConvolutionalLayer\(5x5, 1 -> 6\).*\(1, 4, 4, 1\)"):
        nl.ConvolutionalLayer(5, 1, 6).forward(np.zeros((1, 4, 4, 1), dtype=np.float32))


def test_convolution_missing_channel_axis():
    with pytest.raises(ValueError, match=r"ConvolutionalLayer\(5x5, 1 -> 6\).*got \(2, 32, 32\)"):
        nl.ConvolutionalLayer(5, 1, 6).forward(np.zeros((2, 32, 32), dtype=np.float32))


def test_softmax_needs_two_axes():
    with pytest.raises(ValueError, match=r"Softmax\(\): expected input of shape \(batch, classes\), got \(3,\)"):
        nl.Softmax().forward(np.zeros(3))


def test_batchnorm_wrong_feature_count():
    with pytest.raises(ValueError, match=r"BatchNorm\(4\): expected input of shape \(batch, 4\).*got \(2, 3\)"):
        nl.BatchNorm(4).forward(np.zeros((2, 3)))


def test_batchnorm_single_value_in_training_mode():
    with pytest.raises(ValueError, match=r"batches of at least 2 samples .*last batch of an epoch.*model.eval\(\)"):
        nl.BatchNorm(3).forward(np.zeros((1, 3)))


def test_batchnorm_single_value_in_evaluation_mode_works():
    output = nl.BatchNorm(3).eval().forward(np.ones((1, 3)))
    assert output.shape == (1, 3)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nl.FullyConnectedLayer(0, 3), "n_inputs must be a positive integer, got 0"),
        (lambda: nl.FullyConnectedLayer(3, 2.5), "n_outputs must be a positive integer, got 2.5"),
        (lambda: nl.Dropout(1.0), r"p \(the probability of dropping a value\) must be in \[0, 1\), got 1.0"),
        (lambda: nl.LeakyReLU(-0.1), r"alpha must be in \[0, 1\), got -0.1"),
        (lambda: nl.BatchNorm(3, momentum=0), r"momentum must be in \(0, 1\], got 0"),
    ],
)
def test_invalid_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make()


class _OverflowingNumber:
    """A number whose float() overflows and that cannot be compared with 0."""

    def __float__(self):
        raise OverflowError("too large")


def test_overflowing_setting_without_sign():
    with pytest.raises(TypeError, match=r"^Dropout: p must be a number, got <.*_OverflowingNumber.* of type _OverflowingNumber; pass a plain number$"):
        nl.Dropout(_OverflowingNumber())


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nl.LeakyReLU("0.1"), r"^LeakyReLU: alpha must be a number, got '0.1' of type str; pass a plain number$"),
        (lambda: nl.Dropout(None), r"^Dropout: p must be a number, got None of type NoneType"),
        (lambda: nl.BatchNorm(3, momentum="0.1"), r"^BatchNorm: momentum must be a number, got '0.1' of type str"),
        (lambda: nl.BatchNorm(3, eps=[1e-5]), r"^BatchNorm: eps must be a number, got \[1e-05\] of type list"),
        (lambda: nl.FullyConnectedLayer(3, 2, dtype=int), r"^FullyConnectedLayer: dtype must be np.float32 or np.float64, got int; "),
        (lambda: nl.FullyConnectedLayer(3, 2, dtype=dict), r"^FullyConnectedLayer: dtype must be np.float32 or np.float64, got dict; "),
        (lambda: nl.FullyConnectedLayer(3, 2, dtype=None), r"^FullyConnectedLayer: dtype must be np.float32 or np.float64, got None; "),
        (lambda: nl.FullyConnectedLayer(3, 2, dtype={"names": ["a", "a"], "formats": ["f4", "f4"]}), r"got \{'names'"),
        (lambda: nl.ConvolutionalLayer(3, 1, 2, dtype=np.float16), r"^ConvolutionalLayer: dtype must be np.float32 or np.float64, got float16; "),
        (lambda: nl.BatchNorm(3, dtype="floats"), r"^BatchNorm: dtype must be np.float32 or np.float64, got 'floats'; "),
    ],
    ids=["text alpha", "p None", "text momentum", "list eps", "int dtype", "class dtype", "None dtype", "unreadable dtype",
         "float16 dtype", "unknown dtype"],
)
def test_layer_settings_of_wrong_type(make, message):
    with pytest.raises(TypeError, match=message):
        make()


@pytest.mark.parametrize(
    "make, call, fact",
    [
        (lambda: nl.MaxPoolingLayer(2), "MaxPoolingLayer(2)", "Its windows are always 2x2 with stride 2."),
        (lambda: nl.AvgPoolingLayer(2), "AvgPoolingLayer(2)", "Its windows are always 2x2 with stride 2."),
        (lambda: nl.GlobalAvgPoolingLayer(1), "GlobalAvgPoolingLayer(1)", "averages over all pixels of each channel"),
        (lambda: nl.ReLU(0.1), "ReLU(0.1)", "no slope for negative inputs. For one, use LeakyReLU(alpha=...)."),
        (lambda: nl.Sigmoid(2.0), "Sigmoid(2.0)", "1 / (1 + exp(-x)), which has no settings"),
        (lambda: nl.Tanh("x"), "Tanh('x')", "tanh(x), which has no settings"),
        (lambda: nl.Flatten(1), "Flatten(1)", "keeps the batch axis 0 and flattens all other axes into one"),
        (lambda: nl.Softmax(axis=1), "Softmax(axis=1)", "normalises over the classes, axis 1"),
    ],
    ids=["max pooling", "average pooling", "global pooling", "relu", "sigmoid", "tanh", "flatten", "softmax"],
)
def test_layer_without_settings_rejects_arguments(make, call, fact):
    with pytest.raises(TypeError) as info:
        make()

    message = str(info.value)
    name = call.split("(")[0]
    assert message.startswith(f"{call}: {name} takes no arguments, so create it as {name}(). ")
    assert fact in message


def test_own_layer_without_init_rejects_arguments():
    class Doubling(nl.Layer):
        def forward(self, X):
            return 2 * X

    with pytest.raises(TypeError) as info:
        Doubling(3, scale=2)

    message = str(info.value)
    assert message.startswith("Doubling(3, scale=2): Doubling takes no arguments, so create it as Doubling(), ")
    assert "give it an __init__ that takes the settings and calls super().__init__() first" in message


def test_own_layer_passing_arguments_to_base():
    class Scaling(nl.Layer):
        def __init__(self, factor):
            super().__init__(factor)

    with pytest.raises(TypeError) as info:
        Scaling(3)

    message = str(info.value)
    assert message.startswith("Scaling: Layer.__init__ takes no arguments, got 3; ")
    assert "call super().__init__() without arguments in Scaling.__init__" in message


@pytest.mark.parametrize("dtype", [np.dtypes.Float32DType, np.dtypes.Float64DType])
def test_dtype_classes_accepted(dtype):
    layer = nl.FullyConnectedLayer(3, 2, dtype=dtype)
    assert layer.params["W"].dtype == dtype()


@pytest.mark.parametrize(
    "dtype",
    [np.dtype, np.dtypes.StrDType, np.dtypes.BytesDType, np.dtypes.VoidDType, np.dtypes.DateTime64DType,
     np.dtypes.Float16DType],
)
def test_dtype_classes_rejected_by_layer(dtype):
    name = rf"{dtype.__module__}\.{dtype.__qualname__}"
    with pytest.raises(TypeError, match=rf"^FullyConnectedLayer: dtype must be np.float32 or np.float64, got {name}; "):
        nl.FullyConnectedLayer(3, 2, dtype=dtype)
    with pytest.raises(TypeError, match=rf"^BatchNorm\(3\).astype: dtype must be np.float32 or np.float64, got {name}; "):
        nl.BatchNorm(3).astype(dtype)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nl.BatchNorm(3, eps=Decimal("1e400")), r"eps must be positive and finite, got Decimal\('1E\+400'\), inf as a float$"),
        (lambda: nl.BatchNorm(3, eps=Fraction(1, 10**400)), r"eps must be positive and finite, got Fraction\(1, 10+\.\.\., 0.0 as a float$"),
        (lambda: nl.BatchNorm(3, momentum=Decimal("1e-400")), r"momentum must be in \(0, 1\], got Decimal\('1E-400'\), 0.0 as a float$"),
        (lambda: nl.Dropout(Decimal("NaN")), r"p \(the probability of dropping a value\) must be in \[0, 1\), got Decimal\('NaN'\)$"),
    ],
    ids=["huge Decimal", "tiny Fraction", "tiny Decimal", "Decimal NaN"],
)
def test_settings_checked_after_conversion(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "value", [np.array("0.1"), np.array(True), np.array("0.1", dtype=object), np.timedelta64(0)],
    ids=["text array", "bool array", "text object array", "timedelta"],
)
def test_settings_reject_non_numeric_arrays(value):
    with pytest.raises(TypeError, match=r"^Dropout: p must be a number, got (array|np.timedelta64)\("):
        nl.Dropout(value)


def test_ragged_input_names_the_layer():
    with pytest.raises(ValueError, match=r"^FullyConnectedLayer\(3 -> 2\): the input does not form an array .*; give every sample"):
        nl.FullyConnectedLayer(3, 2).forward([[0.0, 1.0, 2.0], [1.0]])


def test_layer_settings_accept_number_types():
    class Half:
        def __float__(self):
            return 0.5

    assert nl.Dropout(Half()).p == 0.5
    assert nl.Dropout(np.array(0.25, dtype=object)).p == 0.25
    assert str(nl.LeakyReLU(-0.0).alpha) == "0.0"
    assert nl.LeakyReLU(Decimal("0.1")).alpha == pytest.approx(0.1)
    assert nl.Dropout(Fraction(1, 2)).p == 0.5
    assert nl.BatchNorm(3, momentum=np.array(0.2)).momentum == pytest.approx(0.2)
    assert nl.BatchNorm(3, eps=np.float32(1e-3)).eps == pytest.approx(1e-3)


def test_big_endian_dtype_gives_native_parameters():
    layer = nl.FullyConnectedLayer(3, 2, dtype=">f8")
    assert layer.params["W"].dtype == np.float64
    assert layer.params["W"].dtype.isnative
    layer.astype(">f4")
    assert layer.params["W"].dtype == np.float32


def test_float16_input_is_converted_for_pooling():
    output = nl.MaxPoolingLayer().forward(np.ones((1, 2, 2, 1), dtype=np.float16))
    assert output.dtype == np.float32


def test_max_pooling_propagates_nan():
    X = np.zeros((1, 2, 2, 1), dtype=np.float32)
    X[0, 1, 1, 0] = np.nan
    assert np.isnan(nl.MaxPoolingLayer().forward(X)[0, 0, 0, 0])


def test_learning_rate_accepts_numpy_float():
    optimizer = nl.OptimizerSGD(nl.MseLoss(), np.float32(0.1))
    assert optimizer.learning_rate == pytest.approx(0.1)


@pytest.mark.parametrize("bad", [True, "0.1"])
def test_learning_rate_must_be_a_number(bad):
    with pytest.raises(TypeError, match="learning_rate must be a number"):
        nl.OptimizerSGD(nl.MseLoss(), bad)


def test_learning_rate_must_be_finite():
    with pytest.raises(ValueError, match="learning_rate must be positive and finite, got inf"):
        nl.OptimizerSGD(nl.MseLoss(), float("inf"))


@pytest.mark.parametrize(
    "layer", [nl.ReLU(), nl.Sigmoid(), nl.Tanh(), nl.AvgPoolingLayer(), nl.MaxPoolingLayer(), nl.Flatten()]
)
def test_big_endian_float64_stays_float64(layer):
    X = np.linspace(-1, 1, 2 * 4 * 4 * 3).reshape(2, 4, 4, 3).astype(">f8")
    Y = layer.forward(X)
    assert Y.dtype == np.float64
    np.testing.assert_array_equal(Y, layer.forward(X.astype(np.float64)))


@pytest.mark.parametrize("layer", [nl.AvgPoolingLayer(), nl.MaxPoolingLayer(), nl.ReLU()])
def test_integer_gradient_is_converted(layer):
    X = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3) - 40
    Y = layer.forward(X)
    grad = layer.backward(np.ones(Y.shape, dtype=np.int64))
    np.testing.assert_array_equal(grad, layer.backward(np.ones(Y.shape, dtype=np.float32)))


def test_non_numeric_gradient_names_layer():
    layer = nl.AvgPoolingLayer()
    Y = layer.forward(np.ones((1, 4, 4, 1), dtype=np.float32))
    with pytest.raises(TypeError, match=r"AvgPoolingLayer\(\): expected a real-valued numeric grad_output"):
        layer.backward(np.full(Y.shape, "1"))


def test_global_average_pooling_rejects_empty_images():
    with pytest.raises(ValueError, match=r"expected images of at least 1x1 pixels, got input of shape \(2, 0, 3, 2\)"):
        nl.GlobalAvgPoolingLayer().forward(np.ones((2, 0, 3, 2), dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.complex128])
def test_astype_rejects_non_float32_or_64(dtype):
    layer = nl.FullyConnectedLayer(2, 3)
    weights_before = layer.params["W"].copy()
    with pytest.raises(TypeError, match=rf"^FullyConnectedLayer\(2 -> 3\).astype: dtype must be np.float32 or np.float64, got {dtype.__name__}; "):
        layer.astype(dtype)
    np.testing.assert_array_equal(layer.params["W"], weights_before)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nl.FullyConnectedLayer(True, 2), "n_inputs must be a positive integer, got True"),
        (lambda: nl.BatchNorm(True), "n_features must be a positive integer, got True"),
        (lambda: nl.BatchNorm(3, eps=float("nan")), "eps must be positive and finite, got nan"),
        (lambda: nl.BatchNorm(3, eps=float("inf")), "eps must be positive and finite, got inf"),
        (lambda: nl.BatchNorm(3, eps=10**400), r"eps must be positive and finite, got 10+\.\.\., inf as a float$"),
        (lambda: nl.LeakyReLU(-(10**400)), r"alpha must be in \[0, 1\), got -10+\.\.\., -inf as a float$"),
    ],
)
def test_layer_settings_reject_bool_and_nan(make, message):
    with pytest.raises(ValueError, match=message):
        make()
