"""The base class that every layer derives from, and the input checks they share.

A layer is a small object with two methods:

- ``forward(X)`` computes the output and keeps what the backward pass needs;
- ``backward(grad_output)`` receives dLoss/dOutput, stores dLoss/dParameter in
  ``self.grads`` and returns dLoss/dInput.

Trainable parameters live in the dict ``self.params`` and their gradients under
the same names in ``self.grads``, so an optimizer updates every layer the same
way. Non-trainable state that must be saved with the model (BatchNorm's running
statistics) lives in ``self.buffers``.
"""

import numpy as np


class Layer:
    """Base class of all layers: parameters, gradients, mode and shape checks."""

    # What a layer without settings does instead, shown in the TypeError when it is given an argument.
    fixed_behaviour = None

    def __init__(self, *args, **kwargs):
        if args or kwargs:  # accepted only to name the layer in the error for a call such as ReLU(0.1)
            raise TypeError(self._unexpected_arguments_message(args, kwargs))
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.training = True
        # Subclasses set what forward() keeps for backward() here; None means
        # that forward() has not run yet.
        self.cache = None

    def forward(self, X):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(X)")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} must implement backward(grad_output)")

    def output_shape(self, input_shape):
        """Return the output shape for an input of ``input_shape`` (without the batch axis)."""
        return tuple(input_shape)

    def train(self):
        """Switch to training mode (Dropout drops, BatchNorm uses batch statistics)."""
        self.training = True
        return self

    def eval(self):
        """Switch to evaluation mode (Dropout is the identity, BatchNorm uses running statistics)."""
        self.training = False
        return self

    def astype(self, dtype):
        """Cast parameters and float buffers to ``dtype`` in place (float64 for gradient checks)."""
        dtype = parameter_dtype(f"{self!r}.astype", dtype)
        # copy=False keeps an array that has the dtype already, and any view a layer keeps of it.
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype, copy=False)
            self.grads[name] = np.zeros_like(self.params[name])
        for name, value in self.buffers.items():
            if value.dtype.kind == "f":  # an integer buffer (a counter) keeps its type
                self.buffers[name] = value.astype(dtype, copy=False)
        return self

    @property
    def n_params(self):
        return sum(value.size for value in self.params.values())

    def __repr__(self):
        return f"{type(self).__name__}()"

    # -- checks shared by the layers -----------------------------------------

    def _unexpected_arguments_message(self, args, kwargs):
        """Return the error message for arguments given to a layer that takes none, or passed to Layer.__init__."""
        name = type(self).__name__
        arguments = ", ".join([repr(value) for value in args] + [f"{key}={value!r}" for key, value in kwargs.items()])
        if type(self).__init__ is not Layer.__init__:
            return (
                f"{name}: Layer.__init__ takes no arguments, got {arguments}; "
                f"call super().__init__() without arguments in {name}.__init__"
            )
        if self.fixed_behaviour is None:
            return (
                f"{name}({arguments}): {name} takes no arguments, so create it as {name}(), or give it an "
                f"__init__ that takes the settings and calls super().__init__() first"
            )
        return f"{name}({arguments}): {name} takes no arguments, so create it as {name}(). {self.fixed_behaviour}"

    def _check_input(self, X, ndim, expected_shape=None, dtype=None):
        """Check the input of forward() and return it as a float array.

        ``ndim`` is the expected number of axes including the batch axis, or
        None for layers that take any shape.
        ``expected_shape`` describes the axes for the error message, e.g.
        ``"(batch, 400)"``. Integer and boolean inputs are converted to
        ``dtype`` (float32 by default). Complex, object and string arrays raise
        TypeError because they cannot be meant as network input.
        """
        try:
            X = np.asarray(X)
        except ValueError as error:  # numpy refuses lists of samples of different shapes
            raise ValueError(f"{self!r}: the input does not form an array ({error}); give every sample the same shape") from None
        if X.dtype.kind not in "biuf":
            raise TypeError(
                f"{self!r}: expected a real-valued numeric array, got dtype {X.dtype}; "
                f"convert the input with np.asarray(X, dtype=np.float32)"
            )
        if ndim is not None and X.ndim != ndim:
            raise ValueError(
                f"{self!r}: expected input of shape {expected_shape or ndim_words(ndim)}, "
                f"got {X.shape}"
            )
        if dtype is None:
            dtype = float_dtype_for(X.dtype)
        if X.dtype != dtype:
            X = X.astype(dtype)
        return X

    def _require_cache(self):
        """Return what forward() kept for backward(), or raise if forward() has not run."""
        if self.cache is None:
            raise RuntimeError(
                f"{self!r}: backward() called before forward(), after NeuralNetwork.predict() (which keeps "
                f"nothing for backward()), or after a forward() that set no self.cache; run forward() on a batch "
                f"first, and keep in self.cache what backward() needs"
            )
        return self.cache

    def _check_grad_output(self, grad_output, expected_shape):
        """Check that backward() gets a gradient of the shape of the last forward output."""
        grad_output = np.asarray(grad_output)
        if grad_output.dtype.kind not in "biuf":
            raise TypeError(
                f"{self!r}: expected a real-valued numeric grad_output, got dtype {grad_output.dtype}; "
                f"convert it with np.asarray(grad_output, dtype=np.float32)"
            )
        if grad_output.shape != tuple(expected_shape):
            raise ValueError(
                f"{self!r}: expected grad_output of shape {tuple(expected_shape)} "
                f"(the shape of the last forward output), got {grad_output.shape}"
            )
        dtype = float_dtype_for(grad_output.dtype)
        if grad_output.dtype != dtype:
            grad_output = grad_output.astype(dtype)
        return grad_output


def float_dtype_for(dtype):
    """Return the float dtype that layers compute in for arrays of ``dtype``, in native byte order.

    float32 and float64 stay as they are. Everything else becomes float32, float16 too,
    because the numba kernels compile for float32 and float64 only.
    """
    if dtype.type in (np.float32, np.float64):
        return np.dtype(dtype.type)
    return np.dtype(np.float32)


def check_initialised(caller, layer):
    """Raise TypeError naming ``caller`` if ``layer`` lacks what Layer.__init__ sets (its __init__ skipped super().__init__())."""
    missing = [name for name in ("params", "grads", "buffers", "training") if not hasattr(layer, name)]
    if missing:
        raise TypeError(
            f"{caller}: the {type(layer).__name__} has no {', '.join(missing)}, which Layer.__init__ sets; "
            f"call super().__init__() at the start of its __init__"
        )


def parameter_dtype(owner, dtype):
    """Return ``dtype`` as np.float32 or np.float64 in native byte order, or raise TypeError naming ``owner``.

    The error shows the value as given: a dtype class (np.dtypes.StrDType) by its module and name,
    another class by its name, anything else by its repr.
    """
    is_dtype_class = isinstance(dtype, type) and issubclass(dtype, np.dtype)
    try:
        if is_dtype_class:
            # np.dtype() reads a class such as np.dtypes.Float32DType as object, so the class makes its own
            # instance. np.dtype and the classes that need a size or unit (strings, bytes, void, dates) raise
            # TypeError here, and the layer's message below replaces numpy's.
            resolved = dtype()
        elif dtype is None:
            resolved = None  # np.dtype(None) would be float64
        else:
            resolved = np.dtype(dtype)
    except Exception:  # numpy raises TypeError or ValueError for what it cannot read as a dtype
        resolved = None
    if resolved is None or resolved.type not in (np.float32, np.float64):
        if is_dtype_class:
            dtype_name = f"{dtype.__module__}.{dtype.__qualname__}"
        elif isinstance(dtype, np.dtype):
            dtype_name = dtype
        else:
            dtype_name = getattr(dtype, "__name__", None) or repr(dtype)
        raise TypeError(
            f"{owner}: dtype must be np.float32 or np.float64, got {dtype_name}; parameters are floats, "
            f"float32 for training and float64 for a gradient check"
        )
    return np.dtype(resolved.type)


def ndim_words(ndim):
    """Describe an expected number of axes in the shape vocabulary used in messages."""
    names = {2: "(batch, features)", 4: "(batch, height, width, channels)"}
    return names.get(ndim, f"with {ndim} axes")
