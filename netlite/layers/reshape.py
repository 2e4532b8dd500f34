"""Flatten: the bridge from image-shaped activations to fully connected layers."""

import numpy as np

from .base import Layer


class Flatten(Layer):
    """Reshape (N, H, W, C), or any (N, ...), to (N, H * W * C)."""

    fixed_behaviour = "It always keeps the batch axis 0 and flattens all other axes into one."

    def forward(self, X):
        """X: (N, ...) -> (N, product of the other axes). Keeps the input shape."""
        X = self._check_input(X, None)
        if X.ndim < 2:
            raise ValueError(f"{self!r}: expected input of shape (batch, ...) with at least 2 axes, got {X.shape}")
        self.cache = X.shape
        return X.reshape(X.shape[0], int(np.prod(X.shape[1:])))  # Not -1: numpy cannot infer it for an empty batch.

    def backward(self, grad_output):
        """grad_output: (N, H * W * C) -> returns (N, H, W, C), the input's shape."""
        input_shape = self._require_cache()
        grad_output = self._check_grad_output(grad_output, (input_shape[0], int(np.prod(input_shape[1:]))))
        return grad_output.reshape(input_shape)

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)
