"""The fully connected (dense) layer: ``Y = X @ W + b``."""

import numpy as np

from ..seeding import default_rng
from .base import Layer, parameter_dtype


class FullyConnectedLayer(Layer):
    """A fully connected layer mapping ``n_inputs`` features to ``n_outputs``.

    Parameters: ``W`` of shape (n_inputs, n_outputs), initialised with He (MSRA)
    initialisation: a normal distribution with std sqrt(2 / n_inputs), which
    keeps the activation variance steady through ReLU layers. ``b`` of shape
    (n_outputs,), initialised to zero.
    """

    def __init__(self, n_inputs, n_outputs, rng=None, dtype=np.float32):
        super().__init__()
        for name, value in (("n_inputs", n_inputs), ("n_outputs", n_outputs)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"FullyConnectedLayer: {name} must be a positive integer, got {value!r}")
        self.n_inputs = int(n_inputs)
        self.n_outputs = int(n_outputs)
        dtype = parameter_dtype("FullyConnectedLayer", dtype)

        rng = rng if rng is not None else default_rng()
        std = np.sqrt(2.0 / self.n_inputs)
        self.params["W"] = (rng.standard_normal((self.n_inputs, self.n_outputs)) * std).astype(dtype)
        self.params["b"] = np.zeros(self.n_outputs, dtype=dtype)
        self.grads["W"] = np.zeros_like(self.params["W"])
        self.grads["b"] = np.zeros_like(self.params["b"])

    def forward(self, X):
        """Compute ``X @ W + b``.

        X: (N, n_inputs) -> returns (N, n_outputs). Keeps X for the backward pass.
        """
        X = self._check_input(X, None, dtype=self.params["W"].dtype)
        if X.ndim > 2:
            n_features = int(np.prod(X.shape[1:]))
            also = "" if n_features == self.n_inputs else f", and create this layer with n_inputs={n_features}"
            raise ValueError(
                f"{self!r}: expected input of shape (batch, {self.n_inputs}), got {X.shape}; put nl.Flatten() "
                f"before this layer to turn each sample into {n_features} features{also}"
            )
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"{self!r}: expected input of shape (batch, {self.n_inputs}), got {X.shape}")
        self.cache = X
        return X @ self.params["W"] + self.params["b"]

    def backward(self, grad_output):
        """Store dL/dW and dL/db, return dL/dX.

        grad_output: (N, n_outputs) -> returns (N, n_inputs).
        """
        X = self._require_cache()
        grad_output = self._check_grad_output(grad_output, (X.shape[0], self.n_outputs))
        self.grads["W"] = X.T @ grad_output
        self.grads["b"] = grad_output.sum(axis=0)
        return grad_output @ self.params["W"].T

    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.n_inputs,):
            raise ValueError(f"expected samples of shape ({self.n_inputs},)")
        return (self.n_outputs,)

    def __repr__(self):
        return f"FullyConnectedLayer({self.n_inputs} -> {self.n_outputs})"
