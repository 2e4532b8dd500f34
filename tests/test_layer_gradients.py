"""Every layer's backward pass against central differences, in float64."""

import collections
import dataclasses
import threading

import numpy as np
import pytest

import netlite as nl

# A correct backward pass gives a relative error of about 1e-9 in float64
# with a step of 1e-6; 1e-6 leaves room for rounding, not for a bug.
TOLERANCE = 1e-6


def random_input(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


LAYER_CASES = [
    ("fully connected", lambda: nl.FullyConnectedLayer(5, 3), (4, 5)),
    ("fully connected batch 1", lambda: nl.FullyConnectedLayer(3, 2), (1, 3)),
    ("relu", lambda: nl.ReLU(), (3, 4, 4, 2)),
    ("leaky relu", lambda: nl.LeakyReLU(0.2), (5, 6)),
    ("sigmoid", lambda: nl.Sigmoid(), (4, 3)),
    ("tanh", lambda: nl.Tanh(), (4, 3)),
    ("softmax", lambda: nl.Softmax(), (4, 6)),
    ("flatten", lambda: nl.Flatten(), (2, 3, 3, 2)),
    ("batchnorm features training", lambda: nl.BatchNorm(4), (6, 4)),
    ("batchnorm images training", lambda: nl.BatchNorm(3), (2, 4, 5, 3)),
    ("batchnorm evaluation", lambda: nl.BatchNorm(4).eval(), (6, 4)),
    ("dropout training", lambda: nl.Dropout(0.4), (5, 7)),
    ("dropout evaluation", lambda: nl.Dropout(0.4).eval(), (5, 7)),
    ("convolution 5x5", lambda: nl.ConvolutionalLayer(5, 2, 3), (2, 7, 8, 2)),
    ("convolution 1x1", lambda: nl.ConvolutionalLayer(1, 3, 2), (1, 3, 3, 3)),
    ("convolution 3x3 one channel", lambda: nl.ConvolutionalLayer(3, 1, 1), (1, 5, 4, 1)),
    ("max pooling", lambda: nl.MaxPoolingLayer(), (2, 4, 6, 3)),
    ("max pooling odd size", lambda: nl.MaxPoolingLayer(), (1, 5, 5, 2)),
    ("average pooling", lambda: nl.AvgPoolingLayer(), (2, 4, 6, 3)),
    ("average pooling odd size", lambda: nl.AvgPoolingLayer(), (1, 5, 3, 2)),
    ("global average pooling", lambda: nl.GlobalAvgPoolingLayer(), (2, 3, 5, 4)),
]


@pytest.mark.parametrize("name, make_layer, shape", LAYER_CASES, ids=[case[0] for case in LAYER_CASES])
def test_layer_gradient(name, make_layer, shape):
    layer = make_layer()
    records = nl.gradient_check_details(layer, random_input(shape))
    for record in records:
        assert record.relative_error < TOLERANCE, f"{layer!r} {record}"
    expected_arrays = {"input"} | set(layer.params)
    assert {record.name for record in records} == expected_arrays


def test_layer_gradient_leaves_layer_unchanged():
    layer = nl.FullyConnectedLayer(3, 2)
    weights_before = layer.params["W"].copy()
    nl.gradient_check(layer, random_input((4, 3)))
    assert layer.params["W"].dtype == np.float32
    np.testing.assert_array_equal(layer.params["W"], weights_before)


def test_network_gradient_lenet_like():
    model = nl.NeuralNetwork(
        [
            nl.ConvolutionalLayer(3, 1, 2),
            nl.ReLU(),
            nl.AvgPoolingLayer(),
            nl.BatchNorm(2),
            nl.Flatten(),
            nl.FullyConnectedLayer(8, 3),
            nl.Tanh(),
            nl.FullyConnectedLayer(3, 2),
            nl.Softmax(),
        ]
    )
    error = nl.gradient_check(model, random_input((3, 6, 6, 1)))
    assert error < TOLERANCE


def test_gradient_check_detects_wrong_backward():
    class BrokenTanh(nl.Tanh):
        def backward(self, grad_output):
            Y = self._require_cache()
            return grad_output * (1 - Y)  # missing square

    error = nl.gradient_check(BrokenTanh(), random_input((3, 4)))
    assert error > 1e-2


def test_gradient_check_rejects_float32_forward():
    class Float32Tanh(nl.Tanh):
        def forward(self, X):
            return super().forward(X).astype(np.float32)

    with pytest.raises(TypeError, match=r"forward\(\) of Float32Tanh\(\) returned float32 for float64 input"):
        nl.gradient_check(Float32Tanh(), random_input((3, 4)))


def test_gradient_check_names_float32_layer_in_network():
    class Float32Cast(nl.Layer):
        def forward(self, X):
            return X.astype(np.float32)

        def backward(self, grad_output):
            return grad_output

        def __repr__(self):
            return "Float32Cast()"

    network = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 3), Float32Cast(), nl.FullyConnectedLayer(3, 2)])
    with pytest.raises(TypeError, match=r"forward\(\) of layer 1 \(Float32Cast\(\)\) returned float32 for float64"):
        nl.gradient_check(network, random_input((2, 3)))


def test_gradient_check_names_forward_without_return():
    class NoReturnTanh(nl.Tanh):
        def forward(self, X):
            super().forward(X)

    class NoReturnMse(nl.MseLoss):
        def forward(self, output, target):
            super().forward(output, target)

    with pytest.raises(TypeError, match=r"forward\(\) of NoReturnTanh\(\) returned None; end forward\(\) with 'return'"):
        nl.gradient_check(NoReturnTanh(), random_input((3, 4)))
    for layers in ([nl.FullyConnectedLayer(4, 4), NoReturnTanh()], [nl.FullyConnectedLayer(4, 4), NoReturnTanh(), nl.Tanh()]):
        with pytest.raises(TypeError, match=r"forward\(\) of layer 1 \(NoReturnTanh\(\)\) returned None"):
            nl.gradient_check(nl.NeuralNetwork(layers), random_input((3, 4)))
    with pytest.raises(TypeError, match=r"returned None; end forward\(\) with 'return' and the loss"):
        nl.gradient_check(NoReturnMse(), random_input((3, 2)), target=np.zeros((3, 2)))


def test_gradient_check_names_list_output():
    class ListTanh(nl.Tanh):
        def forward(self, X):
            return super().forward(X).tolist()

    with pytest.raises(TypeError, match=r"^gradient_check: forward\(\) of ListTanh\(\) returned a list; return its output as a numpy array"):
        nl.gradient_check(ListTanh(), random_input((3, 4)))
    network = nl.NeuralNetwork([nl.FullyConnectedLayer(4, 4), ListTanh(), nl.Tanh()])
    with pytest.raises(TypeError, match=r"forward\(\) of layer 1 \(ListTanh\(\)\) returned a list"):
        nl.gradient_check(network, random_input((3, 4)))


def test_gradient_check_names_missing_super_init():
    class NoInitTanh(nl.Tanh):
        def __init__(self):
            self.scale = 1.0  # no super().__init__()

    with pytest.raises(TypeError, match=r"^gradient_check: the NoInitTanh has no params, grads, buffers, training, .*call super\(\).__init__\(\)"):
        nl.gradient_check(NoInitTanh(), random_input((3, 4)))


def test_gradient_check_names_backward_without_return():
    class NoReturnBackwardTanh(nl.Tanh):
        def backward(self, grad_output):
            super().backward(grad_output)

    class NoReturnBackwardMse(nl.MseLoss):
        def backward(self):
            super().backward()

    with pytest.raises(TypeError, match=r"backward\(\) of NoReturnBackwardTanh\(\) returned None; end backward\(\) with"):
        nl.gradient_check(NoReturnBackwardTanh(), random_input((3, 4)))
    network = nl.NeuralNetwork([NoReturnBackwardTanh(), nl.FullyConnectedLayer(4, 2)])
    with pytest.raises(TypeError, match=r"backward\(\) of layer 0 \(NoReturnBackwardTanh\(\)\) returned None"):
        nl.gradient_check(network, random_input((3, 4)))
    with pytest.raises(TypeError, match=r"backward\(\) of NoReturnBackwardMse\(\) returned None; .* network's output"):
        nl.gradient_check(NoReturnBackwardMse(), random_input((3, 2)), target=np.zeros((3, 2)))


def test_gradient_check_rejects_float32_loss():
    class Float32Mse(nl.MseLoss):
        def forward(self, output, target):
            return np.float32(super().forward(output, target))

    with pytest.raises(TypeError, match=r"returned float32 for float64 output"):
        nl.gradient_check(Float32Mse(), random_input((3, 2)), target=np.zeros((3, 2)))


def test_gradient_check_verbose_names_arrays(capsys):
    nl.gradient_check(nl.FullyConnectedLayer(2, 2), random_input((3, 2)), verbose=True)
    printed = capsys.readouterr().out
    assert "FullyConnectedLayer(2 -> 2)" in printed
    assert "input: relative error" in printed
    assert "W: relative error" in printed
    assert "b: relative error" in printed
    assert "sampled" not in printed  # every element compared


def test_gradient_check_verbose_says_when_it_samples(capsys):
    nl.gradient_check(nl.FullyConnectedLayer(6, 5), random_input((3, 6)), max_checks=10, verbose=True)
    printed = capsys.readouterr().out
    assert "W: relative error" in printed
    assert "; 10 of 30 elements sampled" in printed
    assert "5 elements sampled" not in printed  # b has 5 elements, all compared


def test_gradient_check_fails_on_nan_gradient():
    class NanTanh(nl.Tanh):
        def backward(self, grad_output):
            Y = self._require_cache()
            return grad_output * np.where(np.abs(Y) > 0.5, np.nan, 1 - Y * Y)

    X = random_input((4, 5), seed=3)
    assert np.any(np.abs(np.tanh(X)) > 0.5)
    assert nl.gradient_check(NanTanh(), X) == np.inf


def test_gradient_check_fails_on_nan_parameter_gradient():
    class NanWeights(nl.FullyConnectedLayer):
        def backward(self, grad_output):
            grad_input = super().backward(grad_output)
            self.grads["W"] = self.grads["W"] * np.nan
            return grad_input

    assert nl.gradient_check(NanWeights(3, 2), random_input((4, 3))) == np.inf


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"X": np.zeros((0, 3))}, "expected a non-empty input"),
        ({"X": np.array([[0.0, 1.0, 2.0], [3.0, np.nan, 4.0]])}, r"the input contains nan at index \(1, 1\); a numerical"),
        ({"X": np.array([[0.0, np.inf, 2.0]])}, r"the input contains inf at index \(0, 1\)"),
        ({"step": 0}, "step must be positive"),
        ({"max_checks": 0}, "max_checks must be a positive integer"),
    ],
)
def test_gradient_check_rejects_bad_arguments(arguments, message):
    call = {"X": random_input((2, 3)), **arguments}
    with pytest.raises(ValueError, match=message):
        nl.gradient_check(nl.FullyConnectedLayer(3, 2), **call)


def test_gradient_check_rejects_nan_target():
    with pytest.raises(ValueError, match=r"the loss is nan for a target that contains nan at index \(2, 1\)"):
        nl.gradient_check(nl.MseLoss(), np.ones((3, 2)), [[0.0, 1.0], [2.0, 3.0], [4.0, np.nan]])


def test_gradient_check_names_nan_scalar_target():
    class DistanceToTarget(nl.Loss):
        """The mean squared distance of the outputs to one number."""

        def forward(self, output, target):
            self.cache = (output, target)
            return float(np.mean((output - target) ** 2))

        def backward(self):
            output, target = self.cache
            return 2 * (output - target) / output.size

    with pytest.raises(ValueError, match=r"the loss is nan for a target that contains nan; check with finite"):
        nl.gradient_check(DistanceToTarget(), np.ones((2, 2)), float("nan"))


def test_gradient_check_names_none_in_list_target():
    class FloatTargetMse(nl.MseLoss):
        """MseLoss on targets converted to floats, so that None becomes NaN."""

        def forward(self, output, target):
            return super().forward(output, np.asarray(target, dtype=np.float64))

    with pytest.raises(ValueError, match=r"the loss is nan for a target that contains None at index \(1, 0\)"):
        nl.gradient_check(FloatTargetMse(), np.ones((2, 2)), [[0.0, 1.0], [None, 0.0]])


def test_gradient_check_huge_integer_target():
    class SumOfSquares(nl.Loss):
        """A loss that does not read its target."""

        def forward(self, output, target):
            self.cache = output
            return float(np.sum(output**2))

        def backward(self):
            return 2 * self.cache

    target = np.array([[10**400, 1], [0, 2]], dtype=object)  # too large for a float
    assert nl.gradient_check(SumOfSquares(), np.ones((2, 2)), target) < 1e-6


def test_gradient_check_names_per_sample_loss(per_sample_loss):
    with pytest.raises(TypeError, match=r"returned an array of shape \(4,\); a loss returns one number"):
        nl.gradient_check(per_sample_loss, np.ones((4, 3)), np.zeros((4, 3)))


def test_gradient_check_loss_skipping_nan():
    class MaskedMse(nl.Loss):
        """Mean squared error over the targets that are not NaN (missing values)."""

        def forward(self, output, target):
            known = ~np.isnan(target)
            self.cache = (output, np.nan_to_num(target), known)
            return float(((output - np.nan_to_num(target)) ** 2 * known).sum() / known.sum())

        def backward(self):
            output, target, known = self.cache
            return 2 * (output - target) * known / known.sum()

    X = np.random.default_rng(0).standard_normal((4, 3))
    target = np.ones((4, 3))
    target[0, 0] = np.nan
    assert nl.gradient_check(MaskedMse(), X, target) < 1e-6


def test_gradient_check_bias_before_batchnorm():
    """BatchNorm removes the bias's effect, so its true gradient is 0 and both sides are rounding noise."""
    nl.seed(0)
    network = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 4), nl.BatchNorm(4), nl.FullyConnectedLayer(4, 2)])
    records = {record.name: record for record in nl.gradient_check_details(network, random_input((5, 3)))}
    bias = records["layer 0 (FullyConnectedLayer(3 -> 4)) b"]
    assert abs(bias.numerical) < 1e-8
    assert bias.relative_error == 0.0
    assert max(record.relative_error for record in records.values()) < 1e-6


def test_gradient_check_still_fails_small_wrong_gradient():
    class HalfGradientSquare(nl.Layer):
        def forward(self, X):
            self.cache = X
            return 1e-3 * X**2

        def backward(self, grad_output):
            return grad_output * 1e-3 * self.cache  # half of the derivative 2e-3 * X

    assert nl.gradient_check(HalfGradientSquare(), random_input((3, 4))) > 0.1


def test_check_in_place_backward_bug():
    class ZeroingReLU(nl.ReLU):
        def backward(self, grad_output):
            Y = self._require_cache()
            grad_output[Y >= 0] = 0  # wrong: zeroes every entry, and changes the argument in place
            return grad_output

    error = nl.gradient_check(ZeroingReLU(), random_input((4, 5)))
    assert error > 1e-2


def test_gradient_check_accepts_correct_in_place_backward():
    class InPlaceTanh(nl.Tanh):
        def backward(self, grad_output):
            Y = self._require_cache()
            grad_output *= 1 - Y * Y
            return grad_output

    assert nl.gradient_check(InPlaceTanh(), random_input((4, 5))) < TOLERANCE


def test_gradient_check_rejects_gradients_that_add_up():
    class AddingDense(nl.FullyConnectedLayer):
        def backward(self, grad_output):
            X = self._require_cache()
            self.grads["W"] += X.T @ grad_output
            self.grads["b"] += grad_output.sum(axis=0)
            return grad_output @ self.params["W"].T

    with pytest.raises(ValueError, match=r"gradient for 'W' changed between two identical .* \(not add to it with \+=\)"):
        nl.gradient_check(AddingDense(3, 2), random_input((4, 3)))


def test_gradient_check_rejects_empty_network():
    with pytest.raises(ValueError, match="gradient_check: the network has no layers"):
        nl.gradient_check(nl.NeuralNetwork([]), random_input((2, 3)))


def test_gradient_check_rejects_backward_that_writes_into_weights():
    class WritingDense(nl.FullyConnectedLayer):
        def backward(self, grad_output):
            X = self._require_cache()
            self.grads["W"] = self.params["W"]  # the same array, so the next line overwrites the weights
            self.grads["W"][...] = X.T @ grad_output
            self.grads["b"] = grad_output.sum(axis=0)
            return grad_output @ self.params["W"].T

    with pytest.raises(ValueError, match=r"changed the parameter 'W'; only the optimizer may change parameters"):
        nl.gradient_check(WritingDense(3, 2), random_input((4, 3)))


def test_gradient_check_rejects_backward_that_zeroes_its_input():
    class ZeroingTanh(nl.Tanh):
        def forward(self, X):
            self.input = self._check_input(X, None)
            return super().forward(X)

        def backward(self, grad_output):
            self.input *= 0  # the caller's data
            return super().backward(grad_output)

    with pytest.raises(ValueError, match=r"changed the input X in place; change a copy"):
        nl.gradient_check(ZeroingTanh(), random_input((4, 3)))


def test_gradient_check_names_random_forward_without_self_rng():
    class OwnDropout(nl.Layer):
        def __init__(self):
            super().__init__()
            self.generator = np.random.default_rng(0)  # not self.rng, so the check cannot rewind it

        def forward(self, X):
            self.cache = self.generator.random(np.shape(X)) > 0.5
            return X * self.cache

        def backward(self, grad_output):
            return grad_output * self.cache

    with pytest.raises(ValueError, match=r"forward\(\) gave another result for the same input.*self.rng"):
        nl.gradient_check(OwnDropout(), random_input((6, 5)))


def test_check_input_gradient_with_state():
    class CountingTanh(nl.Tanh):
        calls = 0

        def backward(self, grad_output):
            self.calls += 1
            return super().backward(grad_output) * self.calls

    with pytest.raises(ValueError, match=r"gradient for 'input' changed .* depends only on the last forward\(\) call"):
        nl.gradient_check(CountingTanh(), random_input((4, 3)))


def test_gradient_check_accepts_parameters_created_in_first_forward():
    class LazyDense(nl.Layer):
        def forward(self, X):
            if "W" not in self.params:  # sized from the first input
                self.params["W"] = np.random.default_rng(0).standard_normal((X.shape[1], 2))
                self.grads["W"] = np.zeros_like(self.params["W"])
            self.cache = X
            return X @ self.params["W"]

        def backward(self, grad_output):
            self.grads["W"] = self.cache.T @ grad_output
            return grad_output @ self.params["W"].T

    assert nl.gradient_check(LazyDense(), random_input((4, 5))) < TOLERANCE


def test_gradient_check_rejects_loss_gradient_that_adds_up():
    class AddingMse(nl.MseLoss):
        def backward(self):
            gradient = super().backward()
            self.total = getattr(self, "total", 0) + gradient
            return self.total

    with pytest.raises(ValueError, match=r"gradient for 'output' changed .* depends only on the last forward\(\) call"):
        nl.gradient_check(AddingMse(), random_input((4, 3)), target=random_input((4, 3), seed=1))


def test_gradient_check_rejects_loss_that_changes_the_output():
    class InPlaceMse(nl.MseLoss):
        def forward(self, output, target):
            output *= 1.5  # changes the caller's array
            return super().forward(output, target)

    with pytest.raises(ValueError, match=r"changed the network's output in place; compute with new arrays"):
        nl.gradient_check(InPlaceMse(), random_input((4, 3)), target=random_input((4, 3), seed=1))


def test_check_forward_masking_weights():
    class MaskingDense(nl.FullyConnectedLayer):
        def __init__(self, n_inputs, n_outputs):
            super().__init__(n_inputs, n_outputs)
            self.rng = np.random.default_rng(3)  # rewound by the check, so every pass draws the same mask

        def forward(self, X):
            self.mask = self.rng.random(self.params["W"].shape) >= 0.5
            self.params["W"] *= self.mask  # wrong: zeroes the weights for good
            return super().forward(X)

    # The first forward() may set parameters, but it draws another mask than the rewound later passes,
    # so those change W again.
    with pytest.raises(ValueError, match=r"changed the parameter 'W'"):
        nl.gradient_check(MaskingDense(6, 3), random_input((4, 6)))


def test_gradient_check_names_random_loss():
    class NoisyMse(nl.MseLoss):
        rng = np.random.default_rng(0)

        def forward(self, output, target):
            return super().forward(output, target + 0.01 * self.rng.standard_normal(np.shape(target)))

    with pytest.raises(ValueError, match=r"the loss gave another value for the same output and target"):
        nl.gradient_check(NoisyMse(), random_input((4, 3)), target=random_input((4, 3), seed=1))


def test_gradient_check_rejects_loss_that_changes_the_target():
    class ClippingMse(nl.MseLoss):
        def forward(self, output, target):
            np.clip(target, -0.5, 0.5, out=target)  # the caller's labels
            return super().forward(output, target)

    target = random_input((4, 3), seed=1)
    target_before = target.copy()
    with pytest.raises(ValueError, match=r"changed the target in place"):
        nl.gradient_check(ClippingMse(), random_input((4, 3)), target=target)
    np.testing.assert_array_equal(target, target_before)  # the loss got a copy


class ActNorm(nl.Layer):
    """A scale and shift that the first batch sets, so that its output has mean 0 and variance 1."""

    def __init__(self, n_features):
        super().__init__()
        self.params["scale"], self.params["shift"] = np.ones(n_features), np.zeros(n_features)
        self.grads["scale"], self.grads["shift"] = np.zeros(n_features), np.zeros(n_features)
        self.initialised = False

    def forward(self, X):
        if not self.initialised:
            self.params["scale"][...] = 1 / X.std(axis=0)
            self.params["shift"][...] = -X.mean(axis=0) * self.params["scale"]
            self.initialised = True
        self.cache = X
        return X * self.params["scale"] + self.params["shift"]

    def backward(self, grad_output):
        self.grads["scale"] = (grad_output * self.cache).sum(axis=0)
        self.grads["shift"] = grad_output.sum(axis=0)
        return grad_output * self.params["scale"]


def test_gradient_check_accepts_parameters_set_by_first_batch():
    assert nl.gradient_check(ActNorm(6), random_input((8, 6))) < TOLERANCE


def test_check_lazy_float32_layer():
    class LazyDropDense(nl.Layer):
        def forward(self, X):
            if "W" not in self.params:  # float32, as the layers' default, and a generator of its own
                self.params["W"] = np.random.default_rng(0).standard_normal((X.shape[1], 2)).astype(np.float32)
                self.grads["W"] = np.zeros_like(self.params["W"])
                self.rng = np.random.default_rng(5)
            self.mask = self.rng.random(X.shape) >= 0.5
            self.cache = X * self.mask
            return self.cache @ self.params["W"]

        def backward(self, grad_output):
            self.grads["W"] = self.cache.T @ grad_output
            return (grad_output @ self.params["W"].T) * self.mask

    assert nl.gradient_check(LazyDropDense(), random_input((6, 4))) < TOLERANCE


@pytest.mark.parametrize("labels", [["a", "c", "b", "a"], np.array(["a", "c", "b", "a"])])
def test_gradient_check_accepts_loss_with_string_labels(labels):
    class NamedCrossEntropy(nl.CrossEntropyLoss):
        def forward(self, output, target):
            return super().forward(output, np.searchsorted(["a", "b", "c"], target))

    assert nl.gradient_check(NamedCrossEntropy(), random_input((4, 3)), target=labels) < TOLERANCE


def test_gradient_check_accepts_loss_with_tuple_target():
    class WeightedMse(nl.MseLoss):
        def forward(self, output, target):
            values, self.weights = target  # a tuple: the targets and one weight per sample
            return super().forward(output * self.weights[:, None], values * self.weights[:, None])

        def backward(self):
            return super().backward() * self.weights[:, None]

    target = (random_input((4, 3), seed=1), np.array([1.0, 2.0, 0.5, 1.0]))
    assert nl.gradient_check(WeightedMse(), random_input((4, 3)), target=target) < TOLERANCE


@pytest.mark.parametrize("as_list", [False, True])
def test_check_loss_changing_tuple_target(as_list):
    class ReweightingMse(nl.MseLoss):
        def forward(self, output, target):
            values, weights = target
            weights[0] = 5.0  # changes the caller's weights
            return super().forward(output, values)

    weights = np.array([1.0, 2.0, 0.5, 1.0])
    target = [random_input((4, 3), seed=1), weights] if as_list else (random_input((4, 3), seed=1), weights)
    with pytest.raises(ValueError, match=r"changed the target in place"):
        nl.gradient_check(ReweightingMse(), random_input((4, 3)), target=target)
    np.testing.assert_array_equal(weights, [1.0, 2.0, 0.5, 1.0])


def test_check_layer_with_weight_view():
    class ViewDense(nl.FullyConnectedLayer):
        def forward(self, X):
            if not hasattr(self, "W_rows"):
                self.W_rows = self.params["W"].reshape(-1)  # a view, which in-place updates keep current
            self.cache = X
            return X @ self.W_rows.reshape(self.n_inputs, self.n_outputs) + self.params["b"]

    assert nl.gradient_check(ViewDense(3, 2), random_input((4, 3))) < TOLERANCE


def test_check_uncopyable_loss_target():
    class FirstPartMse(nl.MseLoss):
        def forward(self, output, target):
            return super().forward(output, target[0])

    target = (random_input((4, 3), seed=1), threading.Lock())
    assert nl.gradient_check(FirstPartMse(), random_input((4, 3)), target=target) < TOLERANCE


def test_check_protects_array_beside_lock():
    class ShiftingMse(nl.MseLoss):
        def forward(self, output, target):
            target[0][0, 0] += 1  # changes the array in the caller's tuple
            return super().forward(output, target[0])

    values = random_input((4, 3), seed=1)
    values_before = values.copy()
    with pytest.raises(ValueError, match=r"changed the target in place"):
        nl.gradient_check(ShiftingMse(), random_input((4, 3)), target=(values, threading.Lock()))
    np.testing.assert_array_equal(values, values_before)


def test_gradient_check_rejects_generator_target():
    with pytest.raises(TypeError, match=r"the target is an iterator \(generator\).*pass it as a list or an array"):
        nl.gradient_check(nl.MseLoss(), random_input((4, 3)), target=(row for row in random_input((4, 3), seed=1)))


Pair = collections.namedtuple("Pair", "values lock")


@dataclasses.dataclass
class LockedValues:
    values: np.ndarray
    lock: object

    def __getitem__(self, key):
        return self.values if key in (0, "values") else self.lock


@dataclasses.dataclass(frozen=True)
class FrozenLockedValues:
    values: np.ndarray
    lock: object

    __getitem__ = LockedValues.__getitem__


class SlottedLockedValues:
    __slots__ = ("values", "lock")

    def __init__(self, values, lock):
        self.values, self.lock = values, lock

    __getitem__ = LockedValues.__getitem__


class PrivateLockedValues:
    __slots__ = ("__values", "lock")

    def __init__(self, values, lock):
        self.__values, self.lock = values, lock

    def __getitem__(self, key):
        return self.__values if key in (0, "values") else self.lock


@pytest.mark.parametrize(
    "make_target",
    [
        lambda values: Pair(values, threading.Lock()),
        lambda values: {"values": values, "lock": threading.Lock()},
        lambda values: collections.defaultdict(list, values=values, lock=threading.Lock()),
        lambda values: LockedValues(values, threading.Lock()),
        lambda values: FrozenLockedValues(values, threading.Lock()),
        lambda values: SlottedLockedValues(values, threading.Lock()),
        lambda values: PrivateLockedValues(values, threading.Lock()),
    ],
)
def test_gradient_check_copies_named_tuple_and_dict_targets(make_target):
    class ValuesMse(nl.MseLoss):
        def forward(self, output, target):
            return super().forward(output, target[0] if isinstance(target, tuple) else target["values"])

    class ShiftingValuesMse(ValuesMse):
        def forward(self, output, target):
            (target[0] if isinstance(target, tuple) else target["values"])[0, 0] += 1
            return super().forward(output, target)

    values = random_input((4, 3), seed=1)
    values_before = values.copy()
    assert nl.gradient_check(ValuesMse(), random_input((4, 3)), target=make_target(values)) < TOLERANCE
    with pytest.raises(ValueError, match=r"changed the target in place"):
        nl.gradient_check(ShiftingValuesMse(), random_input((4, 3)), target=make_target(values))
    np.testing.assert_array_equal(values, values_before)
