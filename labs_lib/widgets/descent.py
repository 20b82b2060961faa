"""The gradient-descent playground: an optimizer walking on a 1-D or 2-D loss surface.

Plain functions first: :func:`descend` runs SGD, momentum, RMSprop or Adam (in Keras' update formulas, in
NumPy) on one of :data:`SURFACES` and returns a :class:`DescentRun`; :func:`plot_descent` draws the path on the
surface (a curve in 1-D, contour lines in 2-D) beside the loss curve. Both work without ipywidgets, which is the
static version of the playground for notebook viewers that cannot run widgets::

    run = descend("valley", "momentum", lr=0.05, steps=60, momentum=0.5)
    fig = plot_descent(run)

:class:`DescentPlayground` wires sliders and dropdowns to those two functions with ``interactive_output``.
A learning rate that makes the run blow up gives the message "diverged at step N (...): lower the learning
rate" in the widget, never an exception.
"""

from __future__ import annotations

import math
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import ipywidgets as widgets
import numpy as np
from IPython.display import Image
from IPython.display import display as ipy_display
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from labs_lib import optimizers
from labs_lib.widgets import display

Array = np.ndarray


# --------------------------------------------------------------------------- surfaces


@dataclass(frozen=True)
class Surface:
    """A loss surface: f and its gradient on points of shape ``(..., dim)``, where to draw it and where to start."""

    name: str  # the key in SURFACES
    title: str  # what the plot calls it
    f: Callable[[Array], Array]  # loss, (..., dim) -> (...)
    grad: Callable[[Array], Array]  # gradient, (..., dim) -> (..., dim)
    bounds: tuple[tuple[float, float], ...]  # (low, high) for each coordinate: the drawn window
    x0: tuple[float, ...]  # the default start point
    minimum: float  # the lowest value of f, so the loss curve can show f - f* on a log scale
    note: str = ""  # one sentence for the student

    @property
    def dim(self) -> int:
        return len(self.bounds)


def _parabola(x):
    return x[..., 0] ** 2


def _parabola_grad(x):
    return 2 * x


def _two_valleys(x):
    return x[..., 0] ** 4 - 3 * x[..., 0] ** 2 + x[..., 0]


def _two_valleys_grad(x):
    return 4 * x**3 - 6 * x + 1


def _bowl(x):
    return x[..., 0] ** 2 + x[..., 1] ** 2


def _bowl_grad(x):
    return 2 * x


def _valley(x):
    return 0.5 * (x[..., 0] ** 2 + 20 * x[..., 1] ** 2)  # curvature 1 along x1, 20 along x2


def _valley_grad(x):
    return np.stack([x[..., 0], 20 * x[..., 1]], axis=-1)


def _saddle(x):
    return x[..., 0] ** 2 + x[..., 1] ** 4 / 4 - x[..., 1] ** 2 / 2  # saddle at (0, 0), minima at (0, +-1)


def _saddle_grad(x):
    return np.stack([2 * x[..., 0], x[..., 1] ** 3 - x[..., 1]], axis=-1)


def _rosenbrock(x):
    return (1 - x[..., 0]) ** 2 + 100 * (x[..., 1] - x[..., 0] ** 2) ** 2


def _rosenbrock_grad(x):
    a, b = x[..., 0], x[..., 1]
    return np.stack([-2 * (1 - a) - 400 * a * (b - a**2), 200 * (b - a**2)], axis=-1)


_TWO_VALLEYS_MIN = float(_two_valleys(np.array([[-1.30084]]))[0])  # the deeper of the two minima

SURFACES: dict[str, Surface] = {
    s.name: s
    for s in [
        Surface("parabola", "parabola f = x²  (1-D)", _parabola, _parabola_grad, ((-2.0, 2.0),), (1.5,), 0.0,
                "each step multiplies x by (1 - 2·lr): the limit is lr < 1"),
        Surface("two_valleys", "two valleys f = x⁴ - 3x² + x  (1-D)", _two_valleys, _two_valleys_grad,
                ((-2.2, 2.2),), (2.0,), _TWO_VALLEYS_MIN, "from x = 2 plain descent settles in the shallow valley"),
        Surface("bowl", "round bowl f = x₁² + x₂²", _bowl, _bowl_grad, ((-2.0, 2.0), (-2.0, 2.0)), (1.5, 1.8), 0.0,
                "the gradient points straight at the minimum"),
        Surface("valley", "ill-conditioned valley f = ½(x₁² + 20 x₂²)", _valley, _valley_grad,
                ((-2.0, 2.0), (-1.0, 1.0)), (-1.8, 0.8), 0.0,
                "condition number 20: plain descent zig-zags; lr must stay below 2/20 = 0.1"),
        Surface("saddle", "saddle f = x₁² + x₂⁴/4 - x₂²/2", _saddle, _saddle_grad, ((-2.0, 2.0), (-1.5, 1.5)),
                (1.5, 0.001), -0.25, "started near the ridge, the path lingers at the saddle (0, 0)"),
        Surface("rosenbrock", "Rosenbrock banana f = (1-x₁)² + 100(x₂-x₁²)²", _rosenbrock, _rosenbrock_grad,
                ((-2.0, 2.0), (-1.0, 3.0)), (-1.5, 2.0), 0.0,
                "a curved, narrow valley: try SGD + momentum, μ = 0.9, lr = 0.001, 200 steps"),
    ]
}

OPTIMIZERS = {name: entry.label for name, entry in optimizers.OPTIMIZERS.items()}  # the course's four, by label


def get_surface(surface: str | Surface) -> Surface:
    """A surface by name ('parabola', 'two_valleys', 'bowl', 'valley', 'saddle', 'rosenbrock')."""
    if isinstance(surface, Surface):
        return surface
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}: choose one of {list(SURFACES)}")
    return SURFACES[surface]


# --------------------------------------------------------------------------- optimizers, in Keras' formulas


@dataclass
class OptimizerState:
    """What an optimizer carries from step to step (all zero at the start)."""

    t: int = 0  # steps taken
    velocity: Array | None = None  # momentum
    mean: Array | None = None  # Adam's running mean of g (m)
    square: Array | None = None  # RMSprop's s, Adam's v: running mean of g²


def optimizer_step(name: str, x: Array, g: Array, state: OptimizerState, lr: float, momentum: float = 0.9,
                   rho: float = 0.9, beta_1: float = 0.9, beta_2: float = 0.999,
                   epsilon: float = 1e-7) -> Array:
    """One update of ``x`` with gradient ``g``, as ``keras.optimizers`` computes it; updates ``state`` in place.

    - sgd:      x ← x - lr·g
    - momentum: v ← μ·v - lr·g,  x ← x + v
    - rmsprop:  s ← ρ·s + (1-ρ)·g²,  x ← x - lr·g / √(s + ε)
    - adam:     m ← β₁m + (1-β₁)g,  v ← β₂v + (1-β₂)g²,
                x ← x - lr·√(1-β₂ᵗ)/(1-β₁ᵗ) · m / (√v + ε)
    """
    state.t += 1
    if name == "sgd":
        return x - lr * g
    if name == "momentum":
        state.velocity = momentum * (state.velocity if state.velocity is not None else 0.0) - lr * g
        return x + state.velocity
    if name == "rmsprop":
        state.square = rho * (state.square if state.square is not None else 0.0) + (1 - rho) * g**2
        return x - lr * g / np.sqrt(state.square + epsilon)
    if name == "adam":
        state.mean = beta_1 * (state.mean if state.mean is not None else 0.0) + (1 - beta_1) * g
        state.square = beta_2 * (state.square if state.square is not None else 0.0) + (1 - beta_2) * g**2
        alpha = lr * math.sqrt(1 - beta_2**state.t) / (1 - beta_1**state.t)
        return x - alpha * state.mean / (np.sqrt(state.square) + epsilon)
    raise ValueError(f"unknown optimizer {name!r}: choose one of {list(OPTIMIZERS)}")


# --------------------------------------------------------------------------- one run


@dataclass
class DescentRun:
    """What :func:`descend` returns: the path, its losses and how the run ended."""

    surface: Surface
    optimizer: str  # 'sgd', 'momentum', 'rmsprop' or 'adam'
    lr: float  # learning rate
    momentum: float  # μ (used by 'momentum' only)
    path: Array  # (steps_taken + 1, dim) the points visited, the start first
    losses: Array  # (steps_taken + 1,) f at each point
    diverged_at: int | None = None  # the step at which the run blew up (None: it did not)
    message: str = ""  # one line for the student
    kind: str = "ok"  # 'ok', 'warning' (the loss went up) or 'error' (diverged)

    @property
    def steps_taken(self) -> int:
        return len(self.path) - 1

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])

    @property
    def label(self) -> str:
        extra = f", μ={self.momentum:g}" if self.optimizer == "momentum" else ""
        return f"{OPTIMIZERS[self.optimizer]} (lr={self.lr:.3g}{extra})"


GROWTH_LIMIT = 1e6  # a loss this many times further above the minimum than at the start counts as diverged


def descend(surface: str | Surface = "valley", optimizer: str = "sgd", lr: float = 0.05, steps: int = 50,
            momentum: float = 0.9, x0: tuple[float, ...] | None = None) -> DescentRun:
    """Run ``steps`` optimizer steps on a surface; stop early, with a message, if the run diverges.

    Diverging means the loss became inf/NaN, or rose more than :data:`GROWTH_LIMIT` times further above the
    minimum than where it started. Bad arguments raise ``ValueError`` with what to change.
    """
    surface = get_surface(surface)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}: choose one of {list(OPTIMIZERS)}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"learning rate must be > 0, got {lr!r}")
    if not 1 <= int(steps) <= 100_000:
        raise ValueError(f"steps must be between 1 and 100000, got {steps!r}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r} (1 or more never slows down)")
    x = np.array(x0 if x0 is not None else surface.x0, dtype=np.float64).reshape(-1)
    if x.shape != (surface.dim,):
        raise ValueError(f"the {surface.name} surface is {surface.dim}-D: x0 needs {surface.dim} numbers, got {x0!r}")
    state = OptimizerState()
    path, losses = [x.copy()], [float(surface.f(x))]
    start_gap = max(losses[0] - surface.minimum, 1e-12)
    diverged_at, reason = None, ""
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, int(steps) + 1):
            x = optimizer_step(optimizer, x, surface.grad(x), state, lr, momentum=momentum)
            loss = float(surface.f(x))
            path.append(x.copy())
            losses.append(loss)
            if not (np.all(np.isfinite(x)) and math.isfinite(loss)):
                diverged_at, reason = t, "loss became inf/NaN"
                break
            if loss - surface.minimum > GROWTH_LIMIT * max(start_gap, 1.0):
                diverged_at, reason = t, "loss grew a million-fold, on its way to inf/NaN"
                break
    run = DescentRun(surface, optimizer, float(lr), float(momentum), np.array(path), np.array(losses), diverged_at)
    if diverged_at is not None:
        run.message, run.kind = display.diverged_message(diverged_at, reason=reason), "error"
    elif run.final_loss > losses[0]:
        run.message, run.kind = "the loss went up: the learning rate is too large (lower it)", "warning"
    else:
        run.message = f"loss {losses[0]:.4g} → {run.final_loss:.4g} in {run.steps_taken} steps"
    return run


# --------------------------------------------------------------------------- drawing


@lru_cache(maxsize=16)
def _surface_grid(name: str, resolution: int = 160) -> tuple[Array, Array, Array, Array]:
    """The surface sampled on a grid, and contour levels packed towards the bottom (computed once per surface)."""
    surface = SURFACES[name]
    gx, gy = np.meshgrid(np.linspace(*surface.bounds[0], resolution), np.linspace(*surface.bounds[1], resolution))
    values = surface.f(np.stack([gx, gy], axis=-1))  # (resolution, resolution)
    levels = np.unique(np.quantile(values, np.linspace(0, 1, 22) ** 2))  # more lines near the minimum
    return gx, gy, values, levels


RUN_COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e")


class DescentDrawing:
    """The figure of :func:`plot_descent`, kept so that the next runs on the same surface only change data.

    Building a figure is most of the drawing time (axes, ticks, the contour lines); a slider move changes only
    the paths, the loss curves, the loss axis' range, the legend and the message. :meth:`update` does exactly
    that when the surface and the number of runs are the same, and rebuilds otherwise.

    With ``blit=True`` (the widget) :meth:`png` goes further, as matplotlib's animations do: the surface panel
    (contour lines, ticks, title) is rendered once and kept as pixels; each picture restores those pixels and
    draws only the paths and the loss panel on top, then encodes the canvas. A static figure (``blit=False``,
    what :func:`plot_descent` makes) is drawn in full by whoever shows it.
    """

    def __init__(self, fig: Figure | None = None, blit: bool = False):
        self.fig = fig
        self.blit = blit
        self.key: tuple[str, int] | None = None
        self._background = None  # the surface panel's pixels (blit mode), captured at the first picture
        self._paths: list = []
        self._starts: list = []
        self._curves: list = []
        self._marks: list = []

    def _build(self, surface: Surface, count: int) -> None:
        if self.fig is None:
            import matplotlib.pyplot as plt

            self.fig = plt.figure(figsize=(10, 3.8))
        self.fig.clear()
        self.ax_surface, self.ax_loss = self.fig.subplots(
            1, 2, gridspec_kw={"left": 0.07, "right": 0.98, "bottom": 0.13, "top": 0.86, "wspace": 0.28})  # fixed
        ax_surface, ax_loss = self.ax_surface, self.ax_loss
        (x_low, x_high) = surface.bounds[0]
        if surface.dim == 1:
            grid = np.linspace(x_low, x_high, 400)[:, None]  # (400, 1)
            values = surface.f(grid)
            ax_surface.plot(grid[:, 0], values, color="0.55")
            span = np.ptp(values)
            y_low, y_high = values.min() - 0.1 * span, values.max() + 0.1 * span
            ax_surface.set_xlabel("x")
            ax_surface.set_ylabel("f(x)")
        else:
            gx, gy, values, levels = _surface_grid(surface.name)
            ax_surface.contour(gx, gy, values, levels=levels, cmap="viridis", linewidths=0.7)
            y_low, y_high = surface.bounds[1]
            ax_surface.set_xlabel("x₁")
            ax_surface.set_ylabel("x₂")
        colors = [RUN_COLORS[i % len(RUN_COLORS)] for i in range(count)]
        self._paths = [ax_surface.plot([], [], ms=2.5 if surface.dim == 2 else 3, lw=1, color=c)[0] for c in colors]
        self._starts = [ax_surface.plot([], [], "k*", ms=10)[0] for _ in colors]
        self._curves = [ax_loss.plot([], [], color=c)[0] for c in colors]
        self._marks = [ax_loss.axvline(0, color=c, ls=":", lw=1, visible=False) for c in colors]
        ax_surface.set_xlim(x_low, x_high)
        ax_surface.set_ylim(y_low, y_high)
        ax_surface.set_title(surface.title, fontsize=10, y=1.01)  # a fixed y: matplotlib need not place it
        # The loss axis: log scale, few ticks (tick layout is most of the drawing time).
        ax_loss.set_yscale("log")
        ax_loss.yaxis.set_major_locator(LogLocator(base=10, numticks=7))
        ax_loss.yaxis.set_minor_locator(NullLocator())
        ax_loss.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.0e}"))  # plain text, no mathtext
        ax_loss.set_xlabel("step t")
        ax_loss.set_ylabel("f(xₜ) − f*  (loss above the minimum)")
        ax_loss.grid(alpha=0.3)
        self.message = ax_loss.set_title("", fontsize=9, y=1.01)
        self.key = (surface.name, count)
        self._background = None
        if self.blit:  # drawn by png() on top of the kept pixels, left out of the full draw that makes them
            for artist in [*self._paths, *self._starts, ax_loss]:
                artist.set_animated(True)

    def update(self, runs: list[DescentRun]) -> Figure:
        """Draw ``runs`` (all on one surface): on the kept figure when it fits them, else on a rebuilt one."""
        surface = runs[0].surface
        if self.key != (surface.name, len(runs)):
            self._build(surface, len(runs))
        for run, path, start, curve, mark in zip(runs, self._paths, self._starts, self._curves, self._marks,
                                                 strict=True):
            shown = np.clip(run.path, -1e6, 1e6)  # a diverged path leaves the window; keep the numbers drawable
            ys = np.clip(run.losses, -1e12, 1e12) if surface.dim == 1 else shown[:, 1]
            path.set_data(shown[:, 0], ys)
            path.set_marker("o" if len(shown) <= 120 else "None")
            path.set_label(run.label)
            start.set_data([shown[0, 0]], [ys[0]])
            gap = np.maximum(run.losses - surface.minimum, 1e-16)  # f - f*, above 0 for the log scale
            gap = np.where(np.isfinite(gap), np.minimum(gap, 1e30), 1e30)  # inf/NaN drawn at the top
            curve.set_data(np.arange(len(gap)), gap)
            curve.set_label(run.label)
            mark.set_visible(run.diverged_at is not None)
            if run.diverged_at is not None:
                mark.set_xdata([run.diverged_at, run.diverged_at])
        finite = np.concatenate([np.maximum(r.losses - surface.minimum, 1e-16) for r in runs])
        finite = finite[np.isfinite(finite)]
        low, high = float(finite.min()), float(finite.max())
        span = max(max(len(r.losses) for r in runs) - 1, 1)
        self.ax_loss.set_xlim(-0.05 * span, 1.05 * span)  # matplotlib's own 5% margins, set rather than searched
        self.ax_loss.set_ylim(max(low, 1e-16) / 3, min(max(high, low * 10), 1e30) * 3)
        self.ax_loss.legend(handles=self._curves, fontsize="small", loc="upper right")
        main = runs[0]
        self.message.set_text(textwrap.fill(main.message, 70))
        self.message.set_color(display.COLORS[main.kind] if main.kind != "ok" else "black")
        return self.fig


    def png(self) -> bytes:
        """The figure as PNG bytes (80 dpi); in blit mode only the paths and the loss panel are drawn anew."""
        if not self.blit:
            return display.figure_png(self.fig)
        canvas = self.fig.canvas
        if self._background is None:
            canvas.draw()  # everything but the animated artists
            self._background = canvas.copy_from_bbox(self.fig.bbox)
        else:
            canvas.restore_region(self._background)
        self.fig.draw_artist(self.ax_loss)
        for artist in [*self._paths, *self._starts]:
            self.ax_surface.draw_artist(artist)
        return display.canvas_png(canvas)


def plot_descent(runs: DescentRun | list[DescentRun], fig: Figure | None = None) -> Figure:
    """Left: the surface with each run's path; right: each run's loss above the minimum, step by step.

    With ``fig=None`` the figure is made with ``pyplot`` (so a notebook shows it); widgets pass a figure
    from :func:`labs_lib.widgets.display.new_figure` (and keep a :class:`DescentDrawing` to redraw faster).
    """
    runs = [runs] if isinstance(runs, DescentRun) else list(runs)
    if not runs:
        raise ValueError("plot_descent needs at least one run")
    return DescentDrawing(fig).update(runs)


# --------------------------------------------------------------------------- the widget


@dataclass
class _Last:
    runs: list[DescentRun] = field(default_factory=list)
    png: bytes = b""
    seconds: float = 0.0


class DescentPlayground:
    """Sliders for the learning rate, momentum and steps, a surface and an optimizer; redraws on every change.

    Display it as the last expression of a cell. Tests and notebooks can set ``playground.lr.value`` and read
    :attr:`run` (the last :class:`DescentRun`), :attr:`message` and :attr:`png` (the last picture).
    """

    def __init__(self, surface: str = "valley", optimizer: str = "sgd", lr: float = 0.05, momentum: float = 0.5,
                 steps: int = 50, compare: bool = False, height: str = "360px"):
        get_surface(surface)
        style = {"description_width": "90px"}
        self.surface = widgets.Dropdown(options=[(s.title, s.name) for s in SURFACES.values()], value=surface,
                                        description="surface", style=style, layout={"width": "440px"})
        self.optimizer = widgets.Dropdown(options=[(v, k) for k, v in OPTIMIZERS.items()], value=optimizer,
                                          description="optimizer", style=style)
        self.lr = widgets.FloatLogSlider(value=lr, base=10, min=-4, max=1, step=0.05, description="learning rate",
                                         readout_format=".3g", continuous_update=False, style=style)
        self.momentum = widgets.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01, description="momentum μ",
                                            continuous_update=False, style=style)
        self.steps = widgets.IntSlider(value=steps, min=1, max=200, description="steps", continuous_update=False,
                                       style=style)
        self.compare = widgets.Checkbox(value=compare, description="all four optimizers at this rate", indent=False)
        self.status = widgets.HTML()
        self.errors: list[str] = []  # full tracebacks of anything that went wrong, newest last
        self._last = _Last()
        self._drawing = DescentDrawing(display.new_figure(10, 3.8, dpi=80), blit=True)  # a move only changes data
        controls = {"surface": self.surface, "optimizer": self.optimizer, "lr": self.lr,
                    "momentum": self.momentum, "steps": self.steps, "compare": self.compare}
        self.optimizer.observe(self._on_optimizer, "value")
        self._on_optimizer()
        self.output = widgets.interactive_output(self._update, controls)
        self.output.layout = widgets.Layout(height=height, overflow="hidden")
        self.widget = widgets.VBox(
            [widgets.HBox([self.surface, self.optimizer]), widgets.HBox([self.lr, self.momentum]),
             widgets.HBox([self.steps, self.compare]), self.status, self.output],
        )
        self.widget.add_class("labs-descent-playground")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _on_optimizer(self, change=None) -> None:
        """Momentum only means something for 'SGD + momentum': grey the slider out otherwise."""
        self.momentum.disabled = self.optimizer.value != "momentum"
        self.momentum.description_tooltip = (
            "used by SGD + momentum only" if self.momentum.disabled else "μ: how much of the last step is kept"
        )

    def _update(self, surface: str, optimizer: str, lr: float, momentum: float, steps: int, compare: bool) -> None:
        """Run and draw (called by ``interactive_output`` with the controls' values)."""
        start = time.perf_counter()
        with display.errors_shown_in(self.status, self.errors):
            names = list(OPTIMIZERS) if compare else [optimizer]
            runs = [descend(surface, name, lr, steps, momentum) for name in names]
            if compare:  # the selected optimizer first: its message is the one shown
                runs.sort(key=lambda r: r.optimizer != optimizer)
            self._drawing.update(runs)
            png = self._drawing.png()
            self._last = _Last(runs, png, time.perf_counter() - start)
            self.status.value = display.message_html(runs[0].message, runs[0].kind)
            ipy_display(Image(png))

    @property
    def runs(self) -> list[DescentRun]:
        """The runs drawn last (one, or four when comparing)."""
        return self._last.runs

    @property
    def run(self) -> DescentRun | None:
        """The run of the selected optimizer, drawn last."""
        return self._last.runs[0] if self._last.runs else None

    @property
    def message(self) -> str:
        return self.run.message if self.run else ""

    @property
    def png(self) -> bytes:
        """The picture drawn last, as PNG bytes."""
        return self._last.png

    @property
    def seconds(self) -> float:
        """How long the last update took (run, draw and render)."""
        return self._last.seconds


def descent_playground(**kwargs) -> DescentPlayground:
    """The gradient-descent playground (see :class:`DescentPlayground` for the arguments)."""
    return DescentPlayground(**kwargs)
