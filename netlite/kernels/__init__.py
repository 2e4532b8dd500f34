"""Fast kernels for the convolutional and pooling layers, and their naive references.

- convolution.py: the 2D convolution, forward and backward
- pooling.py: 2x2 average and max pooling, forward and backward
- reference.py: the same functions as plain Python loops, for reading and testing
- jit.py: compiles the kernels with numba on first use (cached on disk)
- threads.py: how many threads share a batch (one chunk of images each), and BLAS

The kernels are numba functions compiled on their first call, so importing
this package does not import numba. Set ``NUMBA_DISABLE_JIT=1`` to run them as
plain Python that a debugger can step through.
"""

from .convolution import conv2d_backward, conv2d_forward
from .pooling import avgpool2x2_backward, avgpool2x2_forward, maxpool2x2_backward, maxpool2x2_forward
from .threads import get_num_threads, set_num_threads

__all__ = [
    "avgpool2x2_backward",
    "avgpool2x2_forward",
    "conv2d_backward",
    "conv2d_forward",
    "get_num_threads",
    "maxpool2x2_backward",
    "maxpool2x2_forward",
    "set_num_threads",
]
