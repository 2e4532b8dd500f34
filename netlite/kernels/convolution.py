"""Fast 2D convolution, forward and backward, as numba loops over whole rows of pixels.

``reference.py`` computes the same numbers with one plain loop per index,
straight from the definition. This file computes them fast with one idea:
flatten each image's rows, so that a kernel position becomes a shift.

Copy one image channel-first into a flat array ``image``: channel c, pixel
(h, w) goes to position c * H * W_in + h * W_in + w. Give output pixel (i, j)
the flat position p = i * W_in + j. The input pixel (i + kh, j + kw) of
channel c that the kernel entry (kh, kw, c) multiplies is then at position
p + shift, with shift = c * H * W_in + kh * W_in + kw: the same shift for
every output pixel. So one kernel entry updates all output pixels of one
channel in a single loop over contiguous memory, which the compiler turns
into vector instructions:

    out[co, p] += W[kh, kw, c, co] * image[p + shift]   for all p

Positions with j >= OW are computed too, and thrown away: there the shifted
row runs into the next image row (or the next channel). That wastes K - 1
of every W_in columns (an eighth for LeNet's first layer, 4 of 32, and 4 of
14 for its second) but keeps every loop long and simple.

The backward pass uses the same shifts, with the output gradient copied
into rows ``grad`` that are zero at the thrown-away positions:

    dX:  image_grad[p + shift] += W[kh, kw, c, co] * grad[co, p]
    dW:  dW[kh, kw, c, co] += sum over p of image[p + shift] * grad[co, p]

A zero there adds nothing, as long as the number it multiplies is finite:
0 * inf is NaN. So ``conv2d_backward`` sends an X with inf or NaN (for dW),
or a W with inf or NaN (for dX), to the numpy versions, which compute only
the products of the definition.

``conv2d_forward`` and ``conv2d_backward`` split the batch into one chunk of
consecutive images per thread (``threads.py``), and each kernel runs the
chunks in a ``prange`` loop on numba's threads. Each chunk allocates its own
scratch rows, so two threads never write to the same memory. numba may give
the chunks that one thread runs one after the other the same allocation,
which is safe because each chunk fills its rows before reading them. The
weight gradient is summed per chunk, and the chunks' sums are added in order
at the end. One array of scratch rows for all chunks, allocated before the
loop, was slower: 201 against 143 microseconds for LeNet's first convolution
at batch 32 on two threads. Each kernel has a numpy fallback, which
runs when numba is not installed; it gives the same results up to rounding.
To step through the loops in a debugger, run Python with
``NUMBA_DISABLE_JIT=1``: they then execute as ordinary (slow) Python.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .jit import kernel
from .threads import threads_for

prange = range  # numba's parallel range once numba is loaded (see jit.py); the plain range before


def conv2d_forward(X, W, b):
    """Convolve every image with every kernel and add the bias.

    X: (N, H, W_in, C_in), W: (K, K, C_in, C_out), b: (C_out,), all of one
    float dtype (float32 or float64) -> Y: (N, H - K + 1, W_in - K + 1, C_out).
    """
    X, W, b = _check_arrays("conv2d_forward", X=X, W=W, b=b)
    N, H, W_in, _ = X.shape
    K, C_out = W.shape[0], W.shape[3]
    Y = np.empty((N, H - K + 1, W_in - K + 1, C_out), dtype=X.dtype)
    forward_images(X, W, b, Y, threads_for(N))
    return Y


def conv2d_backward(X, W, grad_output, compute_input_grad=True):
    """Return (dX, dW, db) for Y = conv2d_forward(X, W, b) and dL/dY = grad_output.

    X: (N, H, W_in, C_in), W: (K, K, C_in, C_out), grad_output: (N, OH, OW, C_out),
    all of one float dtype -> dX: (N, H, W_in, C_in) or None when
    ``compute_input_grad`` is False, dW: (K, K, C_in, C_out), db: (C_out,).
    Each thread sums dW and db over its own chunk of images. The chunks' sums
    are added in a fixed order, so a run repeats exactly with the same number
    of threads.
    """
    X, W, grad_output = _check_arrays("conv2d_backward", X=X, W=W, grad_output=grad_output)
    grad_X = np.empty(X.shape, dtype=X.dtype) if compute_input_grad else None
    # See the module docstring: the numba kernels need finite numbers where they multiply by zero.
    weight_grad = weight_grad_images if np.isfinite(X).all() else weight_grad_images.fallback
    input_grad = input_grad_images if np.isfinite(W).all() else input_grad_images.fallback

    n_chunks = threads_for(len(X))
    grad_W = np.zeros(W.shape, dtype=W.dtype)
    grad_b = np.zeros(W.shape[3], dtype=W.dtype)
    weight_grad(X, grad_output, grad_W, grad_b, n_chunks)
    if grad_X is not None:
        input_grad(grad_output, W, grad_X, n_chunks)
    return grad_X, grad_W, grad_b


def _check_arrays(caller, X, W, b=None, grad_output=None):
    """Check the shapes and dtypes that the kernels rely on; return the arrays C-contiguous."""
    X, W = np.asarray(X), np.asarray(W)

    if X.dtype.type not in (np.float32, np.float64):
        raise TypeError(f"{caller}: X must be float32 or float64, got {X.dtype}; convert it with X.astype(np.float32)")
    if X.ndim != 4 or W.ndim != 4:
        hint = "give grey images a channel axis of 1, e.g. X[..., None]" if X.ndim != 4 else "give W four axes"
        raise ValueError(
            f"{caller}: expected X of shape (N, H, W, C_in) and W of shape (K, K, C_in, C_out), "
            f"got X {X.shape} and W {W.shape}; {hint}"
        )
    N, H, W_in, C_in = X.shape
    K, K_width, W_channels, C_out = W.shape
    if K != K_width or W_channels != C_in:
        raise ValueError(
            f"{caller}: expected W of shape (K, K, {C_in}, C_out) for X of shape {X.shape}, got {W.shape}; "
            f"W needs a square kernel and one input channel per channel of X"
        )
    if K < 1:
        raise ValueError(f"{caller}: expected a kernel of at least 1x1, got W of shape {W.shape}; give W a kernel size K >= 1")
    if K > H or K > W_in:
        raise ValueError(
            f"{caller}: the {K}x{K} kernel is larger than the {H}x{W_in} images of X; "
            f"pad the images or use a kernel of at most {min(H, W_in)}x{min(H, W_in)}"
        )

    arrays = {"X": X, "W": W}
    expected_shapes = {"W": W.shape}
    if b is not None:
        arrays["b"] = np.asarray(b)
        expected_shapes["b"] = (C_out,)
    if grad_output is not None:
        arrays["grad_output"] = np.asarray(grad_output)
        expected_shapes["grad_output"] = (N, H - K + 1, W_in - K + 1, C_out)

    for name, array in arrays.items():
        if array.dtype.type != X.dtype.type:
            raise TypeError(f"{caller}: {name} has dtype {array.dtype}, but X has {X.dtype}; give all arrays X's dtype")
        if name in expected_shapes and array.shape != expected_shapes[name]:
            hint = "one bias per output channel" if name == "b" else "the shape of the forward output for this X and W"
            raise ValueError(
                f"{caller}: expected {name} of shape {expected_shapes[name]}, got {array.shape}; give {name} {hint}"
            )
    # numba compiles for the machine's byte order only, so a big-endian array is converted too.
    return [np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("=")) for array in arrays.values()]


# -- numpy fallbacks: the same sums with numpy's tensordot and matmul -------------------
#
# They take ``n_chunks`` only to share the kernels' signature: numpy's own
# routines decide how to split the work.


def _patch_view(X, K):
    """Return a read-only strided view of X: (N, H, W, C) -> (N, OH, OW, K, K, C), no copy."""
    N, H, W, C = X.shape
    sN, sH, sW, sC = X.strides
    shape = (N, H - K + 1, W - K + 1, K, K, C)
    return as_strided(X, shape=shape, strides=(sN, sH, sW, sH, sW, sC), writeable=False)


def _forward_images_numpy(X, W, b, Y, n_chunks):
    Y[...] = np.tensordot(_patch_view(X, W.shape[0]), W, axes=3) + b


def _weight_grad_images_numpy(X, grad_output, grad_W, grad_b, n_chunks):
    grad_W += np.tensordot(_patch_view(X, grad_W.shape[0]), grad_output, axes=([0, 1, 2], [0, 1, 2]))
    grad_b += grad_output.sum(axis=(0, 1, 2))


def _input_grad_images_numpy(grad_output, W, grad_X, n_chunks):
    # Kernel entry (kh, kw) read the pixels [kh : kh + OH, kw : kw + OW] of every channel,
    # so it sends grad_output @ W[kh, kw].T back to them.
    _, OH, OW, _ = grad_output.shape
    K = W.shape[0]
    grad_X[...] = 0
    for kh in range(K):
        for kw in range(K):
            grad_X[:, kh : kh + OH, kw : kw + OW, :] += grad_output @ W[kh, kw].T


# -- the numba kernels: each works on the images it is given and writes its output in place --
#
# A kernel "tap" is one entry (kh, kw, c) of the K x K x C_in kernel, and
# ``offsets[t]`` is the shift of tap t (see the module docstring). The inner
# loops handle several rows per pass, so that each number is loaded and
# stored less often:
#
# - forward: five taps and four output channels;
# - weight gradient: two taps and eight output channels;
# - input gradient: one tap and eight output channels (two taps would write
#   to overlapping rows in one loop, which stops vectorisation).
#
# The groups were measured on LeNet-5, on the 2-core Intel Xeon of
# docs/benchmarks.md, against smaller ones (four taps and two channels
# forward, one tap for the weight gradient). The second layer's forward pass
# got 27 % faster, the first layer's 12 %, and the weight gradient 16 to 19 %.
# To keep one loop shape, the groups are filled up. Padding taps have zero
# weight and read the zeros after the image. Padding output channels have zero
# weight, and their rows are thrown away, so a NaN they get from an inf pixel
# does no harm. The backward kernels pad with zero gradient rows. ``fastmath={"contract"}`` lets the compiler fuse
# each multiply and add into one instruction, which rounds once instead of
# twice. This made the forward pass and the input gradient 7 to 16 % faster.


@kernel(fallback=_forward_images_numpy, fastmath={"contract"}, parallel=True)
def forward_images(X, W, b, Y, n_chunks):
    """Write the convolution of the images X with W, plus b, into Y (see the module docstring).

    X: (N, H, W_in, C_in), W: (K, K, C_in, C_out), b: (C_out,), Y: (N, OH, OW, C_out).
    The images are split into ``n_chunks`` chunks that run on different threads.
    """
    N, H, W_in, C_in = X.shape
    K, C_out = W.shape[0], W.shape[3]
    OH, OW = Y.shape[1], Y.shape[2]
    L = (OH - 1) * W_in + OW  # flat positions from the first to the last output pixel
    T = K * K * C_in
    T_padded, C_padded = (T + 4) // 5 * 5, (C_out + 3) // 4 * 4
    image_size = C_in * H * W_in
    taps = np.zeros((C_padded, T_padded), dtype=W.dtype)  # taps[co, t], tap t = (kh * K + kw) * C_in + c
    W_taps = W.reshape(T, C_out)
    for t in range(T):
        # A loop, because numba takes about 5 s to compile the 2D slice assignment.
        for co in range(C_out):
            taps[co, t] = W_taps[t, co]
    offsets = np.full(T_padded, image_size, dtype=np.int64)  # padding taps read the zeros after the image
    for kh in range(K):
        for kw in range(K):
            for c in range(C_in):
                offsets[(kh * K + kw) * C_in + c] = c * H * W_in + kh * W_in + kw
    for chunk in prange(n_chunks):
        # Scratch rows of this chunk; the zeros after the image are what the padding taps read.
        image = np.zeros(image_size + L, dtype=X.dtype)
        out = np.empty((C_padded, L), dtype=X.dtype)
        for n in range(N * chunk // n_chunks, N * (chunk + 1) // n_chunks):
            for c in range(C_in):
                for h in range(H):
                    for w in range(W_in):
                        image[c * H * W_in + h * W_in + w] = X[n, h, w, c]
            for co in range(0, C_padded, 4):
                row0, row1, row2, row3 = out[co], out[co + 1], out[co + 2], out[co + 3]
                weights0, weights1, weights2, weights3 = taps[co], taps[co + 1], taps[co + 2], taps[co + 3]
                for k in range(4):
                    out[co + k, :] = b[co + k] if co + k < C_out else 0
                for t in range(0, T_padded, 5):
                    x0 = image[offsets[t] : offsets[t] + L]
                    x1 = image[offsets[t + 1] : offsets[t + 1] + L]
                    x2 = image[offsets[t + 2] : offsets[t + 2] + L]
                    x3 = image[offsets[t + 3] : offsets[t + 3] + L]
                    x4 = image[offsets[t + 4] : offsets[t + 4] + L]
                    # One by one: unpacking a slice (a0, ..., a4 = weights0[t : t + 5])
                    # made LeNet's second layer take 1.6 times as long in numba 0.68.
                    a0, a1, a2, a3, a4 = weights0[t], weights0[t + 1], weights0[t + 2], weights0[t + 3], weights0[t + 4]
                    b0, b1, b2, b3, b4 = weights1[t], weights1[t + 1], weights1[t + 2], weights1[t + 3], weights1[t + 4]
                    c0, c1, c2, c3, c4 = weights2[t], weights2[t + 1], weights2[t + 2], weights2[t + 3], weights2[t + 4]
                    d0, d1, d2, d3, d4 = weights3[t], weights3[t + 1], weights3[t + 2], weights3[t + 3], weights3[t + 4]
                    for p in range(L):
                        v0, v1, v2, v3, v4 = x0[p], x1[p], x2[p], x3[p], x4[p]
                        row0[p] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3 + a4 * v4
                        row1[p] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3 + b4 * v4
                        row2[p] += c0 * v0 + c1 * v1 + c2 * v2 + c3 * v3 + c4 * v4
                        row3[p] += d0 * v0 + d1 * v1 + d2 * v2 + d3 * v3 + d4 * v4
            # Copied one channel's row at a time: this made LeNet's first layer
            # 12 to 15 % faster than a copy pixel by pixel, and its second 0 to 3 % slower.
            for i in range(OH):
                Y_row = Y[n, i]
                for co in range(C_out):
                    out_row = out[co, i * W_in : i * W_in + OW]  # the row's thrown-away positions left out
                    for j in range(OW):
                        Y_row[j, co] = out_row[j]


@kernel(fallback=_weight_grad_images_numpy, fastmath={"reassoc", "contract"}, parallel=True)
def weight_grad_images(X, grad_output, grad_W, grad_b, n_chunks):
    """Add dL/dW and dL/db of the images X to grad_W and grad_b (see the module docstring).

    X: (N, H, W_in, C_in), grad_output: (N, OH, OW, C_out), grad_W: (K, K, C_in, C_out),
    grad_b: (C_out,). The images are split into ``n_chunks`` chunks that run on
    different threads, each summing into its own rows. ``fastmath`` lets numba
    add up each dot product in vector-sized pieces ("reassoc") with fused
    multiply-adds ("contract"), so the rounding differs slightly from a sum in
    order. db is summed here too, because numpy's
    ``grad_output.sum(axis=(0, 1, 2))`` over LeNet's first layer output,
    (32, 28, 28, 6), took 0.5 to 0.6 ms on the earlier AMD machine of
    docs/benchmarks.md, about as long as this whole kernel.
    """
    N, H, W_in, C_in = X.shape
    OH, OW, C_out = grad_output.shape[1], grad_output.shape[2], grad_output.shape[3]
    K = grad_W.shape[0]
    L = (OH - 1) * W_in + OW
    T = K * K * C_in
    T_padded, C_padded = (T + 1) // 2 * 2, (C_out + 7) // 8 * 8
    image_size = C_in * H * W_in
    offsets = np.full(T_padded, image_size, dtype=np.int64)  # a padding tap reads the zeros after the image
    for kh in range(K):
        for kw in range(K):
            for c in range(C_in):
                offsets[(kh * K + kw) * C_in + c] = c * H * W_in + kh * W_in + kw
    zero = np.zeros(1, dtype=X.dtype)[0]  # a zero of X's dtype, so that sums stay in that precision
    chunk_taps = np.zeros((n_chunks, T_padded, C_padded), dtype=X.dtype)  # each chunk's sums
    chunk_b = np.zeros((n_chunks, C_out), dtype=X.dtype)
    for chunk in prange(n_chunks):
        grad_taps, grad_b_chunk = chunk_taps[chunk], chunk_b[chunk]
        # Scratch rows of this chunk; the gradient rows stay zero at the
        # thrown-away positions and in the padding rows.
        image = np.zeros(image_size + L, dtype=X.dtype)
        grad = np.zeros((C_padded, L), dtype=X.dtype)
        for n in range(N * chunk // n_chunks, N * (chunk + 1) // n_chunks):
            for c in range(C_in):
                for h in range(H):
                    for w in range(W_in):
                        image[c * H * W_in + h * W_in + w] = X[n, h, w, c]
            for co in range(C_out):
                for i in range(OH):
                    for j in range(OW):
                        grad[co, i * W_in + j] = grad_output[n, i, j, co]
                total = zero
                for p in range(L):
                    total += grad[co, p]
                grad_b_chunk[co] += total
            for t in range(0, T_padded, 2):
                pixels0 = image[offsets[t] : offsets[t] + L]
                pixels1 = image[offsets[t + 1] : offsets[t + 1] + L]
                for co in range(0, C_padded, 8):
                    g0, g1, g2, g3 = grad[co], grad[co + 1], grad[co + 2], grad[co + 3]
                    g4, g5, g6, g7 = grad[co + 4], grad[co + 5], grad[co + 6], grad[co + 7]
                    a0, a1, a2, a3, a4, a5, a6, a7 = zero, zero, zero, zero, zero, zero, zero, zero  # tap t
                    b0, b1, b2, b3, b4, b5, b6, b7 = zero, zero, zero, zero, zero, zero, zero, zero  # tap t + 1
                    for p in range(L):
                        u, v = pixels0[p], pixels1[p]
                        a0 += u * g0[p]
                        a1 += u * g1[p]
                        a2 += u * g2[p]
                        a3 += u * g3[p]
                        a4 += u * g4[p]
                        a5 += u * g5[p]
                        a6 += u * g6[p]
                        a7 += u * g7[p]
                        b0 += v * g0[p]
                        b1 += v * g1[p]
                        b2 += v * g2[p]
                        b3 += v * g3[p]
                        b4 += v * g4[p]
                        b5 += v * g5[p]
                        b6 += v * g6[p]
                        b7 += v * g7[p]
                    for k, total in enumerate((a0, a1, a2, a3, a4, a5, a6, a7)):
                        grad_taps[t, co + k] += total
                    for k, total in enumerate((b0, b1, b2, b3, b4, b5, b6, b7)):
                        grad_taps[t + 1, co + k] += total
    grad_W_taps = grad_W.reshape(T, C_out)
    for chunk in range(n_chunks):  # in order, so that the sum does not depend on the threads' timing
        for co in range(C_out):
            grad_b[co] += chunk_b[chunk, co]
        for t in range(T):
            for co in range(C_out):
                grad_W_taps[t, co] += chunk_taps[chunk, t, co]


@kernel(fallback=_input_grad_images_numpy, fastmath={"contract"}, parallel=True)
def input_grad_images(grad_output, W, grad_X, n_chunks):
    """Write dL/dX into grad_X (see the module docstring).

    grad_output: (N, OH, OW, C_out), W: (K, K, C_in, C_out), grad_X: (N, H, W_in, C_in).
    The images are split into ``n_chunks`` chunks that run on different threads.
    """
    N, OH, OW, C_out = grad_output.shape
    H, W_in, C_in = grad_X.shape[1], grad_X.shape[2], grad_X.shape[3]
    K = W.shape[0]
    L = (OH - 1) * W_in + OW
    T = K * K * C_in
    C_padded = (C_out + 7) // 8 * 8
    taps = np.zeros((T, C_padded), dtype=W.dtype)
    W_taps = W.reshape(T, C_out)
    for t in range(T):
        for co in range(C_out):
            taps[t, co] = W_taps[t, co]
    offsets = np.empty(T, dtype=np.int64)
    for kh in range(K):
        for kw in range(K):
            for c in range(C_in):
                offsets[(kh * K + kw) * C_in + c] = c * H * W_in + kh * W_in + kw
    for chunk in prange(n_chunks):
        # Scratch rows of this chunk; the gradient rows stay zero at the
        # thrown-away positions and in the padding rows.
        grad = np.zeros((C_padded, L), dtype=grad_output.dtype)
        image_grad = np.empty(C_in * H * W_in, dtype=grad_output.dtype)
        for n in range(N * chunk // n_chunks, N * (chunk + 1) // n_chunks):
            for co in range(C_out):
                for i in range(OH):
                    for j in range(OW):
                        grad[co, i * W_in + j] = grad_output[n, i, j, co]
            image_grad[:] = 0
            # One tap per pass: the pixels of neighbouring taps overlap, and
            # writing to overlapping rows in one loop would stop vectorisation.
            for t in range(T):
                target = image_grad[offsets[t] : offsets[t] + L]
                for co in range(0, C_padded, 8):
                    w0, w1, w2, w3 = taps[t, co], taps[t, co + 1], taps[t, co + 2], taps[t, co + 3]
                    w4, w5, w6, w7 = taps[t, co + 4], taps[t, co + 5], taps[t, co + 6], taps[t, co + 7]
                    g0, g1, g2, g3 = grad[co], grad[co + 1], grad[co + 2], grad[co + 3]
                    g4, g5, g6, g7 = grad[co + 4], grad[co + 5], grad[co + 6], grad[co + 7]
                    for p in range(L):
                        target[p] += (w0 * g0[p] + w1 * g1[p] + w2 * g2[p] + w3 * g3[p]
                                      + w4 * g4[p] + w5 * g5[p] + w6 * g6[p] + w7 * g7[p])
            for h in range(H):
                for w in range(W_in):
                    for c in range(C_in):
                        grad_X[n, h, w, c] = image_grad[c * H * W_in + h * W_in + w]
