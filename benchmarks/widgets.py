"""How fast the playgrounds answer: one gradient-descent playground update, one training-playground epoch.

    python -m benchmarks.widgets [--quick]

Medians of:

- one update of the gradient-descent playground: what happens when a slider moves (run the optimizer, draw the
  contour plot and the loss curve, render the PNG), measured through the widget itself by setting the slider;
- one epoch of the training playground on the 2-D data (default settings: moons, 300 points of which 210 train,
  two hidden layers of 8 ReLU units, Adam, batch size 10), after a warm-up epoch that traces the step function;
- one redraw of the training playground (decision boundary and loss curves, rendered to PNG).

Timings depend on the machine and on whatever else runs on it; the results file keeps the load average.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time

from benchmarks.common import figure, main


def _spread(seconds: list[float]) -> str:
    q = statistics.quantiles(seconds, n=4) if len(seconds) >= 4 else [min(seconds), 0, max(seconds)]
    return f"quartiles {q[0] * 1000:.1f} to {q[2] * 1000:.1f} ms, n={len(seconds)}"


def bench_descent(repeats: int) -> list[float]:
    from labs_lib.widgets import DescentPlayground

    with contextlib.redirect_stdout(io.StringIO()):
        playground = DescentPlayground(surface="valley", optimizer="momentum", lr=0.05, steps=50)
    rates = [0.02, 0.05]
    times = []
    for i in range(repeats + 1):
        with contextlib.redirect_stdout(io.StringIO()):  # outside a kernel the picture is "displayed" as text
            start = time.perf_counter()
            playground.lr.value = rates[i % 2]  # the slider moves: run, draw, render
            elapsed = time.perf_counter() - start
        if i:  # the first one warms caches (fonts, the contour grid)
            times.append(elapsed)
    return times


def bench_playground(repeats: int) -> tuple[list[float], list[float]]:
    from labs_lib.widgets import PlaygroundTrainer, display, plot_playground

    trainer = PlaygroundTrainer()
    trainer.train_epoch()  # warm-up: traces the training step
    epochs, draws = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        trainer.train_epoch()
        epochs.append(time.perf_counter() - start)
    for _ in range(max(5, repeats // 3)):
        start = time.perf_counter()
        display.figure_png(plot_playground(trainer, display.new_figure(10, 4.2)))
        draws.append(time.perf_counter() - start)
    return epochs, draws


def run(quick: bool) -> list[dict]:
    repeats = 5 if quick else 21
    descent = bench_descent(repeats)
    epochs, draws = bench_playground(repeats)
    return [
        figure("gradient-descent playground: one update (valley, momentum, 50 steps)",
               1000 * statistics.median(descent), "ms", detail=_spread(descent)),
        figure("training playground: one epoch (moons, 210 points, 2x8 ReLU, batch 10)",
               1000 * statistics.median(epochs), "ms", detail=_spread(epochs)),
        figure("training playground: one redraw (boundary + curves, PNG)", 1000 * statistics.median(draws), "ms",
               detail=_spread(draws)),
    ]


if __name__ == "__main__":
    main("widgets", run, __doc__)
