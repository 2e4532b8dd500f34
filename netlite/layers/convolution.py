"""The 2D convolutional layer: forward, backward, and where its loops are.

For an image X, kernels W of shape (K, K, C_in, C_out) and a bias b, the
forward pass computes every output pixel as

    Y[n, i, j, co] = b[co] + sum over kh, kw, c of X[n, i + kh, j + kw, c] * W[kh, kw, c, co]

and the backward pass, from the upstream gradient dY = dL/dY,

    dW[kh, kw, c, co] = sum over n, i, j of X[n, i + kh, j + kw, c] * dY[n, i, j, co]
    db[co]            = sum over n, i, j of dY[n, i, j, co]
    dX[n, h, w, c]    = sum over kh, kw, co of dY[n, h - kh, w - kw, co] * W[kh, kw, c, co]

(the last sum only over the output pixels that exist). The loops that
compute these sums fast are in ``netlite/kernels/convolution.py``; the same
sums written as plain loops, one per index, are in
``netlite/kernels/reference.py``.
"""

import numpy as np

from .. import kernels
from ..seeding import default_rng
from .base import Layer, parameter_dtype


class ConvolutionalLayer(Layer):
    """A 2D convolution with stride 1 and no padding on (N, H, W, C) images.

    A 32 x 32 input and a 5 x 5 kernel give a 28 x 28 output. Like every
    deep-learning library, it computes a cross-correlation (the kernel is not
    flipped).

    Parameters: ``W`` of shape (K, K, C_in, C_out), drawn with He (MSRA)
    initialisation, a normal distribution with std sqrt(2 / (K * K * C_in)).
    ``b`` of shape (C_out,), initialised to zero. The weights come from ``rng``
    if given, else from the package's generator ``netlite.seeding.default_rng()``.

    With ``compute_input_grad = False``, ``backward`` skips dL/dX and returns
    None. ``NeuralNetwork`` sets it on its first layer, because nothing needs
    the gradient with respect to the input images.
    """

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
        dtype = parameter_dtype("ConvolutionalLayer", dtype)

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
        if np.ndim(X) == 3 and self.in_channels == 1:
            if np.shape(X)[-1] == 1:  # (height, width, 1): one image without its batch axis
                hint = "for one image, add the batch axis with X[None]"
            else:
                hint = "add the channel axis of grey images with X[..., None]"
            raise ValueError(f"{self!r}: expected input of shape (batch, height, width, 1), got {np.shape(X)}; {hint}")
        X = self._check_input(X, 4, f"(batch, height, width, {self.in_channels})", dtype=W.dtype)
        N, H, W_in, C_in = X.shape
        K = self.kernel_size
        if C_in != self.in_channels:
            # Images stored channels first, as PyTorch stores them: axis 1 fits, and axes 2 and 3
            # look like height and width (equal, or both larger than the channel count).
            channels_first = X.shape[1] == self.in_channels and (
                X.shape[2] == X.shape[3] or min(X.shape[2], X.shape[3]) > self.in_channels
            )
            hint = (
                f"; if the images are stored channels first (batch, channels, height, width), "
                f"convert them with X.transpose(0, 2, 3, 1)"
                if channels_first
                else f"; the images or the previous layer's output must have {self.in_channels} "
                f"channel{'s' if self.in_channels != 1 else ''}"
            )
            raise ValueError(
                f"{self!r}: expected input of shape (batch, height, width, {self.in_channels}), got {X.shape}{hint}"
            )
        if H < K or W_in < K:
            raise ValueError(
                f"{self!r}: expected images of at least {K}x{K} pixels, got {H}x{W_in} "
                f"(input shape {X.shape}); use a smaller kernel or larger images"
            )

        X = np.ascontiguousarray(X)
        Y = kernels.conv2d_forward(X, W, b)
        self.cache = X
        return Y

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
        grad_output = grad_output.astype(W.dtype, copy=False)
        grad_X, self.grads["W"], self.grads["b"] = kernels.conv2d_backward(
            X, W, grad_output, compute_input_grad=self.compute_input_grad
        )
        return grad_X

    def output_shape(self, input_shape):
        if len(input_shape) != 3 or input_shape[2] != self.in_channels:
            raise ValueError(f"expected samples of shape (height, width, {self.in_channels})")
        H, W_in, _ = input_shape
        K = self.kernel_size
        if K > H or K > W_in:
            raise ValueError(f"expected images of at least {K}x{K} pixels")
        return (H - K + 1, W_in - K + 1, self.out_channels)

    def __repr__(self):
        K = self.kernel_size
        return f"ConvolutionalLayer({K}x{K}, {self.in_channels} -> {self.out_channels})"
