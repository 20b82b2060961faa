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

import math
import re
import time
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


class LiveCurves(keras.callbacks.Callback):
    """Redraws the loss and metric curves while a model trains: in a notebook (``fit(live_plot=True)``) or in
    an ``Output`` widget (the training dashboard). The course's one live-curves callback.

    It keeps its own copy of the epoch logs (:attr:`history`, with :attr:`epochs`, where each logged epoch ends
    on the x axis), redraws at the end of each epoch and, within an epoch, at most every ``every_seconds`` with
    Keras' running batch values (``every_seconds=None``: at epoch ends only). It draws on a pyplot-free figure
    and replaces the picture in one update, so it is safe in a background thread. Pass the ``history`` and
    ``epochs`` of an earlier run to continue its curves; ``status`` (an ``HTML`` widget) gets the running loss;
    ``empty`` is what the panels say before anything is recorded.
    """

    def __init__(self, out=None, metrics: Sequence[str] = ("loss", "accuracy"), every_seconds: float | None = 0.5,
                 history: dict[str, list[float]] | None = None, epochs: list[float] | None = None, status=None,
                 empty: str = "training…"):
        super().__init__()
        self.out, self.metrics, self.every_seconds, self.status = out, tuple(metrics), every_seconds, status
        self.empty = empty  # what the panels say before anything is recorded
        self.history: dict[str, list[float]] = history if history is not None else {}
        self.epochs: list[float] = epochs if epochs is not None else []
        self.batches: dict[str, list[float]] = {"x": []}
        self.png = b""
        self.draws = 0
        self._last = 0.0
        self._batches_done = 0
        self._handle = None  # the notebook display that later draws update in place (no `out`)

    def _epoch_start(self) -> int:
        """Where the running epoch starts on the x axis: after the last logged one (rounded up if it stopped)."""
        return math.ceil(self.epochs[-1]) if self.epochs else 0

    def on_epoch_begin(self, epoch, logs=None):
        self._batches_done = 0

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        steps = (self.params or {}).get("steps") or self._batches_done or 1
        self.epochs.append(self._epoch_start() + min(self._batches_done, steps) / steps)  # stopped: a fraction
        self.draw()

    def on_train_batch_end(self, batch, logs=None):
        steps = (self.params or {}).get("steps") or 1
        self._batches_done = batch + 1
        if self.every_seconds is None:
            return
        self.batches["x"].append(self._epoch_start() + (batch + 1) / steps)
        for key in self.metrics:
            if key in (logs or {}):
                self.batches.setdefault(key, []).append(float(logs[key]))
        if time.monotonic() - self._last >= self.every_seconds:
            if self.status is not None and logs and "loss" in logs:
                from labs_lib.widgets import display

                done = len(self.history.get("loss", []))
                self.status.value = display.message_html(
                    f"epoch {done + 1}, batch {batch + 1}/{steps}: running loss {float(logs['loss']):.4f}")
            self.draw()

    def figure(self):
        """The curves so far, on a new pyplot-free figure."""
        from matplotlib.figure import Figure

        from labs_lib import plots

        done = len(self.history.get("loss", []))
        title = f"after {done} epoch{'s' if done != 1 else ''}" if done else "first epoch running"
        return plots.plot_history(self.history, self.metrics, title, fig=Figure(figsize=(10, 3.6)),
                                  epochs=self.epochs, batches=self.batches, empty=self.empty)

    def draw(self) -> bytes:
        """Replace the picture with the curves so far (in ``out``, or in the notebook cell that trains); its PNG."""
        from labs_lib.widgets import display

        fig = self.figure()
        if self.out is not None:
            self.png = display.show_figure(self.out, fig)
        else:
            from IPython.display import Image
            from IPython.display import display as show

            self.png = display.figure_png(fig)
            if self._handle is None:
                self._handle = show(Image(self.png), display_id=True)
            else:
                self._handle.update(Image(self.png))
        self.draws += 1
        self._last = time.monotonic()
        return self.png


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
        live_plot: redraw the curves after every epoch, in place (:class:`LiveCurves`).
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
        all_callbacks.append(LiveCurves(every_seconds=None))
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
