"""Numeric settings of layers, losses and optimizers, such as a learning rate or a dropout probability.

Each constructor reads its setting with ``real_number``, checks the range on the float it got
back, and raises ``range_error`` when the float lies outside:

    as_float = real_number("Dropout", "p", p)
    if not 0 <= as_float < 1:
        raise range_error("Dropout", "p", p, as_float, "in [0, 1)")
    self.p = as_float

The range is checked on the float, because that is what gets stored and used: float() may round
a Fraction, a Decimal or a long double to 0, 1 or inf. The message shows the value as given and,
where it differs, the float it became.
"""

import numpy as np

# float() reads some of these, but none of them is meant as a number here.
_NOT_REAL = (bool, np.bool_, str, bytes, bytearray, memoryview, complex, np.complexfloating, np.datetime64, np.timedelta64)


def real_number(owner, name, value):
    """Return the setting ``name`` of ``owner`` as a float, or raise TypeError if it is not one real number.

    Python and numpy numbers, Fraction, Decimal, numeric 0-d arrays and objects with ``__float__``
    pass. Bool, text, complex, date and time values are rejected. A number beyond float's range,
    such as the int 10**400, becomes inf or -inf, and the caller's range check decides.
    """
    number = value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value  # the item of a 0-d array
    try:
        if not isinstance(number, _NOT_REAL) and np.ndim(number) == 0:
            return float(number) + 0.0  # + 0.0 turns -0.0 into 0.0
    except OverflowError:  # an int or Fraction beyond float's range
        try:
            return float("inf") if number > 0 else float("-inf")
        except TypeError:  # an object whose __float__ overflows but that cannot be compared with 0
            pass
    except (TypeError, ValueError):  # None, objects, ragged lists
        pass
    raise TypeError(f"{owner}: {name} must be a number, got {short_repr(value)} of type {type(value).__name__}; pass a plain number")


def range_error(owner, name, value, as_float, allowed):
    """Return the ValueError for the setting ``name`` of ``owner``, whose float ``as_float`` is not ``allowed``.

    ``allowed`` completes "must be ...", as in "in [0, 1)" or "positive and finite".
    """
    value_text = short_repr(value)
    try:
        unchanged = bool(as_float == value) or as_float != as_float  # NaN equals nothing, so it is shown once
    except Exception:  # an __eq__ of the user's may raise anything
        unchanged = False
    if not unchanged:
        value_text += f", {as_float!r} as a float"
    return ValueError(f"{owner}: {name} must be {allowed}, got {value_text}")


def short_repr(value):
    """Return ``repr(value)`` on one line and cut to 40 characters, for a message."""
    try:
        text = " ".join(repr(value).split())
    except Exception:  # a repr that fails must not hide the message it is part of
        if isinstance(value, int):  # by default Python writes no int of over 4300 digits
            return f"an int of {value.bit_length():,} bits"
        return "(whose repr() failed)"
    return text if len(text) <= 40 else text[:37] + "..."
