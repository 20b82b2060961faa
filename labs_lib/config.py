"""Run settings: quick or full mode, seeds, and where data sets are cached.

Every notebook has a papermill ``parameters`` cell with ``QUICK = None`` and ``SEED = 42``.
``QUICK = None`` means "follow the ``LABS_QUICK`` environment variable" (unset means full mode),
so the same notebook runs with small settings under nbval/CI and with real settings for a student.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TypeVar

import numpy as np

QUICK_ENV = "LABS_QUICK"
DATA_DIR_ENV = "LABS_DATA_DIR"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

T = TypeVar("T")


def is_quick(quick: bool | None = None) -> bool:
    """Resolve quick mode: the notebook's ``QUICK`` parameter wins, else ``LABS_QUICK``, else full mode.

    >>> is_quick(True)
    True
    """
    if quick is not None:
        if not isinstance(quick, (bool, np.bool_, int)):
            raise TypeError(f"QUICK must be True, False or None, got {quick!r}")
        return bool(quick)
    raw = os.environ.get(QUICK_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(
        f"{QUICK_ENV}={os.environ[QUICK_ENV]!r} is not understood: use 1/true/yes/on for quick mode "
        "or 0/false/no/off (or unset it) for full mode"
    )


def mode_source(quick: bool | None = None) -> str:
    """Say where the mode came from, for the notebook's setup report."""
    if quick is not None:
        return "the notebook's QUICK parameter"
    if os.environ.get(QUICK_ENV) is not None:
        return f"the {QUICK_ENV} environment variable"
    return "the default (full)"


def by_mode(quick_value: T, full_value: T, quick: bool | None = None) -> T:
    """Pick a setting by mode: ``num_epochs = by_mode(2, 20, QUICK)``."""
    return quick_value if is_quick(quick) else full_value


def data_dir() -> Path:
    """The folder where downloaded data sets are cached (``LABS_DATA_DIR``, default ``~/.cache/labs_lib``)."""
    raw = os.environ.get(DATA_DIR_ENV)
    path = Path(raw).expanduser() if raw else Path.home() / ".cache" / "labs_lib"
    path.mkdir(parents=True, exist_ok=True)
    return path


def set_seed(seed: int = 42, deterministic: bool = True) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, so that two runs with the same seed are identical.

    With ``deterministic=True`` TensorFlow is also asked for deterministic kernels
    (``tf.config.experimental.enable_op_determinism``), which can be slower on a GPU.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)  # seeds Python, NumPy and the backend (TensorFlow)
    tf.random.set_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
