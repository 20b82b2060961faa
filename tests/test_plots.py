import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from labs_lib import plots


def test_history_colours_are_stable_and_validation_is_dashed():
    runs = {"small": {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, "big": {"loss": [0.9, 0.2], "val_loss": [1.0, 0.9]}}
    fig = plots.plot_history(runs)
    lines = fig.axes[0].get_lines()
    assert [line.get_linestyle() for line in lines] == ["-", "--", "-", "--"]
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    again = plots.plot_history({"small": runs["small"]}).axes[0].get_lines()
    assert again[0].get_color() == lines[0].get_color()  # the first run always gets the first colour
    plt.close("all")


def test_history_skips_unrecorded_metrics_and_explains_when_none():
    fig = plots.plot_history({"run": {"loss": [1, 2]}}, metrics=("loss", "accuracy"))
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="recorded: \\['loss'\\]"):
        plots.plot_history({"run": {"loss": [1, 2]}}, metrics=("accuracy",))
    plt.close("all")


def test_confusion_matrix_counts_match_scikit_learn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    np.testing.assert_array_equal(plots.confusion_matrix(y_true, y_pred, 4), sk_confusion_matrix(y_true, y_pred))
    fig = plots.plot_confusion_matrix(y_true, y_pred, class_names=["a", "b", "c", "d"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts[0] == str(sk_confusion_matrix(y_true, y_pred)[0, 0])
    assert "accuracy" in fig.axes[0].get_title()
    plt.close("all")


def test_image_grid_marks_mistakes_in_red():
    images = np.zeros((3, 8, 8))
    fig = plots.image_grid(images, labels=[1, 2, 3], predictions=[1, 5, 3], ncols=3)
    titles = [(ax.get_title(), ax.title.get_color()) for ax in fig.axes]
    assert titles[0] == ("1", "black") and titles[1] == ("5 (2)", "red")
    plt.close("all")


def test_decision_boundary_accepts_probabilities_and_labels():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([0, 1, 0, 1])
    fig = plots.decision_boundary(lambda P: np.stack([1 - P[:, 0], P[:, 0]], axis=1), X, y, resolution=20)
    assert len(fig.axes) == 1
    plots.decision_boundary(lambda P: (P[:, 0] > 0.5).astype(int), X, y, resolution=20)
    with pytest.raises(ValueError, match="2-D data"):
        plots.decision_boundary(lambda P: P, np.zeros((4, 3)), y)
    plt.close("all")
