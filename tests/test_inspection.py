"""Tests for netlite.inspection: recorded activations and gradients, statistics against hand computations."""

import numpy as np
import pytest

import netlite as nl
from netlite import inspection


def make_regression_model():
    rng = np.random.default_rng(0)
    return nl.NeuralNetwork(
        [
            nl.FullyConnectedLayer(3, 4, rng=rng),
            nl.Tanh(),
            nl.FullyConnectedLayer(4, 2, rng=rng),
        ]
    )


def make_batch():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 3)).astype(np.float32)
    y = rng.standard_normal((5, 2)).astype(np.float32)
    return X, y


def test_statistics_match_hand_computation():
    model = make_regression_model()
    X, y = make_batch()
    W1, b1 = (model.layers[0].params[name].astype(np.float64) for name in ("W", "b"))
    W2, b2 = (model.layers[2].params[name].astype(np.float64) for name in ("W", "b"))
    weights_before = [layer.params["W"].copy() for layer in (model.layers[0], model.layers[2])]

    table = nl.layer_statistics(model, X, y, nl.MseLoss())

    # The forward and backward pass written out in float64.
    hidden = X @ W1 + b1
    activated = np.tanh(hidden)
    output = activated @ W2 + b2
    grad_output = 2 * (output - y) / output.size
    grad_activated = grad_output @ W2.T
    grad_hidden = grad_activated * (1 - activated**2)
    grad_W1 = X.T @ grad_hidden
    grad_b1 = grad_hidden.sum(axis=0)

    assert len(table) == 3
    expected = [(hidden, grad_hidden), (activated, grad_activated), (output, grad_output)]
    for row, (activation, gradient) in zip(table, expected):
        assert row["output_shape"] == activation.shape
        assert row["output_mean"] == pytest.approx(activation.mean(), rel=1e-4, abs=1e-6)
        assert row["output_std"] == pytest.approx(activation.std(), rel=1e-4)
        assert row["output_grad_mean"] == pytest.approx(gradient.mean(), rel=1e-3, abs=1e-7)
        assert row["output_grad_std"] == pytest.approx(gradient.std(), rel=1e-3)
    assert table[0]["param_norm"] == pytest.approx(np.sqrt((W1**2).sum() + (b1**2).sum()), rel=1e-5)
    assert table[0]["param_grad_norm"] == pytest.approx(np.sqrt((grad_W1**2).sum() + (grad_b1**2).sum()), rel=1e-3)
    assert table[1]["param_norm"] is None
    assert table[1]["layer"] == "Tanh()"

    # No parameter was updated.
    np.testing.assert_array_equal(model.layers[0].params["W"], weights_before[0])
    np.testing.assert_array_equal(model.layers[2].params["W"], weights_before[1])


def test_skipped_softmax_has_no_statistics():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 4), nl.Softmax()])
    X = np.random.default_rng(2).standard_normal((6, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 0, 1])
    table = nl.layer_statistics(model, X, y, nl.CrossEntropyLoss())
    assert table[1]["output_mean"] is None
    assert table[1]["output_grad_std"] is None
    assert table[0]["output_shape"] == (6, 4)
    # Softmax minus one-hot, divided by N: each row of dLoss/dlogits sums to 0.
    assert table[0]["output_grad_mean"] == pytest.approx(0, abs=1e-7)


def test_table_text_is_aligned():
    model = make_regression_model()
    X, y = make_batch()
    text = str(nl.layer_statistics(model, X, y, nl.MseLoss()))
    lines = text.splitlines()
    assert len(lines) == 2 + 3  # header, rule, one line per layer
    assert lines[0].split()[:3] == ["#", "layer", "output"]
    assert set(lines[1]) == {"-"}
    assert "FullyConnectedLayer(3 -> 4)" in lines[2]
    assert "Tanh()" in lines[3]
    # The Tanh row has no parameters: its last two cells are "-", right-aligned under the header.
    assert lines[3].split()[-2:] == ["-", "-"]
    assert len(lines[3]) == len(lines[2])
    assert repr(nl.layer_statistics(model, X, y, nl.MseLoss())) == text


def test_record_around_optimizer_step():
    model = make_regression_model()
    X, y = make_batch()
    optimizer = nl.OptimizerSGD(nl.MseLoss(), learning_rate=0.1)
    with inspection.record(model) as recording:
        optimizer.step(model, X, y)
    np.testing.assert_allclose(recording.outputs[1], np.tanh(recording.outputs[0]), rtol=1e-6)
    assert recording.outputs[2].shape == (5, 2)
    assert recording.output_grads[0].shape == (5, 4)
    table = recording.statistics()
    assert table[2]["output_shape"] == (5, 2)
    # The wrappers are gone: the instances use the class methods again.
    for layer in model.layers:
        assert "forward" not in vars(layer)
        assert "backward" not in vars(layer)


def test_record_removes_wrappers_after_exception():
    model = make_regression_model()
    with pytest.raises(RuntimeError, match="stop"):
        with inspection.record(model):
            raise RuntimeError("stop")
    for layer in model.layers:
        assert "forward" not in vars(layer)


def test_record_keeps_existing_instance_wrappers():
    model = make_regression_model()
    calls = []
    original = model.layers[1].forward

    def counting_forward(X):
        calls.append(len(X))
        return original(X)

    model.layers[1].forward = counting_forward
    with inspection.record(model):
        model.forward(np.zeros((2, 3), dtype=np.float32))
    assert model.layers[1].forward is counting_forward
    assert calls == [2]


def test_record_with_reused_layer_instance():
    shared = nl.Tanh()
    model = nl.NeuralNetwork([shared])
    model.layers.append(shared)  # add_layer rejects this, but the list itself can still be changed
    with inspection.record(model) as recording:
        output = model.forward(np.array([[0.5, -1.0]], dtype=np.float32))
    np.testing.assert_allclose(output, np.tanh(np.tanh([[0.5, -1.0]])), rtol=1e-6)
    assert recording.outputs[1] is not None
    assert "forward" not in vars(shared)


def test_layer_statistics_leaves_training_unchanged():
    """BatchNorm's running statistics and Dropout's generator are put back, so training repeats exactly."""

    def build():
        nl.seed(11)
        return nl.NeuralNetwork(
            [nl.FullyConnectedLayer(3, 6), nl.BatchNorm(6), nl.ReLU(), nl.Dropout(0.3), nl.FullyConnectedLayer(6, 2)]
        )

    X, y = make_batch()
    X_train = np.tile(X, (4, 1))
    y_train = np.tile(y, (4, 1))

    model = build()
    running_mean = model.layers[1].buffers["running_mean"].copy()
    nl.layer_statistics(model, X, y, nl.MseLoss())
    np.testing.assert_array_equal(model.layers[1].buffers["running_mean"], running_mean)
    nl.seed(12)
    inspected = nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 0.05), X_train, y_train, n_epochs=2, batchsize=4,
                         progress=False, verbose=False)

    model = build()
    nl.seed(12)
    plain = nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 0.05), X_train, y_train, n_epochs=2, batchsize=4,
                     progress=False, verbose=False)
    assert inspected["loss_train"] == plain["loss_train"]


def test_layer_statistics_input_errors():
    model = make_regression_model()
    X, y = make_batch()
    with pytest.raises(TypeError, match="pass the loss the model is trained with, e.g. optimizer.loss_func"):
        nl.layer_statistics(model, X, y, nl.OptimizerSGD(nl.MseLoss(), 0.1))
    with pytest.raises(ValueError, match="got 5 inputs and 4 targets"):
        nl.layer_statistics(model, X, y[:4], nl.MseLoss())
