"""The training playground's logic: TensorFlow Playground's job in Keras, without any widget.

- :class:`PlaygroundConfig`: every setting (data set, noise, size, layers, activation, initializer, optimizer,
  learning rate, batch size, L2, dropout, seed) as a dataclass that saves to JSON and loads back
  (:meth:`~PlaygroundConfig.to_json`, :meth:`~PlaygroundConfig.from_json`).
- :func:`build_model` and :func:`to_keras_code`: the same model, built here or written out as a Keras script
  that builds and trains it (same layers, same seeded initial weights).
- :class:`PlaygroundTrainer`: trains batch by batch, so that a widget can pause between batches and draw
  between epochs. Everything random is seeded from ``config.seed`` (initial weights, dropout, the order of the
  examples in each epoch), so the same seed gives the same run again, pauses or not. A run that blows up stops
  with "diverged at step N (...): lower the learning rate" in :attr:`~PlaygroundTrainer.message`.
- :func:`plot_playground`: the decision boundary beside the loss curves; :class:`PlaygroundDrawing` keeps that
  figure so that the widget's redraws only change data.

The static version of the playground, for viewers that cannot run widgets::

    trainer = run_playground(PlaygroundConfig(dataset="spirals", hidden_units=(8, 8)), num_epochs=100)
    fig = plot_playground(trainer)
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
from matplotlib.figure import Figure

from labs_lib import data, optimizers, plots, training
from labs_lib.widgets import display

FORMAT = "labs_lib.training_playground/1"  # the "format" field of exported JSON
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
INITIALIZERS = {  # name: the Keras class (and arguments) that makes the first weights
    "glorot_uniform": ("GlorotUniform", {}),
    "he_normal": ("HeNormal", {}),
    "random_normal": ("RandomNormal", {"stddev": 1.0}),  # large weights: watch the activations saturate
    "zeros": ("Zeros", {}),
}
MAX_LAYERS, MAX_UNITS = 8, 64


# --------------------------------------------------------------------------- the settings


@dataclass
class PlaygroundConfig:
    """Everything that defines a playground run. Two equal configs give identical runs."""

    dataset: str = "moons"  # 'moons', 'circles', 'spirals' or 'xor'
    noise: float = 0.15  # standard deviation of the noise added to the points
    num_samples: int = 300  # points in the data set, before the validation split
    val_fraction: float = 0.3  # share of the points held out for validation
    hidden_units: tuple[int, ...] = (8, 8)  # units of each hidden layer; () is logistic regression
    activation: str = "relu"  # 'relu', 'tanh', 'sigmoid' or 'linear', for the hidden layers
    initializer: str = "glorot_uniform"  # how the weights start: 'glorot_uniform', 'he_normal', 'random_normal', 'zeros'
    optimizer: str = "adam"  # 'sgd', 'momentum', 'rmsprop' or 'adam'
    lr: float = 0.03  # learning rate
    batch_size: int = 10  # examples per gradient step
    l2: float = 0.0  # L2 penalty on the hidden layers' weights
    dropout: float = 0.0  # dropout rate after each hidden layer
    seed: int = 0  # seeds the data, the first weights, dropout and the order of examples

    def __post_init__(self) -> None:
        self.hidden_units = tuple(self.hidden_units)

    def validate(self) -> PlaygroundConfig:
        """Raise ``ValueError`` saying what to change when a setting is impossible; returns self."""
        if self.dataset not in data.TOY_SETS:
            raise ValueError(f"dataset must be one of {list(data.TOY_SETS)}, got {self.dataset!r}")
        if not 0 <= self.noise <= 1:
            raise ValueError(f"noise must be between 0 and 1, got {self.noise!r}")
        if not 20 <= self.num_samples <= 5000:
            raise ValueError(f"num_samples must be between 20 and 5000, got {self.num_samples!r}")
        if not 0.05 <= self.val_fraction <= 0.8:
            raise ValueError(f"val_fraction must be between 0.05 and 0.8, got {self.val_fraction!r}")
        if len(self.hidden_units) > MAX_LAYERS:
            raise ValueError(f"at most {MAX_LAYERS} hidden layers, got {len(self.hidden_units)}")
        for units in self.hidden_units:
            if not (isinstance(units, (int, np.integer)) and 1 <= units <= MAX_UNITS):
                raise ValueError(f"each hidden layer needs 1 to {MAX_UNITS} units, got {units!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {self.activation!r}")
        if self.initializer not in INITIALIZERS:
            raise ValueError(f"initializer must be one of {list(INITIALIZERS)}, got {self.initializer!r}")
        optimizers.get(self.optimizer)  # a ValueError that lists the names there are
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and 0 < self.lr <= 10):
            raise ValueError(f"learning rate must be > 0 and at most 10, got {self.lr!r}")
        if not (isinstance(self.batch_size, (int, np.integer)) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be a whole number >= 1, got {self.batch_size!r}")
        if not 0 <= self.l2 <= 1:
            raise ValueError(f"l2 must be between 0 and 1, got {self.l2!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r} (1 would drop every unit)")
        if not (isinstance(self.seed, (int, np.integer)) and self.seed >= 0):
            raise ValueError(f"seed must be a whole number >= 0, got {self.seed!r}")
        return self

    @property
    def num_train(self) -> int:
        """How many points the model trains on (the rest is the validation set)."""
        return self.num_samples - int(round(self.num_samples * self.val_fraction))

    def to_dict(self) -> dict:
        return {"format": FORMAT, **{k: list(v) if isinstance(v, tuple) else v
                                     for k, v in dataclasses.asdict(self).items()}}

    def to_json(self) -> str:
        """The settings as JSON (load them back with :meth:`from_json`)."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> PlaygroundConfig:
        """Settings from JSON written by :meth:`to_json`; missing keys keep their defaults."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
        if not isinstance(raw, dict):
            raise ValueError("the JSON must be an object like {\"dataset\": \"moons\", ...}")
        fmt = raw.pop("format", FORMAT)
        if fmt != FORMAT:
            raise ValueError(f"this JSON has format {fmt!r}; the playground reads {FORMAT!r}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}: the playground knows {sorted(fields)}")
        kwargs = {}
        for key, value in raw.items():
            default = getattr(cls(), key)
            try:
                if isinstance(default, tuple):
                    value = tuple(int(v) for v in value)
                elif isinstance(default, str):
                    value = str(value)
                elif isinstance(default, int):
                    if float(value) != int(value):
                        raise ValueError
                    value = int(value)
                elif isinstance(default, float):
                    value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{key} has the wrong type: {value!r}") from None
            kwargs[key] = value
        return cls(**kwargs).validate()

    def describe(self) -> str:
        """One line: what this network is."""
        layers = " → ".join(str(u) for u in self.hidden_units) if self.hidden_units else "no hidden layer"
        return (f"{self.dataset} ({self.num_samples} points, noise {self.noise:g}); 2 → {layers} → 1 "
                f"({self.activation}); {self.optimizer} lr={self.lr:g}, batch {self.batch_size}")


def notes(config: PlaygroundConfig) -> list[str]:
    """Settings that are allowed but will not do what a student may expect, explained in one line each."""
    found = []
    if config.batch_size > config.num_train:
        found.append(f"batch size {config.batch_size} is larger than the {config.num_train} training points: "
                     f"each step uses all {config.num_train} (full-batch gradient descent)")
    if not config.hidden_units:
        found.append("no hidden layer: this is logistic regression, so the boundary is a straight line")
        if config.dropout:
            found.append("dropout acts after hidden layers: with none, the dropout setting does nothing")
        if config.l2:
            found.append("L2 applies to the hidden layers' weights: with none, the L2 setting does nothing")
    elif config.activation == "linear":
        found.append("linear activations: a stack of linear layers is still linear, so the boundary stays straight")
    if config.hidden_units and config.initializer == "zeros":
        found.append("all weights start at zero: every unit of a layer gets the same gradient and they stay "
                     "identical (the symmetry is never broken)")
    return found


# --------------------------------------------------------------------------- the model, built or written out


def _initializer(config: PlaygroundConfig, layer_seed: int) -> keras.initializers.Initializer:
    class_name, kwargs = INITIALIZERS[config.initializer]
    cls = getattr(keras.initializers, class_name)
    return cls(**kwargs) if class_name == "Zeros" else cls(seed=layer_seed, **kwargs)


def _layer_seed(config: PlaygroundConfig, i: int) -> int:
    return config.seed * 100 + i  # a different seed per layer, the same for the same config


def build_model(config: PlaygroundConfig) -> keras.Model:
    """The playground's network: dense hidden layers (seeded), a sigmoid output for the two classes."""
    config.validate()
    regularizer = keras.regularizers.L2(config.l2) if config.l2 else None
    inputs = keras.Input(shape=(2,), name="inputs")  # (batch, 2): a point's coordinates
    x = inputs
    for i, units in enumerate(config.hidden_units, start=1):
        initializer = _initializer(config, _layer_seed(config, i))
        x = keras.layers.Dense(units, activation=config.activation, kernel_initializer=initializer,
                               kernel_regularizer=regularizer, name=f"hidden{i}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, seed=_layer_seed(config, i), name=f"dropout{i}")(x)
    out_seed = _layer_seed(config, len(config.hidden_units) + 1)
    # The output stays float32 under mixed precision, so that the probability and the loss are float32 too.
    outputs = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=_initializer(config, out_seed),
                                 dtype="float32", name="output")(x)  # (batch, 1): probability of class 1
    return keras.Model(inputs, outputs, name="playground")


def load_data(config: PlaygroundConfig) -> data.Splits:
    """The 2-D points: ``data.load_toy`` with the config's set, size, noise, seed and validation share."""
    return data.load_toy(config.dataset, n_samples=config.num_samples, noise=config.noise, seed=config.seed,
                         val_fraction=config.val_fraction, test_fraction=0.0)


def _initializer_code(config: PlaygroundConfig, layer_seed: int) -> str:
    class_name, kwargs = INITIALIZERS[config.initializer]
    args = [] if class_name == "Zeros" else [f"seed={layer_seed}"]
    args += [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"keras.initializers.{class_name}({', '.join(args)})"


def to_keras_code(config: PlaygroundConfig, num_epochs: int = 100) -> str:
    """A Python script that builds this network with Keras and trains it with ``model.fit``.

    The script builds the same layers with the same seeded initializers as :func:`build_model`, so its model
    starts from the same weights. It trains with ``model.fit``, which orders the examples differently from the
    playground, so the curves are alike but not identical number for number.
    """
    config.validate()
    c = config
    lines = [
        f"# Exported from the training playground: {c.describe()}",
        "import keras",
        "",
        "from labs_lib import data",
        "",
        f"splits = data.load_toy({c.dataset!r}, n_samples={c.num_samples}, noise={c.noise!r}, seed={c.seed},",
        f"                       val_fraction={c.val_fraction!r}, test_fraction=0.0)  # 2-D points, two classes",
        "",
        "",
        "def build_model():",
        '    """The playground\'s network: the same layers and the same first weights."""',
        '    inputs = keras.Input(shape=(2,), name="inputs")  # (batch, 2): a point\'s coordinates',
        "    x = inputs",
    ]
    regularizer = f"keras.regularizers.L2({c.l2!r})" if c.l2 else "None"
    for i, units in enumerate(c.hidden_units, start=1):
        seed = _layer_seed(c, i)
        lines += [
            f"    x = keras.layers.Dense({units}, activation={c.activation!r},  # hidden layer {i}",
            f"                           kernel_initializer={_initializer_code(c, seed)},",
            f'                           kernel_regularizer={regularizer}, name="hidden{i}")(x)',
        ]
        if c.dropout:
            lines.append(f'    x = keras.layers.Dropout({c.dropout!r}, seed={seed}, name="dropout{i}")(x)')
    out_seed = _layer_seed(c, len(c.hidden_units) + 1)
    lines += [
        '    outputs = keras.layers.Dense(1, activation="sigmoid",  # probability of class 1',
        f'                                 kernel_initializer={_initializer_code(c, out_seed)},',
        '                                 dtype="float32", name="output")(x)  # float32 under mixed precision too',
        '    return keras.Model(inputs, outputs, name="playground")',
        "",
        "",
        "model = build_model()",
        f"model.compile(optimizer={optimizers.get(c.optimizer).source(c.lr)},",
        '              loss="binary_crossentropy", metrics=["accuracy"])',
        "history = model.fit(",
        "    splits.X_train, splits.y_train,",
        f"    batch_size={c.batch_size},  # examples per gradient step",
        f"    epochs={max(1, int(num_epochs))},  # passes over the training points",
        "    validation_data=(splits.X_val, splits.y_val),",
        "    verbose=0,",
        ")",
        'print(f"after {len(history.history[\'loss\'])} epochs: validation accuracy '
        '{history.history[\'val_accuracy\'][-1]:.1%}")',
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- training, batch by batch


class PlaygroundTrainer:
    """Trains the playground's model one batch at a time; a widget or a test drives it.

    The order of the training points in epoch ``e`` is ``np.random.default_rng([seed, e]).permutation(n)``
    and the model's weights and dropout masks are seeded too, so a run depends only on the config (and on
    learning-rate or batch-size changes made while it trains), not on where it was paused.
    """

    def __init__(self, config: PlaygroundConfig | None = None):
        self.lock = threading.RLock()  # held while the model changes: a drawing thread reads it safely
        self.reset(config or PlaygroundConfig())

    # ---- state
    def reset(self, config: PlaygroundConfig | None = None) -> None:
        """Back to epoch 0 with fresh weights from the seed (a rewind), optionally with new settings."""
        import tensorflow as tf

        config = (config or self.config).validate()
        with self.lock:
            self.config = dataclasses.replace(config)
            self.splits = load_data(config)
            self.X_train = self.splits.X_train.astype("float32")  # (n_train, 2)
            self.y_train = self.splits.y_train.astype("float32")[:, None]  # (n_train, 1)
            self.X_val = self.splits.X_val.astype("float32")  # (n_val, 2)
            self.y_val = self.splits.y_val.astype("float32")[:, None]  # (n_val, 1)
            self.model = build_model(config)
            self.optimizer = training.make_optimizer(config.optimizer, config.lr)
            self.optimizer.build(self.model.trainable_variables)
            self.epoch = 0  # finished epochs
            self.step = 0  # gradient steps taken
            self.position = 0  # how far into the current epoch's order the next batch starts
            self.history: dict[str, list[float]] = {"loss": [], "val_loss": [], "accuracy": [], "val_accuracy": []}
            self.diverged_at: int | None = None
            self.message = ""
            self._order = self._epoch_order(0)
            model, optimizer = self.model, self.optimizer
            loss_fn = keras.losses.BinaryCrossentropy()
            spec = [tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None, 1], tf.float32)]

            @tf.function(input_signature=spec)
            def train_step(x, y):
                with tf.GradientTape() as tape:
                    loss = loss_fn(y, model(x, training=True))  # data loss of this batch
                    if model.losses:
                        loss = loss + tf.add_n(model.losses)  # plus the L2 penalty, as model.fit adds it
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply(grads, model.trainable_variables)
                return loss

            @tf.function(input_signature=spec)
            def evaluate(x, y):
                p = model(x, training=False)  # (n, 1)
                accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.cast(p > 0.5, tf.float32), y), tf.float32))
                return loss_fn(y, p), accuracy

            self._train_step, self._evaluate = train_step, evaluate

    def _epoch_order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.config.seed, epoch]).permutation(len(self.X_train))

    def set_lr(self, lr: float) -> None:
        """Change the learning rate from the next step on (the run goes on)."""
        dataclasses.replace(self.config, lr=lr).validate()
        self.config.lr = float(lr)
        self.optimizer.learning_rate.assign(float(lr))

    def set_batch_size(self, batch_size: int) -> None:
        """Change the batch size from the next step on (the run goes on)."""
        dataclasses.replace(self.config, batch_size=batch_size).validate()
        self.config.batch_size = int(batch_size)

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    @property
    def effective_batch_size(self) -> int:
        return min(self.config.batch_size, len(self.X_train))

    # ---- training
    def train_batch(self) -> bool:
        """One gradient step on the next batch; returns True when it finished an epoch.

        A loss that becomes inf/NaN stops the run: :attr:`diverged_at` and :attr:`message` say where.
        """
        with self.lock:
            if self.diverged:
                return False
            end = min(self.position + self.effective_batch_size, len(self.X_train))
            idx = self._order[self.position : end]
            loss = float(self._train_step(self.X_train[idx], self.y_train[idx]))
            self.step += 1
            self.position = end
            weights_ok = all(np.all(np.isfinite(w)) for w in self.model.get_weights()) if not math.isfinite(loss) else True
            if not (math.isfinite(loss) and weights_ok):
                self.diverged_at = self.step
                self.message = display.diverged_message(self.step, where=f"epoch {self.epoch + 1}")
                return False
            if self.position < len(self.X_train):
                return False
            self.epoch += 1
            self.position = 0
            self._order = self._epoch_order(self.epoch)
            self._record()
            return True

    def _record(self) -> None:
        train_loss, train_acc = (float(v) for v in self._evaluate(self.X_train, self.y_train))
        val_loss, val_acc = (float(v) for v in self._evaluate(self.X_val, self.y_val))
        for key, value in zip(self.history, (train_loss, val_loss, train_acc, val_acc), strict=True):
            self.history[key].append(value)
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            self.diverged_at = self.step
            self.message = display.diverged_message(self.step, where=f"epoch {self.epoch}")

    def train_epoch(self, stop: threading.Event | None = None) -> bool:
        """Train to the end of the current epoch (one epoch from its start); returns False if stopped or diverged."""
        while not (stop is not None and stop.is_set()):
            if self.diverged:
                return False
            if self.train_batch():
                return True
        return False

    def train(self, num_epochs: int, stop: threading.Event | None = None,
              on_epoch: Callable[[PlaygroundTrainer], None] | None = None) -> int:
        """Train ``num_epochs`` epochs (or until ``stop`` is set or the run diverges); returns epochs finished."""
        done = 0
        while done < num_epochs and self.train_epoch(stop):
            done += 1
            if on_epoch is not None:
                on_epoch(self)
        return done

    # ---- reading
    def predict(self, points: np.ndarray) -> np.ndarray:
        """Probability of class 1 for each point, shape (n, 1)."""
        with self.lock:
            return keras.ops.convert_to_numpy(self.model(np.asarray(points, dtype="float32"), training=False))

    def weights(self) -> list[np.ndarray]:
        with self.lock:
            return [w.copy() for w in self.model.get_weights()]

    def summary(self) -> str:
        """One line: where the run stands."""
        if self.message:
            return self.message
        if not self.epoch:
            return f"epoch 0 · {self.config.num_train} training points, {len(self.X_val)} for validation"
        h = self.history
        return (f"epoch {self.epoch} · step {self.step} · train loss {h['loss'][-1]:.3f} · validation loss "
                f"{h['val_loss'][-1]:.3f} · validation accuracy {h['val_accuracy'][-1]:.1%}")


def run_playground(config: PlaygroundConfig | None = None, num_epochs: int = 50) -> PlaygroundTrainer:
    """Train a playground run without widgets (the static version); returns the trainer to plot or inspect."""
    trainer = PlaygroundTrainer(config)
    trainer.train(num_epochs)
    return trainer


# --------------------------------------------------------------------------- drawing


DATA_SETTINGS = ("dataset", "noise", "num_samples", "val_fraction", "seed")  # the settings that move the points
BANDS = 20  # colour bands of the probability, as contourf's 21 levels from 0 to 1 drew them
EPOCH_SPANS = (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)  # the loss panel's x range grows in these steps
LOSS_TOPS = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)  # ... and its y range, times a power of 10


def _loss_limits(history: dict[str, list[float]]) -> tuple[tuple[float, float], tuple[float, float]]:
    """The loss panel's (x, y) limits: round numbers that change only now and then, not at every epoch.

    While they stay the same, the panel's ticks, labels and grid stay the same pixels, and a redraw keeps them.
    """
    count = len(history["loss"])
    if not count:
        return (0.0, 10.0), (0.0, 1.0)
    span = next((n for n in EPOCH_SPANS if n >= 1.05 * count), math.ceil(1.05 * count))
    finite = [v for v in history["loss"] + history["val_loss"] if math.isfinite(v)] or [1.0]
    high = max(max(finite) * 1.05, 1e-3)
    power = 10.0 ** math.floor(math.log10(high))
    top = next(m * power for m in LOSS_TOPS if m * power >= high * (1 - 1e-9))
    return (0.0, float(span)), (0.0, float(top))


class PlaygroundDrawing:
    """The figure of :func:`plot_playground`, kept so that a redraw only changes data.

    Building the figure (axes, ticks, the points, a new ``contourf``) was most of a redraw's time. Here the
    probability of class 1 is an ``imshow`` on a grid fixed by the data set, so a redraw predicts on that grid and
    calls ``set_data``; the loss curves are two lines whose data change, on limits that move in round steps
    (:func:`_loss_limits`). :meth:`update` does that while the points stay the same (the settings in
    :data:`DATA_SETTINGS`), and rebuilds otherwise.

    With ``blit=True`` (the widget) :meth:`png` goes further, as matplotlib's animations do: the figure without
    what changes (axes, ticks, labels, titles, grid) is rendered once and kept as pixels, again only when the loss
    panel's limits move; each picture restores those pixels, draws the boundary, the points, the legends, the
    curves and the summary on top, and encodes the canvas. A static figure (``blit=False``, what
    :func:`plot_playground` makes) is drawn in full by whoever shows it.
    """

    def __init__(self, fig: Figure | None = None, blit: bool = False, resolution: int = 80, margin: float = 0.3):
        self.fig = fig
        self.blit = blit
        self.resolution = resolution  # grid points per side where the model is asked (80 x 80 predictions)
        self.margin = margin  # space around the points, in data units
        self.key: tuple | None = None
        self.lock = threading.Lock()  # one picture at a time: the widget draws from two threads
        self.full_draws = 0  # how many times png() rendered the static part (blit mode): a test reads it
        self._background = None  # the static pixels (blit mode) and the loss limits they were drawn with
        self._markers: bool | None = None  # whether the curves show a point per epoch (the legend follows)

    def _build(self, dataset: str, X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray,
               y_val: np.ndarray) -> None:
        import matplotlib

        if self.fig is None:
            import matplotlib.pyplot as plt

            self.fig = plt.figure(figsize=(10, 4))
        fig = self.fig
        fig.clear()
        self.ax_data, self.ax_loss = ax_data, ax_loss = fig.subplots(
            1, 2, gridspec_kw={"left": 0.06, "right": 0.98, "bottom": 0.13, "top": 0.84, "wspace": 0.22,
                               "width_ratios": [1, 1.25]})
        points = np.concatenate([X_train, X_val])  # (n, 2): the window holds every point
        (x0, y0), (x1, y1) = points.min(axis=0) - self.margin, points.max(axis=0) + self.margin
        r = self.resolution
        gx, gy = np.meshgrid(np.linspace(x0, x1, r), np.linspace(y0, y1, r))  # (r, r) each
        self._grid = np.c_[gx.ravel(), gy.ravel()].astype(np.float32)  # (r * r, 2): where the model is asked
        dx, dy = (x1 - x0) / (r - 1), (y1 - y0) / (r - 1)  # a grid point is the centre of its pixel
        self._image = ax_data.imshow(
            np.full((r, r), 0.5), cmap=matplotlib.colormaps["RdBu_r"].resampled(BANDS), vmin=0.0, vmax=1.0,
            alpha=0.35, origin="lower", extent=(x0 - dx / 2, x1 + dx / 2, y0 - dy / 2, y1 + dy / 2),
            interpolation="bilinear", interpolation_stage="data", aspect="auto")  # bands with smooth edges
        markers = "os^Dv"  # a shape per class, so classes stay apart in grey-scale too
        self._points = []
        for k, cls in enumerate(np.unique(y_train)):
            train = X_train[y_train == cls]
            self._points.append(ax_data.scatter(
                train[:, 0], train[:, 1], color=plots.COLORS[k % len(plots.COLORS)], marker=markers[k % 5],
                edgecolors="white", linewidths=0.6, s=22, label=f"class {cls}"))
        for k, cls in enumerate(np.unique(y_val)):
            val = X_val[y_val == cls]
            self._points.append(ax_data.scatter(
                val[:, 0], val[:, 1], facecolors="none", edgecolors=plots.COLORS[k % len(plots.COLORS)],
                marker=markers[k % 5], s=20, linewidths=0.9))
        self._data_legend = ax_data.legend(fontsize="x-small", loc="upper right")
        ax_data.set_xlim(x0, x1)
        ax_data.set_ylim(y0, y1)
        ax_data.set_title(f"{dataset}: the boundary (hollow points: validation)", fontsize=9, y=1.01)

        style = {"marker": "o", "ms": 3, "color": plots.COLORS[0]}  # as plots.plot_history draws one run
        self._train_line = ax_loss.plot([], [], ls="-", label="training", **style)[0]
        self._val_line = ax_loss.plot([], [], ls="--", label="validation", **style)[0]
        self._empty = ax_loss.text(0.5, 0.5, "press Train or Step", ha="center", va="center",
                                   transform=ax_loss.transAxes, color="0.4")
        self._loss_legend = None
        self._markers = None
        ax_loss.set_title("loss (solid: training, dashed: validation)", fontsize=9, y=1.01)
        ax_loss.set_xlabel("epoch")
        ax_loss.set_ylabel("binary cross-entropy")
        ax_loss.grid(alpha=0.3)
        self._summary = fig.suptitle("", fontsize=10)
        self._background = None
        if self.blit:  # drawn by png() on top of the kept pixels, left out of the full draw that makes them
            for artist in self._changing():
                artist.set_animated(True)

    def _changing(self) -> list:
        """What a redraw changes, in the order a full draw paints it."""
        return [self._image, *self._points, *self.ax_data.spines.values(), self._data_legend,  # spines on top
                self._train_line, self._val_line, *self.ax_loss.spines.values(), self._empty, self._summary]

    def update(self, trainer: PlaygroundTrainer) -> Figure:
        """Draw where ``trainer`` stands: on the kept figure while the points are the same, else on a rebuilt one."""
        with trainer.lock:
            config, splits = trainer.config, trainer.splits
            key = (*(getattr(config, name) for name in DATA_SETTINGS), self.resolution)
            if key != self.key or self.fig is None:
                self._build(config.dataset, splits.X_train, splits.y_train, splits.X_val, splits.y_val)
                self.key = key
            history = {name: list(values) for name, values in trainer.history.items()}
            summary, diverged = trainer.summary(), trainer.diverged
            # Diverged: nothing sensible to draw, so an undecided (0.5) background.
            z = np.full(len(self._grid), 0.5) if diverged else trainer.predict(self._grid)
        r = self.resolution
        self._image.set_data(np.asarray(z, dtype=np.float32).reshape(r, r))  # (r, r): probability of class 1

        count = len(history["loss"])
        for line, name in ((self._train_line, "loss"), (self._val_line, "val_loss")):
            values = history[name]
            line.set_data(np.arange(1, len(values) + 1), values)
        markers = count <= 30  # a point per epoch while there are few
        if count and markers != self._markers:  # the legend copies the lines' style when it is made
            for line in (self._train_line, self._val_line):
                line.set_marker("o" if markers else "None")
            if self._loss_legend is not None:
                self._loss_legend.remove()
            self._loss_legend = self.ax_loss.legend(fontsize="small", loc="upper right")
            self._loss_legend.set_animated(self.blit)
            self._markers = markers
        if self._loss_legend is not None:
            self._loss_legend.set_visible(bool(count))
        self._empty.set_visible(count == 0)
        xlim, ylim = _loss_limits(history)
        self.ax_loss.set_xlim(*xlim)
        self.ax_loss.set_ylim(*ylim)
        self._summary.set_text(summary)
        self._summary.set_color(display.COLORS["error"] if diverged else "black")
        return self.fig

    def png(self) -> bytes:
        """The figure as PNG bytes (80 dpi); in blit mode only what changes is drawn anew."""
        if not self.blit:
            return display.figure_png(self.fig)
        canvas = self.fig.canvas
        static = (self.ax_loss.get_xlim(), self.ax_loss.get_ylim())  # what the kept pixels depend on
        if self._background is None or self._background[1] != static:
            canvas.draw()  # everything but the changing artists
            self._background = (canvas.copy_from_bbox(self.fig.bbox), static)
            self.full_draws += 1
        else:
            canvas.restore_region(self._background[0])
        changing = self._changing()
        if self._loss_legend is not None:  # above the curves, below the figure's summary
            changing.insert(-1, self._loss_legend)
        for artist in changing:  # in the order a full draw paints them
            if artist.axes is not None:
                artist.axes.draw_artist(artist)
            else:
                self.fig.draw_artist(artist)
        return display.canvas_png(canvas)

    def draw(self, trainer: PlaygroundTrainer) -> bytes:
        """:meth:`update`, then :meth:`png`, as one step (safe when two threads draw)."""
        with self.lock:
            self.update(trainer)
            return self.png()


def plot_playground(trainer: PlaygroundTrainer, fig: Figure | None = None, resolution: int = 80) -> Figure:
    """Left: the decision boundary with the training points (filled) and validation points (hollow); right: the losses.

    With ``fig=None`` the figure is made with ``pyplot`` (so a notebook shows it); the widget keeps a
    :class:`PlaygroundDrawing` instead, to redraw faster.
    """
    return PlaygroundDrawing(fig, resolution=resolution).update(trainer)
