"""Tests of the check-cell helpers in ``netlite.course.checks``: pass lines and failure messages."""

from __future__ import annotations

import copy
import math
import re

import numpy as np
import pytest

from netlite.course.checks import (
    check_close,
    check_dict,
    check_equal,
    check_float,
    check_raises,
    check_shape,
    check_unchanged,
    report_pass,
)


def test_check_close_pass_line(capsys):
    check_close("tanh(-1.0)", math.tanh(-1.0), -0.7615941559557649, points=2)
    assert capsys.readouterr().out == "PASS tanh(-1.0): 2 of 2 points\n"


def test_check_close_silent_without_points(capsys):
    check_close("tanh(0.0)", 0.0, 0.0)
    assert capsys.readouterr().out == ""


def test_check_close_scalar_message():
    with pytest.raises(AssertionError) as raised:
        check_close("tanh(-1.0)", 0.0, -0.7615941559557649, points=2)
    assert str(raised.value).startswith("tanh(-1.0) returned 0.0, expected -0.7616")


def test_check_close_adds_digits_until_different():
    with pytest.raises(AssertionError) as raised:
        check_close("f(1)", 0.76161, 0.76159, atol=1e-6, rtol=0)
    assert str(raised.value).startswith("f(1) returned 0.76161, expected 0.76159")


def test_check_close_array_message():
    expected = np.array([[0.0, 1.0], [2.0, 3.0]])
    actual = expected.copy()
    actual[1, 0] = 2.5
    actual[1, 1] = -3.0
    with pytest.raises(AssertionError) as raised:
        check_close("relu(X)", actual, expected)
    message = str(raised.value)
    assert message.startswith("relu(X) returned a wrong value at index (1, 0): 2.5, expected 2.0;")
    assert "2 of 4 entries differ" in message


def test_check_close_hint_added_on_failure(capsys):
    with pytest.raises(AssertionError) as raised:
        check_close("step(p)", np.array([0.990001, 0.5]), np.array([0.99, 0.5]), atol=1e-12, rtol=0,
                    hint="Add eps to sqrt(v_hat).")
    assert str(raised.value).endswith("differ by more than atol=1e-12 + rtol=0 * |expected|. Add eps to sqrt(v_hat).")
    with pytest.raises(AssertionError, match=r"^f\(1\) returned 2\.0, expected 1\.0 \(tolerance atol=1e-06, rtol=1e-05\)\. Hint\.$"):
        check_close("f(1)", 2.0, 1.0, hint="Hint.")
    check_close("f(1)", 1.0, 1.0, points=1, hint="Hint.")
    assert capsys.readouterr().out == "PASS f(1): 1 of 1 points\n"


def test_check_close_shape_message():
    with pytest.raises(AssertionError, match=r"returned an array of shape \(2, 3\), expected shape \(3, 2\)"):
        check_close("W.T", np.zeros((2, 3)), np.zeros((3, 2)))


def test_check_close_none_message():
    with pytest.raises(AssertionError, match="returned None, expected 1.0; does the function end with a return"):
        check_close("f(0)", None, 1.0)


def test_check_close_nan_fails():
    with pytest.raises(AssertionError, match="returned nan, expected 1.0"):
        check_close("f(0)", float("nan"), 1.0)


def test_check_close_non_numeric():
    with pytest.raises(AssertionError, match="returned str 'abc', expected a number"):
        check_close("f(0)", "abc", 1.0)


def test_check_close_within_tolerance_passes():
    check_close("f(x)", np.float32(1.0 + 1e-7), 1.0)
    check_close("f(x)", [1.0, 2.0 + 1e-5], np.array([1.0, 2.0]), rtol=1e-5)


def test_check_equal_messages(capsys):
    check_equal("len(layers)", 3, 3, points=1)
    assert capsys.readouterr().out == "PASS len(layers): 1 of 1 points\n"
    with pytest.raises(AssertionError, match=r"^type\(loss\) returned <class 'numpy.ndarray'>, expected <class 'float'>$"):
        check_equal("type(loss)", np.ndarray, float)
    with pytest.raises(AssertionError, match=r"returned 4 at index \(2,\), expected 3"):
        check_equal("argmax", np.array([1, 2, 4]), np.array([1, 2, 3]))
    with pytest.raises(AssertionError, match="returned None, expected 3; does the function end"):
        check_equal("count()", None, 3)


def test_check_float_accepts_numpy_float64(capsys):
    # np.mean returns numpy.float64, a subclass of float.
    check_float("mse_loss(y_hat, y)", np.mean(np.array([1.0, 3.0]) ** 2), points=1)
    assert capsys.readouterr().out == "PASS mse_loss(y_hat, y): 1 of 1 points\n"
    check_float("loss", 0.5)


@pytest.mark.parametrize(
    "value, message",
    [
        (np.float32(0.5), r"^loss returned float32 .*, expected a float; convert the result with float\(\.\.\.\)$"),
        (np.array(0.5), r"^loss returned ndarray array\(0\.5\), expected a float"),
        (1, r"^loss returned int 1, expected a float"),
        (None, r"^loss returned None, expected a float; does the function end with a return statement\?$"),
        (np.zeros((2, 1)), r"^loss returned an array of shape \(2, 1\), expected one float; reduce the values to one number"),
        ([0.5, 0.25], r"^loss returned a list, expected one float; reduce the values to one number"),
        # numpy 2 refuses float() on an array of one value too, if it has an axis.
        (np.array([[0.125]]), r"^loss returned an array of shape \(1, 1\), expected one float; .*np.mean"),
        ([[1.0], [2.0, 3.0]], r"^loss returned a list, expected one float"),
        ({"loss": 0.5}, r"^loss returned dict \{'loss': 0.5\}, expected a float$"),
    ],
)
def test_check_float_rejects_other_types(value, message):
    with pytest.raises(AssertionError, match=message):
        check_float("loss", value)


def test_check_shape_messages():
    check_shape("forward(X)", np.zeros((4, 3)), (4, 3))
    with pytest.raises(AssertionError, match=r"forward\(X\) returned an array of shape \(3, 4\), expected shape \(4, 3\)"):
        check_shape("forward(X)", np.zeros((3, 4)), (4, 3))
    with pytest.raises(AssertionError, match="returned None"):
        check_shape("forward(X)", None, (4, 3))
    with pytest.raises(AssertionError, match=r"forward\(X\) returned a list, expected a numpy array of shape \(1, 1\); return the array"):
        check_shape("forward(X)", [[0.5]], (1, 1))
    with pytest.raises(AssertionError, match=r"forward\(X\) returned a dict, expected a numpy array of shape \(\)"):
        check_shape("forward(X)", {"Y": 1.0}, ())
    check_shape("loss(y_hat, y)", 0.25, ())
    with pytest.raises(AssertionError, match=r"^forward\(X\) returned the number 0.25, expected shape \(2,\)$"):
        check_shape("forward(X)", 0.25, (2,))


def test_check_unchanged_names_argument():
    y = np.array([1.0, 2.0])
    check_unchanged("mse_loss", {"y": y}, {"y": y.copy()})
    original = y.copy()
    y -= 1
    with pytest.raises(AssertionError, match=r"^mse_loss changed its argument y in place; compute with new arrays"):
        check_unchanged("mse_loss", {"y": y}, {"y": original})


def test_check_raises_cases(capsys):
    def reject(value):
        if value < 0:
            raise ValueError("negative")
        return value

    check_raises("reject(-1)", ValueError, reject, -1, points=1)
    assert capsys.readouterr().out == "PASS reject(-1): 1 of 1 points\n"
    with pytest.raises(AssertionError, match=r"^reject\(1\) returned 1, expected it to raise ValueError$"):
        check_raises("reject(1)", ValueError, reject, 1)
    with pytest.raises(AssertionError, match=r"raised TypeError\(.*\), expected ValueError"):
        check_raises("reject('a')", ValueError, reject, "a")


def test_check_raises_keeps_unsolved_message():
    def unsolved(value):
        raise NotImplementedError("my_tanh: compute np.tanh(X)")

    with pytest.raises(NotImplementedError, match="^my_tanh: compute"):
        check_raises("unsolved(-1)", ValueError, unsolved, -1)


@pytest.mark.parametrize("points", [0, -1, True, "2", None])
def test_report_pass_rejects_invalid_points(points):
    with pytest.raises(ValueError, match="points must be a positive number"):
        report_pass("x", points)


def test_check_dict_messages(capsys):
    check_dict("forward_pass(X)", {"z1": 1, "a1": 2, "extra": 3}, ("z1", "a1"), points=1)
    assert capsys.readouterr().out == "PASS forward_pass(X): 1 of 1 points\n"
    with pytest.raises(AssertionError, match=r"^forward_pass\(X\) returned None, expected a dict with the keys 'z1', 'a1'; does the function end"):
        check_dict("forward_pass(X)", None, ("z1", "a1"))
    with pytest.raises(AssertionError, match=r"^forward_pass\(X\) returned a tuple, expected a dict with the keys 'z1', 'a1'$"):
        check_dict("forward_pass(X)", (1, 2), ("z1", "a1"))
    with pytest.raises(AssertionError, match=r"returned a dict without the keys 'a1' \(its keys: 'z1', 'A1'\); name the results exactly 'z1', 'a1'$"):
        check_dict("forward_pass(X)", {"z1": 1, "A1": 2}, ("z1", "a1"))


def test_check_helpers_take_loose_arguments():
    from collections import UserDict

    check_dict("f()", {"z1": 1}, "z1")  # one key as a string
    check_dict("f()", UserDict({"z1": 1}), ("z1",))
    check_shape("f()", np.zeros(3), 3)  # one axis as a number
    check_dict("f()", {b"z1": 1}, b"z1")
    with pytest.raises(TypeError, match=r"^check_shape: expected_shape must be a tuple of whole numbers, such as \(4, 3\), got 3.0$"):
        check_shape("f()", np.zeros(3), 3.0)
    check_unchanged("f", {"names": np.array(["a", "b"]), "options": {"k": 1}}, {"names": np.array(["a", "b"]), "options": {"k": 1}})
    with pytest.raises(AssertionError, match=r"^f changed its argument options\['k'\] in place"):
        check_unchanged("f", {"options": {"k": 2}}, {"options": {"k": 1}})
    arrays = {"d": {"W": np.ones(3)}, "l": [np.ones(2), np.ones(3)]}
    check_unchanged("f", arrays, {"d": {"W": np.ones(3)}, "l": [np.ones(2), np.ones(3)]})
    with pytest.raises(AssertionError, match=r"^f changed its argument l\[1\] in place"):
        check_unchanged("f", arrays, {"d": {"W": np.ones(3)}, "l": [np.ones(2), np.zeros(3)]})
    with pytest.raises(KeyError, match=r"'y' is in passed but not in originals"):
        check_unchanged("f", {"y": np.zeros(2)}, {})


def test_check_unchanged_mapping_proxy():
    from types import MappingProxyType

    weights = np.arange(3.0)
    check_unchanged("f", {"p": MappingProxyType({"W": weights})}, {"p": MappingProxyType({"W": weights.copy()})})
    check_unchanged("f", {"p": {"W": weights}}, {"p": MappingProxyType({"W": weights.copy()})})
    with pytest.raises(AssertionError, match=r"^f changed its argument p\['W'\] in place"):
        check_unchanged("f", {"p": MappingProxyType({"W": weights + 1})}, {"p": MappingProxyType({"W": weights})})


def test_check_unchanged_object_arrays():
    def ragged(*parts):
        array = np.empty(len(parts), dtype=object)
        array[:] = parts
        return array

    check_unchanged("f", {"p": ragged(np.arange(3.0), np.arange(2.0))}, {"p": ragged(np.arange(3.0), np.arange(2.0))})
    check_unchanged("f", {"p": np.array([np.nan, "x"], dtype=object)}, {"p": np.array([np.nan, "x"], dtype=object)})
    with pytest.raises(AssertionError, match=r"^f changed its argument p\[1\] in place"):
        check_unchanged("f", {"p": ragged(np.arange(3.0), np.zeros(2))}, {"p": ragged(np.arange(3.0), np.arange(2.0))})
    with pytest.raises(AssertionError, match=r"^f changed its argument p in place"):
        check_unchanged("f", {"p": ragged(np.arange(3.0), np.arange(3.0))}, {"p": ragged(np.arange(3.0))})


def test_check_unchanged_self_containing_list():
    values = [np.ones(2)]
    values.append(values)
    check_unchanged("f", {"l": values}, {"l": values})
    original = copy.deepcopy(values)
    check_unchanged("f", {"l": values}, {"l": original})
    values[0] -= 1
    with pytest.raises(AssertionError, match=r"^f changed its argument l\[0\] in place"):
        check_unchanged("f", {"l": values}, {"l": original})


def test_check_unchanged_self_containing_dict():
    params = {"W": np.ones(2)}
    params["self"] = params
    original = copy.deepcopy(params)
    check_unchanged("f", {"p": params}, {"p": original})
    params["self"]["W"] = np.zeros(2)
    with pytest.raises(AssertionError, match=r"^f changed its argument p\['W'\] in place"):
        check_unchanged("f", {"p": params}, {"p": original})


def test_check_unchanged_names_dtype_change():
    y = np.array([1.0, 2.0])
    with pytest.raises(AssertionError) as raised:
        check_unchanged("mse_loss", {"y": y.astype(np.float32)}, {"y": y})
    assert str(raised.value).startswith(
        "mse_loss changed the dtype of its argument y from float64 to float32; leave the arrays that the function got"
    )


def test_check_unchanged_names_dtype_change_in_dict():
    params = {"W": np.ones(2), "b": np.float64(0.5)}
    originals = {"params": {"W": params["W"].copy(), "b": params["b"]}}
    params["b"] = np.float32(0.5)
    with pytest.raises(AssertionError) as raised:
        check_unchanged("sgd_update", {"params": params}, originals)
    assert str(raised.value) == (
        "sgd_update changed the dtype of its argument params['b'] from float64 to float32; put converted arrays "
        "into a new dict or list, such as with a.astype(...), and do not assign to the parts of params"
    )


def test_check_unchanged_list_against_array():
    # A list has no dtype, so only its values are compared.
    check_unchanged("f", {"y": [1, 2]}, {"y": np.array([1.0, 2.0])})


def test_check_unchanged_dict_value_replaced():
    # params[k] = params[k] - g puts a new array into the caller's dict: the advice a - b alone would not help.
    params = {"W": np.ones(2)}
    originals = {"params": {"W": params["W"].copy()}}
    params["W"] = params["W"] - 0.5
    with pytest.raises(AssertionError) as raised:
        check_unchanged("sgd_update", {"params": params}, originals)
    assert str(raised.value) == (
        "sgd_update changed its argument params['W'] in place; compute with new arrays and put them into a new "
        "dict or list: write a - b, not a -= b, and do not assign to the parts of params"
    )


def test_check_unchanged_names_list_length():
    grads = [np.ones(2), np.ones(2)]
    originals = {"grads": [array.copy() for array in grads]}
    grads.append(np.zeros(2))
    with pytest.raises(AssertionError) as raised:
        check_unchanged("backward", {"grads": grads}, originals)
    assert str(raised.value).startswith("backward changed the length of its argument grads from 2 to 3; build a new list")


def test_check_unchanged_names_added_key():
    z = np.zeros(2)
    with pytest.raises(AssertionError) as raised:
        check_unchanged("backward", {"cache": {"z": z, "dz": z}}, {"cache": {"z": z}})
    message = str(raised.value)
    assert message.startswith("backward added the key 'dz' to its argument cache; put new results into a new dict")
    assert "a -= b" not in message


def test_check_unchanged_names_removed_key():
    z = np.zeros(2)
    with pytest.raises(AssertionError) as raised:
        check_unchanged("backward", {"cache": {"z": z}}, {"cache": {"z": z, "x": z, "W": z}})
    message = str(raised.value)
    assert message.startswith("backward removed the keys 'x', 'W' from its argument cache; read values with d[key]")
    assert "a -= b" not in message


def test_check_unchanged_nested_key_change():
    with pytest.raises(AssertionError, match=r"^f changed the keys of its argument p\['layer'\]: it added the key 'w' and removed the key 'W'"):
        check_unchanged("f", {"p": {"layer": {"w": 1}}}, {"p": {"layer": {"W": 1}}})
    with pytest.raises(AssertionError, match=r"^f added the key 'b' to its argument p\[1\];"):
        check_unchanged("f", {"p": [{}, {"b": 1}]}, {"p": [{}, {}]})


@pytest.mark.parametrize("key, shown", [(0, "0"), (1.5, "1.5"), (np.int64(2), "2"), (np.str_("z1"), "'z1'")])
def test_check_dict_one_key_of_any_type(key, shown, capsys):
    check_dict("f()", {key: 1}, key, points=1)
    assert capsys.readouterr().out == "PASS f(): 1 of 1 points\n"
    with pytest.raises(AssertionError, match=rf"^f\(\) returned a dict without the keys {re.escape(shown)} \(its keys: 'other'\)"):
        check_dict("f()", {"other": 1}, key)


def test_check_dict_tuple_key_inside_tuple():
    check_dict("f()", {("a", "b"): 1}, (("a", "b"),))
    with pytest.raises(AssertionError, match=r"without the keys 'a', 'b'"):
        check_dict("f()", {("a", "b"): 1}, ("a", "b"))


def test_check_dict_numpy_keys_named_plainly():
    with pytest.raises(AssertionError, match=r"without the keys 'b' \(its keys: 'a'\); name the results exactly 'a', 'b'$"):
        check_dict("f()", {"a": 1}, np.array(["a", "b"]))


def test_check_dict_rejects_invalid_keys():
    with pytest.raises(TypeError, match=r"^check_dict: keys must be a key or an iterable of keys, such as \('z1', 'a1'\), got None$"):
        check_dict("f()", {"z1": 1}, None)
    with pytest.raises(TypeError, match=r"^check_dict: the key bytearray\(b'z'\) is unhashable, so no dict can contain it"):
        check_dict("f()", {b"z": 1}, bytearray(b"z"))
    with pytest.raises(TypeError, match=r"^check_dict: the key \['z1'\] is unhashable"):
        check_dict("f()", {"z1": 1}, [["z1"]])


@pytest.mark.parametrize("expected_shape", [(-1, 3), -1, np.array([4, -3])])
def test_check_shape_rejects_negative_length(expected_shape):
    with pytest.raises(ValueError, match=r"^check_shape: expected_shape must not contain negative lengths, got \((-1, 3|-1,|4, -3)\); "):
        check_shape("f()", np.zeros((4, 3)), expected_shape)


FLOAT32_NOTE = (
    "The result has dtype float32, and the difference is within float32 rounding, "
    "so compute in float64, NumPy's default, without .astype(np.float32) or dtype=np.float32"
)


def test_check_close_names_float32_rounding():
    with pytest.raises(AssertionError) as raised:
        check_close("f(x)", np.float32(0.6), 0.6, atol=1e-12, rtol=1e-10)
    assert str(raised.value) == f"f(x) returned 0.60000002, expected 0.6 (tolerance atol=1e-12, rtol=1e-10). {FLOAT32_NOTE}"
    with pytest.raises(AssertionError) as raised:
        check_close("f(X)", np.array([0.1, 0.2, 0.3], dtype=np.float32), [0.1, 0.2, 0.3], atol=1e-12, rtol=0, hint="Hint.")
    assert str(raised.value).endswith(f"|expected|. {FLOAT32_NOTE}. Hint.")


def test_check_close_names_float16_rounding():
    with pytest.raises(AssertionError) as raised:
        check_close("tanh(-1.0)", np.tanh(np.array([[-1.0]], dtype=np.float16))[0, 0], math.tanh(-1.0))
    message = str(raised.value)
    assert message.startswith("tanh(-1.0) returned -0.7617, expected -0.7616")
    assert message.endswith(
        ". The result has dtype float16, and the difference is within float16 rounding, "
        "so compute in float64, NumPy's default, without .astype(np.float16) or dtype=np.float16"
    )


@pytest.mark.parametrize(
    "actual",
    [
        np.array([0.1, 0.2, 0.5], dtype=np.float32),  # one entry is wrong by far more than rounding
        np.array([0.1, 0.2, 0.3]) + 1e-9,  # float64
        [np.float32(0.1), np.float32(0.2), np.float32(0.3)],  # a list, not a float32 array
        np.array([0.1, 0.2, np.nan], dtype=np.float32),
    ],
)
def test_check_close_no_rounding_note(actual):
    with pytest.raises(AssertionError) as raised:
        check_close("f(X)", actual, [0.1, 0.2, 0.3], atol=1e-12, rtol=0)
    assert "rounding" not in str(raised.value)


def test_check_close_float32_passes_as_before():
    check_close("f(x)", np.float32(0.6), 0.6)
    check_close("f(X)", np.array([0.1, 0.2, 0.3], dtype=np.float32), [0.1, 0.2, 0.3])
