"""Pooling layers: 2x2 max and average pooling with stride 2, and global average pooling.

The 2x2 layers call the kernels in ``netlite/kernels/pooling.py``;
``netlite/kernels/reference.py`` computes the same with plain loops.
"""

import numpy as np

from .. import kernels
from .base import Layer


class _Pooling2x2(Layer):
    """Shared input checks and shapes of the 2x2, stride-2 pooling layers."""

    fixed_behaviour = "Its windows are always 2x2 with stride 2."

    def _check_pooling_input(self, X):
        X = self._check_input(X, 4, "(batch, height, width, channels)")
        if X.shape[1] < 2 or X.shape[2] < 2:
            raise ValueError(
                f"{self!r}: expected images of at least 2x2 pixels, got {X.shape[1]}x{X.shape[2]} "
                f"(input shape {X.shape})"
            )
        return np.ascontiguousarray(X)

    def _check_pooling_grad(self, grad_output, input_shape):
        N, H, W, C = input_shape
        grad_output = self._check_grad_output(grad_output, (N, H // 2, W // 2, C))
        return np.ascontiguousarray(grad_output)

    def output_shape(self, input_shape):
        if len(input_shape) != 3 or input_shape[0] < 2 or input_shape[1] < 2:
            raise ValueError("expected samples of shape (height, width, channels), at least 2x2 pixels")
        H, W, C = input_shape
        return (H // 2, W // 2, C)


class MaxPoolingLayer(_Pooling2x2):
    """Max pooling over 2x2 windows with stride 2: (N, H, W, C) -> (N, H // 2, W // 2, C).

    For an odd height or width the last row or column is dropped (floor, as
    in PyTorch) and gets zero gradient. The gradient of each output goes to
    the one input that was the maximum of its window. On a tie, the first of
    the equal inputs in row-major order gets it.
    """

    def forward(self, X):
        """Take the maximum of every 2x2 window.

        X: (N, H, W, C) -> returns (N, H // 2, W // 2, C). Keeps the input shape
        and the position of each maximum inside its window for the backward pass.
        """
        X = self._check_pooling_input(X)
        Y, argmax = kernels.maxpool2x2_forward(X)
        self.cache = (X.shape, argmax)
        return Y

    def backward(self, grad_output):
        """Route each output gradient to the input that was its window's maximum.

        grad_output: (N, H // 2, W // 2, C) -> returns (N, H, W, C).
        """
        input_shape, argmax = self._require_cache()
        grad_output = self._check_pooling_grad(grad_output, input_shape)
        return kernels.maxpool2x2_backward(grad_output, argmax, input_shape)


class AvgPoolingLayer(_Pooling2x2):
    """Average pooling over 2x2 windows with stride 2: (N, H, W, C) -> (N, H // 2, W // 2, C).

    For an odd height or width the last row or column is dropped (floor, as
    in PyTorch) and gets zero gradient. Each of the four inputs of a window
    gets a quarter of the window's output gradient.
    """

    def forward(self, X):
        """Average every 2x2 window.

        X: (N, H, W, C) -> returns (N, H // 2, W // 2, C). Keeps only the input
        shape for the backward pass.
        """
        X = self._check_pooling_input(X)
        self.cache = X.shape
        return kernels.avgpool2x2_forward(X)

    def backward(self, grad_output):
        """Spread each output gradient evenly over its 2x2 window.

        grad_output: (N, H // 2, W // 2, C) -> returns (N, H, W, C).
        """
        input_shape = self._require_cache()
        grad_output = self._check_pooling_grad(grad_output, input_shape)
        return kernels.avgpool2x2_backward(grad_output, input_shape)


class GlobalAvgPoolingLayer(Layer):
    """Average every channel over all pixels: (N, H, W, C) -> (N, C).

    Often replaces Flatten before the last fully connected layer, so the
    network accepts any image size.
    """

    fixed_behaviour = "It always averages over all pixels of each channel."

    def forward(self, X):
        """Average over height and width.

        X: (N, H, W, C) -> returns (N, C). Keeps the input shape for the backward pass.
        """
        X = self._check_input(X, 4, "(batch, height, width, channels)")
        if X.shape[1] == 0 or X.shape[2] == 0:
            raise ValueError(f"{self!r}: expected images of at least 1x1 pixels, got input of shape {X.shape}")
        self.cache = X.shape
        return X.mean(axis=(1, 2))

    def backward(self, grad_output):
        """Give each of the H * W pixels of a channel 1 / (H * W) of its gradient.

        grad_output: (N, C) -> returns (N, H, W, C).
        """
        N, H, W, C = self._require_cache()
        grad_output = self._check_grad_output(grad_output, (N, C))
        dX = np.empty((N, H, W, C), dtype=grad_output.dtype)
        dX[...] = (grad_output / (H * W))[:, None, None, :]
        return dX

    def output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError("expected samples of shape (height, width, channels)")
        return (input_shape[-1],)
