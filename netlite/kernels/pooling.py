"""Fast 2x2, stride-2 average and max pooling, forward and backward.

An odd last row or column is dropped (floor, as PyTorch does) and gets zero
gradient. ``reference.py`` has the same functions as plain loops.

Each public function allocates its output and calls a kernel that writes
into it. The kernels split the batch into one chunk of consecutive images
per thread and run the chunks in a ``prange`` loop on numba's threads, as
the convolution kernels do (``threads.py``). On the 2-core Intel Xeon of
docs/benchmarks.md two threads halved the time of LeNet-5's first average
pooling at batch 1,000. At batch 32 they saved about 0.02 ms per call.
To step through the kernels in a debugger, run Python with
``NUMBA_DISABLE_JIT=1``, and they execute as ordinary Python loops. The
numpy versions run when numba is not installed, and give bit-identical
results.
"""

import numpy as np

from .jit import kernel
from .threads import threads_for

prange = range  # numba's parallel range once numba is loaded (see jit.py); the plain range before


def avgpool2x2_forward(X):
    """Average each 2x2 window: X: (N, H, W, C) -> Y: (N, H // 2, W // 2, C)."""
    X = _check_images("avgpool2x2_forward", "X", X)
    N, H, W, C = X.shape
    Y = np.empty((N, H // 2, W // 2, C), dtype=X.dtype)
    avgpool_forward_images(X, Y, threads_for(N))
    return Y


def avgpool2x2_backward(grad_output, input_shape):
    """Give each input of a window a quarter of the window's output gradient.

    grad_output: (N, H // 2, W // 2, C), input_shape: (N, H, W, C) -> dX: (N, H, W, C).
    """
    grad_output = _check_pooled_grad("avgpool2x2_backward", grad_output, input_shape)
    dX = np.zeros(input_shape, dtype=grad_output.dtype)  # zero in a dropped last row or column
    avgpool_backward_images(grad_output, dX, threads_for(len(dX)))
    return dX


def maxpool2x2_forward(X):
    """Take the maximum of each 2x2 window and remember where it was.

    X: (N, H, W, C) -> (Y, argmax), both (N, H // 2, W // 2, C). ``argmax`` (uint8)
    is the position inside the window, 0 to 3 in row-major order; on a tie
    the first maximum in that order wins.
    """
    X = _check_images("maxpool2x2_forward", "X", X)
    N, H, W, C = X.shape
    Y = np.empty((N, H // 2, W // 2, C), dtype=X.dtype)
    argmax = np.empty((N, H // 2, W // 2, C), dtype=np.uint8)
    maxpool_forward_images(X, Y, argmax, threads_for(N))
    return Y, argmax


def maxpool2x2_backward(grad_output, argmax, input_shape):
    """Send each output gradient to the input that was its window's maximum.

    grad_output, argmax: (N, H // 2, W // 2, C), input_shape: (N, H, W, C) -> dX: (N, H, W, C).
    """
    grad_output = _check_pooled_grad("maxpool2x2_backward", grad_output, input_shape)
    argmax = np.asarray(argmax)
    # The kernel writes to the window position that argmax names, without bounds checks.
    largest = int(argmax.max()) if argmax.size and argmax.dtype.kind in "iub" else 0
    if argmax.dtype != np.uint8 or argmax.shape != grad_output.shape or largest > 3:
        raise ValueError(
            f"maxpool2x2_backward: expected argmax of dtype uint8, shape {grad_output.shape} and values 0 to 3, "
            f"got dtype {argmax.dtype}, shape {argmax.shape} and largest value {largest}; "
            f"pass the argmax that maxpool2x2_forward returned"
        )
    dX = np.zeros(input_shape, dtype=grad_output.dtype)  # zero everywhere but at the maxima
    maxpool_backward_images(grad_output, np.ascontiguousarray(argmax), dX, threads_for(len(dX)))
    return dX


def _check_images(caller, name, array):
    """Return ``array`` as a C-contiguous float32 or float64 array of native byte order with four axes."""
    array = np.asarray(array)
    if array.dtype.type not in (np.float32, np.float64):
        raise TypeError(
            f"{caller}: {name} must be float32 or float64, got {array.dtype}; convert it with {name}.astype(np.float32)"
        )
    if array.ndim != 4:
        raise ValueError(
            f"{caller}: expected {name} of shape (N, H, W, C), got {array.shape}; "
            f"give grey images a channel axis of 1, e.g. {name}[..., None]"
        )
    # numba compiles for the machine's byte order only, so a big-endian array is converted too.
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))


def _check_pooled_grad(caller, grad_output, input_shape):
    """Check that grad_output has the pooled shape of ``input_shape``; return it ready for a kernel."""
    grad_output = _check_images(caller, "grad_output", grad_output)
    if len(input_shape) != 4:
        raise ValueError(f"{caller}: expected input_shape (N, H, W, C), got {input_shape}; pass the forward input's shape")
    N, H, W, C = input_shape
    if grad_output.shape != (N, H // 2, W // 2, C):
        raise ValueError(
            f"{caller}: expected grad_output of shape {(N, H // 2, W // 2, C)} for input_shape {tuple(input_shape)}, "
            f"got {grad_output.shape}; pass the gradient of the pooled output"
        )
    return grad_output


# -- numpy fallbacks: the same arithmetic, in the same order, on whole arrays --
#
# They take ``n_chunks`` only to share the kernels' signature.


def _windows_numpy(X):
    """Return X: (N, H, W, C) cropped to even size as a (N, H // 2, 2, W // 2, 2, C) view."""
    N, H, W, C = X.shape
    OH, OW = H // 2, W // 2
    return X[:, : 2 * OH, : 2 * OW, :].reshape(N, OH, 2, OW, 2, C)


def _avgpool_forward_images_numpy(X, Y, n_chunks):
    windows = _windows_numpy(X)
    Y[...] = (windows[:, :, 0, :, 0] + windows[:, :, 0, :, 1] + windows[:, :, 1, :, 0] + windows[:, :, 1, :, 1]) * 0.25


def _avgpool_backward_images_numpy(grad_output, dX, n_chunks):
    N, OH, OW, C = grad_output.shape
    quarter = grad_output * 0.25
    for di in range(2):
        for dj in range(2):
            dX[:, di : 2 * OH : 2, dj : 2 * OW : 2, :] = quarter


def _maxpool_forward_images_numpy(X, Y, argmax, n_chunks):
    windows = _windows_numpy(X)
    N, OH, _, OW, _, C = windows.shape
    # (N, OH, OW, C, 4) with the window in row-major order; argmax returns the first maximum.
    flat = windows.transpose(0, 1, 3, 5, 2, 4).reshape(N, OH, OW, C, 4)
    argmax[...] = flat.argmax(axis=-1)
    Y[...] = np.take_along_axis(flat, argmax[..., None].astype(np.intp), axis=-1)[..., 0]


def _maxpool_backward_images_numpy(grad_output, argmax, dX, n_chunks):
    N, OH, OW, C = grad_output.shape
    for position in range(4):
        di, dj = divmod(position, 2)
        dX[:, di : 2 * OH : 2, dj : 2 * OW : 2, :] = np.where(argmax == position, grad_output, 0)


# -- the numba kernels: each writes its output in place, one chunk of images per thread --


@kernel(fallback=_avgpool_forward_images_numpy, parallel=True)
def avgpool_forward_images(X, Y, n_chunks):
    """Write the average of each 2x2 window of X: (N, H, W, C) into Y: (N, H // 2, W // 2, C)."""
    N, OH, OW, C = Y.shape
    for chunk in prange(n_chunks):
        for n in range(N * chunk // n_chunks, N * (chunk + 1) // n_chunks):
            for i in range(OH):
                for j in range(OW):
                    for c in range(C):
                        top = X[n, 2 * i, 2 * j, c] + X[n, 2 * i, 2 * j + 1, c]
                        Y[n, i, j, c] = (top + X[n, 2 * i + 1, 2 * j, c] + X[n, 2 * i + 1, 2 * j + 1, c]) * 0.25


@kernel(fallback=_avgpool_backward_images_numpy, parallel=True)
def avgpool_backward_images(grad_output, dX, n_chunks):
    """Write a quarter of each window's output gradient to its four inputs in dX.

    grad_output: (N, H // 2, W // 2, C), dX: (N, H, W, C). A dropped last row or
    column of dX is left as it is.
    """
    N, OH, OW, C = grad_output.shape
    for chunk in prange(n_chunks):
        for n in range(N * chunk // n_chunks, N * (chunk + 1) // n_chunks):
            for i in range(OH):
                for j in range(OW):
                    for c in range(C):
                        quarter = grad_output[n, i, j, c] * 0.25
                        dX[n, 2 * i, 2 * j, c] = quarter
                        dX[n, 2 * i, 2 * j + 1, c] = quarter
                        dX[n, 2 * i + 1, 2 * j, c] = quarter
                        dX[n, 2 * i + 1, 2 * j + 1, c] = quarter


@kernel(fallback=_maxpool_forward_images_numpy, parallel=True)
def maxpool_forward_images(X, Y, argmax, n_chunks):
    """Write the maximum of each 2x2 window of X into Y and its position (0 to 3) into argmax.

    X: (N, H, W, C), Y and argmax: (N, H // 2, W // 2, C).
    """
    N, OH, OW, C = Y.shape
    for chunk in prange(n_chunks):
        for n in range(N * chunk // n_chunks, N * (chunk + 1) // n_chunks):
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


@kernel(fallback=_maxpool_backward_images_numpy, parallel=True)
def maxpool_backward_images(grad_output, argmax, dX, n_chunks):
    """Write each output gradient to the input of dX that was its window's maximum.

    grad_output, argmax: (N, H // 2, W // 2, C), dX: (N, H, W, C), zero where
    no gradient arrives.
    """
    N, OH, OW, C = grad_output.shape
    for chunk in prange(n_chunks):
        for n in range(N * chunk // n_chunks, N * (chunk + 1) // n_chunks):
            for i in range(OH):
                for j in range(OW):
                    for c in range(C):
                        position = argmax[n, i, j, c]
                        dX[n, 2 * i + position // 2, 2 * j + position % 2, c] = grad_output[n, i, j, c]
