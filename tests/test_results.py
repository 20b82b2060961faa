"""labs_lib.results: what lessons record for the results table, and only when asked to."""

import json
import warnings

import numpy as np
import pytest

from labs_lib import results


def test_record_does_nothing_without_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.delenv(results.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert results.record("test accuracy", 0.5, "{:.1%}") == 0.5
    assert list(tmp_path.iterdir()) == []


def test_record_appends_plain_values_with_their_text(monkeypatch, tmp_path):
    import tensorflow as tf

    target = tmp_path / "figures.jsonl"
    monkeypatch.setenv(results.ENV, str(target))
    value = np.float32(0.96123)
    assert results.record("MLP test accuracy", value, "{:.1%}", data="digits") is value  # returned unchanged
    results.record("epochs", np.int64(20), "{:d}")
    results.record("loss", tf.constant(0.25), "{:.3f}")
    results.record("best run", "dropout 0.5", "{}")
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines[0] == {"label": "MLP test accuracy", "value": pytest.approx(0.96123), "text": "96.1%", "data": "digits"}
    assert (lines[1]["value"], lines[1]["text"]) == (20, "20") and isinstance(lines[1]["value"], int)
    assert (lines[2]["value"], lines[2]["text"]) == (0.25, "0.250")
    assert lines[3]["text"] == "dropout 0.5"


def test_read_keeps_the_last_value_of_a_figure_recorded_twice_at_its_first_place(monkeypatch, tmp_path):
    target = tmp_path / "figures.jsonl"
    monkeypatch.setenv(results.ENV, str(target))
    results.record("a", 1)
    results.record("b", 2)
    results.record("a", 3)  # the cell ran again
    assert [(f["label"], f["value"]) for f in results.read(target)] == [("a", 3), ("b", 2)]
    assert results.read(tmp_path / "none.jsonl") == []
    target.write_text('{"label": "a", "value": 1}\nnot json\n')
    with pytest.raises(ValueError, match="line 2"):
        results.read(target)


def test_bad_input_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv(results.ENV, str(tmp_path / "f.jsonl"))
    with pytest.raises(ValueError, match="label"):
        results.record("  ", 1.0)
    with pytest.raises(ValueError, match="cannot show"):
        results.record("accuracy", "high", "{:.1%}")
    with pytest.raises(TypeError, match="number or a short text"):
        results.record("weights", np.zeros(3))
    with pytest.warns(UserWarning, match="diverged"):
        results.record("loss", float("nan"))


def test_an_unwritable_results_file_warns_and_keeps_the_lesson_going(monkeypatch, tmp_path):
    monkeypatch.setenv(results.ENV, str(tmp_path / "missing-folder" / "f.jsonl"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert results.record("accuracy", 0.9) == 0.9
    assert any("could not record" in str(w.message) for w in caught)
