"""NetLite: a small white-box framework for training neural networks, made for teaching.

Every layer is a short numpy class with an explicit ``forward`` and
``backward``; see ``docs/architecture.md`` for where each concept lives.

    import netlite as nl
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 2), nl.Sigmoid(),
                              nl.FullyConnectedLayer(2, 1), nl.Sigmoid()])
    optimizer = nl.OptimizerSGD(loss_func=nl.MseLoss(), learning_rate=2)
    for x_batch, y_batch in nl.batch_handler(X, y, batchsize=4, shuffle=True):
        loss, metrics = optimizer.step(model, x_batch, y_batch)

Modules that pull in heavy libraries (``plot`` needs matplotlib, the data
sets and the course tooling) are imported on first use, so ``import netlite``
stays fast.
"""

import importlib

from .augmentation import random_shift
from .batching import batch_handler
from .gradient_check import gradient_check, gradient_check_details
from .layers import (
    AvgPoolingLayer,
    BatchNorm,
    ConvolutionalLayer,
    Dropout,
    Flatten,
    FullyConnectedLayer,
    GlobalAvgPoolingLayer,
    Layer,
    LeakyReLU,
    MaxPoolingLayer,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .losses import CrossEntropyLoss, HuberLoss, Loss, MseLoss
from .network import NeuralNetwork
from .optimizers import Optimizer, OptimizerADAM, OptimizerMomentum, OptimizerSGD
from .seeding import default_rng, seed

__version__ = "0.1.0"

_LAZY_MODULES = {"course", "dataloader_mnist", "datasets", "evaluation", "inspection", "models", "plot", "training"}
_LAZY_FUNCTIONS = {"train": "training", "layer_statistics": "inspection"}


def __getattr__(name):
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_FUNCTIONS:
        module = importlib.import_module(f".{_LAZY_FUNCTIONS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'netlite' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY_MODULES) + list(_LAZY_FUNCTIONS))
