"""Naive reference versions of the kernels: plain Python loops straight from the definitions.

Each function here has the same signature as the fast function of the same
name in ``convolution.py`` or ``pooling.py``, and the same result up to
rounding: the fast kernels add in another order. They are far too
slow for training. The tests compare the fast kernels against them, and they
are the place to read what a kernel computes: one loop per index of the
definition, and nothing else.

Shapes use one vocabulary: N images, H x W pixels, C channels, K x K kernels,
OH = H - K + 1 and OW = W - K + 1 for the convolution output (stride 1, no
padding), OH = H // 2 and OW = W // 2 for 2x2 pooling.
"""

import numpy as np


# -- convolution --------------------------------------------------------------


def conv2d_forward(X, W, b):
    """Compute Y[n, i, j, co] = b[co] + sum over kh, kw, c of X[n, i+kh, j+kw, c] * W[kh, kw, c, co].

    X: (N, H, W, C_in), W: (K, K, C_in, C_out), b: (C_out,) -> Y: (N, OH, OW, C_out).
    This is cross-correlation, which deep-learning libraries call convolution.
    """
    N, H, W_in, C_in = X.shape
    K, _, _, C_out = W.shape
    OH, OW = H - K + 1, W_in - K + 1
    Y = np.zeros((N, OH, OW, C_out), dtype=X.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                for co in range(C_out):
                    total = b[co]
                    for kh in range(K):
                        for kw in range(K):
                            for c in range(C_in):
                                total += X[n, i + kh, j + kw, c] * W[kh, kw, c, co]
                    Y[n, i, j, co] = total
    return Y


def conv2d_backward(X, W, grad_output):
    """Return (dX, dW, db) for Y = conv2d_forward(X, W, b) and dL/dY = grad_output.

    X: (N, H, W, C_in), W: (K, K, C_in, C_out), grad_output: (N, OH, OW, C_out)
    -> dX: (N, H, W, C_in), dW: (K, K, C_in, C_out), db: (C_out,).
    Every product X[n, i+kh, j+kw, c] * W[kh, kw, c, co] in the forward sum
    sends grad_output[n, i, j, co] times the other factor to each factor.
    """
    N, OH, OW, C_out = grad_output.shape
    K, _, C_in, _ = W.shape
    dX = np.zeros(X.shape, dtype=X.dtype)
    dW = np.zeros(W.shape, dtype=W.dtype)
    db = np.zeros(C_out, dtype=W.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                for co in range(C_out):
                    g = grad_output[n, i, j, co]
                    db[co] += g
                    for kh in range(K):
                        for kw in range(K):
                            for c in range(C_in):
                                dX[n, i + kh, j + kw, c] += g * W[kh, kw, c, co]
                                dW[kh, kw, c, co] += g * X[n, i + kh, j + kw, c]
    return dX, dW, db


# -- 2x2 pooling, stride 2 ----------------------------------------------------


def avgpool2x2_forward(X):
    """Average each 2x2 window: X: (N, H, W, C) -> Y: (N, H // 2, W // 2, C).

    An odd last row or column is dropped, as PyTorch does.
    """
    N, H, W, C = X.shape
    Y = np.zeros((N, H // 2, W // 2, C), dtype=X.dtype)
    for n in range(N):
        for i in range(H // 2):
            for j in range(W // 2):
                for c in range(C):
                    total = X[n, 2 * i, 2 * j, c] + X[n, 2 * i, 2 * j + 1, c]
                    total += X[n, 2 * i + 1, 2 * j, c] + X[n, 2 * i + 1, 2 * j + 1, c]
                    Y[n, i, j, c] = total * 0.25
    return Y


def avgpool2x2_backward(grad_output, input_shape):
    """Give each of the four inputs of a window a quarter of its output gradient.

    grad_output: (N, H // 2, W // 2, C), input_shape: (N, H, W, C) -> dX: (N, H, W, C).
    A dropped odd row or column gets zero gradient.
    """
    N, OH, OW, C = grad_output.shape
    dX = np.zeros(input_shape, dtype=grad_output.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                for c in range(C):
                    for di in range(2):
                        for dj in range(2):
                            dX[n, 2 * i + di, 2 * j + dj, c] = grad_output[n, i, j, c] * 0.25
    return dX


def maxpool2x2_forward(X):
    """Take the maximum of each 2x2 window and remember where it was.

    X: (N, H, W, C) -> (Y, argmax), both (N, H // 2, W // 2, C). ``argmax`` (uint8)
    is the position of the maximum inside its window, 0 to 3 in row-major
    order (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right). On a tie
    the first of the equal values in that order wins. A NaN counts as larger
    than any number, as in ``np.max``, so the first NaN of a window wins.
    """
    N, H, W, C = X.shape
    Y = np.zeros((N, H // 2, W // 2, C), dtype=X.dtype)
    argmax = np.zeros((N, H // 2, W // 2, C), dtype=np.uint8)
    for n in range(N):
        for i in range(H // 2):
            for j in range(W // 2):
                for c in range(C):
                    best_value = X[n, 2 * i, 2 * j, c]
                    best_position = 0
                    for position in range(1, 4):
                        value = X[n, 2 * i + position // 2, 2 * j + position % 2, c]
                        if np.isnan(best_value):
                            break  # nothing beats the first NaN
                        if value > best_value or np.isnan(value):
                            best_value = value
                            best_position = position
                    Y[n, i, j, c] = best_value
                    argmax[n, i, j, c] = best_position
    return Y, argmax


def maxpool2x2_backward(grad_output, argmax, input_shape):
    """Send each output gradient to the one input that was the window's maximum.

    grad_output, argmax: (N, H // 2, W // 2, C), input_shape: (N, H, W, C)
    -> dX: (N, H, W, C). All other inputs, and a dropped odd row or column, get zero.
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
