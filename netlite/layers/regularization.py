"""Dropout (Srivastava et al., 2014), in the inverted form that most frameworks use."""

import numpy as np

from ..seeding import default_rng
from ..settings import range_error, real_number
from .base import Layer


class Dropout(Layer):
    """Set each input to zero with probability ``p`` during training.

    Inverted dropout: the kept values are divided by ``1 - p`` during training,
    so their expected value stays the same and evaluation mode is simply the
    identity. The mask is drawn from the layer's own generator ``self.rng``,
    which is seeded from ``netlite.seed`` when none is given.
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        as_float = real_number("Dropout", "p", p)  # a float, so that the description reads the same for 0 and 0.0
        if not 0 <= as_float < 1:
            raise range_error("Dropout", "p (the probability of dropping a value)", p, as_float, "in [0, 1)")
        self.p = as_float
        self.rng = rng if rng is not None else np.random.default_rng(default_rng().integers(2**63))

    def forward(self, X):
        """X: any shape -> same shape. Keeps the scaled mask (all ones in evaluation mode)."""
        X = self._check_input(X, None)
        if self.training:
            keep = self.rng.random(X.shape) >= self.p
            scaled_mask = keep.astype(X.dtype) / X.dtype.type(1 - self.p)
        else:
            scaled_mask = np.ones_like(X)
        self.cache = scaled_mask
        return X * scaled_mask

    def backward(self, grad_output):
        """Pass the gradient through the kept values, with the same scaling."""
        scaled_mask = self._require_cache()
        grad_output = self._check_grad_output(grad_output, scaled_mask.shape)
        return grad_output * scaled_mask

    def __repr__(self):
        return f"Dropout(p={self.p})"
