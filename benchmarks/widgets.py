"""How fast the playgrounds answer: one gradient-descent playground update, one training-playground epoch.

    python -m benchmarks.widgets [--quick]

Medians of:

- one update of the gradient-descent playground: what happens when a slider moves (run the optimizer, draw the
  contour plot and the loss curve, render the PNG), measured through the widget itself by setting the slider;
- one epoch of the training playground on the 2-D data (default settings: moons, 300 points of which 210 train,
  two hidden layers of 8 ReLU units, Adam, batch size 10), after a warm-up epoch that traces the step function;
- one redraw of the training playground (decision boundary and loss curves, rendered to PNG) as the widget does
  it, on its kept figure (:class:`~labs_lib.widgets.playground.PlaygroundDrawing`: ``set_data`` and blitting),
  after an epoch of training each time; interleaved with the same picture drawn from scratch (a new figure, as
  :func:`plot_playground` makes it and the widget did before), whose median and ratio the detail line gives.

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


def bench_playground(repeats: int) -> tuple[list[float], dict[str, list[float]]]:
    from labs_lib.widgets import PlaygroundTrainer, display, plot_playground
    from labs_lib.widgets.playground import PlaygroundDrawing

    trainer = PlaygroundTrainer()
    trainer.train_epoch()  # warm-up: traces the training step
    epochs = []
    for _ in range(repeats):
        start = time.perf_counter()
        trainer.train_epoch()
        epochs.append(time.perf_counter() - start)
    kept = PlaygroundDrawing(display.new_figure(10, 4.2, dpi=80), blit=True)  # what the widget keeps
    arms = {
        "kept": lambda: kept.draw(trainer),
        "scratch": lambda: display.figure_png(plot_playground(trainer, display.new_figure(10, 4.2, dpi=80))),
    }
    for arm in arms.values():  # warm-up: fonts, the first full draw of the kept figure
        arm()
    draws: dict[str, list[float]] = {name: [] for name in arms}
    for i in range(max(7, repeats)):
        trainer.train_epoch()  # the model changes between redraws, as while training (not timed)
        for name in list(arms) if i % 2 == 0 else reversed(list(arms)):  # ABBA: drift hits both alike
            start = time.perf_counter()
            arms[name]()
            draws[name].append(time.perf_counter() - start)
    return epochs, draws


def run(quick: bool) -> list[dict]:
    repeats = 5 if quick else 21
    descent = bench_descent(repeats)
    epochs, draws = bench_playground(repeats)
    kept, scratch = statistics.median(draws["kept"]), statistics.median(draws["scratch"])
    ratio = statistics.median(b / a for a, b in zip(draws["kept"], draws["scratch"], strict=True))
    return [
        figure("gradient-descent playground: one update (valley, momentum, 50 steps)",
               1000 * statistics.median(descent), "ms", target=None if quick else "<= 50 ms",
               ok=None if quick else 1000 * statistics.median(descent) <= 50, detail=_spread(descent)),
        figure("training playground: one epoch (moons, 210 points, 2x8 ReLU, batch 10)",
               1000 * statistics.median(epochs), "ms", detail=_spread(epochs)),
        figure("training playground: one redraw (boundary + curves, PNG)", 1000 * kept, "ms",
               target=None if quick else "<= 60 ms", ok=None if quick else 1000 * kept <= 60,
               detail=f"{_spread(draws['kept'])}; from scratch {1000 * scratch:.1f} ms in the same rounds, "
                      f"{ratio:.1f}x slower", samples=draws),
    ]


if __name__ == "__main__":
    main("widgets", run, __doc__)
