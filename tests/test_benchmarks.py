"""benchmarks/: the FLOP counter, the timing helpers, and the suite's rule (fail only on a missing figure)."""

import json

import pytest

from benchmarks import __main__ as suite
from benchmarks import common, flops


def test_flops_of_a_dense_training_step_match_the_count_by_hand():
    import keras
    import tensorflow as tf

    from labs_lib import models

    model = models.build_mlp(models.MLPConfig(input_shape=(784,), hidden_units=(256,), output_activation=None))
    step = flops.train_step(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = tf.zeros([32, 784]), tf.zeros([32], tf.int32)
    counted, unknown = flops.graph_flops(step.get_concrete_function(x, y).graph)
    forward = 2 * 32 * (784 * 256 + 256 * 10)
    input_grad_of_second_layer = 2 * 32 * 256 * 10  # the first layer's input needs no gradient
    assert unknown == 0
    assert counted == 2 * forward + input_grad_of_second_layer


def test_einsum_and_convolution_counts():
    import tensorflow as tf

    @tf.function
    def f(a, b, images, kernel):
        return tf.einsum("bqhd,bkhd->bhqk", a, b), tf.nn.conv2d(images, kernel, 1, "SAME")

    graph = f.get_concrete_function(tf.zeros([2, 5, 3, 4]), tf.zeros([2, 7, 3, 4]), tf.zeros([1, 8, 8, 3]),
                                    tf.zeros([3, 3, 3, 16])).graph
    counted, unknown = flops.graph_flops(graph)
    assert unknown == 0
    assert counted == 2 * (2 * 5 * 7 * 3 * 4) + 2 * (1 * 8 * 8 * 16) * (3 * 3 * 3)


def test_interleaved_alternates_the_order_and_the_ratio_is_a_median_of_rounds():
    calls = []
    times = common.interleaved({"a": lambda: calls.append("a") or 2.0, "b": lambda: calls.append("b") or 1.0}, 3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert times == {"a": [2.0, 2.0, 2.0], "b": [1.0, 1.0, 1.0]}
    assert common.median_ratio([1.0, 3.0, 2.2], [1.0, 1.0, 2.0]) == pytest.approx(1.1)


def test_missing_figures_and_only_missing_figures_fail_the_suite(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(suite, "RESULTS", tmp_path)
    slow = {"benchmark": "overhead", "seconds": 1.0, "figures": [
        common.figure("ratio", 3.0, "x", target="<= 1.05", ok=False)]}
    monkeypatch.setattr(suite, "run_one", lambda name, quick, folder, timeout: slow)
    assert suite.main(["--quick", "--only", "overhead"]) == 0  # a missed target on a slow machine is reported
    assert "reported, not a failure" in capsys.readouterr().out
    gone = {"benchmark": "flops", "seconds": 1.0, "figures": [common.figure("GFLOP/s", None, "GFLOP/s")]}
    monkeypatch.setattr(suite, "run_one", lambda name, quick, folder, timeout: gone)
    assert suite.main(["--quick", "--only", "flops"]) == 1
    assert "MISSING FIGURES" in capsys.readouterr().err
    crashed = {"benchmark": "scaling", "seconds": 1.0, "figures": [], "error": "exited 1: boom"}
    monkeypatch.setattr(suite, "run_one", lambda name, quick, folder, timeout: crashed)
    assert suite.main(["--only", "scaling"]) == 1
    nan = common.figure("x", float("nan"), "x")
    assert common.missing(nan) and not common.missing(common.figure("x", 0.0, "x"))


def test_a_benchmark_that_crashes_is_reported_with_its_error(tmp_path, monkeypatch):
    (tmp_path / "benchmarks").mkdir()
    monkeypatch.setattr(suite, "ROOT", tmp_path)  # no such module there: the child process fails
    record = suite.run_one("overhead", True, tmp_path, timeout=60)
    assert record["figures"] == [] and "exited 1" in record["error"]
    assert "No module named" in record["error"]


@pytest.mark.slow
def test_one_benchmark_runs_on_its_own_and_writes_json(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "widgets.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks.widgets", "--quick", "--json", str(out)],
                          cwd=common.ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(out.read_text())
    assert record["benchmark"] == "widgets" and record["mode"] == "quick"
    assert [f["unit"] for f in record["figures"]] == ["ms", "ms", "ms"]
    assert all(f["value"] > 0 for f in record["figures"])
    assert "gradient-descent playground" in done.stdout


def test_the_unused_input_gradient_of_a_first_convolution_is_not_counted():
    import keras
    import tensorflow as tf

    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Conv2D(4, 3, padding="same")(inputs)))
    model = keras.Model(inputs, outputs)
    step = flops.train_step(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    graph = step.get_concrete_function(tf.zeros([5, 8, 8, 1]), tf.zeros([5], tf.int32)).graph
    counted, _ = flops.graph_flops(graph)
    conv = 2 * (5 * 8 * 8 * 4) * (3 * 3 * 1)
    dense = 2 * 5 * 256 * 2
    assert counted == 2 * conv + 3 * dense  # conv forward + filter gradient; dense forward + both gradients
