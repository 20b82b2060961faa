"""The figures a lesson reaches, recorded for the course's results table.

A lesson states its figures in prose and also records them where it computes them::

    from labs_lib import results
    results.record("MLP test accuracy", test_accuracy, "{:.1%}", data=splits.source)

:func:`record` returns the value unchanged and does nothing else unless the environment variable
``LABS_RESULTS`` names a file: ``labs run`` (see :mod:`labs_lib.runs`) sets it for every notebook it
executes, collects the figures and writes them, with the machine and the versions, into a results file;
``labs results --write-readme`` turns that file into the README's results table. So the table is
generated from what the notebooks computed, never typed by hand.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import warnings
from pathlib import Path

ENV = "LABS_RESULTS"


def _plain(value):
    """``value`` as a JSON number or text; NumPy and TensorFlow scalars become Python numbers."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return value
    if hasattr(value, "numpy"):  # a scalar tensor
        value = value.numpy()
    if hasattr(value, "item") and getattr(value, "size", 2) == 1:  # a NumPy scalar or one-element array
        return _plain(value.item())
    raise TypeError(f"record() takes a number or a short text, got {type(value).__name__}: {value!r:.80}")


def record(label: str, value, fmt: str | None = None, *, data: str | None = None):
    """Record the figure ``label`` = ``value`` (shown as ``fmt.format(value)``); returns ``value``.

    Args:
        label: what the figure is, as it reads in the results table ("MLP test accuracy").
        value: a number (a Python, NumPy or scalar tensor value) or a short text.
        fmt: how to show it: "{:.1%}" for a fraction as a percentage, "{:.3f}", "{:.2g}", ...
            (default: four significant digits for a number, a text as it is).
        data: the data set the figure was measured on, said plainly (``Splits.source`` says which
            one was actually loaded, e.g. the offline fallback).
    """
    if not isinstance(label, str) or not label.strip():
        raise ValueError("record() needs a label that says what the figure is, e.g. 'test accuracy'")
    plain = _plain(value)
    if fmt is None:
        fmt = "{}" if isinstance(plain, str) else "{:.4g}"
    try:
        text = fmt.format(plain)
    except (ValueError, TypeError, IndexError, KeyError) as error:
        raise ValueError(f"format {fmt!r} cannot show {plain!r} ({error}); use e.g. '{{:.1%}}' or '{{:.3f}}'") from None
    if isinstance(plain, float) and not math.isfinite(plain):
        warnings.warn(f"the figure {label!r} is {plain}: training diverged or a computation failed", stacklevel=2)
    target = os.environ.get(ENV)
    if target:
        line = {"label": label.strip(), "value": plain, "text": text, "data": data}
        try:
            with open(target, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, allow_nan=True) + "\n")
        except OSError as error:  # never lose the lesson's work over the results file
            warnings.warn(f"could not record {label!r} in {target}: {error}", stacklevel=2)
    return value


def read(path: str | os.PathLike) -> list[dict]:
    """The figures recorded in ``path`` (one JSON object per line), in the order they were recorded.

    A figure recorded twice (a cell run again) keeps its last value, at the place it was first recorded.
    """
    path = Path(path)
    if not path.exists():
        return []
    figures: dict[str, dict] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            figure = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {number}: not a recorded figure ({error})") from None
        figures[figure["label"]] = figure
    return list(figures.values())
