"""Shared pytest set-up: a headless plotting backend, the MNIST folder and a fresh seed per test."""

import os
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent

# The canonical MNIST files sit beside the repository on the development and
# CI machines; a user's own NETLITE_DATA_DIR wins.
_SHARED_MNIST = REPOSITORY.parent / "shared" / "data" / "mnist"
if "NETLITE_DATA_DIR" not in os.environ and _SHARED_MNIST.is_dir():
    os.environ["NETLITE_DATA_DIR"] = str(_SHARED_MNIST)


@pytest.fixture(autouse=True)
def _reseed_netlite():
    """Start every test from the same package seed, so tests do not depend on their order."""
    import netlite

    netlite.seed(1234)
    yield


@pytest.fixture
def use_threads():
    """Return a function that sets NetLite's thread count; the count in use before is restored afterwards."""
    from netlite import kernels

    before = kernels.get_num_threads()
    yield kernels.set_num_threads
    kernels.set_num_threads(before)


def pytest_collection_modifyitems(items):
    """Let nbval wait up to 300 s, instead of its fixed 5 s, for each output of a notebook cell.

    nbval reads a cell's outputs after the cell's reply and fails the cell when
    no message comes for that long. While another test run kept both cores of
    the 2-core CI machine busy, a LeNet training cell of
    notebooks/06_lenet_mnist.ipynb failed that way with 5 s, and again with
    60 s while a benchmark and a second test run shared the machine.
    """
    for item in items:
        if type(item).__name__ == "IPyNbCell" and hasattr(item, "output_timeout"):
            item.output_timeout = 300


@pytest.fixture
def per_sample_loss():
    """Return a student's loss whose forward() returns one value per sample instead of one number."""
    import numpy as np

    import netlite as nl

    class PerSample(nl.Loss):
        def forward(self, output, target):
            self.cache = output - target
            return np.mean(self.cache**2, axis=1)

        def backward(self):
            return 2 * self.cache / self.cache.size

    return PerSample()

