"""How the playgrounds show things: figures, messages and errors inside their one ``Output`` widget.

Figures are drawn on a :class:`matplotlib.figure.Figure` made without ``pyplot`` (:func:`new_figure`),
so that they never leak into the notebook's own figures and can be drawn from a training thread.
:func:`show_figure` replaces an ``Output`` widget's content in one message (no flicker, no jump), which is
safe from any thread; ``with out: display(...)`` is not. Messages go through :func:`message_html`, so that a
student sees "diverged at step 12 ...: lower the learning rate" in the widget rather than a traceback.
"""

from __future__ import annotations

import base64
import html
import io
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import ipywidgets as widgets
from matplotlib.figure import Figure

COLORS = {"error": "#b00020", "warning": "#8a5a00", "info": "#1f4e79", "ok": "#1b5e20"}


def new_figure(width: float = 10.0, height: float = 3.8, dpi: float | None = None) -> Figure:
    """A figure that belongs to no ``pyplot`` window: drawn only when asked, safe in a background thread.

    It has its own Agg canvas, so a widget can also draw parts of it and encode the pixels (:func:`canvas_png`).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})  # fast beats small here
    return buffer.getvalue()


def canvas_png(canvas) -> bytes:
    """What an Agg canvas holds now, as PNG bytes (no drawing: for pictures drawn part by part, by blitting)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).save(buffer, "png", compress_level=1)
    return buffer.getvalue()


def png_output(png: bytes, text: str = "<figure>") -> dict:
    """An output record (as the notebook format stores it) holding a PNG image."""
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": text}}


def html_output(markup: str) -> dict:
    """An output record holding HTML."""
    return {"output_type": "display_data", "metadata": {}, "data": {"text/html": markup, "text/plain": markup}}


def with_picture(bundle: dict, png: bytes) -> dict:
    """A widget's display bundle with its current picture beside the widget view: the static fallback.

    JupyterLab renders the widget view (its renderer ranks first); a viewer without a kernel or widget manager
    (the course website, GitHub, nbviewer) shows the picture instead of the widget's ``repr``."""
    if png:
        bundle = {**bundle, "image/png": base64.b64encode(png).decode("ascii")}
    return bundle


def show_figure(out: widgets.Output, fig: Figure, dpi: int = 80) -> bytes:
    """Replace what ``out`` shows with ``fig``; returns the PNG bytes that were shown.

    Setting ``out.outputs`` is one state update, so the old picture is swapped for the new one without
    a blank frame (what ``clear_output(wait=True)`` achieves inside ``with out:``), from any thread.
    """
    png = figure_png(fig, dpi)
    out.outputs = (png_output(png, f"<figure: {fig.get_suptitle() or 'plot'}>"),)
    return png


def show_png(out: widgets.Output, png: bytes, text: str = "<figure>") -> None:
    """Replace what ``out`` shows with an image already encoded (for example by :func:`canvas_png`), in one update."""
    out.outputs = (png_output(png, text),)


def show_html(out: widgets.Output, markup: str) -> None:
    """Replace what ``out`` shows with HTML (for example a message instead of a figure)."""
    out.outputs = (html_output(markup),)


def message_html(text: str, kind: str = "info") -> str:
    """A short message as HTML, coloured by ``kind`` ('error', 'warning', 'info' or 'ok')."""
    color = COLORS.get(kind, COLORS["info"])
    weight = "bold" if kind in ("error", "warning") else "normal"
    return f'<div class="labs-message labs-{kind}" style="color:{color};font-weight:{weight}">{html.escape(text)}</div>'


def diverged_message(step: int, where: str = "", reason: str = "loss became inf/NaN") -> str:
    """The course's one wording for a run that blew up: 'diverged at step N (...): lower the learning rate'."""
    place = f" ({where})" if where else ""
    return f"diverged at step {step}{place} ({reason}): lower the learning rate"


def error_text(error: BaseException) -> str:
    """A one-line description of an error for a student: the message, and the type only when there is none."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, (ValueError, TypeError)):
        return message
    return f"{type(error).__name__}: {message}"


@contextmanager
def errors_shown_in(status: widgets.HTML, log: list[str] | None = None) -> Iterator[None]:
    """Run a widget handler; any exception becomes a red message in ``status`` instead of a traceback.

    The full traceback is appended to ``log`` (when given), so a test or an instructor can still read it.
    """
    try:
        yield
    except Exception as error:  # noqa: BLE001 - a widget must never raise into the notebook
        status.value = message_html(error_text(error), "error")
        if log is not None:
            log.append(traceback.format_exc())
