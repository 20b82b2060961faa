"""Exercise checks that tell a student what is wrong, not only that something is.

A check passes silently except for one line ("✔ sigmoid: correct"), or raises :class:`CheckError`
(an ``AssertionError``) whose message names the problem: a missing ``return``, a wrong shape (and
whether it looks transposed or has an extra axis), NaN values, the first wrong entry and its index,
and common slips such as a flipped sign, a forgotten bias (an offset that is the same everywhere)
or a wrong scale (a sum where a mean was meant).

    checks.check_array(sigmoid(z), expected, name="sigmoid(z)")
    checks.check_function(relu, [((np.array([-1.0, 2.0]),), np.array([0.0, 2.0]))], name="relu")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class CheckError(AssertionError):
    """A check failed; the message says what to fix."""


def _to_array(value: Any, name: str) -> np.ndarray:
    if value is None:
        raise CheckError(f"{name} is None: did you forget to `return` the result?")
    if value is NotImplemented or value is Ellipsis:
        raise CheckError(f"{name} is {value!r}: replace the placeholder with your code.")
    try:
        if hasattr(value, "numpy"):
            value = value.numpy()  # a TensorFlow tensor or variable
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise CheckError(f"{name} should be numbers (an array or a float), got {type(value).__name__}: {error}") from None
    return array


def _fmt_index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def _shape_hint(actual: np.ndarray, expected: np.ndarray) -> str:
    if actual.ndim == 2 and actual.T.shape == expected.shape:
        return " It looks transposed: check the order of the axes (or of the matrix product)."
    if actual.squeeze().shape == expected.squeeze().shape:
        return " The sizes agree but an axis of size 1 is extra or missing: check keepdims=, reshape or [:, None]."
    if actual.size == expected.size:
        return " It holds the right number of values in the wrong arrangement: check your reshape."
    if actual.ndim == 0 and expected.ndim > 0:
        return " You returned a single number: did you sum or average over an axis you should keep?"
    if expected.ndim == 0 and actual.ndim > 0:
        return " A single number was expected: did you forget to sum or average?"
    return ""


def _value_hint(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str:
    def close(a, b):
        return np.allclose(a, b, rtol=rtol, atol=atol)

    diff = actual - expected
    if close(-actual, expected) and not close(actual, 0):
        return " Every value has the wrong sign: check a minus sign (gradient descent moves against the gradient)."
    if diff.size > 1 and close(diff, diff.flat[0]) and not close(diff.flat[0], 0):
        return (f" Every value is off by the same amount ({diff.flat[0]:+.4g}): did you forget the bias "
                "or add a constant twice?")
    if diff.ndim >= 2 and close(diff, diff[:1]) and diff.shape[0] > 1:
        return " Every row is off by the same vector: did you forget to add the bias b (or add it twice)?"
    nonzero = np.abs(expected) > atol
    if nonzero.any():
        ratios = actual[nonzero] / expected[nonzero]
        if close(ratios, ratios[0]) and not close(ratios[0], 1.0):
            return (f" Your values are {ratios[0]:.4g} times the expected ones: check a scale factor "
                    "(a sum instead of a mean, a missing 1/N or 1/2, the learning rate).")
    if actual.ndim == 2 and actual.shape[0] == actual.shape[1] and close(actual.T, expected):
        return " Your matrix is the transpose of the expected one."
    return ""


def check_array(actual: Any, expected: Any, name: str = "your answer", rtol: float = 1e-5, atol: float = 1e-6,
                hint: str | None = None, quiet: bool = False) -> None:
    """Check that ``actual`` equals ``expected`` (shape and values, to tolerance)."""
    got = _to_array(actual, name)
    want = np.asarray(expected, dtype=np.float64)
    extra = f" Hint: {hint}" if hint else ""
    if got.shape != want.shape:
        raise CheckError(
            f"{name} has shape {got.shape} but should have shape {want.shape}.{_shape_hint(got, want)}{extra}"
        )
    bad = ~np.isfinite(got)
    if bad.any() and np.isfinite(want).all():
        index = tuple(np.argwhere(bad)[0])
        raise CheckError(
            f"{name} contains {np.count_nonzero(bad)} NaN/inf value(s), the first at index {_fmt_index(index)}: "
            f"look for a division by zero, a log of 0 or an overflowing exp.{extra}"
        )
    wrong = ~np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    if wrong.any():
        index = tuple(np.argwhere(wrong)[0]) if got.ndim else ()
        where = f" at index {_fmt_index(index)}" if got.ndim else ""
        first = got[index] if got.ndim else got
        target = want[index] if got.ndim else want
        raise CheckError(
            f"{name} is wrong{where}: got {float(first):.6g}, expected {float(target):.6g} "
            f"({np.count_nonzero(wrong)} of {wrong.size} value(s) differ).{_value_hint(got, want, rtol, atol)}{extra}"
        )
    if not quiet:
        print(f"✔ {name}: correct")


def check_scalar(actual: Any, expected: float, name: str = "your answer", rtol: float = 1e-5, atol: float = 1e-6,
                 hint: str | None = None) -> None:
    """Check a single number."""
    got = _to_array(actual, name)
    if got.size != 1:
        raise CheckError(f"{name} should be a single number, got an array of shape {got.shape}.{_shape_hint(got, np.zeros(()))}")
    check_array(got.reshape(()), expected, name=name, rtol=rtol, atol=atol, hint=hint)


def _show(value: Any) -> str:
    """A short printable form of one argument (arrays abbreviated; anything else by its repr)."""
    try:
        return np.array2string(np.asarray(value), precision=3, threshold=8)
    except (TypeError, ValueError):  # ragged lists, objects
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."


def check_function(fn: Callable, cases: Sequence[tuple[tuple, Any]], name: str | None = None,
                   rtol: float = 1e-5, atol: float = 1e-6, hint: str | None = None) -> None:
    """Call ``fn(*args)`` for each ``(args, expected)`` case and check the result."""
    name = name or getattr(fn, "__name__", "your function")
    if not callable(fn):
        raise CheckError(f"{name} should be a function, got {type(fn).__name__}")
    for args, expected in cases:
        shown = ", ".join(_show(a) for a in args)
        try:
            result = fn(*args)
        except NotImplementedError:
            raise CheckError(f"{name} is not written yet: replace `raise NotImplementedError` with your code.") from None
        except Exception as error:  # report the student's error with the input that caused it
            raise CheckError(f"{name}({shown}) raised {type(error).__name__}: {error}") from error
        check_array(result, expected, name=f"{name}({shown})", rtol=rtol, atol=atol, hint=hint, quiet=True)
    print(f"✔ {name}: correct on {len(cases)} case(s)")


def check_true(condition: bool, message: str, success: str | None = None) -> None:
    """Check a property that is not a value (a loss went down, an accuracy passed a bar)."""
    if not condition:
        raise CheckError(message)
    if success:
        print(f"✔ {success}")
