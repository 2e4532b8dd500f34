"""Fast kernels for the convolutional and pooling layers, and their naive references.

- convolution.py: im2col and col2im, the data movement around the
  convolution's matrix products (the products themselves are in
  ``netlite/layers/convolution.py``)
- pooling.py: 2x2 average and max pooling, forward and backward
- reference.py: the same functions as plain Python loops, for reading and testing
- jit.py: compiles the kernels with numba on first use (cached on disk)

The kernels are numba functions compiled on their first call, so importing
this package does not import numba. Set ``NUMBA_DISABLE_JIT=1`` to run them as
plain Python that a debugger can step through.
"""

from .convolution import col2im, im2col
from .jit import set_num_threads
from .pooling import avgpool2x2_backward, avgpool2x2_forward, maxpool2x2_backward, maxpool2x2_forward

__all__ = [
    "avgpool2x2_backward",
    "avgpool2x2_forward",
    "col2im",
    "im2col",
    "maxpool2x2_backward",
    "maxpool2x2_forward",
    "set_num_threads",
]
