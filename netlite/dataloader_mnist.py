"""The classic MNIST loading functions of the course: 32x32 digits for LeNet-5.

    X, y = nl.dataloader_mnist.load_train(num_images=60000)   # X (N, 32, 32, 1) float32, y (N,) int64
    X, y = nl.dataloader_mnist.load_valid(num_images=10000)

Both take the first ``num_images`` images, so results are reproducible. The images are the 28x28
digits scaled to [0, 1] and zero-padded by 2 pixels on each side. They call
``netlite.datasets.load_mnist``, which describes where the files are searched and downloaded.
"""

from __future__ import annotations

import os

import numpy as np

from .datasets import load_mnist

__all__ = ["load_train", "load_valid"]


def load_train(
    num_images: int = 60000, data_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load the first ``num_images`` (1 to 60000) MNIST training images and labels.

    Returns
    -------
    X : ndarray of shape (N, 32, 32, 1), float32 in [0, 1]
    y : ndarray of shape (N,), int64
    """
    return load_mnist("train", num_images=num_images, data_dir=data_dir)


def load_valid(
    num_images: int = 10000, data_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load the first ``num_images`` (1 to 10000) MNIST test images and labels for validation.

    Returns
    -------
    X : ndarray of shape (N, 32, 32, 1), float32 in [0, 1]
    y : ndarray of shape (N,), int64
    """
    return load_mnist("test", num_images=num_images, data_dir=data_dir)
