"""Checking backward() against central differences, in float64.

For a layer, the checked scalar is ``f = sum(forward(X) * R)`` with a fixed
random R, so backward(R) must return df/dX and store df/dParameter. For a
loss, f is the loss itself and backward() must return df/dOutput. Each
analytic gradient is compared with the central difference
``(f(x + h) - f(x - h)) / (2 h)`` of every element (or of a random sample of
``max_checks`` elements in large arrays).

The error of one gradient array is ``||analytic - numerical|| / (||analytic|| + ||numerical||)``.
In float64 with h = 1e-6 a correct backward pass gives about 1e-9 or less;
an error above 1e-6 almost always means a bug. Near a kink (ReLU at 0, two
equal values in max pooling) the numerical gradient is meaningless, so check
on random inputs.

Some mistakes that one comparison cannot see raise ValueError instead, for
layers, networks and losses alike:

- forward() or backward() changing the input X (a loss: the network's
  output or the target) or a parameter in place, after the first forward()
  call, which may set the parameters;
- a second, identical forward and backward pass giving another output or
  other gradients, as a backward() that adds to ``self.grads`` (``+=``)
  instead of storing them does.

backward() gets a copy of R, so one that changes its argument in place
cannot change R.

NOTE: the check works on a deep copy of the layer, cast to float64. Both
turn a view that a layer keeps of its parameters into an array of its own,
so such a layer fails with an error near 1 unless it makes the view in
forward() from float64 parameters.
"""

import copy
import pickle
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .layers.base import Layer, check_initialised
from .losses import Loss


@dataclass
class GradientCheckRecord:
    """The comparison for one gradient array, with its worst element."""

    name: str  # "input" or the parameter's name
    relative_error: float
    worst_index: tuple
    analytic: float
    numerical: float
    n_checked: int = 0  # elements compared: all of them, or a random sample of max_checks
    size: int = 0  # elements in the array

    def __str__(self):
        sampled = f"; {self.n_checked:,} of {self.size:,} elements sampled" if self.n_checked < self.size else ""
        return (
            f"{self.name}: relative error {self.relative_error:.2e}; worst element {self.worst_index}: "
            f"analytic {self.analytic:.8g}, numerical {self.numerical:.8g}{sampled}"
        )


def gradient_check(layer_or_loss, X, target=None, step=1e-6, max_checks=2000, seed=0, verbose=False):
    """Compare analytic and numerical gradients and return the maximum relative error.

    layer_or_loss: a layer, whose input and parameters are checked; a loss,
    whose gradient with respect to the output is checked, so ``target`` is
    required; or a NeuralNetwork, whose input and every layer's parameters
    are checked.
    The object is copied and cast to float64; the original is not changed.
    With ``verbose=True`` one line per gradient array is printed.
    """
    records = gradient_check_details(layer_or_loss, X, target, step, max_checks, seed)
    if verbose:
        print(f"gradient check of {layer_or_loss!r}:")
        for record in records:
            print(f"  {record}")
    # A NaN error (a NaN gradient) must not vanish in max(), so it counts as infinite.
    return max(record.relative_error if np.isfinite(record.relative_error) else np.inf for record in records)


def gradient_check_details(layer_or_loss, X, target=None, step=1e-6, max_checks=2000, seed=0):
    """Return one GradientCheckRecord per checked array (see ``gradient_check``)."""
    # A stream of its own: the weights R must not repeat the caller's input
    # (an input drawn with the same seed would make R equal to X).
    rng = np.random.default_rng([seed, 0x6E6C])
    X = np.array(X, dtype=np.float64)
    if X.size == 0:
        raise ValueError(f"gradient_check: expected a non-empty input, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(X))[0])
        raise ValueError(
            f"gradient_check: the input contains {X[index]} at index {index}; a numerical gradient needs "
            f"finite numbers, so check with finite inputs, such as np.random.default_rng(0).standard_normal(shape)"
        )
    if not step > 0:
        raise ValueError(f"gradient_check: step must be positive, got {step!r}; 1e-6 suits float64")
    if not (isinstance(max_checks, (int, np.integer)) and max_checks >= 1):
        raise ValueError(f"gradient_check: max_checks must be a positive integer, got {max_checks!r}")

    if isinstance(layer_or_loss, Loss):
        return _loss_records(layer_or_loss, X, target, step, max_checks, rng)
    return _layer_records(layer_or_loss, X, step, max_checks, rng)


def _as_numbers(target):
    """Return ``target`` as a float array when it is a float, an array or a list of floats, else None."""
    if not isinstance(target, (np.ndarray, list, tuple, float, np.floating)):
        return None
    try:
        numbers = np.asarray(target)
        if numbers.dtype.kind == "O":  # numbers and None in one list, for example
            numbers = numbers.astype(np.float64)
    except (ValueError, TypeError, OverflowError):  # a ragged list, text, or an int too large for a float
        return None
    return numbers if numbers.dtype.kind == "f" else None


def _loss_records(loss_func, X, target, step, max_checks, rng):
    """Return the records of a loss: its backward() against central differences of its value."""
    if target is None:
        raise ValueError(f"gradient_check: checking the loss {loss_func!r} needs its target")
    loss = copy.deepcopy(loss_func)
    if isinstance(target, Iterator):
        raise TypeError(
            f"gradient_check: the target is an iterator ({type(target).__name__}), which the first call of "
            f"the loss uses up; pass it as a list or an array"
        )
    # The loss gets a copy of the target, so that one which changes it cannot change the caller's.
    # A second copy, made the same way, is what the first is compared with afterwards.
    target_copy, target_before = _copy_target(target), _copy_target(target)

    def evaluate():
        return loss.forward(X, target_copy)

    # NOTE: a loss that computes in float32 and returns a Python float passes this check, and
    # then shows an error of about 1e-2 with a correct backward.
    X_before = X.copy()
    value = _float64_result(evaluate(), repr(loss_func), "output", "the loss", "compute the loss in the output's dtype")
    if value.ndim != 0:
        raise TypeError(
            f"gradient_check: forward() of {loss_func!r} returned an array of shape {value.shape}; a loss returns "
            f"one number, the mean over the batch, for example float(np.mean(...))"
        )
    analytic = {"output": _copy_or_none(loss.backward())}
    if analytic["output"] is None:
        raise TypeError(
            f"gradient_check: backward() of {loss_func!r} returned None; end backward() with 'return' and "
            f"the gradient for the network's output"
        )
    numbers = _as_numbers(target)
    if not np.isfinite(value) and numbers is not None and not np.all(np.isfinite(numbers)):
        # A loss may skip NaN targets as missing values, so only a loss that is not finite is reported.
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(numbers))[0])
        where = f" at index {index}" if index else ""
        element = np.asarray(target, dtype=object)[index] if index else target  # None stays None
        raise ValueError(
            f"gradient_check: the loss is {value} for a target that contains {element}{where}; "
            f"check with finite targets"
        )
    value_again = evaluate()
    analytic_again = {"output": _copy_or_none(loss.backward())}
    changed = []
    if not np.array_equal(X, X_before, equal_nan=True):
        changed.append("the network's output")
    if not _same_content(target_copy, target_before):
        changed.append("the target")
    if changed:
        raise ValueError(
            f"gradient_check: forward() or backward() of {loss_func!r} changed {' and '.join(changed)} "
            f"in place; compute with new arrays (for example difference = output - target, not "
            f"output -= target or np.clip(target, 0, 1, out=target))"
        )
    _check_repeatable(value, value_again, analytic, analytic_again, is_loss=True)
    arrays = {"output": X}
    return _compare(evaluate, arrays, analytic, step, max_checks, rng)


def _layer_records(layer_or_network, X, step, max_checks, rng):
    """Return the records of a layer or a network: backward(R) against differences of sum(forward(X) * R)."""
    obj = copy.deepcopy(layer_or_network)
    layers = getattr(obj, "layers", None)
    if layers is None:
        if not isinstance(obj, Layer):
            raise TypeError(
                f"gradient_check: expected a layer, a loss or a NeuralNetwork, got {type(layer_or_network).__name__}"
            )
        layers = [obj]
    if not layers:
        raise ValueError("gradient_check: the network has no layers; add some with add_layer()")
    for layer in layers:
        check_initialised("gradient_check", layer)
        layer.astype(np.float64)
    if hasattr(layers[0], "compute_input_grad"):
        layers[0].compute_input_grad = True

    # A layer may create or set its parameters in its first forward(): sized from the input, set from
    # the first batch (data-dependent initialisation), or in float32, the layers' default. So one
    # forward() runs first, and the cast, the snapshots and the generator states come after it.
    # NOTE: a forward() that changes a parameter in place so that a second call leaves it as the
    # first call left it (a fixed mask) is therefore not caught here, only if its gradient is wrong.
    X_before = X.copy()
    obj.forward(X)
    for layer in layers:
        layer.astype(np.float64)
    params_before = {
        _parameter_key(layers, index, name): np.array(param, copy=True)
        for index, layer in enumerate(layers)
        for name, param in layer.params.items()
    }

    # Layers that draw random numbers (Dropout) must draw the same ones on
    # every evaluation, so their generators are rewound before each forward().
    generator_states = [
        (layer.rng, copy.deepcopy(layer.rng.bit_generator.state))
        for layer in layers
        if isinstance(getattr(layer, "rng", None), np.random.Generator)
    ]

    def forward():
        for generator, state in generator_states:
            generator.bit_generator.state = copy.deepcopy(state)
        return obj.forward(X)

    _check_float64_outputs(layers, X)
    weights = rng.standard_normal(forward().shape)

    def evaluate():
        return float(np.sum(forward() * weights))

    def analytic_gradients():
        """Run forward and backward once; return the output and the gradients, as copies."""
        output = np.array(forward())
        # backward() gets a copy, so that one which changes its argument cannot change the weights R.
        grad_X = obj.backward(weights.copy())
        gradients = {"input": _copy_or_none(grad_X)}
        for index, layer in enumerate(layers):
            for name in layer.params:
                gradients[_parameter_key(layers, index, name)] = np.array(layer.grads[name])
        _check_unchanged(X, X_before, layers, params_before)
        return output, gradients

    output, analytic = analytic_gradients()
    if analytic["input"] is None:  # NeuralNetwork.backward names a later layer that returns None
        where = f"layer 0 ({layers[0]!r})" if len(layers) > 1 else repr(layers[0])
        raise TypeError(
            f"gradient_check: backward() of {where} returned None; end backward() with 'return' and the "
            f"gradient for its input"
        )
    output_again, analytic_again = analytic_gradients()
    _check_repeatable(output, output_again, analytic, analytic_again)
    arrays = {"input": X}
    for index, layer in enumerate(layers):
        for name, param in layer.params.items():
            arrays[_parameter_key(layers, index, name)] = param
    return _compare(evaluate, arrays, analytic, step, max_checks, rng)


def _copy_target(target):
    """Return a deep copy of a loss's target; a part that cannot be copied (a lock) stays shared.

    Lists, tuples (named tuples too), dicts and objects with attributes (dataclasses, frozen or with
    __slots__) around such a part are rebuilt from copies of their other parts. One that cannot be
    rebuilt stays shared.
    """
    try:
        return copy.deepcopy(target)
    except Exception:  # a __deepcopy__ or __reduce__ of the user's may raise anything
        pass
    try:
        if isinstance(target, tuple) and hasattr(target, "_make"):  # a named tuple
            return target._make(_copy_target(part) for part in target)
        if isinstance(target, (list, tuple)):
            return type(target)(_copy_target(part) for part in target)
        copied = copy.copy(target)  # a dict, or an object such as a dataclass: a new shell, then its parts
        if isinstance(copied, dict):
            for key in copied:
                copied[key] = _copy_target(target[key])
        else:
            for name, value in _attributes(target).items():
                object.__setattr__(copied, name, _copy_target(value))  # also for a frozen dataclass
        return copied
    except Exception:  # for example a subclass whose constructor takes other arguments
        return target


def _attributes(obj):
    """Return an object's attributes by name: those in its __dict__ and those in its __slots__."""
    attributes = dict(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in [slots] if isinstance(slots, str) else slots:
            if name.startswith("__") and not name.endswith("__"):  # a private slot, stored under a mangled name
                name = f"_{cls.__name__.lstrip('_')}{name}"
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                attributes[name] = getattr(obj, name)
    return attributes


def _same_content(a, b):
    """Return True if ``a`` and ``b`` (arrays, or lists and tuples of them) hold the same values.

    Pickled bytes compare any such structure, NaN included. A part that cannot be pickled is
    compared part by part if it is a list, tuple, dict or object with attributes, and counts as
    unchanged otherwise.
    """
    try:
        return pickle.dumps(a) == pickle.dumps(b)
    except Exception:  # as in _copy_target
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(_same_content(a[key], b[key]) for key in a)
        if type(a) is type(b) and _attributes(a) and a is not b:
            return _same_content(_attributes(a), _attributes(b))
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
            return all(_same_content(part_a, part_b) for part_a, part_b in zip(a, b))
        return True


def _copy_or_none(gradient):
    """Return a copy of a gradient as an array, or None when backward() returned None."""
    return None if gradient is None else np.array(gradient)


def _parameter_key(layers, index, name):
    """Name a parameter in the records: its own name for one layer, with the layer's position in a network."""
    return name if len(layers) == 1 else f"layer {index} ({layers[index]!r}) {name}"


def _check_unchanged(X, X_before, layers, params_before):
    """Raise ValueError when forward() or backward() changed the input or a parameter in place.

    In training such a layer would spoil the caller's data or lose its weights, while the
    gradients it reports can still look right.
    """
    if not np.array_equal(X, X_before, equal_nan=True):
        raise ValueError(
            "gradient_check: forward() or backward() changed the input X in place; change a copy "
            "(for example X = X * 2, not X *= 2), because X is the caller's data"
        )
    for index, layer in enumerate(layers):
        for name, param in layer.params.items():
            before = params_before.get(_parameter_key(layers, index, name))
            if before is not None and not np.array_equal(param, before, equal_nan=True):
                raise ValueError(
                    f"gradient_check: forward() or backward() changed the parameter "
                    f"'{_parameter_key(layers, index, name)}'; only the optimizer may change parameters, "
                    f"and the gradient belongs in a new array in self.grads"
                )


def _check_repeatable(output, output_again, first, second, is_loss=False):
    """Raise ValueError when a second, identical forward and backward pass gives other results.

    ``output`` and ``output_again`` are the two passes' outputs (for a loss, ``is_loss=True``,
    its values), and ``first`` and ``second`` map names to their gradients.

    The usual cause is ``self.grads[name] += ...`` in backward(): the gradients of every batch then
    add up, while one pass, all that the central differences see, looks right.
    """
    if not np.allclose(output_again, output, rtol=1e-9, atol=0, equal_nan=True):
        if is_loss:
            raise ValueError(
                "gradient_check: the loss gave another value for the same output and target the second "
                "time; a loss must not draw random numbers or depend on earlier calls"
            )
        raise ValueError(
            "gradient_check: forward() gave another result for the same input the second time; random "
            "numbers must come from a numpy Generator stored as self.rng on a layer of the network (the "
            "check rewinds those), and forward() must not depend on earlier calls"
        )
    for key, value in first.items():
        again = second[key]
        if value is None or again is None or value.shape != again.shape:
            continue  # _compare reports a missing or misshapen gradient
        if not np.allclose(again, value, rtol=1e-9, atol=0, equal_nan=True):
            worst = np.unravel_index(int(np.argmax(np.abs(again - value))), value.shape)
            if key in ("input", "output"):
                cause = "backward() must return a gradient that depends only on the last forward() call"
            else:
                cause = (
                    "backward() must store each gradient with = (not add to it with +=), computed only "
                    "from the last forward() call"
                )
            raise ValueError(
                f"gradient_check: the gradient for '{key}' changed between two identical forward and "
                f"backward passes (element {tuple(int(i) for i in worst)}: {value[worst]:.8g}, then "
                f"{again[worst]:.8g}); {cause}"
            )


def _check_float64_outputs(layers, X):
    """Raise TypeError naming the first layer whose forward() turns the float64 input into another dtype.

    Central differences of float32 numbers measure rounding, not the gradient. A layer that
    computes in float32 inside and returns float64 is not caught here. The random numbers
    that Dropout draws in this pass do not matter, because every checked pass rewinds them.
    """
    output = X
    for index, layer in enumerate(layers):
        where = f"layer {index} ({layer!r})" if len(layers) > 1 else repr(layer)
        result = layer.forward(output)
        if isinstance(result, (list, tuple)):  # the layers after it would take it, but its shape is needed here
            raise TypeError(
                f"gradient_check: forward() of {where} returned a {type(result).__name__}; return its output "
                f"as a numpy array (np.asarray(...) turns a {type(result).__name__} into one)"
            )
        output = _float64_result(
            result, where, "input", "its output",
            "keep the input's dtype in forward() (for example, no .astype(np.float32))",
        )


def _float64_result(result, where, argument, returned, advice):
    """Return what forward() of ``where`` returned as an array; raise TypeError if it is None or not float64.

    ``argument`` names forward()'s float64 argument, ``returned`` what forward() should return, and
    ``advice`` how to keep float64.
    """
    if result is None:
        raise TypeError(f"gradient_check: forward() of {where} returned None; end forward() with 'return' and {returned}")
    result = np.asarray(result)
    if result.dtype != np.float64:
        raise TypeError(
            f"gradient_check: forward() of {where} returned {result.dtype} for float64 {argument}, so the "
            f"numerical gradient would be rounding noise; {advice}"
        )
    return result


def _compare(evaluate, arrays, analytic, step, max_checks, rng):
    # Each central difference carries rounding noise of about eps * |f| / step. A gradient that is
    # zero in truth (the bias of a layer before BatchNorm) then compares noise with noise, so two
    # gradients that are both below this floor count as equal.
    f_value = abs(float(evaluate()))
    noise_per_element = 10 * np.finfo(np.float64).eps * max(f_value, 1.0) / step
    records = []
    for name, array in arrays.items():
        grad = analytic[name]
        if grad is None or np.shape(grad) != array.shape:
            raise ValueError(
                f"gradient_check: the gradient for '{name}' has shape {np.shape(grad)}, "
                f"expected {array.shape} (the shape of '{name}')"
            )
        flat_indices = np.arange(array.size)
        if array.size > max_checks:
            flat_indices = rng.choice(array.size, size=max_checks, replace=False)

        analytic_values = np.empty(len(flat_indices))
        numerical_values = np.empty(len(flat_indices))
        for position, flat_index in enumerate(flat_indices):
            index = np.unravel_index(flat_index, array.shape)
            original = array[index]
            array[index] = original + step
            f_plus = evaluate()
            array[index] = original - step
            f_minus = evaluate()
            array[index] = original
            numerical_values[position] = (f_plus - f_minus) / (2 * step)
            analytic_values[position] = grad[index]

        difference = np.linalg.norm(analytic_values - numerical_values)
        scale = np.linalg.norm(analytic_values) + np.linalg.norm(numerical_values)
        if not (np.all(np.isfinite(analytic_values)) and np.all(np.isfinite(numerical_values))):
            relative_error = np.inf  # a NaN or infinite gradient is never correct
        elif scale <= noise_per_element * np.sqrt(len(flat_indices)):
            relative_error = 0.0  # both gradients are zero, up to rounding
        else:
            relative_error = difference / scale
        deviation = np.abs(analytic_values - numerical_values)
        worst = int(np.argmax(np.where(np.isfinite(deviation), deviation, np.inf)))
        records.append(
            GradientCheckRecord(
                name=name,
                relative_error=float(relative_error),
                worst_index=tuple(int(i) for i in np.unravel_index(flat_indices[worst], array.shape)),
                analytic=float(analytic_values[worst]),
                numerical=float(numerical_values[worst]),
                n_checked=len(flat_indices),
                size=array.size,
            )
        )
    return records
