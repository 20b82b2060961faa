"""What the grader hands back: one HTML page per student, and a summary with a score histogram.

A student's page shows their score, each exercise's points, status and the failing check's message,
and the outputs of their own cells (solution cells and cells they added: text and plots). It never
contains the hidden tests: the grader does not keep the tests cells' code or outputs, only the
message of the check that failed, and any line of hidden test code that shows up in a student's
output (a submission that prints the cells it sees) is removed. Everything is HTML-escaped; nothing a
student wrote is rendered as HTML.

The summary (``summary.html``, ``score_histogram.png``) is for the instructor: the distribution of
scores, each exercise's pass rate and statuses, and the submissions to look at (grader errors,
crashes, tampering, constructs flagged by :mod:`labs_lib.grading.review`).
"""

from __future__ import annotations

import datetime as dt
import html
import statistics
from pathlib import Path
from typing import Any

from labs_lib.grading import submissions
from labs_lib.grading.gradebook import Gradebook, write_atomic

STATUS_TEXT = {
    "passed": "passed", "failed": "failed", "timeout": "timed out", "memory": "memory limit", "crashed": "kernel crashed",
    "missing": "missing", "invalid": "not gradable", "tampered": "not trusted", "error": "grader error",
}
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .35rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.passed { color: #176f2c; font-weight: 600; } .other { color: #a4161a; font-weight: 600; }
pre { background: #f7f7f7; padding: .6rem; overflow-x: auto; white-space: pre-wrap; max-height: 30rem; }
img { max-width: 100%; }
.note { color: #555; }
"""
def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def student_page(student: str, notebook: str, results: dict[str, dict[str, Any]], cells: list[dict[str, Any]],
                 notes: list[str]) -> str:
    """The HTML feedback page of one student for one notebook."""
    got = sum(r["points"] for r in results.values())
    best = sum(r["max"] for r in results.values())
    rows = []
    for ex, res in results.items():
        css = "passed" if res["status"] == "passed" else "other"
        message = html.escape(res.get("student_reason", res.get("reason", "")) or "")
        rows.append(f"<tr><td>{html.escape(ex)}</td><td>{_fmt(res['points'])} / {_fmt(res['max'])}</td>"
                    f"<td class=\"{css}\">{STATUS_TEXT.get(res['status'], res['status'])}</td><td>{message}</td></tr>")
    parts = [
        f"<h1>{html.escape(notebook)}: feedback for {html.escape(student)}</h1>",
        f"<p><strong>Score: {_fmt(got)} / {_fmt(best)}</strong></p>",
        "<table><tr><th>exercise</th><th>points</th><th>status</th><th>what the checks said</th></tr>",
        *rows, "</table>",
    ]
    if notes:
        parts.append("<h2>Notes</h2><ul class=\"note\">" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    shown = [c for c in cells if c.get("outputs") or c.get("status") == "error" or c.get("truncated")]
    if shown:
        parts.append("<h2>Your cells' output</h2>")
    for cell in shown:
        label = {"solution": "your solution", "stub": "the release stub (your solution was missing)",
                 "added": "a cell you added"}.get(cell.get("kind"), cell.get("kind"))
        ex = f" ({html.escape(cell['exercise'])})" if cell.get("exercise") else ""
        parts.append(f"<h3>{html.escape(str(label))}{ex}</h3>")
        for out in cell.get("outputs", []):
            if out["type"] == "image":
                parts.append(f"<img alt=\"plot\" src=\"data:image/png;base64,{html.escape(out['data'])}\">")
            else:
                parts.append(f"<pre>{html.escape(out['text'])}</pre>")
        if cell.get("truncated"):
            parts.append(f"<p class=\"note\">{cell['truncated']:,} bytes of further output were dropped.</p>")
    parts.append(f"<p class=\"note\">Graded {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}.</p>")
    return _page(f"{notebook}: {student}", "\n".join(parts))


def write_student_page(folder: Path, notebook: str, student: str, results: dict[str, dict[str, Any]],
                       cells: list[dict[str, Any]], notes: list[str]) -> Path:
    """Write ``feedback/<notebook>/<file name>.html`` under ``folder`` (:func:`submissions.file_name`); returns its path."""
    path = Path(folder) / "feedback" / Path(notebook).stem / f"{submissions.file_name(student)}.html"
    write_atomic(path, student_page(student, notebook, results, cells, notes))
    return path


def histogram(folder: Path, groups: dict[str, tuple[list[float], float]]) -> Path:
    """``score_histogram.png``: one panel per notebook, the distribution of students' total points."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    names = list(groups) or ["(nothing graded)"]
    fig = Figure(figsize=(6, 3.2 * len(names)), layout="constrained")
    axes = fig.subplots(len(names), 1, squeeze=False)[:, 0]
    for ax, name in zip(axes, names, strict=True):
        scores, best = groups.get(name, ([], 0.0))
        bins = max(int(best), 1)
        ax.hist(scores, bins=bins + 1, range=(-0.5, bins + 0.5), color="#3a6ea5", edgecolor="white")
        ax.set_title(f"{name}: {len(scores)} student(s)")
        ax.set_xlabel(f"points (out of {_fmt(best)})")
        ax.set_ylabel("students")
    path = Path(folder) / "score_histogram.png"
    fig.savefig(path, dpi=100)
    return path


def write_summary(folder: Path, gradebook: Gradebook, notebooks: dict[str, list[str]],
                  attention: list[tuple[str, str, str]], isolation: str) -> tuple[Path, Path]:
    """``summary.html`` and ``score_histogram.png`` for every notebook graded into ``folder``."""
    groups: dict[str, tuple[list[float], float]] = {}
    parts = ["<h1>Grading summary</h1>",
             f"<p>Kernel isolation: <strong>{html.escape(isolation)}</strong>. Gradebook: <code>gradebook.csv</code>; "
             "feedback pages: <code>feedback/</code>.</p>",
             "<img alt=\"score histogram\" src=\"score_histogram.png\">"]
    for notebook, exercise_ids in notebooks.items():
        totals = gradebook.totals(exercise_ids)
        scores = [p for p, _ in totals.values()]
        best = max((m for _, m in totals.values()), default=0.0)
        groups[notebook] = (scores, best)
        parts.append(f"<h2>{html.escape(notebook)}</h2>")
        if scores:
            parts.append(f"<p>{len(scores)} student(s); mean {statistics.mean(scores):.2f}, median "
                         f"{statistics.median(scores):.2f} of {_fmt(best)} points; "
                         f"{sum(1 for s in scores if s == best)} with full marks.</p>")
        parts.append("<table><tr><th>exercise</th><th>passed</th>" + "".join(
            f"<th>{STATUS_TEXT[s]}</th>" for s in STATUS_TEXT if s != "passed") + "</tr>")
        for ex in exercise_ids:
            statuses = [row["status"] for (student, e), row in gradebook.rows.items() if e == ex]
            counts = {s: statuses.count(s) for s in STATUS_TEXT}
            rate = f"{counts['passed']} / {len(statuses)}" if statuses else "-"
            parts.append(f"<tr><td>{html.escape(ex)}</td><td>{rate}</td>" + "".join(
                f"<td>{counts[s] or ''}</td>" for s in STATUS_TEXT if s != "passed") + "</tr>")
        parts.append("</table>")
    if attention:
        parts.append("<h2>To look at</h2><table><tr><th>student</th><th>notebook</th><th>why</th></tr>")
        parts += [f"<tr><td>{html.escape(s)}</td><td>{html.escape(n)}</td><td>{html.escape(w)}</td></tr>"
                  for s, n, w in attention]
        parts.append("</table>")
    png = histogram(folder, groups)
    path = Path(folder) / "summary.html"
    write_atomic(path, _page("Grading summary", "\n".join(parts)))
    return path, png
