"""Optimizers against PyTorch's trajectories and against values worked out by hand."""

import copy
import json
import pickle
import re
import warnings
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import netlite as nl

REFERENCE = json.loads((Path(__file__).parent / "reference" / "optimizer_reference.json").read_text())


class ScriptedGradient(nl.Layer):
    """An identity layer with one parameter whose gradients are given in advance.

    It lets a test drive ``optimizer.step`` through the real forward,
    backward and update path while choosing the gradient of every step.
    """

    def __init__(self, start, gradients):
        super().__init__()
        self.params["p"] = np.array(start, dtype=np.float64)
        self.grads["p"] = np.zeros_like(self.params["p"])
        self.gradients = iter(gradients)

    def forward(self, X):
        self.cache = X
        return X

    def backward(self, grad_output):
        self.grads["p"] = np.array(next(self.gradients), dtype=np.float64)
        return grad_output


def run_steps(optimizer, start, gradients):
    layer = ScriptedGradient(start, gradients)
    model = nl.NeuralNetwork([layer])
    X = np.zeros((2, 1))
    trajectory = []
    for _ in gradients:
        optimizer.step(model, X, X)
        trajectory.append(layer.params["p"].copy())
    return trajectory


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=[f"{c['optimizer']}-{i}" for i, c in enumerate(REFERENCE["cases"])])
def test_optimizer_matches_pytorch(case):
    optimizer_class = getattr(nl, case["optimizer"])
    optimizer = optimizer_class(nl.MseLoss(), **case["settings"])
    trajectory = run_steps(optimizer, case["start"], case["gradients"])
    for step, (actual, expected) in enumerate(zip(trajectory, case["expected"]), start=1):
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-14, err_msg=f"after step {step}")


def test_sgd_step_by_hand():
    optimizer = nl.OptimizerSGD(nl.MseLoss(), learning_rate=0.5)
    (after,) = run_steps(optimizer, [1.0, -2.0], [[0.2, -4.0]])
    np.testing.assert_allclose(after, [1.0 - 0.1, -2.0 + 2.0])


def test_momentum_two_steps_by_hand():
    optimizer = nl.OptimizerMomentum(nl.MseLoss(), learning_rate=0.1, beta=0.9)
    first, second = run_steps(optimizer, [0.0], [[1.0], [1.0]])
    # v1 = 1, p1 = -0.1; v2 = 0.9 * 1 + 1 = 1.9, p2 = -0.1 - 0.19
    np.testing.assert_allclose(first, [-0.1])
    np.testing.assert_allclose(second, [-0.29])


def test_adam_first_step_is_learning_rate_times_sign():
    # After bias correction m_hat = g and v_hat = g**2 in step 1, so every
    # parameter moves by lr * g / (|g| + eps), whatever the gradient's size.
    optimizer = nl.OptimizerADAM(nl.MseLoss(), learning_rate=0.01, eps=1e-12)
    (after,) = run_steps(optimizer, [1.0, 1.0, 1.0], [[1e-4, -3.0, 250.0]])
    np.testing.assert_allclose(after, [0.99, 1.01, 0.99], rtol=1e-9)


def test_adam_keeps_float32_parameters():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 2), nl.Softmax()])
    optimizer = nl.OptimizerADAM(nl.CrossEntropyLoss(), 0.01)
    optimizer.step(model, np.ones((4, 3), dtype=np.float32), np.array([0, 1, 0, 1]))
    assert model.layers[0].params["W"].dtype == np.float32


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nl.OptimizerSGD(nl.MseLoss(), learning_rate=0), "learning_rate must be positive and finite, got 0"),
        (lambda: nl.OptimizerSGD(nl.MseLoss(), learning_rate=-1.0), "got -1.0"),
        (lambda: nl.OptimizerMomentum(nl.MseLoss(), 0.1, beta=1.0), "beta must be in \\[0, 1\\), got 1.0"),
        (lambda: nl.OptimizerADAM(nl.MseLoss(), 0.1, beta2=1.5), "beta2 must be in \\[0, 1\\), got 1.5"),
        (lambda: nl.OptimizerADAM(nl.MseLoss(), 0.1, eps=0), "eps must be positive and finite, got 0"),
        (lambda: nl.OptimizerADAM(nl.MseLoss(), 0.1, eps=float("inf")), "eps must be positive and finite, got inf"),
        (lambda: nl.OptimizerMomentum(nl.MseLoss(), 0.1, beta=Fraction(10**20 - 1, 10**20)), r"beta must be in \[0, 1\), got Fraction\(9.*\.\.\., 1.0 as a float$"),
        (lambda: nl.OptimizerADAM(nl.MseLoss(), 0.1, beta1=Fraction(10**20 - 1, 10**20)), r"beta1 must be in \[0, 1\), got .*1.0 as a float$"),
        (lambda: nl.OptimizerSGD(nl.MseLoss(), Fraction(1, 10**400)), r"learning_rate must be positive and finite, got .*0.0 as a float$"),
        (lambda: nl.OptimizerADAM(nl.MseLoss(), 0.1, eps=np.longdouble("1e400")), r"eps must be positive and finite, got .*inf as a float$"),
        (lambda: nl.OptimizerSGD(nl.MseLoss(), 10**400), r"learning_rate must be positive and finite, got 1000000.*\.\.\., inf as a float$"),
        (lambda: nl.OptimizerSGD(nl.MseLoss(), 10**5000), r"learning_rate must be positive and finite, got an int of 16,610 bits, inf as a float$"),
        (lambda: nl.OptimizerADAM(nl.MseLoss(), 0.1, beta1=-(10**400)), r"beta1 must be in \[0, 1\), got -1000000.*\.\.\., -inf as a float$"),
        # The float equals the value as given, so the message shows the value once.
        (lambda: nl.OptimizerMomentum(nl.MseLoss(), 0.1, beta=np.float64(1.5)), r"beta must be in \[0, 1\), got np.float64\(1.5\)$"),
        (lambda: nl.OptimizerADAM(nl.MseLoss(), 0.1, beta2=Fraction(3, 2)), r"beta2 must be in \[0, 1\), got Fraction\(3, 2\)$"),
    ],
)
def test_optimizer_rejects_bad_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_optimizer_rejects_non_loss():
    with pytest.raises(TypeError, match="loss_func must be a loss such as nl.CrossEntropyLoss\\(\\), got type; did you forget the parentheses"):
        nl.OptimizerSGD(nl.MseLoss, 0.1)


def test_step_returns_summed_loss_and_correct_count():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 3)])
    optimizer = nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1)
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    y = np.array([0, 1, 2, 0])
    logits = model.forward(X)
    expected_mean = nl.CrossEntropyLoss()(logits, y)
    expected_correct = int(np.sum(logits.argmax(axis=1) == y))

    loss, metrics = optimizer.step(model, X, y, forward_only=True)

    assert loss == pytest.approx(4 * expected_mean, rel=1e-6)
    assert metrics["n_correct"] == expected_correct


def test_forward_only_changes_nothing_and_uses_evaluation_mode():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(4, 4), nl.Dropout(0.5), nl.FullyConnectedLayer(4, 2)])
    optimizer = nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1)
    X = np.ones((3, 4), dtype=np.float32)
    y = np.array([0, 1, 1])
    weights_before = [layer.params["W"].copy() for layer in (model[0], model[2])]

    first, _ = optimizer.step(model, X, y, forward_only=True)
    second, _ = optimizer.step(model, X, y, forward_only=True)

    assert first == second  # no dropout noise in evaluation mode
    for layer, before in zip((model[0], model[2]), weights_before):
        np.testing.assert_array_equal(layer.params["W"], before)
    assert model.is_training  # the previous mode is restored


def test_step_skips_final_softmax_for_cross_entropy():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 4), nl.Softmax()])
    optimizer = nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1)
    X = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 0])
    logits = model.layers[0].forward(X)
    loss, _ = optimizer.step(model, X, y, forward_only=True)
    assert loss == pytest.approx(5 * nl.CrossEntropyLoss()(logits, y), rel=1e-6)


def test_step_length_mismatch():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 1)])
    with pytest.raises(ValueError, match="got 4 inputs and 3 targets"):
        nl.OptimizerSGD(nl.MseLoss(), 0.1).step(model, np.zeros((4, 2)), np.zeros((3, 1)))


@pytest.mark.parametrize(
    "X, y, got",
    [
        (np.zeros((3, 2)), None, "y with one entry per sample along its first axis, got None"),
        (np.zeros((3, 2)), 1, "y with one entry per sample along its first axis, got 1 of type int"),
        (np.zeros((3, 2)), np.array(1.0), "y with one entry per sample along its first axis, got a 0-d array"),
        (np.zeros((3, 2)), iter([0, 1, 0]), "y with one entry per sample along its first axis, got list_iterator"),
        (None, np.zeros((3, 1)), "X with one entry per sample along its first axis, got None"),
    ],
    ids=["None", "number", "0-d array", "iterator", "no inputs"],
)
def test_step_names_unbatched_argument(X, y, got):
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 1)])
    with pytest.raises(TypeError, match=rf"^OptimizerSGD.step: expected {got}; call step\(model, X, y\)"):
        nl.OptimizerSGD(nl.MseLoss(), 0.1).step(model, X, y)


def test_optimizer_settings_become_floats():
    optimizer = nl.OptimizerADAM(nl.MseLoss(), Fraction(1, 100), beta1=Fraction(9, 10))
    assert type(optimizer.learning_rate) is float
    assert type(optimizer.beta1) is float
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 2)])
    nl.OptimizerMomentum(nl.MseLoss(), Fraction(1, 10)).step(model, np.ones((2, 3)), np.zeros((2, 2)))
    assert model.layers[0].params["W"].dtype == np.float32
    assert str(nl.OptimizerMomentum(nl.MseLoss(), 0.1, beta=-0.0).beta) == "0.0"
    # Decimal and 0-d arrays are numbers too, as the layers' settings take them.
    adam = nl.OptimizerADAM(nl.MseLoss(), Decimal("0.001"), beta2=np.array(0.99), eps=np.float32(1e-7))
    assert (adam.learning_rate, adam.beta2, adam.eps) == (0.001, 0.99, float(np.float32(1e-7)))
    assert all(type(value) is float for value in (adam.learning_rate, adam.beta2, adam.eps))
    with pytest.raises(TypeError, match=r"^OptimizerSGD: learning_rate must be a number, got np.timedelta64\(1\)"):
        nl.OptimizerSGD(nl.MseLoss(), np.timedelta64(1))


def test_step_names_swapped_model_argument():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 2)])
    with pytest.raises(TypeError, match=r"OptimizerSGD.step: model must be a nl.NeuralNetwork, got ndarray; call step\(model, X, y\)"):
        nl.OptimizerSGD(nl.MseLoss(), 0.1).step(np.zeros((2, 2)), model, np.zeros((2, 2)))


def test_optimizer_rejects_takes_logits_method():
    class MethodLoss(nl.CrossEntropyLoss):
        def takes_logits(self):
            return True

    with pytest.raises(TypeError, match=r"OptimizerSGD: MethodLoss.takes_logits must be True or False, got method"):
        nl.OptimizerSGD(MethodLoss(), 0.1)


def test_optimizer_names_instance_takes_logits():
    loss = nl.CrossEntropyLoss()
    loss.takes_logits = "yes"
    with pytest.raises(TypeError, match=r"got str; it was set on this loss object; remove that assignment, or assign True or False"):
        nl.OptimizerSGD(loss, 0.1)


def test_optimizer_rejects_takes_logits_of_two():
    class TwoLoss(nl.MseLoss):
        takes_logits = 2

    with pytest.raises(TypeError, match=r"TwoLoss.takes_logits must be True or False, got 2 of type int; set it to True or False in the class body of TwoLoss"):
        nl.OptimizerADAM(TwoLoss(), 0.1)


def test_step_names_loss_without_return():
    class NoReturn(nl.MseLoss):
        def forward(self, output, target):
            super().forward(output, target)

    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 3)])
    with pytest.raises(TypeError, match=r"step: forward\(\) of NoReturn\(\) returned None; end forward\(\) with 'return' and the loss"):
        nl.OptimizerSGD(NoReturn(), 0.1).step(model, np.ones((4, 3)), np.zeros((4, 3)))


class TwoLineRepr:
    def __repr__(self):
        return "first\nsecond"


class FailingRepr:
    def __repr__(self):
        raise RuntimeError("no repr")


@pytest.mark.parametrize(
    "returned, described",
    [
        (lambda value, grad: (value, grad), "a tuple of 2 items"),
        (lambda value, grad: [value, [value, value]], "a list of 2 items"),
        (lambda value, grad: "1.5", "str '1.5'"),
        (lambda value, grad: complex(1, 2), r"complex \(1\+2j\)"),
        (lambda value, grad: True, "bool True"),
        (lambda value, grad: [value], "a list of 1 item"),
        (lambda value, grad: bytearray(b"1.5"), r"bytearray bytearray\(b'1.5'\)"),
        (lambda value, grad: np.array(None, dtype=object), "a 0-d array holding NoneType None"),
        (lambda value, grad: np.array(True), r"a 0-d array holding bool np.True_"),
        (lambda value, grad: TwoLineRepr(), "TwoLineRepr first second"),
        (lambda value, grad: FailingRepr(), r"FailingRepr \(whose repr\(\) failed\)"),
        (lambda value, grad: "x" * 100, "str 'x{36}\\.\\.\\."),
        (lambda value, grad: np.ma.masked, "an array of shape \\(\\)"),
    ],
    ids=["value and gradient", "ragged list", "text", "complex", "bool", "one-item list", "bytearray", "None in an array",
         "bool in an array", "line break", "failing repr", "long text", "masked"],
)
def test_step_names_non_number_loss(returned, described):
    class OddLoss(nl.MseLoss):
        def forward(self, output, target):
            value = super().forward(output, target)
            return returned(value, self.backward())

    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 3)])
    optimizer = nl.OptimizerSGD(OddLoss(), 0.1)
    for forward_only in (False, True):
        with pytest.raises(TypeError, match=rf"OddLoss\(\) returned {described}; a loss returns one real number"):
            optimizer.step(model, np.ones((6, 3)), np.zeros((6, 3)), forward_only=forward_only)


def test_step_accepts_numpy_scalar_losses():
    for convert in (np.float32, np.float64, np.asarray, float, Fraction, Decimal):

        class ConvertedMse(nl.MseLoss):
            def forward(self, output, target, _convert=convert):
                return _convert(super().forward(output, target))

        model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 3)])
        loss, _ = nl.OptimizerSGD(ConvertedMse(), 0.1).step(model, np.ones((6, 3)), np.zeros((6, 3)))
        assert type(loss) is float
        assert loss > 0


def test_step_warns_on_huge_loss():
    class HugeLoss(nl.MseLoss):
        def forward(self, output, target):
            super().forward(output, target)
            return 10**400

    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 3)])
    with pytest.warns(RuntimeWarning, match="loss"):
        loss, _ = nl.OptimizerSGD(HugeLoss(), 0.1).step(model, np.ones((6, 3)), np.zeros((6, 3)))
    assert loss == np.inf


def test_step_sums_float16_loss():
    class HalfMse(nl.MseLoss):
        def forward(self, output, target):
            return np.float16(super().forward(output, target))

    model = nl.NeuralNetwork([nl.FullyConnectedLayer(1, 1)])
    model.layers[0].params["W"][...] = 0
    X, y = np.ones((64, 1), dtype=np.float32), np.full((64, 1), 100.0, dtype=np.float32)
    loss, _ = nl.OptimizerSGD(HalfMse(), 1e-6).step(model, X, y)
    assert loss == pytest.approx(10_000 * 64, rel=1e-3)  # float16 would overflow above 65504


def test_step_names_per_sample_loss(per_sample_loss):
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 3)])
    optimizer = nl.OptimizerSGD(per_sample_loss, 0.1)
    for forward_only in (False, True):
        with pytest.raises(TypeError, match=r"step: forward\(\) of .* returned an array of shape \(4,\); a loss returns one real"):
            optimizer.step(model, np.ones((4, 3)), np.zeros((4, 3)), forward_only=forward_only)


def test_adam_reused_optimizer_new_parameter():
    optimizer = nl.OptimizerADAM(nl.MseLoss(), learning_rate=0.01, eps=1e-12)
    run_steps(optimizer, [0.0], [[1.0]] * 5)
    (after,) = run_steps(optimizer, [1.0, 1.0], [[2.0, -2.0]])
    # A first step of a new parameter moves it by lr * sign(g), as in a fresh optimizer.
    np.testing.assert_allclose(after, [0.99, 1.01], rtol=1e-9)


@pytest.mark.parametrize("make_optimizer", [nl.OptimizerMomentum, nl.OptimizerADAM])
def test_reused_optimizer_on_new_models_starts_afresh(make_optimizer):
    """A new model gets fresh state, even when Python gives its layers the ids of freed ones."""
    X = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    y = np.random.default_rng(1).normal(size=(6, 2)).astype(np.float32)
    optimizer = make_optimizer(nl.MseLoss(), learning_rate=0.01)

    def train_new_model(n_steps):
        nl.seed(0)
        model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 4), nl.ReLU(), nl.FullyConnectedLayer(4, 2)])
        for _ in range(n_steps):
            loss, _ = optimizer.step(model, X, y)
        return loss

    losses = [train_new_model(5) for _ in range(6)]
    for loss in losses[1:]:
        assert loss == losses[0]


class HashedByShapeDense(nl.FullyConnectedLayer):
    """A student's layer that compares and hashes by shape, so two such layers are equal."""

    def __eq__(self, other):
        return isinstance(other, HashedByShapeDense) and self.params["W"].shape == other.params["W"].shape

    def __hash__(self):
        return hash(self.params["W"].shape)


class EqualityOnlyDense(nl.FullyConnectedLayer):
    """A layer with __eq__ and no __hash__, as a dataclass has: it cannot be a dict key."""

    def __eq__(self, other):
        return self is other

    __hash__ = None


@pytest.mark.parametrize("layer_class", [HashedByShapeDense, EqualityOnlyDense])
def test_optimizer_keeps_state_per_layer_object(layer_class):
    nl.seed(0)
    model = nl.NeuralNetwork([layer_class(3, 3), nl.Tanh(), layer_class(3, 3)])
    optimizer = nl.OptimizerMomentum(nl.MseLoss(), learning_rate=0.01)
    X = np.ones((2, 3), dtype=np.float32)
    for _ in range(3):
        optimizer.step(model, X, np.zeros((2, 3), dtype=np.float32))
    velocities = [entry["params"]["W"]["velocity"] for entry in optimizer.state.values()]
    assert len(velocities) == 2
    assert not np.array_equal(velocities[0], velocities[1])


@pytest.mark.parametrize("copy_pair", [lambda pair: pickle.loads(pickle.dumps(pair)), copy.deepcopy])
def test_copied_optimizer_keeps_state_for_copied_model(copy_pair):
    nl.seed(0)
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 2)])
    optimizer = nl.OptimizerADAM(nl.MseLoss(), learning_rate=0.01)
    X = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    y = np.random.default_rng(1).normal(size=(4, 2)).astype(np.float32)
    for _ in range(3):
        optimizer.step(model, X, y)
    model_copy, optimizer_copy = copy_pair((model, optimizer))
    for _ in range(2):
        optimizer.step(model, X, y)
        optimizer_copy.step(model_copy, X, y)
    np.testing.assert_array_equal(model_copy.layers[0].params["W"], model.layers[0].params["W"])
    assert optimizer_copy.state[id(model_copy.layers[0])]["params"]["W"]["t"] == 5


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nl.OptimizerSGD(nl.MseLoss(), learning_rate="0.1"), "learning_rate must be a number, got '0.1'"),
        (lambda: nl.OptimizerMomentum(nl.MseLoss(), 0.1, beta="0.9"), "beta must be a number, got '0.9'"),
        (lambda: nl.OptimizerADAM(nl.MseLoss(), 0.1, beta1="0.9"), "beta1 must be a number, got '0.9'"),
        (lambda: nl.OptimizerADAM(nl.MseLoss(), 0.1, eps=None), "eps must be a number, got None"),
    ],
)
def test_optimizer_rejects_settings_that_are_not_numbers(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def test_step_warns_once_about_nan_loss():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 2)])
    optimizer = nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1)
    X = np.full((4, 2), np.nan, dtype=np.float32)
    with pytest.warns(RuntimeWarning, match="OptimizerSGD.step: the loss is nan") as caught:
        optimizer.step(model, X, np.zeros(4, dtype=int))
        optimizer.step(model, X, np.zeros(4, dtype=int))
    assert len(caught) == 1


def test_step_names_parameter_without_gradient():
    class Gain(nl.Layer):
        def __init__(self):
            super().__init__()
            self.params["gain"] = np.ones(2)
            self.grads["g"] = np.zeros(2)  # a different name from the parameter's

        def forward(self, X):
            self.cache = X
            return X * self.params["gain"]

        def backward(self, grad_output):
            self.grads["g"] = (grad_output * self.cache).sum(axis=0)
            return grad_output * self.params["gain"]

    optimizer = nl.OptimizerSGD(nl.MseLoss(), 0.1)
    with pytest.raises(ValueError, match=r"Gain\(\) has a parameter 'gain' but no gradient of that name.*self.grads\['gain'\]"):
        optimizer.step(nl.NeuralNetwork([Gain()]), np.ones((3, 2)), np.zeros((3, 2)))


def test_step_empty_batch_through_flatten():
    model = nl.NeuralNetwork([nl.Flatten(), nl.FullyConnectedLayer(4, 3)])
    optimizer = nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1)
    with pytest.raises(ValueError, match="CrossEntropyLoss.*expected at least one sample, got an empty batch"):
        optimizer.step(model, np.zeros((0, 2, 2, 1)), np.zeros(0, dtype=int))


class RebindingSGD(nl.OptimizerSGD):
    """A student's update that rebinds the local name instead of changing the array."""

    def update_parameter(self, param, grad, state):
        param = param - self.learning_rate * grad  # noqa: F841 - the mistake under test


@pytest.mark.parametrize(
    "optimizer",
    [RebindingSGD(nl.MseLoss(), 0.1), nl.OptimizerSGD(nl.MseLoss(), 1e-50)],
    ids=["rebinding update", "learning rate that rounds to 0"],
)
def test_first_update_without_effect_warns(optimizer):
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 1)])
    with pytest.warns(RuntimeWarning, match=r"step: the first update left 'W' of layer 0 \(FullyConnectedLayer.*\) as it was, although its gradient is not zero"):
        optimizer.step(model, np.ones((4, 2)), np.zeros((4, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizer.step(model, np.ones((4, 2)), np.zeros((4, 1)))  # only the first step is checked


class BiasRebindingSGD(nl.OptimizerSGD):
    """A student's update that changes the weights in place but rebinds the bias."""

    def update_parameter(self, param, grad, state):
        if param.ndim == 2:
            param -= self.learning_rate * grad
        else:
            param = param - self.learning_rate * grad  # noqa: F841 - the mistake under test


def test_first_update_names_unchanged_bias():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 1)])
    with pytest.warns(RuntimeWarning, match=r"the first update left 'b' of layer 0 "):
        BiasRebindingSGD(nl.MseLoss(), 0.1).step(model, np.ones((4, 2)), np.zeros((4, 1)))


class NumberParameter(nl.Layer):
    """A layer whose parameter is a Python float, which no update can change in place."""

    def __init__(self):
        super().__init__()
        self.params["b"], self.grads["b"] = 0.5, 0.0

    def forward(self, X):
        return X + self.params["b"]

    def backward(self, grad_output):
        self.grads["b"] = float(grad_output.sum())
        return grad_output


def test_first_update_names_number_parameter():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 1), NumberParameter()])
    with pytest.warns(RuntimeWarning, match=r"the first update left 'b' of layer 1 \(NumberParameter\(\)\) as it was"):
        nl.OptimizerSGD(nl.MseLoss(), 0.1).step(model, np.ones((4, 2)), np.zeros((4, 1)))


def test_first_update_with_effect_silent():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nl.OptimizerADAM(nl.MseLoss(), 0.01).step(model, np.ones((4, 2)), np.zeros((4, 1)))


class HalfPrecisionIdentity(nl.Layer):
    """An identity layer with a float16 parameter, which a student's own layer may keep."""

    def __init__(self):
        super().__init__()
        self.params["p"] = np.ones(3, dtype=np.float16)
        self.grads["p"] = np.zeros(3, dtype=np.float16)

    def forward(self, X):
        return X

    def backward(self, grad_output):
        self.grads["p"] = np.array([0.0, 1.0, 2.0], dtype=np.float16)  # ADAM divides by eps alone where the gradient is 0
        return grad_output


BEYOND_FLOAT32 = r"is 1e\+300, beyond 3.40282e\+38, the maximum of float32. 'W' of layer 0 \(FullyConnectedLayer\(2 -> 1\)\) has dtype float32; "


@pytest.mark.parametrize(
    "optimizer, make_layer, message",
    [
        (nl.OptimizerSGD(nl.MseLoss(), 1e300), lambda: nl.FullyConnectedLayer(2, 1),
         r"OptimizerSGD.step: learning_rate " + BEYOND_FLOAT32 + r"the update would make the parameters inf or NaN, so lower learning_rate"),
        (nl.OptimizerMomentum(nl.MseLoss(), 1e300), lambda: nl.FullyConnectedLayer(2, 1),
         r"OptimizerMomentum.step: learning_rate " + BEYOND_FLOAT32 + r"the update would make the parameters inf or NaN"),
        (nl.OptimizerADAM(nl.MseLoss(), 1e300), lambda: nl.FullyConnectedLayer(2, 1),
         r"OptimizerADAM.step: learning_rate " + BEYOND_FLOAT32 + r"the update would make the parameters inf or NaN"),
        (nl.OptimizerADAM(nl.MseLoss(), eps=1e300), lambda: nl.FullyConnectedLayer(2, 1),
         r"OptimizerADAM.step: eps " + BEYOND_FLOAT32 + r"an inf eps would make every update 0, so choose a smaller eps"),
        (nl.OptimizerSGD(nl.MseLoss(), 1e5), HalfPrecisionIdentity,
         r"learning_rate is 100000.0, beyond 65504, the maximum of float16. 'p' of layer 0 \(HalfPrecisionIdentity\(\)\) has dtype float16"),
        (nl.OptimizerMomentum(nl.MseLoss(), 1e5), HalfPrecisionIdentity, r"learning_rate is 100000.0, beyond 65504, the maximum of float16"),
        (nl.OptimizerADAM(nl.MseLoss()), HalfPrecisionIdentity,
         r"eps is 1e-08, which rounds to 0 in float16, whose smallest positive value is 5.96046e-08. 'p' of layer 0 "
         r"\(HalfPrecisionIdentity\(\)\) has dtype float16; the update would divide 0 by 0 .* so choose a larger eps$"),
        (nl.OptimizerADAM(nl.MseLoss(), 0.001, beta1=0.99999999, eps=1e-4), HalfPrecisionIdentity,
         r"learning_rate / \(1 - beta1\), the first step's learning rate after bias correction, is 99999.99\d+, "
         r"beyond 65504, the maximum of float16.*so lower learning_rate or beta1$"),
    ],
    ids=["SGD learning rate", "Momentum learning rate", "ADAM learning rate", "ADAM eps", "SGD in float16",
         "Momentum in float16", "ADAM eps 0 in float16", "ADAM bias correction in float16"],
)
def test_step_rejects_setting_beyond_dtype(optimizer, make_layer, message):
    layer = make_layer()
    model = nl.NeuralNetwork([layer])
    before = {name: param.copy() for name, param in layer.params.items()}
    X = np.ones((4, 2), dtype=np.float32)
    y = model.forward(X)
    with pytest.raises(ValueError, match=message):
        optimizer.step(model, X, y)
    for name, param in layer.params.items():
        assert np.array_equal(param, before[name]), f"step changed '{name}' before it raised"


@pytest.mark.parametrize(
    "optimizer, name, value, message",
    [
        (nl.OptimizerSGD(nl.MseLoss(), 0.1), "learning_rate", float("nan"), r"learning_rate must be positive and finite, got nan"),
        (nl.OptimizerSGD(nl.MseLoss(), 0.1), "learning_rate", -0.1, r"learning_rate must be positive and finite, got -0.1"),
        (nl.OptimizerMomentum(nl.MseLoss(), 0.1), "beta", float("nan"), r"beta must be in \[0, 1\), got nan"),
        (nl.OptimizerADAM(nl.MseLoss()), "beta1", 1.0, r"beta1 must be in \[0, 1\), got 1.0"),
        (nl.OptimizerADAM(nl.MseLoss()), "eps", float("nan"), r"eps must be positive and finite, got nan"),
    ],
    ids=["SGD NaN learning rate", "SGD negative learning rate", "Momentum NaN beta", "ADAM beta1 of 1", "ADAM NaN eps"],
)
def test_step_rejects_setting_changed_out_of_range(optimizer, name, value, message):
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 1)])
    X, y = np.ones((4, 2), dtype=np.float32), np.zeros((4, 1), dtype=np.float32)
    optimizer.step(model, X, y)
    before = model.layers[0].params["W"].copy()
    setattr(optimizer, name, value)  # as a learning-rate schedule might set it

    with pytest.raises(ValueError) as info:
        optimizer.step(model, X, y)

    message_text = str(info.value)
    assert message_text.startswith(f"{type(optimizer).__name__}.step: ")
    assert re.search(message, message_text)
    assert f"set optimizer.{name} to a valid value before the next step" in message_text
    assert np.array_equal(model.layers[0].params["W"], before)


def test_step_rejects_learning_rate_raised_between_steps():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 1)])
    optimizer = nl.OptimizerSGD(nl.MseLoss(), 0.1)
    X, y = np.ones((4, 2), dtype=np.float32), np.zeros((4, 1), dtype=np.float32)
    optimizer.step(model, X, y)
    optimizer.learning_rate = 1e39  # as a learning-rate schedule might set it
    with pytest.raises(ValueError, match=r"learning_rate is 1e\+39, beyond 3.40282e\+38, the maximum of float32"):
        optimizer.step(model, X, y)


def test_step_rechecks_settings_after_astype():
    # The checks are skipped while settings and dtypes stay as they were, so a new dtype must trigger them.
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 1)]).astype(np.float64)
    optimizer = nl.OptimizerSGD(nl.MseLoss(), 1e39)  # finite in float64, inf in float32
    X = np.ones((4, 2))
    y = model.forward(X)  # a zero gradient, so that the huge learning rate leaves the parameters as they are
    optimizer.step(model, X, y)
    model.astype(np.float32)

    with pytest.raises(ValueError, match=r"learning_rate is 1e\+39, beyond 3.40282e\+38, the maximum of float32"):
        optimizer.step(model, X.astype(np.float32), y.astype(np.float32))
