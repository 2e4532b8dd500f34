"""Batch normalisation (Ioffe and Szegedy, 2015) with the exact backward pass."""

import numpy as np

from ..settings import range_error, real_number
from .base import Layer, parameter_dtype


class BatchNorm(Layer):
    """Normalise each feature (or channel) over the batch, then scale and shift.

    Works on (N, D) features and on (N, H, W, C) images, where each channel is
    normalised over the batch and all pixels. Learnable parameters: ``gamma``
    (scale, initialised to 1) and ``beta`` (shift, initialised to 0).

    Training mode normalises with the batch's mean and (biased) variance and
    updates the running statistics as ``running = (1 - momentum) * running +
    momentum * batch``, using the unbiased batch variance as PyTorch does.
    Evaluation mode (``model.eval()`` or ``forward_only=True`` steps)
    normalises with the running statistics instead; the mode is never guessed
    from the batch size.
    """

    def __init__(self, n_features, momentum=0.1, eps=1e-5, dtype=np.float32):
        super().__init__()
        if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) or n_features < 1:
            raise ValueError(f"BatchNorm: n_features must be a positive integer, got {n_features!r}")
        momentum_float = real_number("BatchNorm", "momentum", momentum)
        eps_float = real_number("BatchNorm", "eps", eps)
        dtype = parameter_dtype("BatchNorm", dtype)
        if not 0 < momentum_float <= 1:
            raise range_error("BatchNorm", "momentum", momentum, momentum_float, "in (0, 1]")
        if not 0 < eps_float < float("inf"):  # also rejects NaN
            raise range_error("BatchNorm", "eps", eps, eps_float, "positive and finite")
        self.n_features = int(n_features)
        self.momentum = momentum_float
        self.eps = eps_float
        self.params["gamma"] = np.ones(self.n_features, dtype=dtype)
        self.params["beta"] = np.zeros(self.n_features, dtype=dtype)
        self.grads["gamma"] = np.zeros_like(self.params["gamma"])
        self.grads["beta"] = np.zeros_like(self.params["beta"])
        self.buffers["running_mean"] = np.zeros(self.n_features, dtype=dtype)
        self.buffers["running_var"] = np.ones(self.n_features, dtype=dtype)

    def forward(self, X):
        """X: (N, D) or (N, H, W, C) with D = C = n_features -> same shape.

        Keeps the normalised input, the inverse standard deviation and the mode.
        """
        X = self._check_input(X, None, dtype=self.params["gamma"].dtype)
        if X.ndim not in (2, 4) or X.shape[-1] != self.n_features:
            raise ValueError(
                f"{self!r}: expected input of shape (batch, {self.n_features}) or "
                f"(batch, height, width, {self.n_features}), got {X.shape}"
            )
        axes = tuple(range(X.ndim - 1))  # every axis but the feature axis
        n_values = X.size // self.n_features

        if self.training:
            if n_values < 2:
                raise ValueError(
                    f"{self!r}: training mode needs more than one value per feature to compute "
                    f"a variance, got input of shape {X.shape}; train on batches of at least 2 samples (pick a batch "
                    f"size that leaves more than one sample for the last batch of an epoch), or call model.eval() "
                    f"to run a trained network on one sample"
                )
            mean = X.mean(axis=axes)
            var = X.var(axis=axes)
            unbiased_var = var * n_values / (n_values - 1)
            self.buffers["running_mean"] = (1 - self.momentum) * self.buffers["running_mean"] + self.momentum * mean
            self.buffers["running_var"] = (1 - self.momentum) * self.buffers["running_var"] + self.momentum * unbiased_var
        else:
            mean = self.buffers["running_mean"]
            var = self.buffers["running_var"]

        inv_std = 1 / np.sqrt(var + self.eps)
        X_hat = (X - mean) * inv_std
        self.cache = (X_hat, inv_std, self.training)
        return self.params["gamma"] * X_hat + self.params["beta"]

    def backward(self, grad_output):
        """grad_output: same shape as the input -> returns dL/dX of that shape.

        In training mode the mean and variance depend on every input of the
        batch, which adds the two correction terms below. In evaluation mode
        they are constants, so the layer is a plain scale.
        """
        X_hat, inv_std, was_training = self._require_cache()
        grad_output = self._check_grad_output(grad_output, X_hat.shape)
        axes = tuple(range(X_hat.ndim - 1))
        self.grads["gamma"] = (grad_output * X_hat).sum(axis=axes)
        self.grads["beta"] = grad_output.sum(axis=axes)

        grad_X_hat = grad_output * self.params["gamma"]
        if not was_training:
            return grad_X_hat * inv_std

        mean_grad = grad_X_hat.mean(axis=axes)
        mean_grad_dot_X_hat = (grad_X_hat * X_hat).mean(axis=axes)
        return inv_std * (grad_X_hat - mean_grad - X_hat * mean_grad_dot_X_hat)

    def __repr__(self):
        # Settings other than the defaults are shown, so that load() can tell two BatchNorms apart.
        settings = ""
        if self.momentum != 0.1:
            settings += f", momentum={self.momentum}"
        if self.eps != 1e-5:
            settings += f", eps={self.eps}"
        return f"BatchNorm({self.n_features}{settings})"
