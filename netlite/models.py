"""Ready-made networks used by the demo, the notebooks and the tests."""

from .layers import (
    AvgPoolingLayer,
    ConvolutionalLayer,
    Flatten,
    FullyConnectedLayer,
    ReLU,
    Softmax,
)
from .network import NeuralNetwork


def lenet5():
    """Return LeNet-5 for (N, 32, 32, 1) images and 10 classes; the output is (N, 10) class probabilities.

    Shapes per sample: 32x32x1 -> conv 5x5 -> 28x28x6 -> pool -> 14x14x6 -> conv 5x5 -> 10x10x16
    -> pool -> 5x5x16 -> flatten 400 -> 120 -> 84 -> 10, with 61,706 parameters. It follows
    LeCun et al. (1998) with two simplifications: ReLU in place of the scaled tanh, and every
    second-layer filter takes all six input channels (the paper connects each to a subset).
    Train it with ``nl.CrossEntropyLoss``, which takes the logits below the final Softmax.
    """
    return NeuralNetwork(
        [
            ConvolutionalLayer(5, 1, 6),
            ReLU(),
            AvgPoolingLayer(),
            ConvolutionalLayer(5, 6, 16),
            ReLU(),
            AvgPoolingLayer(),
            Flatten(),
            FullyConnectedLayer(400, 120),
            ReLU(),
            FullyConnectedLayer(120, 84),
            ReLU(),
            FullyConnectedLayer(84, 10),
            Softmax(),
        ]
    )
