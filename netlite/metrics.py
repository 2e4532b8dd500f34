"""Counting correct predictions, the accuracy metric that ``optimizer.step`` reports."""

import numpy as np


def count_correct(output, target):
    """Return how many samples of the batch the network got right.

    - One output per sample (a sigmoid unit): the prediction is ``output > 0.5``
      and the target counts as class 1 when it is above 0.5.
    - Several outputs with integer labels of shape (N,): argmax of the output.
    - Several outputs with one-hot or score targets of shape (N, C): the argmax
      of the output must equal the argmax of the target.

    A sample whose output contains NaN or inf counts as wrong, although argmax
    would pick class 0 for a row of NaNs, so a diverged network does not score
    on class 0. An empty batch has 0 correct.
    """
    output = np.asarray(output)
    target = np.asarray(target)
    if output.ndim != 2:
        raise ValueError(f"count_correct: expected output of shape (batch, outputs), got {output.shape}")
    if len(target) != len(output):
        raise ValueError(
            f"count_correct: expected one target per output row, got {len(target)} targets for {len(output)} rows"
        )
    if len(output) == 0:
        return 0
    valid = np.isfinite(output).reshape(len(output), -1).all(axis=1)
    if output.ndim == 2 and output.shape[1] == 1:
        right = (output[:, 0] > 0.5) == (target.reshape(len(output)) > 0.5)
        return int(np.sum(right & valid))
    predicted = output.argmax(axis=1)
    if target.ndim == 2 and target.shape[1] == 1:
        target = target[:, 0]
    if target.ndim == 2:
        target = target.argmax(axis=1)
    return int(np.sum((predicted == target) & valid))
