"""The 2D convolutional layer, computed as one matrix product per pass (im2col).

The forward pass copies every K x K x C_in patch of the input into one row of
a matrix (``im2col``), so the whole convolution becomes

    Y = patches @ W.reshape(K * K * C_in, C_out) + b

and the backward pass is three more matrix expressions:

    dW = patches.T @ dY            (one sum over all pixels of all images)
    db = dY summed over all pixels
    dX = col2im(dY @ W_matrix.T)   (add each patch gradient back onto its pixels)

Both passes run these products on a few images at a time, so that the patch
matrix stays small. im2col and col2im live in ``netlite/kernels/convolution.py``
(compiled with numba). ``netlite/kernels/reference.py`` computes the same convolution with
plain loops straight from the definition, to read side by side.
"""

import numpy as np

from .. import kernels
from ..seeding import default_rng
from .base import Layer


class ConvolutionalLayer(Layer):
    """A 2D convolution with stride 1 and no padding on (N, H, W, C) images.

    A 32 x 32 input and a 5 x 5 kernel give a 28 x 28 output. Like every
    deep-learning library, it computes a cross-correlation (the kernel is not
    flipped).

    Parameters: ``W`` of shape (K, K, C_in, C_out), drawn with He (MSRA)
    initialisation, a normal distribution with std sqrt(2 / (K * K * C_in)).
    ``b`` of shape (C_out,), initialised to zero. The weights come from ``rng``
    if given, else from the package's generator ``netlite.seeding.default_rng()``.

    Set ``compute_input_grad = False`` on the first layer of a network: then
    ``backward`` skips dL/dX, which nothing needs for the input images, and
    returns None.
    """

    # The batch is processed in chunks of images whose patch matrix has about
    # this size, so that it stays in the CPU's L2 cache between im2col and the
    # matrix products. A whole batch of 256 MNIST images would need 20 MB.
    PATCH_BYTES = 512 * 1024

    def __init__(self, kernel_size, in_channels, out_channels, rng=None, dtype=np.float32):
        super().__init__()
        for name, value in (
            ("kernel_size", kernel_size),
            ("in_channels", in_channels),
            ("out_channels", out_channels),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"ConvolutionalLayer: {name} must be a positive integer, got {value!r}")
        self.kernel_size = int(kernel_size)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.compute_input_grad = True

        rng = rng if rng is not None else default_rng()
        K, C_in, C_out = self.kernel_size, self.in_channels, self.out_channels
        std = np.sqrt(2.0 / (K * K * C_in))
        self.params["W"] = (rng.standard_normal((K, K, C_in, C_out)) * std).astype(dtype)
        self.params["b"] = np.zeros(C_out, dtype=dtype)
        self.grads["W"] = np.zeros_like(self.params["W"])
        self.grads["b"] = np.zeros_like(self.params["b"])

    def forward(self, X):
        """Convolve the batch with every kernel and add the bias.

        X: (N, H, W, C_in) -> returns (N, H - K + 1, W - K + 1, C_out), in the
        parameters' dtype. Keeps X (as a C-contiguous array) for the backward pass.
        """
        W, b = self.params["W"], self.params["b"]
        X = self._check_input(X, 4, f"(batch, height, width, {self.in_channels})", dtype=W.dtype)
        N, H, W_in, C_in = X.shape
        K = self.kernel_size
        if C_in != self.in_channels:
            raise ValueError(
                f"{self!r}: expected input of shape (batch, height, width, {self.in_channels}), got {X.shape}"
            )
        if H < K or W_in < K:
            raise ValueError(
                f"{self!r}: expected images of at least {K}x{K} pixels, got {H}x{W_in} "
                f"(input shape {X.shape}); use a smaller kernel or larger images"
            )
        OH, OW = H - K + 1, W_in - K + 1

        X = np.ascontiguousarray(X)
        W_matrix = W.reshape(K * K * C_in, self.out_channels)
        rows_per_image = OH * OW
        Y = np.empty((N * rows_per_image, self.out_channels), dtype=W.dtype)
        for start, stop in self._image_chunks(X.shape):
            patches = kernels.im2col(X[start:stop], K)  # (images * OH * OW, K * K * C_in)
            np.matmul(patches, W_matrix, out=Y[start * rows_per_image : stop * rows_per_image])
        Y += b
        self.cache = X
        return Y.reshape(N, OH, OW, self.out_channels)

    def backward(self, grad_output):
        """Store dL/dW and dL/db, and return dL/dX (None if ``compute_input_grad`` is False).

        grad_output: (N, OH, OW, C_out) -> returns (N, H, W, C_in).
        """
        X = self._require_cache()
        N, H, W_in, C_in = X.shape
        K, C_out = self.kernel_size, self.out_channels
        OH, OW = H - K + 1, W_in - K + 1
        grad_output = self._check_grad_output(grad_output, (N, OH, OW, C_out))
        W = self.params["W"]
        W_matrix = W.reshape(K * K * C_in, C_out)
        grad_rows = np.ascontiguousarray(grad_output, dtype=W.dtype).reshape(N * OH * OW, C_out)

        grad_W = np.zeros_like(W_matrix)
        grad_X = np.empty(X.shape, dtype=W.dtype) if self.compute_input_grad else None
        rows_per_image = OH * OW
        for start, stop in self._image_chunks(X.shape):
            # Recomputing the patches is cheaper than keeping all of them from
            # forward(): a chunk's patches stay in the CPU cache for both products.
            patches = kernels.im2col(X[start:stop], K)
            grad_chunk = grad_rows[start * rows_per_image : stop * rows_per_image]  # (images * OH * OW, C_out)
            grad_W += patches.T @ grad_chunk
            if grad_X is not None:
                grad_patches = grad_chunk @ W_matrix.T  # (images * OH * OW, K * K * C_in)
                grad_X[start:stop] = kernels.col2im(grad_patches, X[start:stop].shape, K)

        self.grads["W"] = grad_W.reshape(W.shape)
        self.grads["b"] = grad_rows.sum(axis=0)
        return grad_X

    def _image_chunks(self, input_shape):
        """Yield (start, stop) image ranges whose im2col patch matrix is about PATCH_BYTES large."""
        N, H, W_in, C_in = input_shape
        K = self.kernel_size
        patch_bytes_per_image = (H - K + 1) * (W_in - K + 1) * K * K * C_in * self.params["W"].itemsize
        images_per_chunk = max(1, self.PATCH_BYTES // patch_bytes_per_image)
        for start in range(0, N, images_per_chunk):
            yield start, min(N, start + images_per_chunk)

    def output_shape(self, input_shape):
        H, W_in, _ = input_shape
        K = self.kernel_size
        return (H - K + 1, W_in - K + 1, self.out_channels)

    def __repr__(self):
        K = self.kernel_size
        return f"ConvolutionalLayer({K}x{K}, {self.in_channels} -> {self.out_channels})"
