"""The course's optimizers, in one registry: the name a widget or a config uses, the label a student reads,
the Keras object it builds and the code that builds it.

Every place that offers a choice of optimizer reads this table: :func:`labs_lib.training.make_optimizer`
(the objects), the training dashboard and the training playground (their drop-downs and the Keras code they
export), and the gradient-descent playground (its names and labels; it computes the same updates in NumPy,
with a momentum of its own slider). Keras is
imported only when an optimizer is built, so this module is light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Optimizer:
    """One entry: ``name`` as configs say it, ``label`` as a student reads it, and the Keras class with its
    arguments besides the learning rate. :meth:`build` and :meth:`source` both derive from those, so the code a
    widget exports always builds the object it trained with."""

    name: str
    label: str
    keras_class: str  # a class in keras.optimizers
    options: tuple[tuple[str, Any], ...] = ()  # further constructor arguments, e.g. (("momentum", 0.9),)

    @property
    def display(self) -> str:
        """The label with the fixed arguments, as a drop-down shows it: "SGD + momentum 0.9"."""
        return " ".join([self.label] + [f"{value:g}" for _, value in self.options])

    def build(self, lr: float) -> Any:
        """A fresh ``keras.optimizers`` object with learning rate ``lr``."""
        import keras

        return getattr(keras.optimizers, self.keras_class)(learning_rate=float(lr), **dict(self.options))

    def source(self, lr: float) -> str:
        """The Keras expression that :meth:`build` evaluates, as code: ``keras.optimizers.SGD(learning_rate=0.1)``."""
        arguments = [f"learning_rate={float(lr)!r}"] + [f"{key}={value!r}" for key, value in self.options]
        return f"keras.optimizers.{self.keras_class}({', '.join(arguments)})"


OPTIMIZERS: dict[str, Optimizer] = {
    entry.name: entry
    for entry in (
        Optimizer("sgd", "SGD", "SGD"),
        Optimizer("momentum", "SGD + momentum", "SGD", (("momentum", 0.9),)),
        Optimizer("rmsprop", "RMSprop", "RMSprop"),
        Optimizer("adam", "Adam", "Adam"),
    )
}


def get(name: str) -> Optimizer:
    """The registry entry for ``name``, or a ValueError that lists the names there are."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name]


def choices() -> list[tuple[str, str]]:
    """(display, name) pairs, in the registry's order, for an ipywidgets drop-down."""
    return [(entry.display, entry.name) for entry in OPTIMIZERS.values()]
