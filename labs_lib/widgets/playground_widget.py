"""The training playground as a widget: controls, Train / Pause / Step / Reset, export and load.

All the logic is in :mod:`labs_lib.widgets.playground`; this module only wires controls to it. Training runs in
a background thread (:mod:`labs_lib.widgets.background`), so the notebook stays responsive and *Pause* is handled
while the model trains; the thread redraws the decision boundary and the loss curves in the one ``Output``
widget at most every ``draw_every`` seconds, on one kept figure (:class:`~labs_lib.widgets.playground.PlaygroundDrawing`).

Changing the data, the network or the optimizer restarts the run from epoch 0 (the same seed gives the same
run: *Reset* is a rewind). The learning rate and the batch size apply from the next step, without a restart,
as in TensorFlow Playground.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import ipywidgets as widgets

from labs_lib import optimizers
from labs_lib.widgets import display
from labs_lib.widgets.background import BackgroundTask
from labs_lib.widgets.playground import (
    ACTIVATIONS,
    INITIALIZERS,
    PlaygroundConfig,
    PlaygroundDrawing,
    PlaygroundTrainer,
    notes,
    to_keras_code,
)

L2_CHOICES = (0.0, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1)
RESTARTING = ("dataset", "noise", "num_samples", "layers", "units", "activation", "initializer", "optimizer",
              "l2", "dropout", "seed")


class TrainingPlayground:
    """TensorFlow Playground in Keras: train a small network on 2-D points and watch the boundary move.

    Display it as the last expression of a cell. Everything a student can click is reachable from Python:
    set ``playground.lr.value``, call ``playground.on_train()``, ``on_pause()``, ``on_step()``, ``on_reset()``,
    ``on_export()``, ``on_load()``; read :attr:`trainer` (history, weights), :attr:`png` and :attr:`message`.
    """

    def __init__(self, config: PlaygroundConfig | None = None, height: str = "350px", draw_every: float = 0.3,
                 max_epochs_per_run: int = 500):
        config = (config or PlaygroundConfig()).validate()
        self.trainer = PlaygroundTrainer(config)
        self.task = BackgroundTask("training-playground", on_error=self._show_error)
        self.draw_every = draw_every  # seconds between redraws while training
        self.max_epochs_per_run = max_epochs_per_run  # one press of Train stops after this many epochs
        self.errors: list[str] = []  # tracebacks of what went wrong, newest last
        self.png = b""  # the picture shown last
        self.draws = 0  # how many pictures have been shown
        self._height = height  # of the Output widget: fixed, so redrawing never makes the page jump
        self._syncing = False  # True while controls are set from a config (their observers stay quiet)
        self._drawing = PlaygroundDrawing(display.new_figure(10, 4.2, dpi=80), blit=True)  # a redraw changes data
        self._build_controls(config)
        self.redraw()

    # ------------------------------------------------------------------ layout
    def _build_controls(self, c: PlaygroundConfig) -> None:
        style, wide = {"description_width": "100px"}, {"width": "310px"}

        def slider(cls, **kwargs):
            return cls(continuous_update=False, style=style, layout=wide, **kwargs)

        units = c.hidden_units[0] if c.hidden_units else 4
        self.dataset = widgets.Dropdown(options=["moons", "circles", "spirals", "xor"], value=c.dataset,
                                        description="data set", style=style, layout=wide)
        self.noise = slider(widgets.FloatSlider, value=c.noise, min=0.0, max=0.5, step=0.01, description="noise")
        self.num_samples = slider(widgets.IntSlider, value=c.num_samples, min=50, max=1000, step=50,
                                  description="points")
        self.seed = widgets.BoundedIntText(value=c.seed, min=0, max=1_000_000, description="seed", style=style,
                                           layout=wide)
        self.layers = slider(widgets.IntSlider, value=len(c.hidden_units), min=0, max=6, description="hidden layers")
        self.units = slider(widgets.IntSlider, value=units, min=1, max=32, description="units / layer")
        self.activation = widgets.Dropdown(options=list(ACTIVATIONS), value=c.activation, description="activation",
                                           style=style, layout=wide)
        self.initializer = widgets.Dropdown(options=list(INITIALIZERS), value=c.initializer,
                                            description="initializer", style=style, layout=wide)
        self.dropout = slider(widgets.FloatSlider, value=c.dropout, min=0.0, max=0.5, step=0.05, description="dropout")
        self.optimizer = widgets.Dropdown(options=optimizers.choices(), value=c.optimizer, description="optimizer",
                                          style=style, layout=wide)
        self.lr = slider(widgets.FloatLogSlider, value=c.lr, base=10, min=-4, max=1, step=0.1,
                         description="learning rate", readout_format=".3g")
        self.batch_size = slider(widgets.IntSlider, value=min(c.batch_size, c.num_train), min=1,
                                 max=min(256, c.num_train), description="batch size")
        self.l2 = slider(widgets.SelectionSlider, options=[(f"{v:g}", v) for v in L2_CHOICES],
                         value=min(L2_CHOICES, key=lambda v: abs(v - c.l2)), description="L2")

        self.train_button = widgets.Button(description="Train", icon="play", button_style="success",
                                           tooltip="train until Pause (or the epoch limit)")
        self.pause_button = widgets.Button(description="Pause", icon="pause", tooltip="stop after the current batch")
        self.step_button = widgets.Button(description="Step", icon="step-forward", tooltip="train one epoch")
        self.reset_button = widgets.Button(description="Reset", icon="undo", button_style="warning",
                                           tooltip="back to epoch 0: fresh weights from the seed (a rewind)")
        for button, handler in [(self.train_button, self.on_train), (self.pause_button, self.on_pause),
                                (self.step_button, self.on_step), (self.reset_button, self.on_reset)]:
            button.add_class(f"labs-{button.description.lower()}")
            button.on_click(handler)
        self.status = widgets.HTML()
        self.status.add_class("labs-status")
        self.notes = widgets.HTML()
        self.output = widgets.Output(layout=widgets.Layout(height=self._height, overflow="hidden"))
        self.output.add_class("labs-plot")

        self.code = widgets.Textarea(layout=widgets.Layout(width="98%", height="260px"),
                                     placeholder="press Export to see the Keras code")
        self.json = widgets.Textarea(layout=widgets.Layout(width="98%", height="160px"),
                                     placeholder="press Export, or paste settings here and press Load")
        self.export_button = widgets.Button(description="Export", icon="download",
                                            tooltip="write the current settings as Keras code and as JSON")
        self.load_button = widgets.Button(description="Load JSON", icon="upload", tooltip="apply the JSON below")
        self.export_button.on_click(self.on_export)
        self.load_button.on_click(self.on_load)
        export_box = widgets.VBox([
            widgets.HBox([self.export_button, self.load_button]),
            widgets.HTML("<b>Keras code</b> (builds and trains this network)"), self.code,
            widgets.HTML("<b>Settings as JSON</b> (paste back and press Load JSON)"), self.json,
        ])
        self.export_panel = widgets.Accordion(children=[export_box], titles=("Export as Keras code / JSON, load",))
        self.export_panel.selected_index = None

        columns = widgets.HBox([
            widgets.VBox([widgets.HTML("<b>Data</b>"), self.dataset, self.noise, self.num_samples, self.seed]),
            widgets.VBox([widgets.HTML("<b>Network</b>"), self.layers, self.units, self.activation, self.initializer,
                          self.dropout]),
            widgets.VBox([widgets.HTML("<b>Training</b>"), self.optimizer, self.lr, self.batch_size, self.l2]),
        ])
        buttons = widgets.HBox([self.train_button, self.pause_button, self.step_button, self.reset_button])
        self.widget = widgets.VBox([columns, buttons, self.status, self.notes, self.output, self.export_panel])
        self.widget.add_class("labs-training-playground")

        self.controls = {"dataset": self.dataset, "noise": self.noise, "num_samples": self.num_samples,
                         "seed": self.seed, "layers": self.layers, "units": self.units, "activation": self.activation,
                         "initializer": self.initializer, "dropout": self.dropout, "optimizer": self.optimizer,
                         "lr": self.lr, "batch_size": self.batch_size, "l2": self.l2}
        for name in RESTARTING:
            self.controls[name].observe(self._on_restarting_change, "value")
        self.lr.observe(self._on_lr, "value")
        self.batch_size.observe(self._on_batch_size, "value")
        self._update_enabled(c)

    def _repr_mimebundle_(self, **kwargs):
        return display.with_picture(self.widget._repr_mimebundle_(**kwargs), self.png)  # the picture: a static fallback

    # ------------------------------------------------------------------ settings <-> controls
    @property
    def config(self) -> PlaygroundConfig:
        """The settings the run uses (a copy)."""
        return dataclasses.replace(self.trainer.config)

    def config_from_controls(self) -> PlaygroundConfig:
        """What the controls say now."""
        num_train = dataclasses.replace(self.trainer.config, num_samples=self.num_samples.value).num_train
        return PlaygroundConfig(
            dataset=self.dataset.value, noise=float(self.noise.value), num_samples=int(self.num_samples.value),
            val_fraction=self.trainer.config.val_fraction, hidden_units=(int(self.units.value),) * self.layers.value,
            activation=self.activation.value, initializer=self.initializer.value, optimizer=self.optimizer.value,
            lr=float(self.lr.value), batch_size=min(int(self.batch_size.value), num_train), l2=float(self.l2.value),
            dropout=float(self.dropout.value), seed=int(self.seed.value),
        )

    def set_config(self, config: PlaygroundConfig) -> None:
        """Show ``config`` in the controls and restart the run with it."""
        config = config.validate()
        self._syncing = True
        try:
            self.num_samples.value = min(max(config.num_samples, self.num_samples.min), self.num_samples.max)
            self.batch_size.max = min(256, config.num_train)
            values = {"dataset": config.dataset, "noise": config.noise, "seed": config.seed,
                      "layers": len(config.hidden_units), "activation": config.activation,
                      "initializer": config.initializer, "dropout": config.dropout, "optimizer": config.optimizer,
                      "lr": config.lr, "batch_size": min(config.batch_size, self.batch_size.max),
                      "l2": min(L2_CHOICES, key=lambda v: abs(v - config.l2))}
            if config.hidden_units:
                values["units"] = max(config.hidden_units)
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._syncing = False
        self._restart(config)
        shown = dataclasses.asdict(self.config_from_controls())
        differ = [f"{k}={v!r}" for k, v in dataclasses.asdict(config).items() if shown[k] != v]
        if differ:  # e.g. layers of different sizes, or a value beyond a slider's range
            self.notes.value += display.message_html(
                f"the controls cannot show {', '.join(differ)} exactly; the run uses the loaded values until you "
                "move a control", "info")

    def _update_enabled(self, config: PlaygroundConfig) -> None:
        """Grey out what cannot matter (units, dropout and L2 without hidden layers); explain odd settings."""
        no_hidden = not config.hidden_units
        self.units.disabled = self.dropout.disabled = self.l2.disabled = no_hidden
        self.notes.value = "".join(display.message_html("note: " + n, "warning") for n in notes(config))

    # ------------------------------------------------------------------ observers
    def _on_restarting_change(self, change) -> None:
        if self._syncing:
            return
        with display.errors_shown_in(self.status, self.errors):
            if change["owner"] is self.num_samples:  # keep the batch size possible
                num_train = dataclasses.replace(self.trainer.config, num_samples=self.num_samples.value).num_train
                self._syncing = True
                try:
                    self.batch_size.max = min(256, num_train)
                finally:
                    self._syncing = False
            self._restart(self.config_from_controls())

    def _on_lr(self, change) -> None:
        if self._syncing:
            return
        with display.errors_shown_in(self.status, self.errors):
            self.trainer.set_lr(float(change["new"]))
            self.status.value = display.message_html(f"learning rate {change['new']:.3g} from the next step on")

    def _on_batch_size(self, change) -> None:
        if self._syncing:
            return
        with display.errors_shown_in(self.status, self.errors):
            self.trainer.set_batch_size(int(change["new"]))
            self._update_enabled(self.trainer.config)
            self.status.value = display.message_html(f"batch size {change['new']} from the next step on")

    def _restart(self, config: PlaygroundConfig) -> None:
        was_running = self.task.running
        self.task.stop()
        self.trainer.reset(config)
        self._update_enabled(config)
        self.redraw()
        self.status.value = display.message_html(
            ("settings changed: " if was_running else "") + "back to epoch 0 with fresh weights from seed "
            f"{config.seed}" + (" (press Train to go on)" if was_running else ""))

    # ------------------------------------------------------------------ buttons
    def on_train(self, button=None) -> None:
        """Train in the background until Pause, a divergence, or ``max_epochs_per_run`` epochs."""
        with display.errors_shown_in(self.status, self.errors):
            if self.trainer.diverged:
                self.status.value = display.message_html(self.trainer.message + "; then press Reset", "error")
                return
            if self.task.start(self._train_loop):
                self.status.value = display.message_html("training… (Pause stops after the current batch)")

    def on_pause(self, button=None) -> None:
        """Stop training after the current batch; Train goes on from there (the same run as without the pause)."""
        with display.errors_shown_in(self.status, self.errors):
            was_running = self.task.running
            self.task.stop(timeout=10)
            t = self.trainer
            self.status.value = display.message_html(
                f"paused at epoch {t.epoch}, step {t.step}" if was_running else "not training: press Train")

    def on_step(self, button=None) -> None:
        """Train to the end of the current epoch (in the background), then draw."""
        with display.errors_shown_in(self.status, self.errors):
            if self.trainer.diverged:
                self.status.value = display.message_html(self.trainer.message + "; then press Reset", "error")
                return
            if not self.task.start(self._step_epoch):
                self.status.value = display.message_html("training is running: press Pause first", "warning")

    def on_reset(self, button=None) -> None:
        """Rewind: back to epoch 0, fresh weights from the seed; the settings in the controls apply."""
        with display.errors_shown_in(self.status, self.errors):
            self.task.stop()
            config = self.config_from_controls()
            self.trainer.reset(config)
            self._update_enabled(config)
            self.redraw()
            self.status.value = display.message_html(
                f"rewound to epoch 0 (seed {config.seed}): Train gives the same run again")

    def on_export(self, button=None) -> None:
        """Fill the export panel with the Keras code and the JSON of the current settings."""
        with display.errors_shown_in(self.status, self.errors):
            self.code.value = self.export_code()
            self.json.value = self.export_json()
            self.export_panel.selected_index = 0
            self.status.value = display.message_html("exported: copy the code, or keep the JSON to load later", "ok")

    def on_load(self, button=None) -> None:
        """Apply the JSON in the export panel (a message explains what is wrong with bad JSON)."""
        with display.errors_shown_in(self.status, self.errors):
            config = PlaygroundConfig.from_json(self.json.value)
            self.set_config(config)
            self.status.value = display.message_html(f"loaded: {config.describe()}", "ok")

    def export_code(self) -> str:
        """The Keras script for the current settings, trained for the epochs done so far (at least 10)."""
        return to_keras_code(self.trainer.config, num_epochs=max(10, self.trainer.epoch))

    def export_json(self) -> str:
        return self.trainer.config.to_json()

    def load_json(self, text: str) -> None:
        """Load settings from JSON text (as the Load button does)."""
        self.json.value = text
        self.on_load()

    # ------------------------------------------------------------------ training thread
    def _train_loop(self, stop: threading.Event) -> None:
        last_draw, start_epoch = time.monotonic(), self.trainer.epoch
        while not stop.is_set():
            finished = self.trainer.train_epoch(stop)
            if not finished:
                break
            if self.trainer.epoch - start_epoch >= self.max_epochs_per_run:
                self.redraw()
                self.status.value = display.message_html(
                    f"paused after {self.max_epochs_per_run} epochs (the limit per press): press Train to go on")
                return
            if time.monotonic() - last_draw >= self.draw_every:
                self.redraw()
                last_draw = time.monotonic()
        self.redraw()
        if self.trainer.diverged:
            self.status.value = display.message_html(self.trainer.message, "error")

    def _step_epoch(self, stop: threading.Event) -> None:
        self.trainer.train_epoch(stop)
        self.redraw()
        t = self.trainer
        self.status.value = display.message_html(t.message, "error") if t.diverged else display.message_html(
            f"stepped to epoch {t.epoch}")

    def wait(self, timeout: float | None = 60) -> bool:
        """Wait for the background training to end (for tests and scripts); True when it has."""
        return self.task.wait(timeout)

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        """Draw the boundary and the curves into the Output widget (safe from the training thread)."""
        png = self._drawing.draw(self.trainer)
        display.show_png(self.output, png, f"<figure: {self.trainer.summary()}>")
        self.png = png
        self.draws += 1

    @property
    def message(self) -> str:
        """The trainer's one-line state, or its divergence message."""
        return self.trainer.summary()

    def _show_error(self, error: BaseException) -> None:
        self.errors.append(self.task.traceback)
        self.status.value = display.message_html(display.error_text(error), "error")


def training_playground(config: PlaygroundConfig | None = None, **kwargs) -> TrainingPlayground:
    """The training playground (see :class:`TrainingPlayground`)."""
    return TrainingPlayground(config, **kwargs)
