"""Figures too long to write inline: training curves, image grids, confusion matrices, decision boundaries.

Every function draws with matplotlib and returns the ``Figure``, so a notebook can show it, save it
or test it. Colours are stable: the n-th run always gets the n-th colour, validation is dashed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

COLORS = plt.get_cmap("tab10").colors  # the n-th run gets the n-th colour, in every figure


def _history_dict(history) -> dict[str, list[float]]:
    """Accept a Keras ``History`` or a plain ``{'loss': [...], ...}`` dict."""
    return dict(getattr(history, "history", history))


def _runs(histories) -> dict[str | None, dict[str, list[float]]]:
    """``{run name: history}``, or one unnamed run when given a single ``History`` or ``{'loss': [...]}`` dict."""
    if hasattr(histories, "history"):
        return {None: _history_dict(histories)}
    if not histories or all(isinstance(v, (list, tuple, np.ndarray)) for v in histories.values()):
        return {None: dict(histories)}
    return {name: _history_dict(h) for name, h in histories.items()}


def _x(values: Sequence[float], epochs: Sequence[float] | None) -> Sequence[float]:
    return list(epochs)[: len(values)] if epochs is not None else np.arange(1, len(values) + 1)


FIXED_MARGINS = {"left": 0.07, "right": 0.98, "bottom": 0.15, "top": 0.85, "wspace": 0.25}  # no layout pass: fast


def plot_history(
    histories,
    metrics: Sequence[str] = ("loss",),
    title: str | None = None,
    logy: bool = False,
    *,
    fig=None,
    axes=None,
    epochs: Sequence[float] | None = None,
    batches: Mapping[str, Sequence[float]] | None = None,
    empty: str | None = None,
) -> plt.Figure:
    """Curves of one or several runs: one panel per metric, solid training, dashed validation, a colour per run.

    The one curve plotter of the course: lessons call it, and the live curves of ``training.fit`` and of the
    training dashboard (:class:`labs_lib.training.LiveCurves`) redraw with it.

    Args:
        histories: ``{run name: History or history dict}``, or one run's ``History`` / ``{'loss': [...]}``.
        metrics: the panels; metrics that no run recorded are skipped (unless ``empty`` is given).
        fig: draw into this figure (e.g. a pyplot-free one from a training thread), with fixed margins;
            default: a new pyplot figure, laid out tight.
        axes: draw into these axes instead, one per metric (a panel of a larger figure, as in the playground).
        epochs: where each logged epoch of a single run ends on the x axis (default 1, 2, ...; an epoch
            stopped part-way ends at a fraction, such as 2.6).
        batches: Keras' running per-batch values of a single run, ``{"x": [fractional epoch, ...], "loss":
            [...]}``, drawn as a thin line, so that a long epoch shows progress before it ends.
        empty: the text each panel shows while nothing is recorded (default: a ValueError).
    """
    runs = _runs(histories)
    batches = batches or {}
    recorded = {k for h in runs.values() for k in h} | {k for k, v in batches.items() if k != "x" and len(v)}
    shown = [m for m in metrics if m in recorded or f"val_{m}" in recorded]
    if not shown:
        if empty is None:
            raise ValueError(f"none of the metrics {list(metrics)} was recorded; recorded: {sorted(recorded)}")
        shown = list(metrics)
    if axes is not None:
        axes, tight = list(np.atleast_1d(axes)), False
        if len(axes) != len(shown):
            raise ValueError(f"got {len(axes)} axes for the {len(shown)} metrics {shown}: pass one per metric")
        fig = axes[0].figure
    elif fig is None:
        fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 3.5), squeeze=False)
        axes, tight = axes[0], True
    else:
        axes, tight = fig.subplots(1, len(shown), squeeze=False, gridspec_kw=FIXED_MARGINS)[0], False
    single = len(runs) == 1
    for ax, metric in zip(axes, shown, strict=True):
        drawn = False
        if single and batches.get(metric):
            ax.plot(batches["x"], batches[metric], color=COLORS[0], lw=0.8, alpha=0.45,
                    label="training (running, per batch)")
            drawn = True
        for i, (name, h) in enumerate(runs.items()):
            color = COLORS[i % len(COLORS)]
            x_of = epochs if single else None
            train, val = ("training", "validation") if name is None else (f"{name} (train)", f"{name} (validation)")
            for key, style, label in ((metric, "-", train), (f"val_{metric}", "--", val)):
                values = h.get(key)
                if values is not None and len(values):
                    marker = "o" if len(values) <= 30 else None  # a point per epoch while there are few
                    ax.plot(_x(values, x_of), values, color=color, ls=style, marker=marker, ms=3, label=label)
                    drawn = True
        if drawn:
            ax.legend(fontsize="small", loc="best" if tight else "upper right")  # "best" costs a search per draw
        else:
            ax.text(0.5, 0.5, empty or "nothing recorded", ha="center", va="center", transform=ax.transAxes,
                    color="0.4")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        if epochs is not None or batches:
            ax.set_xlim(left=0)
        if logy and drawn:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    if title and axes is not None and fig is not None and len(fig.axes) > len(shown):
        axes[0].set_title(title, fontsize=9, y=1.01)  # a panel among others: its own title, not the figure's
    elif title:
        fig.suptitle(title, **({} if tight else {"fontsize": 10}))
    if tight:
        fig.tight_layout()
    return fig


def image_grid(
    images: np.ndarray,
    labels: Sequence | None = None,
    predictions: Sequence | None = None,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
    size: float = 1.3,
) -> plt.Figure:
    """Images in a grid, each titled with its label (and prediction, red when wrong)."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    n = len(images)
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * (labels is not None)),
                             squeeze=False)

    def name(k):
        return class_names[int(k)] if class_names is not None else str(k)

    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap=cmap)
        if labels is not None and predictions is not None:
            wrong = labels[i] != predictions[i]
            ax.set_title(f"{name(predictions[i])} ({name(labels[i])})" if wrong else name(labels[i]),
                         color="red" if wrong else "black", fontsize=8)
        elif labels is not None:
            ax.set_title(name(labels[i]), fontsize=8)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of examples of true class i predicted as class j."""
    y_true, y_pred = np.asarray(y_true, dtype=int).ravel(), np.asarray(y_pred, dtype=int).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {len(y_true)} vs {len(y_pred)}")
    k = num_classes or int(max(y_true.max(), y_pred.max())) + 1
    counts = np.zeros((k, k), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def plot_confusion_matrix(y_true, y_pred, class_names: Sequence[str] | None = None, normalize: bool = False) -> plt.Figure:
    """The confusion matrix as a heat map, with the count (or row fraction) written in each cell."""
    k = len(class_names) if class_names is not None else None
    counts = confusion_matrix(y_true, y_pred, k)
    values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(counts))]
    fig, ax = plt.subplots(figsize=(0.5 * len(names) + 2.5, 0.5 * len(names) + 2))
    image = ax.imshow(values, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = values.max() / 2
    for i in range(len(names)):
        for j in range(len(names)):
            text = f"{values[i, j]:.2f}" if normalize else str(counts[i, j])
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if values[i, j] > threshold else "black")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"confusion matrix (accuracy {accuracy:.1%})")
    fig.tight_layout()
    return fig


def decision_boundary(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    ax: plt.Axes | None = None,
    resolution: int = 150,
    margin: float = 0.3,
    title: str | None = None,
) -> plt.Figure:
    """A 2-D classifier's regions and the data points on top.

    ``predict(points)`` takes an ``(n, 2)`` array and returns class probabilities ``(n, k)``, a
    probability of class 1 ``(n,)`` / ``(n, 1)``, or class labels.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary draws 2-D data; X has shape {X.shape}")
    (x0, y0), (x1, y1) = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.c_[gx.ravel(), gy.ravel()].astype(np.float32)
    out = np.asarray(predict(grid)).astype(np.float32)  # float32 also for 16-bit outputs (mixed precision)
    if out.ndim == 2 and out.shape[1] > 1:
        z = out[:, 1] if out.shape[1] == 2 else out.argmax(axis=1)
    else:
        z = out.reshape(-1)
    z = z.reshape(gx.shape)
    if out.ndim == 2 and out.shape[1] > 2:  # class labels 0..K-1: one colour band per class
        levels = np.arange(out.shape[1] + 1) - 0.5
    elif z.min() >= 0 and z.max() <= 1:  # probabilities: a fixed 0..1 scale, so 0.5 always looks undecided
        levels = np.linspace(0, 1, 21)
    else:
        levels = 20
    fig = ax.figure if ax is not None else plt.figure(figsize=(4.5, 4))
    ax = ax or fig.add_subplot()
    ax.contourf(gx, gy, z, levels=levels, cmap="RdBu_r", alpha=0.35)
    markers = "os^Dv"  # a shape per class, so classes stay apart in grey-scale too
    for k, cls in enumerate(np.unique(y)):
        points = X[y == cls]
        ax.scatter(points[:, 0], points[:, 1], color=COLORS[k % len(COLORS)], marker=markers[k % len(markers)],
                   edgecolors="white", linewidths=0.6, s=22, label=f"class {cls}")
    ax.legend(fontsize="small", loc="upper right")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    if title:
        ax.set_title(title)
    return fig
