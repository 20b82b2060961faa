"""The training dashboard: train any Keras model on a ``labs_lib.data`` set and watch the curves live.

Plain parts first, usable without widgets (the static version for viewers that cannot run them):

- :class:`DashboardSettings`: optimizer, learning rate, batch size, epochs;
- :func:`fit_with_settings`: compile and train a model with those settings (``training.compile`` / ``training.fit``);
- :class:`LiveCurves`: a Keras callback that draws the loss and accuracy curves into one ``Output`` widget,
  at the end of every epoch and, within long epochs, every ``every_seconds``;
- :class:`StopOnRequest`: a Keras callback that ends training after the current batch once a flag is set,
  keeping the history so far (Keras records the unfinished epoch too);
- :func:`plot_curves`: the curves as a figure.

:class:`TrainingDashboard` wires controls to them and trains in a background thread, so the *Stop* button is
handled while the model trains. A learning rate that makes the loss inf/NaN stops training with
"diverged at step N (...): lower the learning rate".
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import keras
import numpy as np
from matplotlib.figure import Figure

from labs_lib import data, optimizers, plots, training
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
    X_train, y_train, X_val, y_val = prepare(splits, preprocess)
    training.compile(model, optimizer=settings.optimizer, lr=settings.lr, loss=loss, metrics=metrics)
    return training.fit(model, X_train, y_train, validation_data=(X_val, y_val), num_epochs=settings.num_epochs,
                        batch_size=min(settings.batch_size, len(X_train)), callbacks=list(callbacks))


# --------------------------------------------------------------------------- drawing


def plot_curves(history: dict[str, list[float]], metrics: Sequence[str] = ("loss", "accuracy"),
                batches: dict[str, list[float]] | None = None, title: str = "", fig: Figure | None = None,
                epochs: Sequence[float] | None = None) -> Figure:
    """Training (solid) and validation (dashed) curves, one panel per metric, against the epoch.

    ``batches`` holds Keras' running per-batch values, as ``{"x": [fractional epoch, ...], "loss": [...]}``,
    drawn as a thin line so that a long epoch shows progress before it ends. ``epochs`` places each logged
    epoch on the x axis (default 1, 2, ...; a stopped epoch ends at a fraction, such as 2.6).
    """
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(10, 3.6))
    margins = {"left": 0.07, "right": 0.98, "bottom": 0.15, "top": 0.85, "wspace": 0.25}  # fixed: fast to draw
    axes = fig.subplots(1, len(metrics), squeeze=False, gridspec_kw=margins)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        values, val_values = history.get(metric, []), history.get(f"val_{metric}", [])
        if batches and batches.get(metric):
            ax.plot(batches["x"], batches[metric], color=plots.COLORS[0], lw=0.8, alpha=0.45,
                    label="training (running, per batch)")
        if values:
            x = list(epochs)[: len(values)] if epochs is not None else np.arange(1, len(values) + 1)
            ax.plot(x, values, "o-", ms=3, color=plots.COLORS[0], label="training")
        if val_values:
            x = list(epochs)[: len(val_values)] if epochs is not None else np.arange(1, len(val_values) + 1)
            ax.plot(x, val_values, "o--", ms=3, color=plots.COLORS[1], label="validation")
        if not (values or val_values or (batches and batches.get(metric))):
            ax.text(0.5, 0.5, "press Train", ha="center", va="center", transform=ax.transAxes, color="0.4")
        else:
            ax.legend(fontsize="small")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


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


class LiveCurves(keras.callbacks.Callback):
    """Draws the loss and metric curves into one ``Output`` widget while a model trains.

    It keeps its own copy of the epoch logs (:attr:`history`, with :attr:`epochs`, where each logged epoch ends
    on the x axis), redraws at the end of each epoch, and within an epoch at most every ``every_seconds`` (with
    Keras' running batch values). It is safe in a background thread. Pass the ``history`` and ``epochs`` of an
    earlier run to continue its curves.
    """

    def __init__(self, out: widgets.Output, metrics: Sequence[str] = ("loss", "accuracy"), every_seconds: float = 0.5,
                 history: dict[str, list[float]] | None = None, epochs: list[float] | None = None,
                 status: widgets.HTML | None = None):
        super().__init__()
        self.out, self.metrics, self.every_seconds, self.status = out, tuple(metrics), every_seconds, status
        self.history: dict[str, list[float]] = history if history is not None else {}
        self.epochs: list[float] = epochs if epochs is not None else []
        self.batches: dict[str, list[float]] = {"x": []}
        self.png = b""
        self.draws = 0
        self._last = 0.0
        self._batches_done = 0

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
        done = len(self.history.get("loss", []))
        self.batches["x"].append(self._epoch_start() + (batch + 1) / steps)
        for key in self.metrics:
            if key in (logs or {}):
                self.batches.setdefault(key, []).append(float(logs[key]))
        now = time.monotonic()
        if now - self._last >= self.every_seconds:
            if self.status is not None and logs and "loss" in logs:
                self.status.value = display.message_html(
                    f"epoch {done + 1}, batch {batch + 1}/{steps}: running loss {float(logs['loss']):.4f}")
            self.draw()

    def draw(self) -> None:
        done = len(self.history.get("loss", []))
        title = f"after {done} epoch{'s' if done != 1 else ''}" if done else "first epoch running"
        fig = plot_curves(self.history, self.metrics, self.batches, title, display.new_figure(10, 3.6), self.epochs)
        self.png = display.show_figure(self.out, fig)
        self.draws += 1
        self._last = time.monotonic()


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
        self.data = prepare(splits, preprocess)
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
        self.png = display.show_figure(self.output, plot_curves({}, self._metric_names(), fig=display.new_figure(10, 3.6)))
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([self.optimizer, self.lr]), widgets.VBox([self.batch_size, self.num_epochs]),
                          widgets.VBox([self.fresh, widgets.HBox([self.train_button, self.stop_button])])]),
            self.status, self.output,
        ])
        self.widget.add_class("labs-training-dashboard")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

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
        X_train, y_train, X_val, y_val = self.data
        self.stopper = StopOnRequest(stop)
        self.curves = LiveCurves(self.output, self._metric_names(), history=self.history, epochs=self.epochs,
                                 status=self.status)
        self.model.fit(X_train, y_train, validation_data=(X_val, y_val), epochs=settings.num_epochs,
                       batch_size=batch_size, verbose=0,
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

