"""Fast im2col and col2im, the data movement around the convolution's matrix products.

``ConvolutionalLayer`` turns the convolution into one matrix product: im2col
copies every K x K x C patch into a row, and ``patches @ W.reshape(-1, C_out)``
computes all outputs at once with BLAS. col2im is the adjoint of im2col, which
the backward pass needs for dL/dX. ``reference.py`` has the same functions as
plain loops.

The numba versions run on one thread, and BLAS alone spreads the matrix
products over the cores. Parallel kernels were tried: on a 2-core x86-64
machine, numba's OpenMP threads waiting next to OpenBLAS's threads made a
LeNet-5 training step about 15 times slower (188 ms against 13 ms at
batch 32). To step through the kernels in a debugger, run Python with
``NUMBA_DISABLE_JIT=1``, and they execute as ordinary Python loops. The numpy versions run when numba is not
installed, and give bit-identical results.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .jit import kernel


def _patch_view(X, K):
    """Return a read-only strided view of X: (N, H, W, C) -> (N, OH, OW, K, K, C), no copy."""
    N, H, W, C = X.shape
    sN, sH, sW, sC = X.strides
    shape = (N, H - K + 1, W - K + 1, K, K, C)
    return as_strided(X, shape=shape, strides=(sN, sH, sW, sH, sW, sC), writeable=False)


def _im2col_numpy(X, kernel_size):
    N, H, W, C = X.shape
    K = kernel_size
    return _patch_view(X, K).reshape(N * (H - K + 1) * (W - K + 1), K * K * C)


def _col2im_numpy(patches, input_shape, kernel_size):
    N, H, W, C = input_shape
    K = kernel_size
    OH, OW = H - K + 1, W - K + 1
    patches = patches.reshape(N, OH, OW, K, K, C)
    dX = np.zeros(input_shape, dtype=patches.dtype)
    # Adding in reverse order sums each pixel's terms in the same order as the
    # numba kernel below, so both give bit-identical results.
    for kh in reversed(range(K)):
        for kw in reversed(range(K)):
            dX[:, kh : kh + OH, kw : kw + OW, :] += patches[:, :, :, kh, kw, :]
    return dX


@kernel(fallback=_im2col_numpy)
def im2col(X, kernel_size):
    """Copy every K x K patch of X into one row of a matrix.

    X: (N, H, W, C), C-contiguous -> patches: (N * OH * OW, K * K * C), rows in
    (n, i, j) order, columns in (kh, kw, c) order like ``W.reshape(-1, C_out)``.
    """
    N, H, W, C = X.shape
    K = kernel_size
    OH, OW = H - K + 1, W - K + 1
    row_length = K * C
    # One image row is W * C contiguous numbers. A patch row (kh fixed) is
    # the contiguous slice of K * C of them that starts at pixel j.
    rows = X.reshape(N, H, W * C)
    patches = np.empty((N, OH, OW, K, row_length), dtype=X.dtype)
    # The innermost loop copies element by element: numba compiles it to a
    # tight loop, where a slice assignment per patch row costs more than the copy.
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                for kh in range(K):
                    start = j * C
                    for t in range(row_length):
                        patches[n, i, j, kh, t] = rows[n, i + kh, start + t]
    return patches.reshape(N * OH * OW, K * row_length)


@kernel(fallback=_col2im_numpy)
def col2im(patches, input_shape, kernel_size):
    """Add every row of ``patches`` back onto the pixels its patch came from (the adjoint of im2col).

    patches: (N * OH * OW, K * K * C), C-contiguous, input_shape: (N, H, W, C)
    -> dX: (N, H, W, C). A pixel in several patches receives the sum of their entries.
    """
    N, H, W, C = input_shape
    K = kernel_size
    OH, OW = H - K + 1, W - K + 1
    row_length = K * C
    patch_rows = patches.reshape(N, OH, OW, K, row_length)
    dX = np.zeros((N, H, W * C), dtype=patches.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                for kh in range(K):
                    start = j * C
                    for t in range(row_length):
                        dX[n, i + kh, start + t] += patch_rows[n, i, j, kh, t]
    return dX.reshape(N, H, W, C)
