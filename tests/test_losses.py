"""Losses: gradients, values computed by hand, numerical stability and bad input."""

import re
import warnings

from fractions import Fraction

import numpy as np
import pytest

import netlite as nl

TOLERANCE = 1e-6


def test_mse_gradient():
    rng = np.random.default_rng(0)
    assert nl.gradient_check(nl.MseLoss(), rng.standard_normal((5, 3)), rng.standard_normal((5, 3))) < TOLERANCE


@pytest.mark.parametrize("delta", [0.3, 1.0, 5.0])
def test_huber_gradient_both_regions(delta):
    rng = np.random.default_rng(1)
    output = rng.standard_normal((6, 2)) * 3
    target = rng.standard_normal((6, 2))
    error = np.abs(output - target)
    # Keep away from the kink at |error| = delta, where the derivative jumps.
    output[np.abs(error - delta) < 1e-3] += 0.01
    assert nl.gradient_check(nl.HuberLoss(delta), output, target) < TOLERANCE


def test_cross_entropy_gradient():
    rng = np.random.default_rng(2)
    labels = np.array([0, 3, 1, 2, 3])
    assert nl.gradient_check(nl.CrossEntropyLoss(), rng.standard_normal((5, 4)), labels) < TOLERANCE


def test_mse_value_by_hand():
    loss = nl.MseLoss()
    # errors 1, -2 / 0, 3: mean of squares over 4 entries = (1 + 4 + 0 + 9) / 4
    value = loss(np.array([[1.0, 0.0], [2.0, 3.0]]), np.array([[0.0, 2.0], [2.0, 0.0]]))
    assert value == pytest.approx(3.5)
    np.testing.assert_allclose(loss.backward(), 2 * np.array([[1.0, -2.0], [0.0, 3.0]]) / 4)


def test_huber_value_by_hand():
    loss = nl.HuberLoss(delta=1.0)
    # error 0.5 -> 0.125 (quadratic); error -3 -> 1 * (3 - 0.5) = 2.5 (linear)
    value = loss(np.array([[0.5], [-3.0]]), np.array([[0.0], [0.0]]))
    assert value == pytest.approx((0.125 + 2.5) / 2)
    np.testing.assert_allclose(loss.backward(), np.array([[0.5], [-1.0]]) / 2)


def test_cross_entropy_value_by_hand():
    loss = nl.CrossEntropyLoss()
    logits = np.array([[0.0, np.log(3.0)]])  # softmax = (1/4, 3/4)
    assert loss(logits, np.array([1])) == pytest.approx(-np.log(0.75))
    np.testing.assert_allclose(loss.backward(), [[0.25, -0.25]])


@pytest.mark.parametrize("shape", [(2, 10), (8, 2), (4, 4), (64, 10)])
def test_cross_entropy_warns_about_probabilities(shape):
    # The slip of a network that ends in Softmax: the loss would apply softmax a second time.
    model = nl.NeuralNetwork([nl.Softmax()])
    probabilities = model.forward(np.random.default_rng(0).standard_normal(shape))
    with pytest.warns(UserWarning, match=r"sums to 1, like the output of a Softmax layer.*logits=True"):
        nl.CrossEntropyLoss()(probabilities, np.zeros(shape[0], dtype=int))


@pytest.mark.parametrize(
    "logits",
    [
        [[0.2, 0.3, 0.1]],
        [[0.5, 0.5], [1.0, 0.2]],
        [[1.0]],
        [[1.5, -0.5]],
        # Below 16 values, logits that look like probabilities may be a coincidence.
        [[0.5, 0.5], [0.3, 0.7]],
        [[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.0, 1.0, 0.0]],
        nl.Softmax().forward(np.random.default_rng(1).standard_normal((7, 2))),
        nl.Softmax().forward(np.random.default_rng(2).standard_normal((1, 10))),
    ],
    ids=["row not summing to 1", "second row not summing to 1", "one class", "negative logit", "two classes",
         "three classes", "softmax of 14 values", "softmax of one sample"],
)
def test_cross_entropy_quiet_for_logits(logits):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nl.CrossEntropyLoss()(np.array(logits), np.zeros(len(logits), dtype=int))


@pytest.mark.parametrize("scale", [1e4, -1e4, 1e30])
def test_cross_entropy_stable_for_huge_logits(scale):
    loss = nl.CrossEntropyLoss()
    logits = np.array([[scale, -scale, 0.0], [0.0, scale, -scale]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss(logits, np.array([1, 1]))
        grad = loss.backward()
    assert np.isfinite(value)
    assert np.all(np.isfinite(grad))
    assert grad.dtype == np.float32


def test_cross_entropy_float32_in_float32_out():
    loss = nl.CrossEntropyLoss()
    loss(np.zeros((2, 3), dtype=np.float32), np.array([0, 2]))
    assert loss.backward().dtype == np.float32


def test_cross_entropy_label_out_of_range():
    with pytest.raises(ValueError, match=r"label 10 is outside the class range \[0, 9\]"):
        nl.CrossEntropyLoss()(np.zeros((2, 10)), np.array([3, 10]))


def test_cross_entropy_negative_label():
    with pytest.raises(ValueError, match="label -1"):
        nl.CrossEntropyLoss()(np.zeros((2, 10)), np.array([-1, 0]))


@pytest.mark.parametrize(
    "labels, hint",
    [
        (np.array([0.0, 1.0]), r"pass y.astype\(int\)$"),
        (np.array([0, 2], dtype=object), r"pass y.astype\(int\)$"),
        (np.array(["0.0", "2"]), r"pass y.astype\(float\).astype\(int\)$"),
        (np.array([[0.0, 2.0]]), r"pass y.reshape\(-1\).astype\(int\)$"),
        (np.array([0.0, 1.5]), r"labels are whole numbers from 0 to 2, but one is 1.5"),
        (np.array([0.0, 5.0]), r"labels are whole numbers from 0 to 2, but one is 5.0"),
        (np.array([np.nan, 1.0]), r"labels are whole numbers from 0 to 2, but one is nan"),
        (np.array(["cat", "dog"]), r"labels are whole numbers from 0 to 2; give each class its number$"),
        (np.array([0.0, 1.0, 2.0]), r"give one label per sample: got 3 labels for 2 samples$"),
        ([0.0, 2.0], r"pass np.asarray\(y\).astype\(int\)$"),
        (np.array(["0.0", "2.0"], dtype=object), r"pass y.astype\(float\).astype\(int\)$"),
        (np.eye(3)[[0, 1]].T, r"for one-hot targets pass y.T.argmax\(axis=1\)$"),
        (np.array([b"0.0", b"2"], dtype=object), r"pass y.astype\(float\).astype\(int\)$"),
        (np.eye(3)[[0, 1]], r"for one-hot targets pass y.argmax\(axis=1\)"),
        (np.eye(3)[[0, 1, 2, 0]], r"for one-hot targets pass y.argmax\(axis=1\); then give one label per sample: got 4 labels for 2 samples"),
        (np.eye(4)[[0, 1]], r"these one-hot targets have 4 classes, but the logits 3; check the size of the last layer"),
        (np.full((2, 3), 1 / 3), r"CrossEntropyLoss takes one class label per sample, not one value per class"),
        ([0, 10**400], r"labels are whole numbers from 0 to 2, but one is a number beyond float's range; check how"),
    ],
    ids=["whole floats", "objects", "number strings", "row of floats", "fraction", "out of range", "NaN",
         "class names", "too many", "list", "text objects", "one-hot by columns", "bytes objects", "float one-hot", "one-hot of another batch", "one-hot of 4 classes",
         "probabilities", "huge integer"],
)
def test_cross_entropy_non_integer_labels(labels, hint):
    with pytest.raises(TypeError, match=r"expected integer class labels, got dtype \S+; " + hint):
        nl.CrossEntropyLoss()(np.zeros((2, 3)), labels)


def test_cross_entropy_integer_one_hot_labels():
    with pytest.raises(ValueError, match=r"got \(2, 3\); for one-hot targets pass y.argmax\(axis=1\)"):
        nl.CrossEntropyLoss()(np.zeros((2, 3)), np.eye(3, dtype=int)[[0, 1]])


def test_cross_entropy_square_one_hot():
    labels = np.eye(3)[[1, 2, 0]].T  # one column per sample
    with pytest.raises(TypeError, match=r"pass y.argmax\(axis=1\) if each row is a sample, or y.T.argmax\(axis=1\) if"):
        nl.CrossEntropyLoss()(np.zeros((3, 3)), labels)
    with pytest.raises(TypeError, match=r"if each column is; then give one label per sample: got 3 labels for 2 samples$"):
        nl.CrossEntropyLoss()(np.zeros((2, 3)), np.eye(3))


def test_one_hot_columns_wrong_classes():
    labels = np.eye(3)[[1, 2, 0, 1]].T  # one column per sample, 3 classes
    with pytest.raises(TypeError, match=r"one-hot targets, one column per sample, have 3 classes, but the logits 4; check"):
        nl.CrossEntropyLoss()(np.zeros((4, 4)), labels)


@pytest.mark.parametrize("shape", [(3,), (3, 1)], ids=["vector", "column"])
def test_one_hot_single_sample(shape):
    labels = np.eye(3)[2].reshape(shape)
    with pytest.raises(TypeError, match=r"for a one-hot target pass y.reshape\(1, -1\).argmax\(axis=1\)$"):
        nl.CrossEntropyLoss()(np.zeros((1, 3)), labels)
    assert nl.CrossEntropyLoss()(np.zeros((1, 3)), labels.reshape(1, -1).argmax(axis=1)) == pytest.approx(np.log(3))


def test_cross_entropy_text_one_hot():
    labels = np.array([line.split(",") for line in ["1, 0, 0", "0, 1, 0", "0, 0, 1", "0, 1, 0"]])
    with pytest.raises(TypeError, match=r"for one-hot targets pass y.astype\(float\).argmax\(axis=1\)$"):
        nl.CrossEntropyLoss()(np.zeros((4, 3)), labels)
    assert labels.astype(float).argmax(axis=1).tolist() == [0, 1, 2, 1]


def test_cross_entropy_misshapen_integer_labels():
    with pytest.raises(ValueError, match=r"got \(1, 2\); pass y.reshape\(-1\)$"):
        nl.CrossEntropyLoss()(np.zeros((2, 3)), np.array([[0, 2]]))
    with pytest.raises(ValueError, match=r"got \(2, 2\); give one class label per sample, as an array of shape \(2,\)$"):
        nl.CrossEntropyLoss()(np.zeros((2, 3)), np.array([[0, 1], [2, 1]]))


def test_cross_entropy_label_count_mismatch():
    with pytest.raises(ValueError, match=r"expected labels of shape \(3,\).*got \(2,\)"):
        nl.CrossEntropyLoss()(np.zeros((3, 4)), np.array([0, 1]))


@pytest.mark.parametrize("target, y", [(np.zeros(4), "y"), ([0.0, 1.0, 2.0, 3.0], r"np.asarray\(y\)")], ids=["array", "list"])
def test_mse_target_shape_mismatch_hint(target, y):
    with pytest.raises(ValueError, match=rf"reshape the targets with {y}.reshape\(-1, 1\)$"):
        nl.MseLoss()(np.zeros((4, 1)), target)


@pytest.mark.parametrize(
    "loss, advice",
    [(nl.MseLoss(), "give every sample the same number of values"), (nl.HuberLoss(), "give every sample"),
     (nl.CrossEntropyLoss(), r"give one class label per sample, such as \[3, 0, 7\]")],
    ids=repr,
)
def test_ragged_target_names_the_loss(loss, advice):
    with pytest.raises(ValueError, match=rf"^{re.escape(repr(loss))}: the target does not form an array \(.*\); {advice}"):
        loss(np.zeros((2, 3)), [[0.0, 1.0, 2.0], [2.0]])
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 3)])
    with pytest.raises(ValueError, match=rf"^{re.escape(repr(loss))}: the target does not form an array"):
        nl.OptimizerSGD(loss, 0.1).step(model, np.zeros((2, 3)), [[0.0, 1.0, 2.0], [2.0]])


def test_loss_backward_before_forward():
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward"):
        nl.MseLoss().backward()


def test_loss_forward_without_cache_named():
    class NoCacheLoss(nl.MseLoss):  # a student's forward() that forgot self.cache = ...
        def forward(self, output, target):
            return float(np.mean((output - target) ** 2))

    loss = NoCacheLoss()
    loss.forward(np.ones((2, 1)), np.zeros((2, 1)))
    with pytest.raises(RuntimeError, match=r"or after a forward\(\) that set no self.cache; .*keep in self.cache what backward\(\) needs$"):
        loss.backward()


def test_huber_rejects_nonpositive_delta():
    with pytest.raises(ValueError, match="delta must be positive, got 0"):
        nl.HuberLoss(0)


@pytest.mark.parametrize("loss", [nl.MseLoss(), nl.HuberLoss(), nl.CrossEntropyLoss()])
def test_loss_rejects_empty_batch(loss):
    target = np.zeros(0, dtype=int) if loss.takes_logits else np.zeros((0, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="expected at least one sample, got an empty batch of shape \\(0, 3\\)"):
        loss.forward(np.zeros((0, 3), dtype=np.float32), target)


def test_huber_rejects_delta_that_is_not_a_number():
    with pytest.raises(TypeError, match="HuberLoss: delta must be a number, got '1'"):
        nl.HuberLoss("1")
    with pytest.raises(ValueError, match=r"HuberLoss: delta must be positive, got Fraction\(-1, 2\)$"):
        nl.HuberLoss(Fraction(-1, 2))


def test_huber_delta_becomes_float():
    # A Fraction kept as given would turn the loss's arrays into arrays of Python objects.
    loss = nl.HuberLoss(Fraction(1, 2))
    assert type(loss.delta) is float
    assert repr(loss) == "HuberLoss(delta=0.5)"
    output, target = np.array([[0.0, 3.0]], dtype=np.float32), np.zeros((1, 2), dtype=np.float32)
    assert loss.forward(output, target) == pytest.approx(nl.HuberLoss(0.5).forward(output, target))
    assert loss.backward().dtype == np.float32


def test_count_correct_non_finite_rows_wrong():
    from netlite.metrics import count_correct

    output = np.array([[np.nan, np.nan], [0.1, 0.9], [0.8, 0.2]])
    assert count_correct(output, np.array([0, 1, 0])) == 2
    assert count_correct(np.array([[np.nan], [0.2], [0.9]]), np.array([[0], [0], [1]])) == 2
    assert count_correct(np.array([[np.nan, 0.3]]), np.array([[1.0, 0.0]])) == 0
    assert count_correct(np.array([[np.inf, np.inf], [0.2, 0.8]]), np.array([0, 1])) == 1
    assert count_correct(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 0


def test_count_correct_rejects_mismatched_shapes():
    from netlite.metrics import count_correct

    with pytest.raises(ValueError, match=r"expected output of shape \(batch, outputs\), got \(3,\)"):
        count_correct(np.zeros(3), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="got 2 targets for 3 rows"):
        count_correct(np.zeros((3, 2)), np.zeros(2, dtype=int))
