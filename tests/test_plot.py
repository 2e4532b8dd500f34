"""Tests for netlite.plot and netlite.evaluation: each figure's axes, titles, images and data."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import netlite as nl  # noqa: E402
from netlite import evaluation, plot  # noqa: E402

# A warning from a plot function would appear on stderr in a notebook, so every warning fails these tests.
pytestmark = pytest.mark.filterwarnings("error")

RED = matplotlib.colors.to_rgba(plot.MISCLASSIFIED_COLOR)


@pytest.fixture(autouse=True)
def no_figures_left_open():
    """Every plot function must leave pyplot's list of open figures as it was."""
    plt.close("all")
    yield
    assert plt.get_fignums() == []


def images_in(figure):
    return [image for axes in figure.axes for image in axes.images]


def make_history(n_epochs, with_validation=True):
    rng = np.random.default_rng(0)
    history = {
        "loss_train": list(rng.random(n_epochs)),
        "acc_train": list(rng.random(n_epochs)),
        "loss_valid": [],
        "acc_valid": [],
    }
    if with_validation:
        history["loss_valid"] = list(rng.random(n_epochs))
        history["acc_valid"] = list(rng.random(n_epochs))
    return history


# -- training curves ---------------------------------------------------------


def test_training_curves_axes_and_data():
    history = make_history(5)
    figure = plot.training_curves(history)
    assert isinstance(figure, matplotlib.figure.Figure)
    loss_axes, accuracy_axes = figure.axes
    assert loss_axes.get_title() == "Loss (mean per sample)"
    assert accuracy_axes.get_title() == "Accuracy"
    assert loss_axes.get_xlabel() == "epoch"
    for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "acc")):
        training, validation = axes.lines
        assert list(training.get_xdata()) == [1, 2, 3, 4, 5]
        assert list(training.get_ydata()) == history[f"{metric}_train"]
        assert list(validation.get_ydata()) == history[f"{metric}_valid"]
        assert [text.get_text() for text in axes.get_legend().get_texts()] == ["training", "validation"]


def test_training_curves_without_validation():
    figure = plot.training_curves(make_history(3, with_validation=False))
    for axes in figure.axes:
        assert len(axes.lines) == 1


def test_training_curves_from_train():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 3), nl.Tanh(), nl.FullyConnectedLayer(3, 1), nl.Sigmoid()])
    history = nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 1.0), X, y, X, y, n_epochs=4, batchsize=2,
                       progress=False, verbose=False)
    figure = plot.training_curves(history)
    assert list(figure.axes[0].lines[1].get_ydata()) == history["loss_valid"]


def test_training_curves_rejects_other_input():
    with pytest.raises(TypeError, match="expected the history returned by nl.train"):
        plot.training_curves([0.1, 0.2])
    with pytest.raises(ValueError, match=r"the history has no \['acc_train'\]"):
        plot.training_curves({"loss_train": [0.1]})


def test_live_curves_update_in_place():
    displayed = []
    updates = []

    class FakeHandle:
        def update(self, figure):
            updates.append(figure)

    def fake_display(figure, display_id=False):
        displayed.append((figure, display_id))
        return FakeHandle()

    live = plot.LiveTrainingCurves(n_epochs=10, display=fake_display)
    assert displayed == [(live.figure, True)]
    assert len(live.loss_axes.lines) == 0

    history = make_history(2)
    live.update(history)
    history = make_history(3)
    live.update(history)
    assert updates == [live.figure, live.figure]
    assert list(live.loss_axes.lines[0].get_ydata()) == history["loss_train"]
    assert len(live.figure.axes) == 2  # redrawn on the same axes, not on new ones
    assert live.loss_axes.get_xlim() == (0.5, 10.5)


# -- image grid --------------------------------------------------------------


def test_image_grid_shows_n_images_with_labels():
    rng = np.random.default_rng(1)
    images = rng.random((20, 8, 8, 1))
    labels = np.arange(20) % 4
    figure = plot.image_grid(images, labels, n=10, class_names=["a", "b", "c", "d"])
    shown = images_in(figure)
    assert len(shown) == 10
    np.testing.assert_array_equal(shown[3].get_array(), images[3, :, :, 0])
    titles = [axes.get_title() for axes in figure.axes if axes.images]
    assert titles == ["a", "b", "c", "d", "a", "b", "c", "d", "a", "b"]


def test_image_grid_marks_misclassified_in_red():
    images = np.zeros((6, 5, 5))
    labels = np.array([0, 1, 2, 0, 1, 2])
    # Network outputs (N, 3): the argmax is the prediction, wrong for samples 1 and 4.
    predictions = np.eye(3)[[0, 2, 2, 0, 0, 2]]
    figure = plot.image_grid(images, labels, predictions)
    axes_with_images = [axes for axes in figure.axes if axes.images]
    title_colors = [matplotlib.colors.to_rgba(axes.title.get_color()) for axes in axes_with_images]
    red = [index for index, color in enumerate(title_colors) if color == RED]
    assert red == [1, 4]
    assert axes_with_images[1].get_title() == "2 (true 1)"
    assert axes_with_images[0].get_title() == "0"
    assert axes_with_images[4].spines["left"].get_edgecolor() == RED
    assert "2 of 6" in figure._suptitle.get_text()


def test_image_grid_n_larger_than_data():
    figure = plot.image_grid(np.zeros((3, 4, 4)), np.array([0, 1, 0]), n=16)
    assert len(images_in(figure)) == 3


def test_image_grid_colour_and_one_hot_labels():
    images = np.linspace(-1, 1, 2 * 4 * 4 * 3).reshape(2, 4, 4, 3)  # normalised, outside [0, 1]
    labels = np.array([[0, 1], [1, 0]])
    figure = plot.image_grid(images, labels)
    shown = images_in(figure)
    assert [axes.get_title() for axes in figure.axes if axes.images] == ["1", "0"]
    assert shown[0].get_array().min() >= 0
    assert shown[0].get_array().max() <= 1


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"images": np.zeros((4, 5))}, ValueError, r"expected images of shape \(N, H, W\)"),
        ({"images": np.zeros((4, 5, 5, 2))}, ValueError, r"got \(4, 5, 5, 2\)"),
        ({"labels": np.array([0, 1])}, ValueError, "expected 4 labels, one per sample, got 2"),
        ({"predictions": np.array([0, 1, 1])}, ValueError, "expected 4 predictions"),
        ({"n": 0}, ValueError, "n must be a positive integer, got 0"),
        ({"class_names": ["a", "b"]}, ValueError, "class_names has 2 names, but the labels go up to 3"),
        ({"labels": np.array([0.5, 1, 2, 3])}, ValueError, "float labels must be whole numbers"),
    ],
)
def test_image_grid_input_errors(arguments, error, message):
    values = {"images": np.zeros((4, 5, 5)), "labels": np.array([0, 1, 2, 3])}
    values.update(arguments)
    with pytest.raises(error, match=message):
        plot.image_grid(**values)


# -- confusion matrix --------------------------------------------------------


def test_compute_confusion_matrix_small_case():
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 2])
    expected = np.array([[1, 1, 0], [1, 2, 0], [0, 0, 1]])
    np.testing.assert_array_equal(evaluation.confusion_matrix(y_true, y_pred), expected)
    assert plot.compute_confusion_matrix is evaluation.confusion_matrix


def test_compute_confusion_matrix_against_loop():
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 5, 200)
    outputs = rng.standard_normal((200, 5))  # raw network outputs: the argmax is the prediction
    matrix = evaluation.confusion_matrix(y_true, outputs)
    expected = np.zeros((5, 5), dtype=int)
    for true, output in zip(y_true, outputs):
        expected[true, int(np.argmax(output))] += 1
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.sum() == 200


def test_compute_confusion_matrix_label_forms():
    one_hot = np.eye(3)[[0, 2, 1]]
    sigmoid_outputs = np.array([[0.2], [0.9], [0.6]])
    float_labels = np.array([0.0, 1.0, 1.0])
    np.testing.assert_array_equal(evaluation.confusion_matrix(float_labels, sigmoid_outputs), [[1, 0], [0, 2]])
    np.testing.assert_array_equal(evaluation.confusion_matrix(one_hot, [0, 2, 1], n_classes=4).shape, (4, 4))


def test_compute_confusion_matrix_errors():
    with pytest.raises(ValueError, match="same number of samples, got 3 and 2"):
        evaluation.confusion_matrix([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match=r"label 5 is outside the range \[0, 2\]"):
        evaluation.confusion_matrix([0, 1, 5], [0, 1, 2], n_classes=3)
    with pytest.raises(ValueError, match="class labels must be >= 0, got -1"):
        evaluation.confusion_matrix([0, -1], [0, 1])
    with pytest.raises(ValueError, match="n_classes must be a positive integer"):
        evaluation.confusion_matrix([0], [0], n_classes=0)


def test_confusion_matrix_figure():
    y_true = np.array([0, 0, 1, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 1, 2, 0, 2])
    figure = plot.confusion_matrix(y_true, y_pred, class_names=["cat", "dog", "bird"])
    axes = figure.axes[0]
    assert axes.get_title() == "Confusion matrix, accuracy 0.750"  # 6 of 8 on the diagonal
    assert axes.get_xlabel() == "predicted class"
    assert axes.get_ylabel() == "true class"
    assert [label.get_text() for label in axes.get_yticklabels()] == ["cat", "dog", "bird"]
    counts = [int(text.get_text()) for text in axes.texts]
    assert counts == [1, 1, 0, 0, 3, 0, 1, 0, 2]
    assert len(figure.axes) == 2  # the matrix and its colour bar


def test_confusion_matrix_figure_rejects_empty_input():
    with pytest.raises(ValueError, match="contain no samples"):
        plot.confusion_matrix(np.array([], dtype=int), np.array([], dtype=int), class_names=["a"])


# -- convolution filters and feature maps ------------------------------------


def test_conv_filters_one_panel_per_filter():
    layer = nl.ConvolutionalLayer(3, 2, 5, rng=np.random.default_rng(3))
    figure = plot.conv_filters(layer)
    shown = images_in(figure)
    assert len(shown) == 5
    weights = layer.params["W"]
    for output_channel, image in enumerate(shown):
        tile = image.get_array()
        assert tile.shape == (3, 7)  # two 3 x 3 kernels with one blank column between them
        np.testing.assert_array_equal(tile[:, 0:3], weights[:, :, 0, output_channel])
        np.testing.assert_array_equal(tile[:, 4:7], weights[:, :, 1, output_channel])
        assert np.ma.getmaskarray(tile)[:, 3].all() or np.isnan(tile[:, 3]).all()
    limit = np.abs(weights).max()
    assert shown[0].get_clim() == pytest.approx((-limit, limit))
    titles = [axes.get_title() for axes in figure.axes if axes.images]
    assert titles == [f"filter {index}" for index in range(5)]


def test_conv_filters_max_filters():
    figure = plot.conv_filters(nl.ConvolutionalLayer(3, 1, 12), max_filters=4)
    assert len(images_in(figure)) == 4
    assert "4 of 12 filters" in figure._suptitle.get_text()


def test_conv_filters_rejects_dense_layer():
    with pytest.raises(TypeError, match=r"expected a ConvolutionalLayer whose params\['W'\]"):
        plot.conv_filters(nl.FullyConnectedLayer(3, 2))
    with pytest.raises(TypeError, match="expected a ConvolutionalLayer"):
        plot.conv_filters(nl.ReLU())


def make_conv_model():
    return nl.NeuralNetwork(
        [
            nl.ConvolutionalLayer(3, 1, 4, rng=np.random.default_rng(4)),
            nl.ReLU(),
            nl.Dropout(0.5),
            nl.Flatten(),
            nl.FullyConnectedLayer(6 * 6 * 4, 3, rng=np.random.default_rng(5)),
        ]
    )


def test_feature_maps_of_convolution():
    model = make_conv_model()
    x = np.random.default_rng(6).random((8, 8, 1)).astype(np.float32)
    figure = plot.feature_maps(model, x, 1)
    shown = images_in(figure)
    assert len(shown) == 4

    # The ReLU output computed independently: a direct cross-correlation with the kernels.
    weights, bias = model.layers[0].params["W"], model.layers[0].params["b"]
    expected = np.zeros((6, 6, 4))
    for row in range(6):
        for column in range(6):
            patch = x[row : row + 3, column : column + 3, :]
            expected[row, column] = np.tensordot(patch, weights, axes=3) + bias
    expected = np.maximum(expected, 0)
    for channel, image in enumerate(shown):
        np.testing.assert_allclose(image.get_array(), expected[:, :, channel], rtol=1e-5, atol=1e-6)
    assert "Layer 1: ReLU(), output (6, 6, 4)" in figure._suptitle.get_text()


def test_feature_maps_evaluation_mode():
    model = make_conv_model()
    x = np.ones((8, 8, 1), dtype=np.float32)
    first = images_in(plot.feature_maps(model, x, 2))
    second = images_in(plot.feature_maps(model, x, 2))
    # Dropout is off in evaluation mode, so both runs show the same maps.
    for image_a, image_b in zip(first, second):
        np.testing.assert_array_equal(image_a.get_array(), image_b.get_array())
    assert all(layer.training for layer in model.layers)


def test_feature_maps_of_dense_layer_is_bar_chart():
    model = make_conv_model()
    figure = plot.feature_maps(model, np.ones((8, 8, 1), dtype=np.float32), -1)
    axes = figure.axes[0]
    assert len(axes.patches) == 3
    assert "Layer 4" in figure._suptitle.get_text()


def test_feature_maps_input_errors():
    model = make_conv_model()
    with pytest.raises(ValueError, match=r"pass one image x\[0\], not a batch"):
        plot.feature_maps(model, np.ones((1, 8, 8, 1)), 0)
    with pytest.raises(ValueError, match=r"layer_index must be an integer in \[-5, 4\]"):
        plot.feature_maps(model, np.ones((8, 8, 1)), 5)


def test_feature_maps_names_forward_without_return():
    class NoReturnReLU(nl.ReLU):
        def forward(self, X):
            super().forward(X)

    model = make_conv_model()
    model.layers[1] = NoReturnReLU()
    with pytest.raises(TypeError, match=r"feature_maps: forward\(\) of layer 1 \(NoReturnReLU\(\)\) returned None"):
        plot.feature_maps(model, np.ones((8, 8, 1), dtype=np.float32), 2)


# -- decision boundary -------------------------------------------------------


def test_decision_boundary_for_xor():
    nl.seed(3)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 4), nl.Tanh(), nl.FullyConnectedLayer(4, 1), nl.Sigmoid()])
    nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 2.0), X, y, n_epochs=800, batchsize=4, progress=False,
             verbose=False)
    figure = plot.decision_boundary(model, X, y, resolution=50)
    axes = figure.axes[0]
    assert axes.get_title() == "Decision boundary"
    points = axes.collections[-1]
    np.testing.assert_array_equal(points.get_offsets(), X)
    np.testing.assert_array_equal(points.get_array(), [0, 1, 1, 0])
    assert len(figure.axes) == 2  # the plane and its colour bar
    assert axes.get_xlim() == pytest.approx((-0.5, 1.5))


def test_decision_boundary_multiclass():
    X = np.random.default_rng(7).standard_normal((30, 2)).astype(np.float32)
    y = np.arange(30) % 3
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 3), nl.Softmax()])
    figure = plot.decision_boundary(model, X, y, resolution=20)
    points = figure.axes[0].collections[-1]
    np.testing.assert_array_equal(points.get_array(), y)
    assert len(figure.axes) == 1


def test_decision_boundary_input_errors():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 1)])
    with pytest.raises(ValueError, match=r"expected inputs X of shape \(N, 2\), got \(4, 3\)"):
        plot.decision_boundary(model, np.zeros((4, 3)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="resolution must be a positive integer"):
        plot.decision_boundary(model, np.zeros((4, 2)), np.zeros(4, dtype=int), resolution=0)
