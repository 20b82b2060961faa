"""The playgrounds, driven through their Python API as a student drives them with the mouse.

Sliders are set by assigning ``.value`` (which fires the same observers a drag does) and buttons are pressed by
calling their handlers. No browser is needed: tests/test_browser.py checks the rendering.
"""

import html
import json
import math
import re
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from labs_lib import data, models, plots
from labs_lib.widgets import (
    AttentionViewer,
    DashboardSettings,
    DescentPlayground,
    PlaygroundConfig,
    PlaygroundTrainer,
    TrainingDashboard,
    TrainingPlayground,
    attention_maps,
    descend,
    display,
    fit_with_settings,
    plot_attention,
    plot_descent,
    plot_playground,
    run_playground,
    to_keras_code,
)
from labs_lib.widgets import descent as descent_module
from labs_lib.widgets.attention import MEAN_OF_HEADS, strongest_links
from labs_lib.widgets.playground import PlaygroundDrawing

from conftest import run_python


def _wait_for(condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def re_match(pattern, text):
    return re.fullmatch(pattern, text) is not None


def text_of(widget) -> str:
    """What an HTML widget says, without its markup."""
    return html.unescape(re.sub(r"<[^>]+>", " ", widget.value))


# =========================================================================== gradient-descent playground


def test_a_larger_learning_rate_moves_the_first_step_further():
    playground = DescentPlayground(surface="valley", optimizer="sgd", lr=0.01)
    first_steps = []
    for lr in [0.01, 0.03, 0.09]:
        playground.lr.value = lr  # what dragging the slider does
        path = playground.run.path
        first_steps.append(np.linalg.norm(path[1] - path[0]))
    assert first_steps[0] < first_steps[1] < first_steps[2]
    np.testing.assert_allclose(first_steps[1] / first_steps[0], 3.0, rtol=1e-12)  # SGD: the step is lr * gradient
    assert not playground.errors


def test_every_control_changes_the_picture():
    playground = DescentPlayground(surface="bowl", optimizer="sgd", lr=0.05, steps=20)
    pictures = [playground.png]
    for control, value in [(playground.surface, "saddle"), (playground.optimizer, "adam"), (playground.lr, 0.2),
                           (playground.steps, 60), (playground.compare, True)]:
        control.value = value
        assert playground.png not in pictures, f"changing {control.description} did not redraw"
        pictures.append(playground.png)
    assert [r.optimizer for r in playground.runs] == ["adam", "sgd", "momentum", "rmsprop"]  # selected one first
    assert playground.status.value and not playground.errors


def test_momentum_slider_is_used_by_momentum_only():
    playground = DescentPlayground(surface="valley", optimizer="sgd", lr=0.05)
    assert playground.momentum.disabled  # prevented: plain SGD has no momentum
    path = playground.run.path.copy()
    playground.momentum.value = 0.9
    np.testing.assert_array_equal(playground.run.path, path)
    playground.optimizer.value = "momentum"
    assert not playground.momentum.disabled
    with_momentum = playground.run.path.copy()
    playground.momentum.value = 0.3
    assert not np.allclose(playground.run.path, with_momentum)


def test_a_diverging_rate_gives_the_message_not_an_exception():
    playground = DescentPlayground(surface="valley", optimizer="sgd", lr=0.05)
    playground.lr.value = 5.0  # far above the limit 2 / 20 = 0.1
    assert playground.message.startswith("diverged at step ")
    assert playground.message.endswith(": lower the learning rate")
    assert "diverged at step" in playground.status.value and not playground.errors
    assert playground.png  # the picture is still drawn
    blown_up = descend("valley", "sgd", lr=1e200, steps=10)  # overflows at once
    assert blown_up.diverged_at == 1
    assert blown_up.message == "diverged at step 1 (loss became inf/NaN): lower the learning rate"
    plot_descent(blown_up, Figure())  # an inf/NaN path still draws


def test_just_above_the_limit_is_reported_as_going_up():
    run = descend("valley", "sgd", lr=0.104, steps=50)  # |1 - 0.104 * 20| = 1.08: slow growth
    assert run.diverged_at is None and run.kind == "warning" and "went up" in run.message
    assert descend("valley", "sgd", lr=0.09, steps=50).kind == "ok"


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam"])
def test_optimizers_follow_keras_formulas(name):
    surface = descent_module.SURFACES["valley"]
    run = descend(surface, name, lr=0.05, steps=15, momentum=0.7)
    optimizer = {"sgd": keras.optimizers.SGD(0.05), "momentum": keras.optimizers.SGD(0.05, momentum=0.7),
                 "rmsprop": keras.optimizers.RMSprop(0.05), "adam": keras.optimizers.Adam(0.05)}[name]
    x = keras.Variable(np.array(surface.x0, dtype="float32"))
    path = [x.numpy()]
    for _ in range(15):
        optimizer.apply([surface.grad(x.numpy().astype("float64")).astype("float32")], [x])
        path.append(x.numpy())
    np.testing.assert_allclose(run.path, np.array(path), rtol=1e-4, atol=1e-5)


def test_plain_functions_draw_without_a_widget():
    run = descend("two_valleys", "adam", lr=0.1, steps=40)
    fig = plot_descent(run)  # pyplot figure: what a notebook shows as the static version
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        descend("valley", "sgd", lr=0.0)
    with pytest.raises(ValueError, match="unknown surface"):
        descend("nowhere")
    with pytest.raises(ValueError, match="momentum must be in"):
        descend("valley", "momentum", momentum=1.0)


# =========================================================================== training playground

SMALL = PlaygroundConfig(dataset="moons", num_samples=200, hidden_units=(6, 6), batch_size=16, seed=3)


def test_the_same_seed_gives_the_same_run_even_with_pauses():
    trainer = PlaygroundTrainer(SMALL)
    trainer.train(4)
    weights, history = trainer.weights(), {k: list(v) for k, v in trainer.history.items()}
    trainer.reset()  # the rewind
    for _ in range(5):  # pause in the middle of the first epoch ...
        trainer.train_batch()
    trainer.train_epoch()
    trainer.train(3)  # ... and go on
    assert trainer.history == history
    for a, b in zip(trainer.weights(), weights, strict=True):
        np.testing.assert_array_equal(a, b)
    other = PlaygroundTrainer(PlaygroundConfig(**{**SMALL.__dict__, "seed": 4}))
    other.train(4)
    assert other.history["loss"] != history["loss"]


def test_training_learns_the_moons():
    trainer = run_playground(PlaygroundConfig(dataset="moons", noise=0.1, num_samples=300, hidden_units=(8, 8),
                                              activation="relu", lr=0.03, seed=0), num_epochs=20)
    assert trainer.history["val_accuracy"][-1] > 0.95  # 98.9% when measured
    assert trainer.history["loss"][-1] < trainer.history["loss"][0]
    fig = plot_playground(trainer)
    assert len(fig.axes) >= 2
    plt.close(fig)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_playground_trains_and_draws_under_mixed_precision(policy):
    """On a GPU device.setup() picks mixed precision: the output and the loss stay float32, and the picture draws."""
    from labs_lib import device

    device.current_profile()  # set up first: setup() sets the policy itself
    keras.mixed_precision.set_global_policy(policy)
    try:
        trainer = run_playground(SMALL, num_epochs=2)
        assert trainer.model.layers[-1].dtype_policy.name == "float32"
        assert trainer.model.get_layer("hidden1").dtype_policy.name == policy
        assert trainer.predict(np.zeros((3, 2), dtype="float32")).dtype == np.float32
        assert all(math.isfinite(v) for v in trainer.history["loss"])
        fig = plot_playground(trainer)  # matplotlib refuses a bfloat16 grid: the output is float32
        plt.close(fig)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _pixels(png: bytes) -> np.ndarray:
    """A PNG decoded to (height, width, 3) floats from 0 to 255."""
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)


def _from_scratch(trainer) -> np.ndarray:
    """The picture drawn in full on a new figure, as the widget drew every redraw before it kept its figure."""
    return _pixels(display.figure_png(plot_playground(trainer, display.new_figure(10, 4.2, dpi=80))))


def test_the_kept_playground_figure_follows_the_model_and_equals_a_full_redraw():
    """The widget redraws by restoring kept pixels and drawing only what changes: it must never show stale parts."""
    trainer = PlaygroundTrainer(SMALL)
    drawing = PlaygroundDrawing(display.new_figure(10, 4.2, dpi=80), blit=True)
    pictures = [_pixels(drawing.draw(trainer))]
    paths = set()  # which way each picture was made: kept pixels restored, or the static part drawn anew
    for epoch in range(1, 8):  # the loss panel's limits move at epochs 1 and 5: both paths are taken
        trainer.train_epoch()
        full_draws = drawing.full_draws
        picture = _pixels(drawing.draw(trainer))
        paths.add("restored" if drawing.full_draws == full_draws else "redrawn")
        scratch = _from_scratch(trainer)
        assert picture.shape == scratch.shape == (336, 800, 3)  # fits the Output widget's 350 px
        boundary = np.abs(picture[:, :330] - pictures[-1][:, :330]).mean()  # the left panel, epoch to epoch
        assert boundary > 1.0, f"epoch {epoch}: the boundary did not change with the model"
        stale = np.abs(picture - scratch).mean()  # 0.00002 when measured: a few tick pixels
        assert stale < 0.02, f"epoch {epoch}: the kept figure differs from a full redraw by {stale:.3f} per pixel"
        pictures.append(picture)
    assert paths == {"restored", "redrawn"}
    assert drawing.full_draws <= 4  # the static part was drawn again only when the limits moved

    trainer.reset(PlaygroundConfig(**{**SMALL.__dict__, "dataset": "circles"}))  # new points: a rebuilt figure
    trainer.train_epoch()
    assert np.abs(_pixels(drawing.draw(trainer)) - _from_scratch(trainer)).mean() < 0.02


def test_the_playground_widget_shows_what_a_full_redraw_shows():
    playground = TrainingPlayground(SMALL)
    empty = _pixels(playground.png)
    np.testing.assert_allclose(empty, _from_scratch(playground.trainer), atol=8)  # epoch 0: "press Train"
    playground.on_step()
    playground.wait()
    shown = _pixels(playground.png)
    assert np.abs(shown - empty).mean() > 1.0  # the boundary and the curves moved
    assert np.abs(shown - _from_scratch(playground.trainer)).mean() < 0.02
    playground.layers.value = 1  # a new network on the same points: the kept figure, back to epoch 0
    assert np.abs(_pixels(playground.png) - _from_scratch(playground.trainer)).mean() < 0.02
    assert not playground.errors


def test_train_pause_step_reset_buttons():
    playground = TrainingPlayground(SMALL, draw_every=0.05)
    first_png = playground.png
    playground.on_train()  # the Train button: training starts in the background ...
    _wait_for(lambda: playground.trainer.epoch >= 3, what="three epochs")
    assert playground.task.running  # ... and this thread is free to press Pause while it runs
    playground.on_pause()
    assert not playground.task.running, "Pause did not stop training"
    epoch, step = playground.trainer.epoch, playground.trainer.step
    time.sleep(0.3)
    assert (playground.trainer.epoch, playground.trainer.step) == (epoch, step)
    assert "paused at epoch" in playground.status.value
    assert playground.png != first_png and playground.draws >= 2  # the plot followed the training
    paused_weights = playground.trainer.weights()
    same = PlaygroundTrainer(SMALL)  # an uninterrupted run of the same number of steps
    while same.step < step:
        same.train_batch()
    for a, b in zip(same.weights(), paused_weights, strict=True):
        np.testing.assert_array_equal(a, b)

    playground.on_step()  # Step: to the end of the (current) epoch
    playground.wait()
    assert playground.trainer.epoch == epoch + 1 and playground.trainer.position == 0
    playground.on_reset()
    assert playground.trainer.epoch == 0 and playground.trainer.step == 0
    assert "rewound" in playground.status.value and not playground.errors


def test_a_diverging_rate_in_the_playground_gives_the_message():
    playground = TrainingPlayground(SMALL)
    playground.activation.value = "linear"
    playground.optimizer.value = "sgd"
    playground.lr.value = 10.0
    playground.on_train()
    assert playground.wait(60)
    assert re_match(r"diverged at step \d+ \(epoch \d+\) \(loss became inf/NaN\): lower the learning rate",
                    playground.message)
    assert "diverged at step" in playground.status.value
    assert playground.task.error is None and not playground.errors
    playground.on_train()  # pressing Train again explains instead of failing
    assert "press Reset" in playground.status.value


def test_controls_restart_or_apply_live_and_impossible_settings_are_prevented():
    playground = TrainingPlayground(SMALL)
    playground.on_step()
    playground.wait()
    assert playground.trainer.epoch == 1
    playground.lr.value = 0.1  # applies from the next step, the run goes on
    assert playground.trainer.epoch == 1
    assert math.isclose(float(playground.trainer.optimizer.learning_rate), 0.1, rel_tol=1e-6)
    playground.units.value = 3  # a new network: back to epoch 0
    assert playground.trainer.epoch == 0 and playground.trainer.config.hidden_units == (3, 3)
    playground.layers.value = 0
    assert playground.units.disabled and playground.dropout.disabled and playground.l2.disabled
    assert "logistic regression" in playground.notes.value
    playground.layers.value = 2
    playground.initializer.value = "zeros"
    assert "symmetry" in playground.notes.value
    playground.batch_size.value = playground.batch_size.max
    playground.num_samples.value = 50  # 35 training points: the batch size follows
    assert playground.batch_size.value <= playground.config.num_train == 35
    assert playground.trainer.effective_batch_size <= 35
    assert not playground.errors


def test_export_then_load_gives_the_same_setting():
    playground = TrainingPlayground(SMALL)
    playground.dataset.value = "spirals"
    playground.noise.value = 0.25
    playground.layers.value = 3
    playground.units.value = 12
    playground.activation.value = "relu"
    playground.dropout.value = 0.1
    playground.l2.value = 0.001
    playground.optimizer.value = "rmsprop"
    playground.seed.value = 7
    playground.on_export()  # the Export button
    exported = json.loads(playground.json.value)
    assert exported["hidden_units"] == [12, 12, 12] and exported["dataset"] == "spirals"
    assert "keras.layers.Dense(12" in playground.code.value

    fresh = TrainingPlayground()
    fresh.json.value = playground.json.value
    fresh.on_load()  # the Load button
    assert fresh.config == playground.config
    assert {k: c.value for k, c in fresh.controls.items()} == {k: c.value for k, c in playground.controls.items()}
    assert PlaygroundConfig.from_json(playground.config.to_json()) == playground.config

    fresh.load_json('{"dataset": "moons", "lr": -1}')  # bad JSON is explained in the widget, not raised
    assert "learning rate must be > 0" in text_of(fresh.status)
    fresh.load_json('{"dataset": "moons", "momentum": 0.9}')
    assert "unknown setting" in text_of(fresh.status)
    fresh.load_json("{not json")
    assert "not valid JSON" in text_of(fresh.status)
    assert fresh.config == playground.config  # nothing changed


@pytest.mark.slow
def test_exported_keras_code_builds_the_same_model_and_trains(tmp_path):
    config = PlaygroundConfig(dataset="xor", num_samples=120, hidden_units=(5, 4), activation="relu",
                              initializer="he_normal", l2=1e-3, dropout=0.1, optimizer="momentum", lr=0.05,
                              batch_size=8, seed=11)
    script = tmp_path / "exported.py"
    script.write_text(to_keras_code(config, num_epochs=3))
    np.savez(tmp_path / "playground.npz", *PlaygroundTrainer(config).weights())
    code = f"""
import runpy, numpy as np
ns = runpy.run_path({str(script)!r})
expected = np.load({str(tmp_path / "playground.npz")!r})
fresh = ns["build_model"]().get_weights()
assert len(fresh) == len(expected.files)
for i, w in enumerate(fresh):
    np.testing.assert_array_equal(w, expected[f"arr_{{i}}"])
h = ns["history"].history
assert len(h["loss"]) == 3 and "val_accuracy" in h
assert type(ns["model"].optimizer).__name__ == "SGD" and abs(float(ns["model"].optimizer.momentum) - 0.9) < 1e-6
print("OK", h["val_accuracy"][-1])
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "validation accuracy" in result.stdout and "OK" in result.stdout


# =========================================================================== training dashboard


def _digits_model():
    return models.build_mlp(models.MLPConfig(input_shape=(8, 8), hidden_units=(16,), num_classes=10))


class _PressStopAt(keras.callbacks.Callback):
    """Presses the dashboard's Stop button at the end of a given batch, and counts batches."""

    def __init__(self, dashboard, epoch, batch):
        super().__init__()
        self.dashboard, self.at, self.batches, self.epoch = dashboard, (epoch, batch), 0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if (self.epoch, batch) == self.at:
            self.dashboard.on_stop()


@pytest.fixture(scope="module")
def digits():
    splits = data.load("digits", seed=0)
    return splits.X_train[:600], splits.y_train[:600], splits.X_val, splits.y_val  # a small slice: fast epochs


def test_stop_ends_after_the_current_batch_and_keeps_the_history(digits):
    dashboard = TrainingDashboard(_digits_model, digits, DashboardSettings(num_epochs=20, batch_size=64))
    press = _PressStopAt(dashboard, epoch=1, batch=3)  # Stop arrives during the 4th batch of the 2nd epoch
    dashboard.extra_callbacks.append(press)
    dashboard.on_train()
    assert dashboard.wait(120)
    steps = math.ceil(len(digits[0]) / 64)
    assert press.batches == steps + 4  # one full epoch, then exactly the batch during which Stop came
    assert dashboard.stopper.stopped_at == (2, 4)
    assert all(len(values) == 2 for values in dashboard.history.values())  # the unfinished epoch is kept too
    assert set(dashboard.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert dashboard.epochs[0] == 1 and 1 < dashboard.epochs[1] < 2  # drawn where it stopped
    assert "stopped after batch 4 of epoch 2" in dashboard.status.value
    assert dashboard.curves.draws >= 2 and dashboard.png and not dashboard.errors


def test_stop_is_handled_while_training_runs(digits):
    dashboard = TrainingDashboard(_digits_model, digits, DashboardSettings(num_epochs=100, batch_size=16))
    dashboard.on_train()
    _wait_for(lambda: len(dashboard.history.get("loss", [])) >= 1, what="one epoch")
    dashboard.on_stop()  # from this (the notebook's) thread while the model trains in the background
    assert dashboard.wait(30), "Stop was not handled"
    assert 1 <= len(dashboard.history["loss"]) < 100
    assert dashboard.model.stop_training


@pytest.mark.slow
def test_dashboard_settings_reach_keras(digits):
    dashboard = TrainingDashboard(_digits_model, digits)
    dashboard.optimizer.value = "rmsprop"
    dashboard.lr.value = 0.01
    dashboard.batch_size.value = 128
    dashboard.num_epochs.value = 2
    seen = {}

    class Spy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.update(steps=self.params["steps"], epochs=self.params["epochs"])

    dashboard.extra_callbacks.append(Spy())
    dashboard.on_train()
    assert dashboard.wait(120)
    assert type(dashboard.model.optimizer).__name__ == "RMSprop"
    assert math.isclose(float(dashboard.model.optimizer.learning_rate), 0.01, rel_tol=1e-6)
    assert seen == {"steps": math.ceil(len(digits[0]) / 128), "epochs": 2}
    assert len(dashboard.history["loss"]) == 2 and "done: 2 epochs" in dashboard.status.value
    first_model = dashboard.model
    dashboard.fresh.value = False  # continue: same model, the curves go on
    dashboard.num_epochs.value = 1
    dashboard.on_train()
    assert dashboard.wait(120)
    assert dashboard.model is first_model and len(dashboard.history["loss"]) == 3
    dashboard.fresh.value = True
    dashboard.on_train()
    assert dashboard.wait(120)
    assert dashboard.model is not first_model and len(dashboard.history["loss"]) == 1


def test_a_diverging_rate_in_the_dashboard_gives_the_message():
    rng = np.random.default_rng(0)
    X = rng.normal(0, 10, size=(256, 3)).astype("float32")  # unscaled inputs
    y = X @ np.array([1.0, -2.0, 3.0], dtype="float32")

    def linear_model():
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])

    dashboard = TrainingDashboard(linear_model, (X, y, X[:32], y[:32]), DashboardSettings("sgd", 1.0, 32, 5),
                                  loss="mse", metrics=())
    dashboard.on_train()
    assert dashboard.wait(60)
    assert re_match(r"diverged at step \d+ \(epoch \d+\) \(loss became inf/NaN\): lower the learning rate",
                    dashboard.stopper.message)
    assert "diverged at step" in dashboard.status.value
    assert dashboard.task.error is None and not dashboard.errors


def test_dashboard_takes_a_built_model_and_the_plain_function_trains(digits):
    model = _digits_model()
    dashboard = TrainingDashboard(model, digits, DashboardSettings(num_epochs=1))
    dashboard.on_train()
    assert dashboard.wait(120)
    assert dashboard.model is not model  # fresh weights: a clone
    history = fit_with_settings(_digits_model(), digits, DashboardSettings("adam", 1e-2, 32, 3))
    assert history.history["val_accuracy"][-1] > 0.5  # the static version really trains (0.1 is chance)
    fig = plots.plot_history(history, metrics=("loss", "accuracy"))  # the static picture of the same run
    assert len(fig.axes) == 2
    plt.close(fig)


# =========================================================================== attention viewer


@pytest.fixture(scope="module")
def transformer():
    config = models.TransformerConfig(vocab_size=10, seq_len=6, d_model=16, num_heads=2, ff_dim=16, num_layers=2,
                                      dropout=0.0)
    return models.build_transformer(config)


def test_attention_maps_are_the_blocks_own_weights(transformer):
    tokens = np.array([3, 1, 4, 1, 5, 9])
    maps = attention_maps(transformer, tokens)
    assert maps.shape == (2, 2, 6, 6)
    np.testing.assert_allclose(maps.sum(axis=-1), 1.0, rtol=1e-5)  # each query's weights sum to 1
    h = transformer.get_layer("embedding")(tokens[None])  # what block 1 sees
    expected = keras.ops.convert_to_numpy(transformer.get_layer("block1").attention_scores(h))[0]
    np.testing.assert_allclose(maps[0], expected, rtol=1e-5, atol=1e-6)
    gpt = models.build_gpt(models.GPTConfig(vocab_size=20, seq_len=8, d_model=16, num_heads=2, num_layers=1, ff_dim=16))
    causal = attention_maps(gpt, np.arange(8))
    np.testing.assert_allclose(np.triu(causal[0, 0], k=1), 0.0, atol=1e-7)  # no position looks ahead
    with pytest.raises(ValueError, match="no labs_lib.models.TransformerBlock"):
        attention_maps(_digits_model(), np.arange(4))


def test_attention_viewer_follows_input_head_and_query(transformer):
    X = np.random.default_rng(1).integers(0, 10, size=(4, 6))
    viewer = AttentionViewer(transformer, X, targets=np.sort(X, axis=1), token_names=[f"d{i}" for i in range(10)])
    maps = attention_maps(transformer, X[0])
    np.testing.assert_allclose(viewer.weights, maps[0, 0])
    pictures = [viewer.png]
    viewer.head.value = 2
    np.testing.assert_allclose(viewer.weights, maps[0, 1])
    viewer.head.value = MEAN_OF_HEADS
    np.testing.assert_allclose(viewer.weights, maps[0].mean(axis=0))
    viewer.block.value = 2
    np.testing.assert_allclose(viewer.weights, maps[1].mean(axis=0))
    viewer.example.value = 3
    np.testing.assert_allclose(viewer.weights, attention_maps(transformer, X[3])[1].mean(axis=0))
    viewer.query.value = 2
    assert viewer.links.value.count("attends most to") == 1 and "position 3 (" in viewer.links.value
    assert viewer.png not in pictures
    rows, keys = viewer.labels(3)
    assert rows[0] == f"d{X[3, 0]}→d{np.sort(X[3])[0]}" and keys[0] == f"d{X[3, 0]}"
    assert not viewer.errors and viewer.status.value == ""


def test_attention_plain_functions():
    weights = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [1 / 3, 1 / 3, 1 / 3]])
    lines = strongest_links(weights, ["a", "b", "c"], ["a", "b", "c"], query=1, top=1)
    assert lines == ["position 2 ('b') attends most to position 3 ('c') 0.80"]
    fig = plot_attention(weights, ["a", "b", "c"], ["a", "b", "c"], query=0)
    assert len(fig.axes) >= 2
    plt.close(fig)


def test_the_playground_and_dashboard_display_their_picture_beside_the_widget_view(digits):
    """The static fallback: a viewer without a kernel (the website, GitHub) shows the picture, JupyterLab the widget."""
    import base64

    for widget in (TrainingPlayground(SMALL), TrainingDashboard(_digits_model, digits, DashboardSettings(num_epochs=1))):
        bundle = widget._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
        assert base64.b64decode(bundle["image/png"]) == widget.png and widget.png.startswith(b"\x89PNG")
