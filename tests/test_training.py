import numpy as np
import pytest

from labs_lib import config, data, models, training


def _moons_model():
    return training.compile(models.build_mlp(models.MLPConfig(input_shape=(2,), hidden_units=(16,), num_classes=2)), lr=0.05)


def test_fit_trains_and_returns_history():
    config.set_seed(0)
    splits = data.load("moons", n_samples=400, noise=0.1)
    history = training.fit(_moons_model(), splits.X_train, splits.y_train, validation_data=(splits.X_val, splits.y_val),
                           num_epochs=15, batch_size=32)  # fmt: skip
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


def test_live_plot_records_and_draws(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda fig: shown.append(fig))
    callback = training.LivePlot()
    callback.on_epoch_end(0, {"loss": 1.0, "val_loss": 1.2, "accuracy": 0.5})
    callback.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.9, "accuracy": 0.7})
    assert callback.history["loss"] == [1.0, 0.5]
    assert len(shown) == 2
    lines = shown[-1].axes[0].get_lines()
    assert [list(line.get_ydata()) for line in lines] == [[1.0, 0.5], [1.2, 0.9]]


@pytest.mark.parametrize("kwargs, message", [({"num_epochs": 0}, "num_epochs"), ({"batch_size": 0}, "batch_size"),
                                             ({"early_stopping": 2}, "pass validation_data")])  # fmt: skip
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
