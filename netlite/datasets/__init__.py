"""Data sets for NetLite: MNIST and Fashion-MNIST from local IDX files or verified downloads.

Importing this package needs only numpy and the standard library; tqdm and urllib are imported
when a download starts.

    from netlite.datasets import load_mnist
    X, y = load_mnist("train", fraction=0.1, seed=0)   # X (6000, 32, 32, 1) float32, y (6000,) int64
"""

from .download import DownloadError
from .idx import DatasetError, read_idx
from .locations import DATA_DIR_ENV, DatasetNotFoundError
from .mnist import (
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    clear_cache,
    load_fashion_mnist,
    load_mnist,
)

__all__ = [
    "load_mnist",
    "load_fashion_mnist",
    "MNIST_CLASSES",
    "FASHION_MNIST_CLASSES",
    "DatasetError",
    "DatasetNotFoundError",
    "DownloadError",
    "DATA_DIR_ENV",
    "read_idx",
    "clear_cache",
]
