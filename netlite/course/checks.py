"""Helpers for the check cells of the exercise notebooks.

Each helper compares what the student's code returned with the expected value. On success it
prints one pass line when ``points`` is given (``PASS tanh(-1.0): 2 of 2 points``); on failure it
raises AssertionError with a message that names the input, the value returned and the value
expected, for example ``tanh(-1.0) returned 0.0, expected -0.7616``. The grader gives a check
cell its points when the cell raises nothing, so a cell may call several helpers and pass only
``points`` to the last one.

    check_close("tanh(-1.0)", tanh(-1.0), -0.7615941559557649, points=2)
    check_shape("relu(X)", relu(X), (4, 3))
    check_float("mse_loss(y_hat, y)", mse_loss(y_hat, y))
    check_dict("forward_pass(X, ...)", forward_pass(X, W1, b1), ("z1", "a1"))
    check_unchanged("mse_loss", {"y": y_copy}, {"y": y})
    check_raises("Dense(0, 3)", ValueError, Dense, 0, 3, points=1)
"""

from __future__ import annotations

import collections.abc
import dataclasses
import numbers
import operator

import numpy as np

__all__ = ["check_close", "check_dict", "check_equal", "check_float", "check_shape", "check_raises", "check_unchanged", "report_pass"]


def report_pass(name: str, points: float) -> None:
    """Print the pass line of a check, e.g. ``PASS tanh_forward: 2 of 2 points``."""
    _check_points(points)
    print(f"PASS {name}: {_format_points(points)} of {_format_points(points)} points")


def check_close(name, actual, expected, points=None, atol=1e-6, rtol=1e-5, hint=None):
    """Assert that ``actual`` equals ``expected`` within ``atol + rtol * |expected|``, entry by entry.

    ``expected`` is a number or an array; ``actual`` must have the same shape. NaN is never close
    to anything, so a NaN in ``actual`` fails. ``hint``, a sentence, is added to the message when
    the values differ, to name a common cause. When ``actual`` is a float32 or float16 array or
    scalar and each wrong entry is within a few units in the last place of that dtype, the message
    names the dtype and advises computing in float64.
    """
    expected_array = np.asarray(expected, dtype=np.float64)
    actual_array = _numeric_array(name, actual, expected)
    if actual_array.shape != expected_array.shape:
        raise AssertionError(
            f"{name} returned an array of shape {actual_array.shape}, expected shape {expected_array.shape}"
        )
    close = np.isclose(actual_array, expected_array, atol=atol, rtol=rtol)
    if not close.all():
        sentences = [_mismatch_message(name, actual_array, expected_array, close, atol, rtol)]
        rounding_note = _rounding_note(actual, actual_array[~close], expected_array[~close])
        if rounding_note is not None:
            sentences.append(rounding_note)
        if hint is not None:
            sentences.append(hint)
        raise AssertionError(". ".join(sentences))
    if points is not None:
        report_pass(name, points)


def check_equal(name, actual, expected, points=None):
    """Assert that ``actual == expected`` exactly (integers, strings, tuples, integer arrays)."""
    if isinstance(expected, np.ndarray) or isinstance(actual, np.ndarray):
        expected_array = np.asarray(expected)
        actual_array = np.asarray(actual)
        if actual_array.shape != expected_array.shape:
            raise AssertionError(
                f"{name} returned an array of shape {actual_array.shape}, expected shape {expected_array.shape}"
            )
        different = actual_array != expected_array
        if different.any():
            position = tuple(int(i) for i in np.argwhere(different)[0])
            raise AssertionError(
                f"{name} returned {_plain(actual_array[position])!r} at index {position}, "
                f"expected {_plain(expected_array[position])!r}"
            )
    elif actual is None and expected is not None:
        raise AssertionError(f"{name} returned None, expected {expected!r}; does the function end with a return statement?")
    elif actual != expected:
        raise AssertionError(f"{name} returned {_plain(actual)!r}, expected {_plain(expected)!r}")
    if points is not None:
        report_pass(name, points)


def check_float(name, actual, points=None):
    """Assert that ``actual`` is a float, for functions that must return a Python float.

    NumPy's float64 is a subclass of float, so ``np.mean(...)`` passes as it is. float32, a 0-d
    array and an int fail, with the hint to convert the result with ``float(...)``. An array or a
    list gets the hint to reduce it to one number first: numpy 2 converts no array of one or more
    axes with float(), even one of a single value.
    """
    if actual is None:
        raise AssertionError(f"{name} returned None, expected a float; does the function end with a return statement?")
    reduce_hint = "expected one float; reduce the values to one number first, for example their mean with np.mean(...)"
    if isinstance(actual, (list, tuple)):
        raise AssertionError(f"{name} returned a {type(actual).__name__}, {reduce_hint}")
    if isinstance(actual, np.ndarray) and actual.ndim > 0:
        raise AssertionError(f"{name} returned an array of shape {actual.shape}, {reduce_hint}")
    if not isinstance(actual, float):
        convert_hint = "; convert the result with float(...)" if isinstance(actual, (numbers.Number, np.generic, np.ndarray)) else ""
        raise AssertionError(f"{name} returned {type(actual).__name__} {_short_repr(actual)}, expected a float{convert_hint}")
    if points is not None:
        report_pass(name, points)


def check_dict(name, actual, keys, points=None):
    """Assert that ``actual`` is a dict with (at least) the keys ``keys``, for functions that return named results.

    ``keys`` is an iterable of keys, such as ``("z1", "a1")``, or one key: a str, bytes or any
    other hashable value that is not iterable, such as ``0``. A tuple is always read as keys, so
    give a tuple key inside another tuple: ``(("a", "b"),)``. ``keys=None`` raises TypeError, and
    so does an unhashable key, such as a bytearray.
    """
    keys = _key_tuple(keys)
    expected = ", ".join(repr(key) for key in keys)
    if actual is None:
        raise AssertionError(f"{name} returned None, expected a dict with the keys {expected}; does the function end with a return statement?")
    if not isinstance(actual, collections.abc.Mapping):
        raise AssertionError(f"{name} returned a {type(actual).__name__}, expected a dict with the keys {expected}")
    missing = [key for key in keys if key not in actual]
    if missing:
        present = ", ".join(repr(key) for key in actual) or "none"
        raise AssertionError(
            f"{name} returned a dict without the keys {', '.join(repr(key) for key in missing)} (its keys: {present}); "
            f"name the results exactly {expected}"
        )
    if points is not None:
        report_pass(name, points)


def check_shape(name, actual, expected_shape, points=None):
    """Assert that the array ``actual`` has the shape ``expected_shape``; a list, tuple or other object fails.

    ``expected_shape`` is a tuple of lengths of zero or more, or one such length for one axis.
    Every length must be given: a negative one, such as the -1 of ``reshape``, raises ValueError.
    """
    if isinstance(expected_shape, (int, np.integer)):
        expected_shape = (expected_shape,)
    try:
        expected_shape = tuple(operator.index(length) for length in expected_shape)
    except (TypeError, ValueError):
        raise TypeError(
            f"check_shape: expected_shape must be a tuple of whole numbers, such as (4, 3), got {expected_shape!r}"
        ) from None
    if any(length < 0 for length in expected_shape):
        raise ValueError(
            f"check_shape: expected_shape must not contain negative lengths, got {expected_shape}; "
            f"check_shape has no wildcard such as -1, so give the length of every axis"
        )
    if actual is None:
        raise AssertionError(f"{name} returned None, expected an array of shape {tuple(expected_shape)}")
    if not isinstance(actual, (np.ndarray, np.generic, numbers.Number)):  # np.shape() would accept a list
        raise AssertionError(
            f"{name} returned a {type(actual).__name__}, expected a numpy array of shape {tuple(expected_shape)}; "
            f"return the array itself (np.asarray(...) turns a list into one)"
        )
    shape = np.shape(actual)
    if tuple(shape) != tuple(expected_shape):
        returned = f"an array of shape {tuple(shape)}" if isinstance(actual, np.ndarray) else f"the number {_short_repr(actual)}"
        raise AssertionError(f"{name} returned {returned}, expected shape {tuple(expected_shape)}")
    if points is not None:
        report_pass(name, points)


def check_unchanged(name, passed, originals):
    """Assert that a function left its array arguments as they were, to name a change in place.

    ``passed`` maps a description of each argument, such as ``"forward['y_hat']"``, to the array
    that the function got, and ``originals`` maps the same descriptions to arrays with the values
    from before the call. Entries that are NaN before and after count as unchanged, and a numpy
    array or scalar whose dtype differs counts as changed, even with equal values. An argument
    may also be a mapping, list, tuple or array of dtype object holding such values, which is
    compared part by part. The message names a key added to or removed from a mapping.
    """
    for argument, value in passed.items():
        if argument not in originals:
            raise KeyError(f"check_unchanged: {argument!r} is in passed but not in originals; give both the same keys")
        change = _find_change(value, originals[argument])
        if change is None:
            continue
        if change.added_keys or change.removed_keys:
            raise AssertionError(_key_change_message(name, f"{argument}{change.path}", change))
        if change.dtypes is not None:
            raise AssertionError(_dtype_change_message(name, argument, change))
        if change.lengths is not None:
            before, after = change.lengths
            raise AssertionError(
                f"{name} changed the length of its argument {argument}{change.path} from {before} to {after}; "
                f"build a new list for the results, such as with [...] or list(...), instead of append, extend or "
                f"del on the list that the function got"
            )
        if not change.path:
            raise AssertionError(
                f"{name} changed its argument {argument} in place; compute with new arrays: "
                f"write a - b, not a -= b, because a -= b changes the array that a names"
            )
        # Inside a dict or list, params[k] = params[k] - g changes the caller's dict as much as params[k] -= g.
        raise AssertionError(
            f"{name} changed its argument {argument}{change.path} in place; compute with new arrays and put them "
            f"into a new dict or list: write a - b, not a -= b, and do not assign to the parts of {argument}"
        )


def check_raises(name, exception_type, function, *args, points=None, **kwargs):
    """Assert that ``function(*args, **kwargs)`` raises ``exception_type`` (or a subclass)."""
    try:
        result = function(*args, **kwargs)
    except exception_type:
        pass
    except NotImplementedError:
        # An unsolved exercise keeps its own message, which names the exercise.
        raise
    except Exception as error:
        raise AssertionError(
            f"{name} raised {type(error).__name__}({error}), expected {exception_type.__name__}"
        ) from error
    else:
        raise AssertionError(f"{name} returned {_short_repr(result)}, expected it to raise {exception_type.__name__}")
    if points is not None:
        report_pass(name, points)


# -- formatting ----------------------------------------------------------------


def _check_points(points) -> None:
    if isinstance(points, bool) or not isinstance(points, numbers.Real) or not points > 0:
        raise ValueError(f"points must be a positive number, got {points!r}")


def _format_points(points) -> str:
    return f"{points:g}"


def _numeric_array(name, actual, expected) -> np.ndarray:
    if actual is None:
        raise AssertionError(
            f"{name} returned None, expected {_short_repr(expected)}; does the function end with a return statement?"
        )
    try:
        array = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(
            f"{name} returned {type(actual).__name__} {_short_repr(actual)}, expected a number or an array of numbers"
        ) from None
    return array


def _mismatch_message(name, actual_array, expected_array, close, atol, rtol) -> str:
    if expected_array.ndim == 0:
        return (
            f"{name} returned {_format_pair(actual_array.item(), expected_array.item())}"
            f" (tolerance atol={atol:g}, rtol={rtol:g})"
        )
    wrong = np.argwhere(~close)
    position = tuple(int(i) for i in wrong[0])
    return (
        f"{name} returned a wrong value at index {position}: "
        f"{_format_pair(actual_array[position], expected_array[position])}; "
        f"{len(wrong)} of {close.size} entries differ by more than atol={atol:g} + rtol={rtol:g} * |expected|"
    )


# Each step of float32 or float16 arithmetic rounds by up to half a ULP (unit in the last place),
# so a short computation in those dtypes usually ends a few ULPs from the float64 value. This
# limit decides only whether the message names the dtype, not which values pass.
_MAX_ROUNDING_ULPS = 4


def _rounding_note(actual, wrong_actual, wrong_expected) -> str | None:
    """Return a sentence that names the dtype of ``actual`` when its rounding explains the wrong entries, else None.

    The dtype must be a float type narrower than float64, and every wrong entry must be within
    ``_MAX_ROUNDING_ULPS`` ULPs of that dtype from the expected value.
    """
    if not isinstance(actual, (np.ndarray, np.floating)):
        return None
    dtype = actual.dtype
    if not (np.issubdtype(dtype, np.floating) and np.finfo(dtype).bits < 64):
        return None
    with np.errstate(over="ignore", invalid="ignore"):  # a value beyond float16's range gives inf
        magnitude = np.maximum(np.abs(wrong_actual), np.abs(wrong_expected)).astype(dtype)
        ulp = np.spacing(magnitude).astype(np.float64)
        within_rounding = np.abs(wrong_actual - wrong_expected) <= _MAX_ROUNDING_ULPS * ulp
    if not within_rounding.all():
        return None
    return (
        f"The result has dtype {dtype.name}, and the difference is within {dtype.name} rounding, "
        f"so compute in float64, NumPy's default, without .astype(np.{dtype.name}) or dtype=np.{dtype.name}"
    )


def _key_tuple(keys) -> tuple:
    if keys is None:
        raise TypeError("check_dict: keys must be a key or an iterable of keys, such as ('z1', 'a1'), got None")
    if isinstance(keys, (str, bytes, bytearray)):
        keys = (keys,)
    try:
        iterator = iter(keys)
    except TypeError:  # one key that is not iterable, such as 0
        iterator = iter((keys,))
    keys = tuple(_plain(key) for key in iterator)  # np.str_('a') as 'a' in messages
    for key in keys:
        try:
            hash(key)
        except TypeError:
            raise TypeError(
                f"check_dict: the key {key!r} is unhashable, so no dict can contain it; "
                f"give a hashable key, such as bytes instead of a bytearray"
            ) from None
    return keys


@dataclasses.dataclass
class _Change:
    """The first difference found in an argument: where it is, which keys a mapping gained or lost there,
    the lengths before and after when a list or tuple there got longer or shorter, and the dtypes
    before and after when a numpy array or scalar there got another dtype."""

    path: str
    added_keys: list = dataclasses.field(default_factory=list)
    removed_keys: list = dataclasses.field(default_factory=list)
    lengths: tuple[int, int] | None = None
    dtypes: tuple[np.dtype, np.dtype] | None = None


def _find_change(value, original, path="", comparing=frozenset()) -> _Change | None:
    """Return None if ``value`` equals ``original``, else the first difference.

    Arrays are compared entry by entry, with NaN equal to NaN. Mappings, lists, tuples and arrays
    of dtype object are compared part by part, and ``path`` is the subscript of the part, such as
    ``"['W']"``. ``comparing`` contains the ``id`` pairs of the containers that enclose this part.
    A pair met again inside itself, as in a list that contains itself, counts as equal there,
    because the comparison of that pair further up checks all its other parts.
    """
    containers = (collections.abc.Mapping, list, tuple)
    if isinstance(value, containers) or _is_object_array(value) or _is_object_array(original):
        pair = (id(value), id(original))
        if pair in comparing:
            return None
        comparing = comparing | {pair}
    if isinstance(value, collections.abc.Mapping) and isinstance(original, collections.abc.Mapping):
        return _find_mapping_change(value, original, path, comparing)
    if isinstance(value, (list, tuple)) and isinstance(original, (list, tuple)):
        if len(value) != len(original):
            return _Change(path, lengths=(len(original), len(value)))
        parts = ((value[i], original[i], f"{path}[{i}]") for i in range(len(value)))
        return _find_first_change(parts, comparing)
    if _is_object_array(value) or _is_object_array(original):
        return _find_object_array_change(value, original, path, comparing)
    # np.array_equal compares values only, so a float32 copy of float64 values would pass.
    numpy_types = (np.ndarray, np.generic)
    if isinstance(value, numpy_types) and isinstance(original, numpy_types) and value.dtype != original.dtype:
        return _Change(path, dtypes=(original.dtype, value.dtype))
    return None if _same_array(value, original) else _Change(path)


def _find_mapping_change(value, original, path, comparing) -> _Change | None:
    added_keys = [key for key in value if key not in original]
    removed_keys = [key for key in original if key not in value]
    if added_keys or removed_keys:
        return _Change(path, added_keys, removed_keys)
    return _find_first_change(((value[key], original[key], f"{path}[{key!r}]") for key in value), comparing)


def _find_object_array_change(value, original, path, comparing) -> _Change | None:
    # An object array may hold arrays of different lengths or NaN, which == cannot compare as a whole.
    if not (isinstance(value, np.ndarray) and isinstance(original, np.ndarray)) or value.shape != original.shape:
        return _Change(path)
    parts = []
    for index in np.ndindex(value.shape):
        subscript = f"[{', '.join(map(str, index))}]" if index else ""
        parts.append((value[index], original[index], path + subscript))
    return _find_first_change(parts, comparing)


def _find_first_change(parts, comparing) -> _Change | None:
    for value, original, path in parts:
        change = _find_change(value, original, path, comparing)
        if change is not None:
            return change
    return None


def _is_object_array(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == object


def _same_array(value, original) -> bool:
    try:
        return bool(np.array_equal(value, original, equal_nan=True))
    except TypeError:  # text or objects, where NaN cannot be tested
        return bool(np.array_equal(value, original))


def _dtype_change_message(name, argument, change) -> str:
    before, after = change.dtypes
    changed = f"{name} changed the dtype of its argument {argument}{change.path} from {before} to {after}"
    if not change.path:
        return (
            f"{changed}; leave the arrays that the function got as they were, and convert a copy for the "
            f"results, such as with a.astype(...), which returns a new array"
        )
    return (
        f"{changed}; put converted arrays into a new dict or list, such as with a.astype(...), and do not "
        f"assign to the parts of {argument}"
    )


def _key_change_message(name, argument, change) -> str:
    added = _name_keys(change.added_keys)
    removed = _name_keys(change.removed_keys)
    if not change.removed_keys:
        return (
            f"{name} added {added} to its argument {argument}; put new results into a new dict, "
            f"such as a copy made with dict(...), not into the dict that the function got"
        )
    if not change.added_keys:
        return (
            f"{name} removed {removed} from its argument {argument}; read values with d[key] or d.get(key), "
            f"not with d.pop(key) or del d[key], which remove the key from the caller's dict"
        )
    return (
        f"{name} changed the keys of its argument {argument}: it added {added} and removed {removed}; "
        f"leave the dict that the function got as it was, and return the results in a new dict"
    )


def _name_keys(keys) -> str:
    listed = ", ".join(repr(key) for key in keys)
    return f"the key {listed}" if len(keys) == 1 else f"the keys {listed}"


def _format_pair(actual: float, expected: float) -> str:
    """Format both numbers with the fewest significant digits (at least 4) that tell them apart."""
    actual, expected = float(actual), float(expected)
    for digits in range(4, 18):
        actual_text, expected_text = _format_number(actual, digits), _format_number(expected, digits)
        if actual_text != expected_text:
            break
    return f"{actual_text}, expected {expected_text}"


def _format_number(value: float, digits: int) -> str:
    text = f"{value:.{digits}g}"
    if text.lstrip("-").isdigit():
        text += ".0"
    return text


def _plain(value):
    """Return a NumPy scalar as the Python number it holds, so messages show 4 and not np.int64(4)."""
    return value.item() if isinstance(value, np.generic) else value


def _short_repr(value, limit=80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
