"""One random number generator for the whole package, so one seed reproduces a run.

Weight initialisation, Dropout masks and ``batch_handler(shuffle=True)`` draw
from ``default_rng()`` unless they are given a generator of their own.
"""

import numpy as np

_rng = np.random.default_rng()


def seed(n):
    """Reset the package's generator to ``np.random.default_rng(n)``.

    Call it before building the model: initial weights, shuffling and Dropout
    then repeat exactly on the next run with the same number of threads. The
    convolution's weight gradient adds up one partial sum per thread, so a
    run on another number of threads rounds differently (by about 1e-7 in
    float32) and drifts apart slowly.
    """
    global _rng
    _rng = np.random.default_rng(n)


def default_rng():
    """Return the package's shared ``numpy.random.Generator``."""
    return _rng
