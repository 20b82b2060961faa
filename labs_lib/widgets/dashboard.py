"""The training dashboard: train any Keras model on a ``labs_lib.data`` set and watch the curves live.

Plain parts first, usable without widgets (the static version for viewers that cannot run them):

- :class:`DashboardSettings`: optimizer, learning rate, batch size, epochs;
- :func:`fit_with_settings`: compile and train a model with those settings (``training.compile`` / ``training.fit``);
- :class:`labs_lib.training.LiveCurves` (the course's one live-curves callback) draws the loss and accuracy
  curves into one ``Output`` widget, at the end of every epoch and, within long epochs, every ``every_seconds``;
- :class:`StopOnRequest`: a Keras callback that ends training after the current batch once a flag is set,
  keeping the history so far (Keras records the unfinished epoch too);
- the static picture of a run is :func:`labs_lib.plots.plot_history`, the plotter the live curves use.

:class:`TrainingDashboard` wires controls to them and trains in a background thread, so the *Stop* button is
handled while the model trains. A learning rate that makes the loss inf/NaN stops training with
"diverged at step N (...): lower the learning rate".
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import keras
import numpy as np

from labs_lib import data, optimizers, training
from labs_lib.training import LiveCurves
from labs_lib.widgets import display
from labs_lib.widgets.background import BackgroundTask

BATCH_SIZES = (8, 16, 32, 64, 128, 256, 512)


@dataclass
class DashboardSettings:
    """What the dashboard lets you change."""

    optimizer: str = "adam"  # 'sgd', 'momentum', 'rmsprop' or 'adam'
    lr: float = 1e-3  # learning rate
    batch_size: int = 64  # examples per gradient step
    num_epochs: int = 5  # passes over the training data

    def validate(self) -> DashboardSettings:
        optimizers.get(self.optimizer)  # a ValueError that lists the names there are
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"learning rate must be > 0, got {self.lr!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")
        if self.num_epochs < 1:
            raise ValueError(f"num_epochs must be >= 1, got {self.num_epochs!r}")
        return self


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def scale_uint8(X: np.ndarray) -> np.ndarray:
    """Images as published (uint8, 0..255) to float32 in [0, 1]; anything else unchanged."""
    return X.astype("float32") / 255.0 if X.dtype == np.uint8 else X


def prepare(splits: data.Splits | Arrays, preprocess: Callable[[np.ndarray], np.ndarray] | None = scale_uint8) -> Arrays:
    """``(X_train, y_train, X_val, y_val)`` from a ``data.Splits`` (or such a tuple), with ``preprocess`` applied to X."""
    if isinstance(splits, data.Splits):
        arrays = (splits.X_train, splits.y_train, splits.X_val, splits.y_val)
    else:
        arrays = tuple(splits)
        if len(arrays) != 4:
            raise ValueError("pass a data.Splits or a tuple (X_train, y_train, X_val, y_val)")
    X_train, y_train, X_val, y_val = arrays
    if preprocess is not None:
        X_train, X_val = preprocess(X_train), preprocess(X_val)
    if len(X_train) != len(y_train) or len(X_val) != len(y_val):
        raise ValueError(f"X and y differ in length: train {len(X_train)} vs {len(y_train)}, "
                         f"validation {len(X_val)} vs {len(y_val)}")
    return X_train, y_train, X_val, y_val


def fit_with_settings(model: keras.Model, splits: data.Splits | Arrays, settings: DashboardSettings,
                      callbacks: Sequence[keras.callbacks.Callback] = (), loss="sparse_categorical_crossentropy",
                      metrics: Sequence[str] = ("accuracy",),
                      preprocess=scale_uint8) -> keras.callbacks.History:
    """Compile ``model`` with the settings' optimizer and learning rate, then train it; returns the History."""
    settings.validate()
    arrays, scale = _prepare_lazily(splits, preprocess)
    training.compile(model, optimizer=settings.optimizer, lr=settings.lr, loss=loss, metrics=metrics)
    return _fit_arrays(model, arrays, scale, num_epochs=settings.num_epochs,
                       batch_size=min(settings.batch_size, len(arrays[0])), callbacks=list(callbacks))


def _prepare_lazily(splits: data.Splits | Arrays, preprocess) -> tuple[Arrays, bool]:
    """:func:`prepare`, except that the default scaling of uint8 images is left to the pipeline (then True).

    Scaling a whole MNIST-sized set to float32 up front costs four times its memory, plus the copy Keras makes of
    arrays; scaling each batch in a ``tf.data`` pipeline over the uint8 images gives the same floats.
    """
    lazy = preprocess is scale_uint8 and _uint8_images(splits)
    return prepare(splits, None if lazy else preprocess), lazy


def _uint8_images(splits: data.Splits | Arrays) -> bool:
    """Whether the training and validation inputs are uint8 images (False for what prepare() will refuse)."""
    if isinstance(splits, data.Splits):
        X_train, X_val = splits.X_train, splits.X_val
    elif len(splits) == 4:
        X_train, X_val = splits[0], splits[2]
    else:
        return False
    return getattr(X_train, "dtype", None) == np.uint8 and getattr(X_val, "dtype", None) == np.uint8


def _fit_arrays(model: keras.Model, arrays: Arrays, scale: bool, *, num_epochs: int, batch_size: int,
                callbacks: Sequence[keras.callbacks.Callback]) -> keras.callbacks.History:
    """``training.fit`` on the arrays; uint8 images (``scale``) go through pipelines that scale each batch."""
    X_train, y_train, X_val, y_val = arrays
    if scale:
        train = data.to_dataset(X_train, y_train, batch_size, shuffle=True, transform=data.to_unit_range)
        val = data.to_dataset(X_val, y_val, batch_size, transform=data.to_unit_range)
        return training.fit(model, train, validation_data=val, num_epochs=num_epochs, callbacks=callbacks)
    return training.fit(model, X_train, y_train, validation_data=(X_val, y_val), num_epochs=num_epochs,
                        batch_size=batch_size, callbacks=callbacks)


# --------------------------------------------------------------------------- drawing


# --------------------------------------------------------------------------- callbacks


class StopOnRequest(keras.callbacks.Callback):
    """Ends training after the current batch once ``flag`` is set; Keras keeps the history so far.

    Also stops, with :attr:`message`, when the loss becomes inf/NaN.
    """

    def __init__(self, flag: threading.Event):
        super().__init__()
        self.flag = flag
        self.epoch = 0
        self.step = 0  # batches trained in this fit call
        self.stopped_at: tuple[int, int] | None = None  # (epoch, batch), both counted from 1
        self.message = ""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.model.stop_training = True
            self.stopped_at = (self.epoch + 1, batch + 1)
            self.message = display.diverged_message(self.step, where=f"epoch {self.epoch + 1}")
        elif self.flag.is_set():
            self.model.stop_training = True
            self.stopped_at = (self.epoch + 1, batch + 1)


# --------------------------------------------------------------------------- the widget


class TrainingDashboard:
    """Learning rate, optimizer, batch size and epochs for any Keras model; live curves; a clean Stop.

    ``model`` is a function that builds a fresh model (preferred: every Train can start from new weights),
    or a built model (fresh weights then come from ``keras.models.clone_model``). ``splits`` is a
    ``data.Splits`` or ``(X_train, y_train, X_val, y_val)``; ``preprocess`` is applied to the inputs (by default
    uint8 images become floats in [0, 1]). The History of the last run is in :attr:`history`.
    """

    def __init__(self, model: keras.Model | Callable[[], keras.Model], splits: data.Splits | Arrays,
                 settings: DashboardSettings | None = None, loss="sparse_categorical_crossentropy",
                 metrics: Sequence[str] = ("accuracy",), preprocess=scale_uint8, height: str = "330px",
                 callbacks: Sequence[keras.callbacks.Callback] = ()):
        settings = (settings or DashboardSettings()).validate()
        self._build = model if callable(model) and not isinstance(model, keras.Model) else None
        self.model: keras.Model = self._build() if self._build else model
        self.data, self._scale = _prepare_lazily(splits, preprocess)
        self.loss, self.metrics, self.extra_callbacks = loss, tuple(metrics), list(callbacks)
        self.history: dict[str, list[float]] = {}  # epoch logs of the run so far (kept after Stop)
        self.epochs: list[float] = []  # where each logged epoch ends (a stopped one at a fraction, e.g. 2.6)
        self.stopper: StopOnRequest | None = None
        self.curves: LiveCurves | None = None
        self.errors: list[str] = []
        self.task = BackgroundTask("training-dashboard", on_error=self._show_error)
        style, wide = {"description_width": "95px"}, {"width": "310px"}
        self.optimizer = widgets.Dropdown(options=optimizers.choices(), value=settings.optimizer, description="optimizer", style=style,
                                          layout=wide)
        self.lr = widgets.FloatLogSlider(value=settings.lr, base=10, min=-5, max=1, step=0.1, readout_format=".2g",
                                         description="learning rate", continuous_update=False, style=style,
                                         layout=wide)
        sizes = sorted(set(BATCH_SIZES) | {settings.batch_size})
        self.batch_size = widgets.SelectionSlider(options=sizes, value=settings.batch_size, description="batch size",
                                                  continuous_update=False, style=style, layout=wide)
        self.num_epochs = widgets.IntSlider(value=settings.num_epochs, min=1, max=100, description="epochs",
                                            continuous_update=False, style=style, layout=wide)
        self.fresh = widgets.Checkbox(value=True, description="start from fresh weights", indent=False)
        self.train_button = widgets.Button(description="Train", icon="play", button_style="success")
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger",
                                          tooltip="end training after the current batch; the history is kept")
        self.train_button.on_click(self.on_train)
        self.stop_button.on_click(self.on_stop)
        self.status = widgets.HTML(display.message_html(
            f"{type(self.model).__name__} '{self.model.name}', {self.model.count_params():,} parameters; "
            f"{len(self.data[0]):,} training and {len(self.data[2]):,} validation examples"))
        self.output = widgets.Output(layout=widgets.Layout(height=height, overflow="hidden"))
        self.output.add_class("labs-plot")
        self.png = LiveCurves(self.output, self._metric_names(), every_seconds=None, empty="press Train").draw()
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([self.optimizer, self.lr]), widgets.VBox([self.batch_size, self.num_epochs]),
                          widgets.VBox([self.fresh, widgets.HBox([self.train_button, self.stop_button])])]),
            self.status, self.output,
        ])
        self.widget.add_class("labs-training-dashboard")

    def _repr_mimebundle_(self, **kwargs):
        return display.with_picture(self.widget._repr_mimebundle_(**kwargs), self.png)  # the picture: a static fallback

    def _metric_names(self) -> tuple[str, ...]:
        return ("loss", *[m if isinstance(m, str) else getattr(m, "name", str(m)) for m in self.metrics])

    @property
    def settings(self) -> DashboardSettings:
        """What the controls say now."""
        return DashboardSettings(self.optimizer.value, float(self.lr.value), int(self.batch_size.value),
                                 int(self.num_epochs.value)).validate()

    @property
    def running(self) -> bool:
        return self.task.running

    def on_train(self, button=None) -> None:
        """Compile with the chosen settings and train in the background (fresh weights unless unticked)."""
        with display.errors_shown_in(self.status, self.errors):
            if self.task.running:
                self.status.value = display.message_html("already training: press Stop first", "warning")
                return
            settings = self.settings
            if self.fresh.value:
                self.model = self._build() if self._build else keras.models.clone_model(self.model)
                self.history, self.epochs = {}, []
            X_train = self.data[0]
            batch_size = min(settings.batch_size, len(X_train))
            training.compile(self.model, optimizer=settings.optimizer, lr=settings.lr, loss=self.loss,
                             metrics=self.metrics)
            note = f" (batch size {settings.batch_size} > {len(X_train)} examples: using {batch_size})" \
                if batch_size < settings.batch_size else ""
            self.status.value = display.message_html(
                f"training {settings.num_epochs} epochs with {settings.optimizer}, lr={settings.lr:.2g}, "
                f"batch size {batch_size}{note}… Stop ends it after the current batch")
            self.task.start(lambda stop: self._fit(stop, settings, batch_size))

    def _fit(self, stop: threading.Event, settings: DashboardSettings, batch_size: int) -> None:
        self.stopper = StopOnRequest(stop)
        self.curves = LiveCurves(self.output, self._metric_names(), history=self.history, epochs=self.epochs,
                                 status=self.status, empty="press Train")
        _fit_arrays(self.model, self.data, self._scale, num_epochs=settings.num_epochs, batch_size=batch_size,
                    callbacks=[*self.extra_callbacks, self.stopper, self.curves])
        self.curves.draw()
        self.png = self.curves.png
        epochs = len(self.history.get("loss", []))
        if self.stopper.message:
            self.status.value = display.message_html(self.stopper.message, "error")
        elif self.stopper.stopped_at:
            epoch, batch = self.stopper.stopped_at
            self.status.value = display.message_html(
                f"stopped after batch {batch} of epoch {epoch}; the history so far ({epochs} epoch"
                f"{'s' if epochs != 1 else ''}, the last one partial) is kept in dashboard.history", "ok")
        else:
            final = {k: v[-1] for k, v in self.history.items()}
            shown = ", ".join(f"{k} {v:.4g}" for k, v in final.items())
            self.status.value = display.message_html(f"done: {epochs} epochs; {shown}", "ok")

    def on_stop(self, button=None) -> None:
        """Ask training to end after the current batch (does not wait); the history is kept."""
        with display.errors_shown_in(self.status, self.errors):
            if not self.task.running:
                self.status.value = display.message_html("not training")
                return
            self.task.request_stop()
            self.status.value = display.message_html("stopping after the current batch…")

    def wait(self, timeout: float | None = 120) -> bool:
        """Wait until training has ended (for tests and scripts); True when it has."""
        return self.task.wait(timeout)

    def _show_error(self, error: BaseException) -> None:
        self.errors.append(self.task.traceback)
        self.status.value = display.message_html(display.error_text(error), "error")


def training_dashboard(model, splits, **kwargs) -> TrainingDashboard:
    """The training dashboard (see :class:`TrainingDashboard`)."""
    return TrainingDashboard(model, splits, **kwargs)

