"""Thin helpers around ``model.compile`` and ``model.fit``: nothing that costs measurable time.

:func:`compile` builds the optimizer inside the device profile's strategy (Keras 3 requires that
under ``MirroredStrategy``); :func:`fit` adds early stopping and an optional live plot, and returns
the usual ``History``. Anything else goes straight to ``model.fit``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from labs_lib import device

OPTIMIZERS = {
    "sgd": keras.optimizers.SGD,
    "momentum": lambda learning_rate: keras.optimizers.SGD(learning_rate, momentum=0.9),
    "rmsprop": keras.optimizers.RMSprop,
    "adam": keras.optimizers.Adam,
}


def make_optimizer(name: str = "adam", lr: float = 1e-3) -> keras.optimizers.Optimizer:
    """An optimizer by name ('sgd', 'momentum', 'rmsprop', 'adam') with learning rate ``lr``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    if not lr > 0:
        raise ValueError(f"learning rate must be > 0, got {lr}")
    return OPTIMIZERS[name](learning_rate=lr)


def compile(
    model: keras.Model,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    lr: float = 1e-3,
    loss: str | keras.losses.Loss = "sparse_categorical_crossentropy",
    metrics: Sequence[str] = ("accuracy",),
    profile: device.DeviceProfile | None = None,
    **kwargs,
) -> keras.Model:
    """Compile ``model`` inside the device strategy; returns the model for chaining.

    With the default loss, a model whose last layer has no activation (it outputs logits, as the
    Transformer and GPT builders do) gets ``SparseCategoricalCrossentropy(from_logits=True)``, so that
    logits are never mistaken for probabilities.
    """
    if loss == "sparse_categorical_crossentropy" and outputs_logits(model):
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with (profile or device.current_profile()).scope():
        opt = make_optimizer(optimizer, lr) if isinstance(optimizer, str) else optimizer
        model.compile(optimizer=opt, loss=loss, metrics=list(metrics), **kwargs)
    return model


def outputs_logits(model: keras.Model) -> bool:
    """Whether the model's last layer is linear (no softmax or sigmoid), i.e. it outputs logits."""
    activation = getattr(model.layers[-1], "activation", None)
    return activation is not None and getattr(activation, "__name__", "") == "linear"


class LivePlot(keras.callbacks.Callback):
    """Redraws the loss (and metric) curves at the end of every epoch, in place, in a notebook."""

    def __init__(self, metrics: Sequence[str] = ("loss", "accuracy"), every: int = 1):
        super().__init__()
        self.metrics, self.every = tuple(metrics), max(1, int(every))
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if (epoch + 1) % self.every == 0:
            self.draw()

    def draw(self):
        import matplotlib.pyplot as plt
        from IPython.display import clear_output, display

        from labs_lib import plots

        fig = plots.plot_history({"run": self.history}, metrics=self.metrics)
        clear_output(wait=True)
        display(fig)
        plt.close(fig)


def fit(
    model: keras.Model,
    x,
    y=None,
    *,
    validation_data=None,
    num_epochs: int = 10,
    batch_size: int | None = None,
    early_stopping: int | None = None,
    live_plot: bool = False,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 0,
    **kwargs,
) -> keras.callbacks.History:
    """``model.fit`` with the course's defaults.

    Args:
        x, y: NumPy arrays, or a ``tf.data`` pipeline as ``x`` (then ``y`` and ``batch_size`` stay None).
        validation_data: ``(X_val, y_val)`` or a pipeline; needed for early stopping.
        num_epochs: passes over the training data.
        early_stopping: stop after this many epochs without improvement of the validation loss,
            and restore the best weights (None: train all epochs).
        live_plot: redraw the curves after every epoch.
        verbose: Keras' progress output (0 silent, 1 bar, 2 one line per epoch).
    """
    if num_epochs < 1:
        raise ValueError(f"num_epochs must be >= 1, got {num_epochs}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    all_callbacks = list(callbacks)
    if early_stopping is not None:
        if validation_data is None:
            raise ValueError("early_stopping watches the validation loss: pass validation_data too")
        all_callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=early_stopping, restore_best_weights=True)
        )
    if live_plot:
        all_callbacks.append(LivePlot())
    if hasattr(x, "element_spec"):  # a tf.data pipeline: it shuffles itself (see data.Splits.datasets)
        kwargs.setdefault("shuffle", False)
    return model.fit(
        x, y, validation_data=validation_data, epochs=num_epochs, batch_size=batch_size,
        callbacks=all_callbacks, verbose=verbose, **kwargs,
    )  # fmt: skip
