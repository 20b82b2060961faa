import numpy as np
import pytest

from labs_lib import config


@pytest.mark.parametrize("raw, expected", [("1", True), ("true", True), ("YES", True), ("0", False), ("off", False), ("", False)])
def test_quick_mode_follows_environment_variable(monkeypatch, raw, expected):
    monkeypatch.setenv("LABS_QUICK", raw)
    assert config.is_quick(None) is expected


def test_notebook_parameter_beats_environment(monkeypatch):
    monkeypatch.setenv("LABS_QUICK", "1")
    assert config.is_quick(False) is False
    monkeypatch.setenv("LABS_QUICK", "0")
    assert config.is_quick(True) is True


def test_unset_means_full_mode(monkeypatch):
    monkeypatch.delenv("LABS_QUICK", raising=False)
    assert config.is_quick() is False
    assert config.by_mode(2, 20) == 20
    assert "default" in config.mode_source()


def test_unclear_environment_value_is_an_error_that_says_what_to_use(monkeypatch):
    monkeypatch.setenv("LABS_QUICK", "maybe")
    with pytest.raises(ValueError, match="1/true/yes/on"):
        config.is_quick()


def test_by_mode_picks_by_parameter():
    assert config.by_mode("small", "big", True) == "small"
    assert config.by_mode("small", "big", False) == "big"


def test_data_dir_comes_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LABS_DATA_DIR", str(tmp_path / "cache"))
    assert config.data_dir() == tmp_path / "cache"
    assert (tmp_path / "cache").is_dir()


def _train_once(seed: int) -> list[np.ndarray]:
    import keras

    config.set_seed(seed)
    X = np.random.normal(size=(64, 3)).astype("float32")  # drawn after seeding: part of what must repeat
    y = (X.sum(axis=1) > 0).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dropout(0.5),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy")
    model.fit(X, y, epochs=2, batch_size=16, shuffle=True, verbose=0)
    return [w.copy() for w in model.get_weights()]


def test_same_seed_gives_identical_training_runs():
    first, second = _train_once(3), _train_once(3)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    other = _train_once(4)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True)), "a different seed should change the run"


@pytest.mark.parametrize("bad", [-1, 1.5, "42", True])
def test_bad_seed_is_rejected(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        config.set_seed(bad)
