"""All layers, one module per kind.

- base.py: the Layer base class (parameters, gradients, modes, input checks)
- dense.py: FullyConnectedLayer
- activations.py: ReLU, LeakyReLU, Sigmoid, Tanh, Softmax
- convolution.py: ConvolutionalLayer (its fast kernels are in netlite/kernels/)
- pooling.py: MaxPoolingLayer, AvgPoolingLayer, GlobalAvgPoolingLayer
- reshape.py: Flatten
- normalization.py: BatchNorm
- regularization.py: Dropout
"""

from .activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .base import Layer
from .convolution import ConvolutionalLayer
from .dense import FullyConnectedLayer
from .normalization import BatchNorm
from .pooling import AvgPoolingLayer, GlobalAvgPoolingLayer, MaxPoolingLayer
from .regularization import Dropout
from .reshape import Flatten

__all__ = [
    "AvgPoolingLayer",
    "BatchNorm",
    "ConvolutionalLayer",
    "Dropout",
    "Flatten",
    "FullyConnectedLayer",
    "GlobalAvgPoolingLayer",
    "Layer",
    "LeakyReLU",
    "MaxPoolingLayer",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
