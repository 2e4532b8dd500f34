"""Evaluating a classifier with plain numpy: class labels from outputs, and the confusion matrix.

``netlite.plot.confusion_matrix`` and ``netlite.plot.image_grid`` draw what
these functions compute; use them directly for the numbers.
"""

import numpy as np


def to_class_labels(values, name="labels"):
    """Return integer class labels of shape (N,) from labels, one-hot targets or network outputs.

    values: one of
    - (N,) integer labels, or float labels with integer values (e.g. 0.0, 1.0);
    - (N, 1) integer labels as a column: the labels themselves;
    - (N, 1) a single sigmoid output or 0/1 float target: class 1 where the value is
      above 0.5, the rule that ``netlite.metrics.count_correct`` uses;
    - (N, C) one-hot targets, probabilities or logits: the argmax of each row.
    ``name`` is the argument's name in error messages.
    """
    values = np.asarray(values)
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numeric class labels or network outputs, got dtype {values.dtype}")
    if values.ndim == 2 and values.shape[1] == 1 and values.dtype.kind in "iu":
        values = values[:, 0]  # integer labels as a column, as CrossEntropyLoss accepts them
    elif values.ndim == 2 and values.shape[1] == 1:
        return (values[:, 0] > 0.5).astype(np.int64)
    if values.ndim == 2:
        return values.argmax(axis=1)
    if values.ndim != 1:
        raise ValueError(
            f"{name}: expected class labels of shape (N,) or outputs of shape (N, classes), got {values.shape}"
        )
    if values.dtype.kind == "f":
        fractional = values[values != np.round(values)]
        if len(fractional):
            raise ValueError(
                f"{name}: float labels must be whole numbers such as 0.0 and 1.0, got {fractional[0]}; "
                f"pass integer class labels"
            )
        values = values.astype(np.int64)
    if len(values) and values.min() < 0:
        raise ValueError(f"{name}: class labels must be >= 0, got {values.min()}")
    return values.astype(np.int64, copy=False)


def confusion_matrix(y_true, y_pred, n_classes=None):
    """Count how often each true class was predicted as each class.

    y_true, y_pred: anything ``to_class_labels`` accepts, with N samples each
    (so the network's output can be passed as y_pred directly).
    n_classes: the number of classes C; by default the largest label + 1.
    Returns a (C, C) integer matrix whose entry [i, j] counts the samples of
    true class i that were predicted as class j. The diagonal contains the
    correct predictions, so ``np.trace(matrix) / matrix.sum()`` is the accuracy.
    A row of NaNs in y_pred counts as class 0 here (its argmax), whereas
    ``count_correct`` counts it as wrong, so the two differ for a diverged network.
    """
    true_labels = to_class_labels(y_true, "y_true")
    predicted_labels = to_class_labels(y_pred, "y_pred")
    if len(true_labels) != len(predicted_labels):
        raise ValueError(
            f"confusion_matrix: y_true and y_pred must have the same number of samples, "
            f"got {len(true_labels)} and {len(predicted_labels)}"
        )
    largest = max(true_labels.max(initial=-1), predicted_labels.max(initial=-1))
    if n_classes is None:
        n_classes = int(largest) + 1
    elif isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"confusion_matrix: n_classes must be a positive integer, got {n_classes!r}")
    elif largest >= n_classes:
        raise ValueError(
            f"confusion_matrix: label {largest} is outside the range [0, {n_classes - 1}] of n_classes={n_classes}; "
            f"increase n_classes or check the labels"
        )

    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    # np.add.at adds 1 once per sample, also when the same (i, j) pair repeats.
    np.add.at(matrix, (true_labels, predicted_labels), 1)
    return matrix
