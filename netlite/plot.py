"""Plots for training and for looking inside a network, made with matplotlib.

- ``training_curves(history)``: loss and accuracy per epoch, training and validation.
- ``LiveTrainingCurves``: the same curves redrawn after every epoch in Jupyter
  (what ``nl.train(..., live_plot=True)`` uses).
- ``image_grid(images, labels, predictions)``: images with their labels, the
  misclassified ones in red.
- ``confusion_matrix(y_true, y_pred)``: which class is mistaken for which.
  ``netlite.evaluation.confusion_matrix`` (also importable here as
  ``compute_confusion_matrix``) returns the matrix itself.
- ``conv_filters(layer)``: the kernels of a ConvolutionalLayer.
- ``feature_maps(model, x, layer_index)``: what one layer outputs for one image.
- ``decision_boundary(model, X, y)``: the class regions of a model with 2 inputs (XOR).

Every function returns a ``matplotlib.figure.Figure`` and never calls
``plt.show()``, so all of them work with the non-interactive Agg backend.
Each figure is created with pyplot and closed right away (``_new_figure``):
closing only removes it from pyplot's list of open figures, it can still be
drawn and saved. That has three effects:

- In Jupyter the figure is shown once when it is the last value of a cell.
  Keep it in a variable and show it later with ``display(fig)``. A figure
  that pyplot still held would be shown a second time at the end of the cell.
- Calling these functions in a loop leaves no figures open, so no
  ``plt.close`` is needed and matplotlib's warning about too many open
  figures does not appear.
- ``plt.show()`` does not show them. In a script, save them with
  ``fig.savefig("curves.png")``.

This module is the only place in netlite that imports matplotlib, and
``import netlite`` does not load it.
"""

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from .evaluation import confusion_matrix as compute_confusion_matrix
from .evaluation import to_class_labels

MISCLASSIFIED_COLOR = "tab:red"


def _new_figure(**figure_options):
    """Create a figure that pyplot does not keep open (see the module docstring).

    Creating it through pyplot sets up the Jupyter inline backend, which is
    what lets a notebook draw a returned figure as an image.
    """
    figure = plt.figure(**figure_options)
    plt.close(figure)
    return figure


# -- training curves ---------------------------------------------------------


def training_curves(history):
    """Plot the loss and the accuracy per epoch, training against validation, on two axes.

    history: the ``History`` returned by ``nl.train``, or any mapping with
    the lists ``loss_train`` and ``acc_train`` and optionally ``loss_valid``
    and ``acc_valid`` (one value per epoch).
    """
    _check_history(history)
    figure = _new_figure(figsize=(10, 4), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    _draw_training_curves(loss_axes, accuracy_axes, history)
    return figure


class LiveTrainingCurves:
    """Training curves that redraw in place after every epoch, in one Jupyter output.

    The figure is shown once with ``display(figure, display_id=True)`` and
    each ``update(history)`` replaces that output through the display handle.
    Clearing the cell output and displaying again in a loop would instead
    leave one recorded output per frame in the notebook.

    n_epochs: the planned number of epochs, which fixes the x axis.
    display: the function that shows the figure, ``IPython.display.display``
    by default (tests pass their own).
    """

    def __init__(self, n_epochs, display=None):
        if display is None:
            from IPython.display import display
        self.n_epochs = n_epochs
        self.figure = _new_figure(figsize=(10, 4), layout="constrained")
        self.loss_axes, self.accuracy_axes = self.figure.subplots(1, 2)
        _draw_training_curves(self.loss_axes, self.accuracy_axes, {}, n_epochs)
        self.display_handle = display(self.figure, display_id=True)

    def update(self, history):
        """Redraw both axes from ``history`` and replace the displayed figure."""
        _draw_training_curves(self.loss_axes, self.accuracy_axes, history, self.n_epochs)
        self.display_handle.update(self.figure)


def _draw_training_curves(loss_axes, accuracy_axes, history, n_epochs=None):
    """Draw the loss and accuracy curves of ``history`` on two axes, replacing what was there."""
    panels = ((loss_axes, "loss", "Loss (mean per sample)"), (accuracy_axes, "acc", "Accuracy"))
    for axes, metric, title in panels:
        axes.clear()
        for split, label, line_style in (("train", "training", "-"), ("valid", "validation", "--")):
            values = history.get(f"{metric}_{split}", [])
            if len(values) == 0:
                continue
            epochs = np.arange(1, len(values) + 1)
            marker = "o" if len(values) <= 30 else None
            axes.plot(epochs, values, linestyle=line_style, marker=marker, label=label)
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        if n_epochs is not None:
            axes.set_xlim(0.5, n_epochs + 0.5)
        if axes.lines:
            axes.legend()
        axes.grid(alpha=0.3)


def _check_history(history):
    if not isinstance(history, Mapping):
        raise TypeError(
            f"training_curves: expected the history returned by nl.train (a dict of lists), "
            f"got {type(history).__name__}"
        )
    missing = [key for key in ("loss_train", "acc_train") if key not in history]
    if missing:
        raise ValueError(
            f"training_curves: the history has no {missing}; expected the keys loss_train and acc_train "
            f"(and optionally loss_valid, acc_valid), got {sorted(history)}"
        )


# -- images and their predictions --------------------------------------------


def image_grid(images, labels, predictions=None, class_names=None, n=16, n_columns=8):
    """Show the first ``n`` images in a grid with their labels.

    images: (N, H, W) or (N, H, W, 1) grey-scale, or (N, H, W, 3) colour.
    labels: the true classes, as (N,) labels or (N, C) one-hot targets.
    predictions: optional, as (N,) labels or the network's (N, C) output.
    With predictions, each title is the predicted class; a misclassified
    image gets a red title that also names the true class, and a red frame.
    class_names: optional list of names indexed by class, e.g. ["T-shirt", ...].
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
        raise ValueError(
            f"image_grid: expected images of shape (N, H, W), (N, H, W, 1) or (N, H, W, 3), got {images.shape}"
        )
    true_labels = to_class_labels(labels, "image_grid: labels")
    _check_length("image_grid", "labels", true_labels, len(images))
    predicted_labels = None
    if predictions is not None:
        predicted_labels = to_class_labels(predictions, "image_grid: predictions")
        _check_length("image_grid", "predictions", predicted_labels, len(images))
    _check_positive_int("image_grid", "n", n)
    _check_positive_int("image_grid", "n_columns", n_columns)
    name_of = _class_namer("image_grid", class_names, true_labels, predicted_labels)

    n = min(n, len(images))
    n_columns = min(n_columns, n)
    n_rows = math.ceil(n / n_columns)
    figure = _new_figure(figsize=(1.6 * n_columns, 1.9 * n_rows), layout="constrained")
    axes_grid = figure.subplots(n_rows, n_columns, squeeze=False)
    for index, axes in enumerate(axes_grid.flat):
        if index >= n:
            axes.set_axis_off()
            continue
        _show_image(axes, images[index])
        true_name = name_of(true_labels[index])
        if predicted_labels is None:
            axes.set_title(true_name, fontsize=9)
            continue
        predicted_name = name_of(predicted_labels[index])
        if predicted_labels[index] == true_labels[index]:
            axes.set_title(predicted_name, fontsize=9)
        else:
            axes.set_title(f"{predicted_name} (true {true_name})", fontsize=9, color=MISCLASSIFIED_COLOR)
            for spine in axes.spines.values():
                spine.set_color(MISCLASSIFIED_COLOR)
                spine.set_linewidth(2)
    if predicted_labels is not None:
        n_wrong = int(np.sum(predicted_labels[:n] != true_labels[:n]))
        figure.suptitle(f"Predicted class; red: misclassified ({n_wrong} of {n})")
    return figure


def _show_image(axes, image):
    """Draw one image without ticks but with its frame, which marks misclassified images."""
    if image.ndim == 2:
        axes.imshow(image, cmap="gray")
    else:
        # Colour images must lie in [0, 1] for imshow; normalised inputs often do not.
        low, high = image.min(), image.max()
        axes.imshow((image - low) / (high - low) if high > low else np.zeros_like(image, dtype=float))
    axes.set_xticks([])
    axes.set_yticks([])


def confusion_matrix(y_true, y_pred, class_names=None):
    """Plot the confusion matrix: rows are the true classes, columns the predicted ones.

    y_true, y_pred: (N,) labels, (N, C) one-hot targets or the network's
    (N, C) output (see ``netlite.evaluation.to_class_labels``).
    class_names: optional list of names, one per class; it also fixes the
    number of classes. Each cell shows its count, and the title shows the
    accuracy (the diagonal's share of all samples).
    """
    n_classes = len(class_names) if class_names is not None else None
    matrix = compute_confusion_matrix(y_true, y_pred, n_classes)
    n_samples = int(matrix.sum())
    if n_samples == 0:
        raise ValueError("confusion_matrix: y_true and y_pred contain no samples; pass at least one prediction")
    n_classes = len(matrix)
    names = list(class_names) if class_names is not None else [str(label) for label in range(n_classes)]

    size = max(4.0, 0.5 * n_classes + 2.0)
    figure = _new_figure(figsize=(size + 1.0, size), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, label="samples")
    long_names = max(len(name) for name in names) > 3
    axes.set_xticks(range(n_classes), names, rotation=45 if long_names else 0, ha="right" if long_names else "center")
    axes.set_yticks(range(n_classes), names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(f"Confusion matrix, accuracy {np.trace(matrix) / n_samples:.3f}")

    # Dark cells get white numbers so that every count stays readable.
    threshold = matrix.max() / 2
    for row in range(n_classes):
        for column in range(n_classes):
            count = matrix[row, column]
            color = "white" if count > threshold else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=color, fontsize=8)
    return figure


# -- inside the network ------------------------------------------------------


def conv_filters(layer, max_filters=64):
    """Show the kernels of a convolutional layer, one panel per output channel.

    layer: a ConvolutionalLayer, whose ``params['W']`` has shape
    (K, K, C_in, C_out). Panel j shows filter j, i.e. ``W[:, :, c, j]`` for
    every input channel c, side by side. All panels share one colour scale
    centred on 0 (red positive, blue negative), so their weights compare
    directly. At most ``max_filters`` output channels are shown.
    """
    params = getattr(layer, "params", None)
    weights = params.get("W") if isinstance(params, dict) else None
    if weights is None or np.ndim(weights) != 4:
        shape = np.shape(weights) if weights is not None else "no params['W']"
        raise TypeError(
            f"conv_filters: expected a ConvolutionalLayer whose params['W'] has shape (K, K, C_in, C_out), "
            f"got {layer!r} with {shape}; pick a convolutional layer, e.g. model.layers[0]"
        )
    _check_positive_int("conv_filters", "max_filters", max_filters)
    kernel_size, _, n_inputs, n_outputs = weights.shape
    n_shown = min(n_outputs, max_filters)
    limit = float(np.abs(weights).max()) or 1.0

    tile_width = n_inputs * (kernel_size + 1) - 1
    # About 1.5 times as many columns as a square layout would have: a landscape figure.
    n_columns = max(1, min(n_shown, round(1.5 * math.sqrt(n_shown * (kernel_size + 1) / (tile_width + 1)))))
    n_rows = math.ceil(n_shown / n_columns)
    inches_per_pixel = min(0.25, 12.0 / (n_columns * (tile_width + 1)))
    figure = _new_figure(
        figsize=(max(4.0, n_columns * (tile_width + 1) * inches_per_pixel + 1.5),
                 max(3.0, n_rows * (kernel_size + 1) * inches_per_pixel * 1.4 + 0.8)),
        layout="constrained",
    )
    axes_grid = figure.subplots(n_rows, n_columns, squeeze=False)
    colormap = plt.get_cmap("RdBu_r").with_extremes(bad="white")
    image = None
    for index, axes in enumerate(axes_grid.flat):
        axes.set_xticks([])
        axes.set_yticks([])
        if index >= n_shown:
            axes.set_axis_off()
            continue
        image = axes.imshow(_filter_tile(weights, index), cmap=colormap, vmin=-limit, vmax=limit)
        axes.set_title(f"filter {index}", fontsize=8)
    figure.colorbar(image, ax=axes_grid, label="weight", shrink=0.8)

    channels = f"; the {n_inputs} input channels side by side" if n_inputs > 1 else ""
    figure.suptitle(f"{layer!r}: {n_shown} of {n_outputs} filters{channels}")
    return figure


def _filter_tile(weights, output_channel):
    """Lay the K x K kernels of one output channel side by side, with a NaN (blank) column between them."""
    kernel_size, _, n_inputs, _ = weights.shape
    tile = np.full((kernel_size, n_inputs * (kernel_size + 1) - 1), np.nan)
    for channel in range(n_inputs):
        start = channel * (kernel_size + 1)
        tile[:, start : start + kernel_size] = weights[:, :, channel, output_channel]
    return tile


def feature_maps(model, x, layer_index, max_maps=64):
    """Show what layer ``layer_index`` outputs for one input image.

    x: one image of shape (H, W, C), e.g. ``X_test[0]``. The network runs in
    evaluation mode (Dropout off) from the first layer up to and including
    ``layer_index`` (negative indices count from the end), which overwrites
    what those layers kept for their backward pass. An (1, H', W', C') output
    is shown as one map per channel, at most ``max_maps``; an (1, D) output
    (a fully connected layer) as a bar chart of its D values.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        hint = "; pass one image x[0], not a batch" if x.ndim == 4 else ""
        raise ValueError(f"feature_maps: expected one image of shape (H, W, C), got {x.shape}{hint}")
    n_layers = len(model.layers)
    if isinstance(layer_index, bool) or not isinstance(layer_index, (int, np.integer)) or not (
        -n_layers <= layer_index < n_layers
    ):
        raise ValueError(
            f"feature_maps: layer_index must be an integer in [{-n_layers}, {n_layers - 1}] for this "
            f"network of {n_layers} layers, got {layer_index!r}"
        )
    _check_positive_int("feature_maps", "max_maps", max_maps)
    layer_index = int(layer_index) % n_layers
    layer = model.layers[layer_index]

    # Run the layers one by one, as NeuralNetwork.forward does, stopping at layer_index.
    was_training = [network_layer.training for network_layer in model.layers]
    model.eval()
    try:
        activation = x[np.newaxis]
        for index, network_layer in enumerate(model.layers[: layer_index + 1]):
            activation = network_layer.forward(activation)
            if activation is None:
                raise TypeError(
                    f"feature_maps: forward() of layer {index} ({network_layer!r}) returned None; "
                    f"end its forward() with 'return' and the layer's output"
                )
    finally:
        for network_layer, training in zip(model.layers, was_training):
            network_layer.training = training
    activation = np.asarray(activation)[0]
    title = f"Layer {layer_index}: {layer!r}, output {activation.shape}"

    if activation.ndim == 1:
        figure = _new_figure(figsize=(8, 3), layout="constrained")
        axes = figure.subplots()
        axes.bar(np.arange(len(activation)), activation)
        axes.set_xlabel("unit")
        axes.set_ylabel("activation")
        figure.suptitle(title)
        return figure
    if activation.ndim != 3:
        raise ValueError(
            f"feature_maps: layer {layer_index} ({layer!r}) outputs shape {activation.shape} per image; "
            f"expected (H, W, C) or (D,)"
        )

    n_channels = activation.shape[-1]
    n_shown = min(n_channels, max_maps)
    n_columns = min(n_shown, 8)
    n_rows = math.ceil(n_shown / n_columns)
    figure = _new_figure(figsize=(1.6 * n_columns, 1.7 * n_rows + 0.6), layout="constrained")
    axes_grid = figure.subplots(n_rows, n_columns, squeeze=False)
    for channel, axes in enumerate(axes_grid.flat):
        axes.set_xticks([])
        axes.set_yticks([])
        if channel >= n_shown:
            axes.set_axis_off()
            continue
        axes.imshow(activation[:, :, channel], cmap="viridis")
        axes.set_title(f"channel {channel}", fontsize=8)
    truncation_note = f", first {n_shown} channels" if n_shown < n_channels else ""
    figure.suptitle(title + truncation_note)
    return figure


def decision_boundary(model, X, y, resolution=200, padding=0.5):
    """Colour the input plane by the model's output and mark the samples, for inputs with 2 features.

    X: (N, 2) inputs; y: their classes, as (N,) labels, (N, 1) 0/1 targets
    or (N, C) one-hot targets. The model is evaluated on a ``resolution`` x
    ``resolution`` grid that covers X plus ``padding`` on every side. A model
    with one output (a sigmoid unit) gets a colour scale of that output with
    the 0.5 contour drawn as the boundary. A model with C outputs gets one
    colour per predicted class (argmax).
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary: expected inputs X of shape (N, 2), got {X.shape}")
    labels = to_class_labels(y, "decision_boundary: y")
    _check_length("decision_boundary", "y", labels, len(X))
    _check_positive_int("decision_boundary", "resolution", resolution)
    if len(X) == 0:
        raise ValueError("decision_boundary: X contains no samples")

    low = X.min(axis=0) - padding
    high = X.max(axis=0) + padding
    grid_x, grid_y = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    points = np.column_stack([grid_x.ravel(), grid_y.ravel()]).astype(np.float32)
    output = np.asarray(model.predict(points))
    if output.ndim != 2:
        raise ValueError(f"decision_boundary: expected the model to output shape (N, outputs), got {output.shape}")

    figure = _new_figure(figsize=(6, 5), layout="constrained")
    axes = figure.subplots()
    if output.ndim == 2 and output.shape[1] == 1:
        values = output[:, 0].reshape(grid_x.shape)
        levels = np.linspace(min(0.0, values.min()), max(1.0, values.max()), 21)
        filled = axes.contourf(grid_x, grid_y, values, levels=levels, cmap="RdBu_r", alpha=0.6)
        figure.colorbar(filled, ax=axes, label="model output")
        if values.min() < 0.5 < values.max():
            axes.contour(grid_x, grid_y, values, levels=[0.5], colors="black", linewidths=1.5)
        scatter_colors = {"cmap": "RdBu_r", "vmin": 0, "vmax": 1}
    else:
        n_classes = output.shape[1]
        predicted = output.argmax(axis=1).reshape(grid_x.shape)
        class_levels = np.arange(n_classes + 1) - 0.5
        axes.contourf(grid_x, grid_y, predicted, levels=class_levels, cmap="tab10", vmin=0, vmax=9, alpha=0.3)
        # NOTE: tab10 has 10 colours, so classes 10 and above share the colour of class 9.
        scatter_colors = {"cmap": "tab10", "vmin": 0, "vmax": 9}
    axes.scatter(X[:, 0], X[:, 1], c=labels, edgecolors="black", s=40, **scatter_colors)
    axes.set_xlabel("x[:, 0]")
    axes.set_ylabel("x[:, 1]")
    axes.set_title("Decision boundary")
    return figure


# -- shared checks ------------------------------------------------------------


def _check_positive_int(function, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{function}: {name} must be a positive integer, got {value!r}")


def _check_length(function, name, values, n_samples):
    if len(values) != n_samples:
        raise ValueError(f"{function}: expected {n_samples} {name}, one per sample, got {len(values)}")


def _class_namer(function, class_names, *label_arrays):
    """Return a function that maps a class label to its name, after checking that every label has one."""
    if class_names is None:
        return str
    class_names = list(class_names)
    largest = max((int(labels.max()) for labels in label_arrays if labels is not None and len(labels)), default=-1)
    if largest >= len(class_names):
        raise ValueError(
            f"{function}: class_names has {len(class_names)} names, but the labels go up to {largest}; "
            f"pass one name per class"
        )
    return lambda label: str(class_names[label])
