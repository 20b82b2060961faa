import numpy as np
import pytest

from labs_lib import config, data, models, training


def _moons_model():
    return training.compile(models.build_mlp(models.MLPConfig(input_shape=(2,), hidden_units=(16,), num_classes=2)), lr=0.05)


def test_fit_trains_and_returns_history():
    config.set_seed(0)
    splits = data.load("moons", n_samples=400, noise=0.1)
    history = training.fit(_moons_model(), splits.X_train, splits.y_train, validation_data=(splits.X_val, splits.y_val),
                           num_epochs=15, batch_size=32)
    assert len(history.history["loss"]) == 15
    assert history.history["loss"][-1] < history.history["loss"][0] * 0.8
    assert history.history["val_accuracy"][-1] > 0.8


def test_early_stopping_stops_and_restores_the_best_weights():
    config.set_seed(0)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 2)).astype("float32"), rng.integers(0, 2, 64)  # pure noise: validation cannot improve long
    Xv, yv = rng.normal(size=(64, 2)).astype("float32"), rng.integers(0, 2, 64)
    model = training.compile(models.build_mlp(models.MLPConfig(input_shape=(2,), hidden_units=(64,), num_classes=2)), lr=0.05)
    history = training.fit(model, X, y, validation_data=(Xv, yv), num_epochs=200, batch_size=16, early_stopping=3)
    epochs = len(history.history["loss"])
    assert epochs < 200
    best = min(history.history["val_loss"])
    assert model.evaluate(Xv, yv, verbose=0)[0] == pytest.approx(best, rel=1e-4)


def test_fit_accepts_tf_data_pipelines():
    splits = data.load("circles", n_samples=200)
    train, val, _ = splits.datasets(batch_size=32)
    history = training.fit(_moons_model(), train, validation_data=val, num_epochs=2)
    assert len(history.history["val_loss"]) == 2


def test_live_curves_in_a_notebook_record_and_redraw_in_place(monkeypatch):
    shown, updates = [], []

    class Handle:
        def update(self, image):
            updates.append(image)

    def fake_display(image, display_id=False):
        shown.append(image)
        return Handle()

    monkeypatch.setattr("IPython.display.display", fake_display)
    callback = training.LiveCurves(every_seconds=None)  # what fit(live_plot=True) adds
    callback.on_epoch_end(0, {"loss": 1.0, "val_loss": 1.2, "accuracy": 0.5})
    callback.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.9, "accuracy": 0.7})
    assert callback.history["loss"] == [1.0, 0.5] and callback.draws == 2
    assert len(shown) == 1 and len(updates) == 1  # one picture, updated in place: no new output per epoch
    assert updates[0].data[:4] == b"\x89PNG"
    lines = callback.figure().axes[0].get_lines()
    assert [list(line.get_ydata()) for line in lines] == [[1.0, 0.5], [1.2, 0.9]]
    assert [line.get_linestyle() for line in lines] == ["-", "--"]


def test_fit_with_live_plot_draws_after_every_epoch(monkeypatch):
    drawn = []
    monkeypatch.setattr(training.LiveCurves, "draw", lambda self: drawn.append(dict(self.history)))
    x, y = np.random.default_rng(0).normal(size=(32, 2)).astype("float32"), np.zeros(32, "int32")
    training.fit(_moons_model(), x, y, num_epochs=2, batch_size=16, live_plot=True)
    assert len(drawn) == 2 and len(drawn[-1]["loss"]) == 2


@pytest.mark.parametrize("kwargs, message", [({"num_epochs": 0}, "num_epochs"), ({"batch_size": 0}, "batch_size"),
                                             ({"early_stopping": 2}, "pass validation_data")])
def test_bad_arguments_say_what_to_do(kwargs, message):
    with pytest.raises(ValueError, match=message):
        training.fit(_moons_model(), np.zeros((4, 2)), np.zeros(4), **kwargs)


def test_optimizer_names_and_learning_rate_are_checked():
    assert training.make_optimizer("momentum", 0.1).momentum == 0.9
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        training.make_optimizer("adam", -0.1)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        training.make_optimizer("lbfgs")


def test_logit_models_get_a_from_logits_loss_by_default():
    logits_model = models.build_transformer(models.TransformerConfig(d_model=8, num_heads=2, ff_dim=8, num_layers=1))
    assert training.outputs_logits(logits_model)
    training.compile(logits_model)
    assert logits_model.loss.get_config()["from_logits"] is True
    softmax_model = training.compile(models.build_mlp())
    assert not training.outputs_logits(softmax_model)
    assert softmax_model.loss == "sparse_categorical_crossentropy"


def test_replica_batch_size_makes_the_first_batch_split_evenly():
    from labs_lib import device

    def profile(replicas):
        return device.DeviceProfile(kind="multi-cpu", devices=[], gpu_names=[], strategy=None, policy="float32",
                                    batch_size=64 * replicas, num_replicas=replicas)

    assert training.replica_batch_size(256, 93, profile(1)) == 256  # one device: unchanged
    assert training.replica_batch_size(256, 93, profile(2)) == 92  # batches of 92 and 1
    assert training.replica_batch_size(256, 94, profile(2)) == 256  # 94 splits as 47 + 47
    assert training.replica_batch_size(256, 1000, profile(2)) == 256  # a full first batch of 256
    assert training.replica_batch_size(63, 1000, profile(2)) == 62
    assert training.replica_batch_size(64, 100, profile(3)) == 63
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        training.replica_batch_size(0, 10, profile(2))


UNEVEN_SPLIT = """
import numpy as np
import tensorflow as tf
from labs_lib import config, data, device, models, training
profile = device.setup(cpu_devices=2, policy="float32")
config.set_seed(0)
rng = np.random.default_rng(0)
X = rng.normal(size=(256, 4)).astype("float32")
y = (X[:, 0] + X[:, 1] > 0).astype("int64")
X_val, y_val = X[:59], y[:59]  # fewer than one batch, and odd: Keras alone fails to split the first batch
model = training.compile(models.build_mlp(models.MLPConfig(input_shape=(4,), hidden_units=(8,), num_classes=2)))
history = training.fit(model, X, y, validation_data=(X_val, y_val), num_epochs=1, batch_size=64)
probs = model(X_val, training=False).numpy().astype("float64")
expected = -np.mean(np.log(probs[np.arange(len(y_val)), y_val]))
np.testing.assert_allclose(history.history["val_loss"][-1], expected, rtol=1e-5)
raw_ds = tf.data.Dataset.from_tensor_slices((X_val, y_val)).batch(64)  # a pipeline made by hand: one batch of 59
try:
    training.fit(model, X, y, validation_data=raw_ds, num_epochs=1, batch_size=64)
except ValueError as error:
    assert "does not split evenly over the 2 replicas (per-replica parts [30,4] and [29,4])" in str(error), error
    assert "training.replica_batch_size(batch_size, num_examples)" in str(error), error
else:
    raise AssertionError("a pipeline whose first batch does not split must fail with a clear message")
val_ds = data.to_dataset(X_val, y_val, batch_size=len(X_val))  # to_dataset splits it: batches of 58 and 1
assert [int(b[0].shape[0]) for b in val_ds] == [58, 1]
history = training.fit(model, X, y, validation_data=val_ds, num_epochs=1, batch_size=64)
probs = model(X_val, training=False).numpy().astype("float64")
expected = -np.mean(np.log(probs[np.arange(len(y_val)), y_val]))
np.testing.assert_allclose(history.history["val_loss"][-1], expected, rtol=1e-5)  # every example still counted
raw_ds = tf.data.Dataset.from_tensor_slices((X_val, y_val)).batch(training.replica_batch_size(64, len(X_val)))
model.evaluate(raw_ds, verbose=0)
print("OK")
"""


@pytest.mark.slow
def test_fit_and_to_dataset_on_two_replicas_split_small_sets_evenly_and_explain_pipelines_that_do_not():
    from conftest import run_python

    result = run_python(UNEVEN_SPLIT, env={"LABS_PRECISION": "", "LABS_REPLICAS": ""})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "OK" in result.stdout
