"""Thin helpers around ``model.compile`` and ``model.fit``: nothing that costs measurable time.

:func:`compile` builds the optimizer inside the device profile's strategy (Keras 3 requires that
under ``MirroredStrategy``); :func:`fit` adds early stopping and an optional live plot, and returns
the usual ``History``. Anything else goes straight to ``model.fit``.

Under several replicas (``MirroredStrategy`` on several GPUs, or ``LABS_REPLICAS``), Keras 3.15 splits the
first batch of every ``fit``, ``evaluate`` and ``predict`` call over the replicas and averages the parts
while it builds the model, which fails ("Inputs to operation AddN must have the same size and shape")
unless that batch divides evenly. The rule is :func:`labs_lib.device.even_first_batch`: ``data.to_dataset``
applies it to its pipelines, :func:`fit` to validation arrays, and :func:`replica_batch_size` gives it for
pipelines made by hand; :func:`fit` explains the error when a pipeline's first batch still does not divide.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import keras

from labs_lib import device, optimizers


def make_optimizer(name: str = "adam", lr: float = 1e-3) -> keras.optimizers.Optimizer:
    """An optimizer by name (a key of :data:`labs_lib.optimizers.OPTIMIZERS`: 'sgd', 'momentum', 'rmsprop',
    'adam') with learning rate ``lr``."""
    entry = optimizers.get(name)
    if not lr > 0:
        raise ValueError(f"learning rate must be > 0, got {lr}")
    return entry.build(lr)


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


def replica_batch_size(batch_size: int, num_examples: int, profile: device.DeviceProfile | None = None) -> int:
    """A batch size for ``num_examples`` examples whose first batch splits evenly over the replicas.

    With one replica this is ``batch_size``. With R replicas, when the first batch (``batch_size`` examples, or
    all of them when there are fewer) is not a multiple of R, it is rounded down to one; the examples left over
    go into later batches, so every example is still used (``replica_batch_size(256, 93)`` is 92 on 2 replicas:
    batches of 92 and 1). Keras averages over examples, not batches, so the mean loss is the same.
    """
    if batch_size < 1 or num_examples < 0:
        raise ValueError(f"batch_size must be >= 1 and num_examples >= 0, got {batch_size} and {num_examples}")
    return device.even_first_batch(batch_size, num_examples, (profile or device.current_profile()).num_replicas)


def _is_uneven_split(error: Exception) -> bool:
    text = str(error)
    return "AddN" in text and "must have the same size and shape" in text


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
    replicas = model.distribute_strategy.num_replicas_in_sync
    if (replicas > 1 and isinstance(validation_data, tuple) and hasattr(validation_data[0], "__len__")
            and "validation_batch_size" not in kwargs):
        # Validation arrays smaller than a batch: a first batch that splits evenly (see replica_batch_size).
        chosen = device.even_first_batch(batch_size or 32, len(validation_data[0]), replicas)  # 32: Keras' default
        if chosen != (batch_size or 32):
            kwargs["validation_batch_size"] = chosen
    try:
        return model.fit(
            x, y, validation_data=validation_data, epochs=num_epochs, batch_size=batch_size,
            callbacks=all_callbacks, verbose=verbose, **kwargs,
        )
    except Exception as error:
        if replicas > 1 and _is_uneven_split(error):
            shapes = re.search(r"Input 0: (\[[^\]]*\]) != input 1: (\[[^\]]*\])", str(error))
            parts = f" (per-replica parts {shapes[1]} and {shapes[2]})" if shapes else ""
            raise ValueError(
                f"the first batch of the training or validation data does not split evenly over the {replicas} "
                f"replicas{parts}, and Keras needs it to. Make that batch a multiple of {replicas}: build pipelines "
                "with data.to_dataset (it does this), or choose batch sizes with "
                "training.replica_batch_size(batch_size, num_examples), also for a set smaller than one batch"
            ) from error
        raise
