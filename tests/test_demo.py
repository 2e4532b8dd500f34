"""Tests of ``netlite.models.lenet5`` and ``python -m netlite.demo``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import netlite as nl
from netlite import demo
from netlite.datasets import DatasetNotFoundError
from netlite.models import lenet5

MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def test_lenet5_parameter_count():
    # Weights plus biases of each layer: conv 5x5x1x6, conv 5x5x6x16, dense 400x120, 120x84, 84x10.
    expected = (25 * 1 * 6 + 6) + (25 * 6 * 16 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert lenet5().n_params == expected == 61706


def test_lenet5_output_probabilities():
    nl.seed(0)
    X = np.random.default_rng(0).random((3, 32, 32, 1), dtype=np.float32)
    output = lenet5().forward(X)
    assert output.shape == (3, 10)
    assert np.allclose(output.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(output > 0)


def synthetic_digits(count, seed):
    """Return (N, 32, 32, 1) images whose class k is a bright 8x8 square at one of ten places, with noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    images = rng.random((count, 32, 32, 1), dtype=np.float32) * 0.3
    for index, label in enumerate(labels):
        row, column = divmod(int(label), 5)
        images[index, 4 + 12 * row : 12 + 12 * row, 1 + 6 * column : 7 + 6 * column, 0] += 0.7
    return images, labels.astype(np.int64)


def test_demo_learns_synthetic_digits(monkeypatch, capsys):
    def fake_load_data(fraction, seed, data_dir=None):
        X_train, y_train = synthetic_digits(400, seed=1)
        X_test, y_test = synthetic_digits(100, seed=2)
        return X_train, y_train, X_test, y_test

    monkeypatch.setattr(demo, "load_data", fake_load_data)
    assert demo.main(["--epochs", "2", "--no-progress"]) == 0
    output = capsys.readouterr().out
    assert "MNIST: 400 training and 100 test images (fraction 0.1)" in output
    assert "LeNet-5, 61,706 parameters, Adam lr 0.001, batch 32, 2 epochs" in output
    match = re.search(r"test accuracy: (\d\.\d{4}) \((\d+) of 100 test images\)", output)
    assert match, output
    # Chance is 0.1; the ten squares are easy to tell apart.
    assert float(match.group(1)) >= 0.8
    assert int(match.group(2)) == round(float(match.group(1)) * 100)


def test_demo_missing_data_message(monkeypatch, capsys):
    def missing(fraction, seed, data_dir=None):
        raise DatasetNotFoundError("train-images-idx3-ubyte not found in /nowhere")

    monkeypatch.setattr(demo, "load_data", missing)
    assert demo.main(["--no-progress"]) == 1
    error = capsys.readouterr().err
    assert "MNIST could not be loaded: train-images-idx3-ubyte not found in /nowhere" in error
    assert "NETLITE_DATA_DIR" in error


@pytest.mark.parametrize("arguments", [["--fraction", "0"], ["--fraction", "1.5"], ["--epochs", "0"]])
def test_demo_rejects_invalid_arguments(arguments, capsys):
    with pytest.raises(SystemExit) as raised:
        demo.main(arguments)
    assert raised.value.code == 2
    assert "python -m netlite.demo: error" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--fraction", "abc", "expected a number in (0, 1]"),
        ("--fraction", "nan", "expected a number in (0, 1]"),
        ("--epochs", "x", "expected a whole number >= 1"),
        ("--epochs", "1.5", "expected a whole number >= 1"),
        ("--batch-size", "x", "expected a whole number >= 1"),
        ("--seed", "x", "expected a whole number >= 0"),
        ("--seed", "-1", "expected a whole number >= 0"),
    ],
)
def test_demo_argument_error_names_option(option, value, expected, capsys):
    with pytest.raises(SystemExit) as raised:
        demo.main([option, value])
    assert raised.value.code == 2

    error = capsys.readouterr().err
    assert f"error: argument {option}: invalid value '{value}', {expected}" in error


def test_demo_on_real_mnist(tmp_path):
    data_dir = os.environ.get("NETLITE_DATA_DIR")
    if not data_dir or not all((Path(data_dir) / name).is_file() for name in MNIST_FILES):
        pytest.skip("NETLITE_DATA_DIR does not point to the four MNIST files")
    completed = subprocess.run(
        [sys.executable, "-m", "netlite.demo", "--fraction", "0.02", "--epochs", "1", "--no-progress"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "NETLITE_MNIST_MIRRORS": "http://127.0.0.1:9/"},
    )
    assert completed.returncode == 0, completed.stderr
    match = re.search(r"test accuracy: (\d\.\d{4})", completed.stdout)
    assert match, completed.stdout
    # One epoch on 1,199 images: well above the 0.1 of guessing, below a full training run.
    assert float(match.group(1)) > 0.7
