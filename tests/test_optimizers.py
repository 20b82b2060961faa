"""The optimizer registry: one table that the widgets' drop-downs, their exported code and training share."""

import keras
import pytest

from labs_lib import optimizers, training
from labs_lib.widgets import descent


@pytest.mark.parametrize("name", list(optimizers.OPTIMIZERS))
def test_the_exported_code_builds_the_object_the_registry_builds(name):
    entry = optimizers.get(name)
    built = entry.build(0.05)
    from_code = eval(entry.source(0.05), {"keras": keras})  # the code a widget exports, run as a student runs it
    def settings(optimizer):  # every setting but the unique name Keras gives each object (adam, adam_1, ...)
        return {k: v for k, v in optimizer.get_config().items() if k != "name"}

    assert type(built) is type(from_code)
    assert settings(built) == settings(from_code)
    assert float(built.learning_rate) == pytest.approx(0.05)
    assert settings(training.make_optimizer(name, 0.05)) == settings(built)


def test_momentum_is_0_9_and_said_in_the_drop_down():
    entry = optimizers.get("momentum")
    assert entry.build(0.1).get_config()["momentum"] == pytest.approx(0.9)
    assert entry.source(0.1) == "keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)"
    assert ("SGD + momentum 0.9", "momentum") in optimizers.choices()
    assert [name for _, name in optimizers.choices()] == ["sgd", "momentum", "rmsprop", "adam"]


def test_every_widget_reads_the_one_table():
    assert list(descent.OPTIMIZERS) == list(optimizers.OPTIMIZERS)
    assert descent.OPTIMIZERS["momentum"] == "SGD + momentum"  # the descent playground sets μ with a slider


def test_an_unknown_name_lists_the_names_there_are():
    with pytest.raises(ValueError, match=r"one of \['sgd', 'momentum', 'rmsprop', 'adam'\], got 'adagrad'"):
        optimizers.get("adagrad")
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        training.make_optimizer("adam", 0)
