"""Splitting a data set into mini-batches."""

import numpy as np

from .seeding import default_rng


def batch_handler(X, y, batchsize=32, shuffle=False, drop_last=False, rng=None):
    """Yield ``(x_batch, y_batch)`` pairs that cover the data set once (one epoch).

    X: (N, ...) inputs, y: (N, ...) targets. The last batch is smaller when
    N is not a multiple of ``batchsize``; ``drop_last=True`` leaves it out.
    With ``shuffle=True`` the order is a new random permutation on every call,
    drawn from ``rng`` or else from the generator that ``netlite.seed`` resets.
    """
    if len(X) != len(y):
        raise ValueError(
            f"batch_handler: X and y must have the same number of samples, got {len(X)} inputs and {len(y)} targets"
        )
    if isinstance(batchsize, bool) or not isinstance(batchsize, (int, np.integer)) or batchsize < 1:
        raise ValueError(f"batch_handler: batchsize must be a positive integer, got {batchsize!r}")

    n_samples = len(X)
    stop = n_samples - n_samples % batchsize if drop_last else n_samples
    if shuffle:
        order = (rng if rng is not None else default_rng()).permutation(n_samples)
        for start in range(0, stop, batchsize):
            indices = order[start : start + batchsize]
            yield _take(X, indices), _take(y, indices)
    else:
        for start in range(0, stop, batchsize):
            yield X[start : start + batchsize], y[start : start + batchsize]


def _take(data, indices):
    """Return the samples at ``indices``: an array for an array, a list for a list, a tuple for a tuple."""
    if isinstance(data, (list, tuple)):
        return type(data)(data[i] for i in indices)  # a list cannot be indexed with an array of positions
    return data[indices]
