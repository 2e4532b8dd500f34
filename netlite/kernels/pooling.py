"""Fast 2x2, stride-2 average and max pooling, forward and backward.

An odd last row or column is dropped (floor, as PyTorch does) and gets zero
gradient. ``reference.py`` has the same functions as plain loops.

The pooling kernels run on the calling thread: they take a few percent of a
LeNet-5 training step, too little to share between threads (see
``threads.py``). To step through the kernels in a debugger, run Python with
``NUMBA_DISABLE_JIT=1``, and they execute as ordinary Python loops. The
numpy versions run when numba is not installed, and give bit-identical
results.
"""

import numpy as np

from .jit import kernel


def _windows_numpy(X):
    """Return X: (N, H, W, C) cropped to even size as a (N, H // 2, 2, W // 2, 2, C) view."""
    N, H, W, C = X.shape
    OH, OW = H // 2, W // 2
    return X[:, : 2 * OH, : 2 * OW, :].reshape(N, OH, 2, OW, 2, C)


def _avgpool2x2_forward_numpy(X):
    windows = _windows_numpy(X)
    return (windows[:, :, 0, :, 0] + windows[:, :, 0, :, 1] + windows[:, :, 1, :, 0] + windows[:, :, 1, :, 1]) * 0.25


def _avgpool2x2_backward_numpy(grad_output, input_shape):
    N, OH, OW, C = grad_output.shape
    dX = np.zeros(input_shape, dtype=grad_output.dtype)
    quarter = grad_output * 0.25
    for di in range(2):
        for dj in range(2):
            dX[:, di : 2 * OH : 2, dj : 2 * OW : 2, :] = quarter
    return dX


def _maxpool2x2_forward_numpy(X):
    windows = _windows_numpy(X)
    N, OH, _, OW, _, C = windows.shape
    # (N, OH, OW, C, 4) with the window in row-major order; argmax returns the first maximum.
    flat = windows.transpose(0, 1, 3, 5, 2, 4).reshape(N, OH, OW, C, 4)
    argmax = flat.argmax(axis=-1).astype(np.uint8)
    Y = np.take_along_axis(flat, argmax[..., None].astype(np.intp), axis=-1)[..., 0]
    return Y, argmax


def _maxpool2x2_backward_numpy(grad_output, argmax, input_shape):
    N, OH, OW, C = grad_output.shape
    dX = np.zeros(input_shape, dtype=grad_output.dtype)
    for position in range(4):
        di, dj = divmod(position, 2)
        dX[:, di : 2 * OH : 2, dj : 2 * OW : 2, :] = np.where(argmax == position, grad_output, 0)
    return dX


@kernel(fallback=_avgpool2x2_forward_numpy)
def avgpool2x2_forward(X):
    """Average each 2x2 window: X: (N, H, W, C) -> Y: (N, H // 2, W // 2, C)."""
    N, H, W, C = X.shape
    OH, OW = H // 2, W // 2
    Y = np.empty((N, OH, OW, C), dtype=X.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                for c in range(C):
                    top = X[n, 2 * i, 2 * j, c] + X[n, 2 * i, 2 * j + 1, c]
                    Y[n, i, j, c] = (top + X[n, 2 * i + 1, 2 * j, c] + X[n, 2 * i + 1, 2 * j + 1, c]) * 0.25
    return Y


@kernel(fallback=_avgpool2x2_backward_numpy)
def avgpool2x2_backward(grad_output, input_shape):
    """Give each input of a window a quarter of the window's output gradient.

    grad_output: (N, H // 2, W // 2, C), input_shape: (N, H, W, C) -> dX: (N, H, W, C).
    """
    N, OH, OW, C = grad_output.shape
    dX = np.zeros(input_shape, dtype=grad_output.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                for c in range(C):
                    quarter = grad_output[n, i, j, c] * 0.25
                    dX[n, 2 * i, 2 * j, c] = quarter
                    dX[n, 2 * i, 2 * j + 1, c] = quarter
                    dX[n, 2 * i + 1, 2 * j, c] = quarter
                    dX[n, 2 * i + 1, 2 * j + 1, c] = quarter
    return dX


@kernel(fallback=_maxpool2x2_forward_numpy)
def maxpool2x2_forward(X):
    """Take the maximum of each 2x2 window and remember where it was.

    X: (N, H, W, C) -> (Y, argmax), both (N, H // 2, W // 2, C). ``argmax`` (uint8)
    is the position inside the window, 0 to 3 in row-major order; on a tie
    the first maximum in that order wins.
    """
    N, H, W, C = X.shape
    OH, OW = H // 2, W // 2
    Y = np.empty((N, OH, OW, C), dtype=X.dtype)
    argmax = np.empty((N, OH, OW, C), dtype=np.uint8)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                for c in range(C):
                    best_value = X[n, 2 * i, 2 * j, c]
                    best_position = 0
                    for position in range(1, 4):
                        value = X[n, 2 * i + position // 2, 2 * j + position % 2, c]
                        # "not <=" also picks a NaN, as np.max and the numpy fallback do.
                        if not value <= best_value and not best_value != best_value:
                            best_value = value
                            best_position = position
                    Y[n, i, j, c] = best_value
                    argmax[n, i, j, c] = best_position
    return Y, argmax


@kernel(fallback=_maxpool2x2_backward_numpy)
def maxpool2x2_backward(grad_output, argmax, input_shape):
    """Send each output gradient to the input that was its window's maximum.

    grad_output, argmax: (N, H // 2, W // 2, C), input_shape: (N, H, W, C) -> dX: (N, H, W, C).
    """
    N, OH, OW, C = grad_output.shape
    dX = np.zeros(input_shape, dtype=grad_output.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                for c in range(C):
                    position = argmax[n, i, j, c]
                    dX[n, 2 * i + position // 2, 2 * j + position % 2, c] = grad_output[n, i, j, c]
    return dX
