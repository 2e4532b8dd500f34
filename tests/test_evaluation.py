"""Class labels from outputs and targets, as the confusion matrix reads them."""

import numpy as np

import netlite as nl


def test_integer_label_column_is_read_as_labels():
    labels = np.array([0, 3, 5, 9, 3])
    matrix = nl.evaluation.confusion_matrix(labels.reshape(-1, 1), labels)
    np.testing.assert_array_equal(np.diag(matrix)[[0, 3, 5, 9]], [1, 2, 1, 1])
    assert matrix.sum() == 5


def test_single_sigmoid_output_is_thresholded():
    outputs = np.array([[0.2], [0.7], [0.51]])
    np.testing.assert_array_equal(nl.evaluation.to_class_labels(outputs), [0, 1, 1])
