"""Activation functions: element-wise non-linearities and the softmax.

ReLU is the simplest template for writing an activation of your own: forward()
keeps what the derivative needs, backward() multiplies the incoming gradient by
that derivative (the chain rule, element by element).
"""

import numpy as np

from ..settings import range_error, real_number
from .base import Layer


class ReLU(Layer):
    """Rectified linear unit, ``max(0, x)``, on inputs of any shape."""

    fixed_behaviour = "It has no slope for negative inputs. For one, use LeakyReLU(alpha=...)."

    def forward(self, X):
        """X: any shape -> same shape. Keeps the output for backward.

        backward reads the returned array itself, so change a copy of it, not the array.
        """
        X = self._check_input(X, None)
        Y = np.maximum(X, 0)
        self.cache = Y
        return Y

    def backward(self, grad_output):
        """Multiply by the derivative: 1 where the output is positive, 0 elsewhere (also at 0).

        The output is positive exactly where the input was, so it serves as the mask.
        NOTE: an inf in grad_output where the output is 0 gives inf * 0 = NaN, not 0. np.where
        would give 0, but it took 6 to 12 times as long as this product on LeNet's first ReLU.
        """
        Y = self._require_cache()
        grad_output = self._check_grad_output(grad_output, Y.shape)
        return grad_output * (Y > 0)


class LeakyReLU(Layer):
    """``x`` for positive inputs, ``alpha * x`` otherwise, so negative units still learn."""

    def __init__(self, alpha=0.01):
        super().__init__()
        as_float = real_number("LeakyReLU", "alpha", alpha)  # a float, so that the description reads the same for 0 and 0.0
        if not 0 <= as_float < 1:
            raise range_error("LeakyReLU", "alpha", alpha, as_float, "in [0, 1)")
        self.alpha = as_float

    def forward(self, X):
        """X: any shape -> same shape. Keeps the mask ``X > 0`` for backward."""
        X = self._check_input(X, None)
        positive = X > 0
        self.cache = positive
        return np.where(positive, X, self.alpha * X).astype(X.dtype, copy=False)

    def backward(self, grad_output):
        """Multiply by the derivative: 1 where the input was positive, ``alpha`` elsewhere.

        NOTE: with alpha=0, an inf in grad_output where the input was not positive gives
        inf * 0 = NaN, not 0. ReLU.backward has the same gap and keeps its product for speed.
        """
        positive = self._require_cache()
        grad_output = self._check_grad_output(grad_output, positive.shape)
        slope = np.where(positive, 1.0, self.alpha).astype(grad_output.dtype, copy=False)
        return grad_output * slope

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"


class Sigmoid(Layer):
    """The logistic function ``1 / (1 + exp(-x))``, on inputs of any shape."""

    fixed_behaviour = "It computes 1 / (1 + exp(-x)), which has no settings."

    def forward(self, X):
        """X: any shape -> same shape in (0, 1). Keeps the output for backward.

        exp() is only applied to -|x|, so large inputs of either sign cannot
        overflow: for x >= 0 the usual form is used, for x < 0 the equivalent
        ``exp(x) / (1 + exp(x))``.
        """
        X = self._check_input(X, None)
        exp_neg_abs = np.exp(-np.abs(X))
        Y = np.where(X >= 0, 1 / (1 + exp_neg_abs), exp_neg_abs / (1 + exp_neg_abs))
        self.cache = Y
        return Y

    def backward(self, grad_output):
        """sigmoid'(x) = y * (1 - y), computed from the kept output y."""
        Y = self._require_cache()
        grad_output = self._check_grad_output(grad_output, Y.shape)
        return grad_output * Y * (1 - Y)


class Tanh(Layer):
    """The hyperbolic tangent, on inputs of any shape."""

    fixed_behaviour = "It computes tanh(x), which has no settings."

    def forward(self, X):
        """X: any shape -> same shape in (-1, 1). Keeps the output for backward."""
        X = self._check_input(X, None)
        Y = np.tanh(X)
        self.cache = Y
        return Y

    def backward(self, grad_output):
        """tanh'(x) = 1 - y**2, computed from the kept output y."""
        Y = self._require_cache()
        grad_output = self._check_grad_output(grad_output, Y.shape)
        return grad_output * (1 - Y * Y)


class Softmax(Layer):
    """Turn each row of scores (logits) into probabilities that sum to 1.

    When a network ends in Softmax and is trained with CrossEntropyLoss, the
    optimizer skips this layer and the loss works on the logits, which is
    more accurate and stable (see ``netlite.losses.CrossEntropyLoss``).
    """

    fixed_behaviour = "It always normalises over the classes, axis 1 of its (batch, classes) input."

    def forward(self, X):
        """X: (N, C) logits -> (N, C) probabilities. Keeps the output for backward.

        Subtracting each row's maximum leaves the result unchanged (the factor
        exp(-max) cancels) but keeps exp() from overflowing for large logits.
        """
        X = self._check_input(X, 2, "(batch, classes)")
        exp = np.exp(X - X.max(axis=1, keepdims=True))
        Y = exp / exp.sum(axis=1, keepdims=True)
        self.cache = Y
        return Y

    def backward(self, grad_output):
        """Multiply by the softmax Jacobian, diag(y) - y y^T, without building it.

        grad_output: (N, C) -> returns (N, C).
        """
        Y = self._require_cache()
        grad_output = self._check_grad_output(grad_output, Y.shape)
        weighted_sum = (grad_output * Y).sum(axis=1, keepdims=True)
        return Y * (grad_output - weighted_sum)
