"""Train LeNet-5 on a subset of MNIST in the terminal and print the test accuracy.

    python -m netlite.demo                          # 10 % of MNIST, 2 epochs
    python -m netlite.demo --fraction 1 --epochs 5  # all 60,000 training images

The subsets are class-balanced and drawn with ``--seed``; the test accuracy is measured on the
same fraction of the 10,000 test images. MNIST is found or downloaded as described in
``netlite.datasets.locations``; set ``NETLITE_DATA_DIR`` to a folder with the four MNIST files
to train without a download. The progress bar goes to stderr when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import seeding
from .losses import CrossEntropyLoss
from .models import lenet5
from .optimizers import OptimizerADAM

LEARNING_RATE = 1e-3


def load_data(fraction, seed, data_dir=None):
    """Return ``(X_train, y_train, X_test, y_test)``: class-balanced MNIST subsets, X (N, 32, 32, 1) float32."""
    from .datasets import load_mnist

    X_train, y_train = load_mnist("train", fraction=fraction, seed=seed, data_dir=data_dir)
    X_test, y_test = load_mnist("test", fraction=fraction, seed=seed, data_dir=data_dir)
    return X_train, y_train, X_test, y_test


def accuracy(model, X, y):
    """Return the fraction of the images in X whose most probable class is the label in y."""
    return float(np.mean(model.predict(X).argmax(axis=1) == y))


def run(fraction=0.1, epochs=2, batch_size=32, seed=0, data_dir=None, progress="auto"):
    """Train LeNet-5 with Adam (learning rate 1e-3) and cross-entropy; return the test accuracy."""
    from .training import train

    X_train, y_train, X_test, y_test = load_data(fraction, seed, data_dir)
    print(f"MNIST: {len(X_train):,} training and {len(X_test):,} test images (fraction {fraction:g})")
    seeding.seed(seed)
    model = lenet5()
    optimizer = OptimizerADAM(loss_func=CrossEntropyLoss(), learning_rate=LEARNING_RATE)
    epochs_text = f"{epochs} epoch" + ("" if epochs == 1 else "s")
    print(f"LeNet-5, {model.n_params:,} parameters, Adam lr {LEARNING_RATE:g}, batch {batch_size}, {epochs_text}")
    train(model, optimizer, X_train, y_train, n_epochs=epochs, batchsize=batch_size, progress=progress)
    test_accuracy = accuracy(model, X_test, y_test)
    correct = int(round(test_accuracy * len(X_test)))
    print(f"test accuracy: {test_accuracy:.4f} ({correct:,} of {len(X_test):,} test images)")
    return test_accuracy


# argparse shows the message of an ArgumentTypeError after the option's name. For a ValueError it
# writes its own message from the type function's name ("invalid _fraction value"), so the type
# functions below raise only ArgumentTypeError.


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value <= 1:  # nan fails the comparison too
        raise argparse.ArgumentTypeError(f"invalid value {text!r}, expected a number in (0, 1] (0.1 is 10 % of MNIST)")
    return value


def _integer_at_least(minimum):
    """Return an argparse type that reads a whole number of at least ``minimum``."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}, expected a whole number >= {minimum}")
        return value

    return parse


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m netlite.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=_fraction, default=0.1, help="fraction of MNIST to use, in (0, 1] (default: 0.1)")
    parser.add_argument("--epochs", type=_integer_at_least(1), default=2, help="passes over the training subset (default: 2)")
    parser.add_argument("--batch-size", type=_integer_at_least(1), default=32, help="images per training step (default: 32)")
    parser.add_argument("--seed", type=_integer_at_least(0), default=0, help="seed of the subset, the weights and the batch order (default: 0)")
    parser.add_argument("--data-dir", default=None, help="folder searched first for the MNIST files")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    arguments = parser.parse_args(argv)

    from .datasets import DatasetError, DatasetNotFoundError, DownloadError

    try:
        run(
            fraction=arguments.fraction,
            epochs=arguments.epochs,
            batch_size=arguments.batch_size,
            seed=arguments.seed,
            data_dir=arguments.data_dir,
            progress=False if arguments.no_progress else "auto",
        )
    except (DatasetNotFoundError, DownloadError, DatasetError) as error:
        print(f"error: MNIST could not be loaded: {error}", file=sys.stderr)
        print("set NETLITE_DATA_DIR to a folder with the four MNIST .gz files, or pass --data-dir", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
