"""What the grader hands back: one HTML page per student, and a summary with a score histogram.

A student's page shows their score, each exercise's points, status and the failing check's message,
and the outputs of their own cells (solution cells and cells they added: text and plots). It never
contains the hidden tests: the grader does not keep the tests cells' code or outputs, only the
message of the check that failed, and any line of hidden test code that shows up in a student's
output (a submission that prints the cells it sees) is removed. Everything is HTML-escaped; nothing a
student wrote is rendered as HTML: the pages come from Jinja2 templates
(``templates/``, :mod:`~labs_lib.grading.pages`) with autoescaping.

With a deadline (:mod:`~labs_lib.grading.deadlines`) the page says when the notebook was submitted (and
where that time came from), when it was due, how late it was and what the late penalty took; the score is
after the penalty. What a page is made of is kept next to the output folder's gradebook
(``.labs-feedback/<notebook>/<file name>.json``, never handed to students) so that a change of deadline
re-renders the page without running the submission again (:func:`rewrite_student_page`); so do new marks for the
written answers (:mod:`~labs_lib.grading.written`), shown as rows with the marker's comment.

The summary (``summary.html``, ``score_histogram.png``) is for the instructor: the distribution of
scores, each exercise's pass rate and statuses, the deadline and late submissions, the submissions to look
at (grader errors, crashes, tampering, constructs flagged by :mod:`labs_lib.grading.review`), and the most
similar pairs of solutions (:mod:`~labs_lib.grading.similarity`).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from labs_lib.grading import deadlines, pages, similarity, submissions
from labs_lib.grading.gradebook import Gradebook, write_atomic

PAGE_DATA = ".labs-feedback"  # what each page is made of, to re-render it when only the late penalty changes

STATUS_TEXT = pages.STATUS_TEXT  # the words a status is shown as


def student_page(student: str, notebook: str, results: dict[str, dict[str, Any]], cells: list[dict[str, Any]],
                 notes: list[str], lateness: deadlines.Lateness | None = None,
                 penalties: dict[str, float] | None = None, graded: str | None = None) -> str:
    """The HTML feedback page of one student for one notebook (``results``: points before any late penalty).

    Rendered from ``templates/feedback.html.j2`` with autoescaping (:mod:`~labs_lib.grading.pages`): nothing a
    student wrote or printed becomes markup."""
    deducted = round(sum((penalties or {}).values()), 4)
    return pages.student_page(student, notebook, results, cells, notes,
                              late=lateness.describe(deducted) if lateness else None, deducted=deducted,
                              graded=graded or _now())


def _now() -> str:
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M")


def _page_paths(folder: Path, notebook: str, student: str) -> tuple[Path, Path]:
    name = submissions.file_name(student)
    stem = Path(notebook).stem
    return (Path(folder) / "feedback" / stem / f"{name}.html", Path(folder) / PAGE_DATA / stem / f"{name}.json")


def write_student_page(folder: Path, notebook: str, student: str, results: dict[str, dict[str, Any]],
                       cells: list[dict[str, Any]], notes: list[str], lateness: deadlines.Lateness | None = None,
                       penalties: dict[str, float] | None = None) -> Path:
    """Write ``feedback/<notebook>/<file name>.html`` under ``folder`` (:func:`submissions.file_name`); returns its path.

    What the page is made of goes to ``.labs-feedback/`` too, for :func:`rewrite_student_page`.
    """
    path, data = _page_paths(folder, notebook, student)
    graded = _now()
    write_atomic(data, json.dumps({"student": student, "results": results, "cells": cells, "notes": notes,
                                   "graded": graded}, default=str) + "\n")
    write_atomic(path, student_page(student, notebook, results, cells, notes, lateness, penalties, graded))
    return path


def rewrite_student_page(folder: Path, notebook: str, student: str, results: dict[str, dict[str, Any]],
                         lateness: deadlines.Lateness | None, penalties: dict[str, float]) -> Path | None:
    """Render a graded student's page again with new lateness (no regrading); None when its data is not kept.

    ``results`` are the gradebook's (points before the penalty); the cells and notes come from the kept data. A
    result with a ``student_reason`` (a written answer's new mark and comment) replaces its status and message too.
    """
    path, data = _page_paths(folder, notebook, student)
    try:
        kept = json.loads(data.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None  # a page written before its data was kept: --force writes it again
    shown = kept.get("results", {})  # what the student was told (never the instructor's review flags)
    merged = {ex: {**(shown.get(ex) or {"status": res["status"], "student_reason": ""}),
                   "points": res["points"], "max": res["max"],
                   **({"status": res["status"], "student_reason": res["student_reason"]}  # new marks (written answers)
                      if "student_reason" in res else {})} for ex, res in results.items()}
    write_atomic(path, student_page(student, notebook, merged, kept.get("cells", []), kept.get("notes", []),
                                    lateness, penalties, kept.get("graded")))
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
        ax.set_xlabel(f"points (out of {pages.fmt_points(best)})")
        ax.set_ylabel("students")
    path = Path(folder) / "score_histogram.png"
    fig.savefig(path, dpi=100)
    return path


def write_summary(folder: Path, gradebook: Gradebook, notebooks: dict[str, list[str]],
                  attention: list[tuple[str, str, str]], isolation: str, policies: dict[str, str] | None = None,
                  similarity_threshold: float = similarity.DEFAULT_THRESHOLD) -> tuple[Path, Path]:
    """``summary.html`` and ``score_histogram.png`` for every notebook graded into ``folder``.

    ``policies`` describes each notebook's deadline (:meth:`deadlines.DeadlinePolicy.describe`); the similar
    pairs come from ``similarity.csv``.
    """
    summaries = [pages.notebook_summary(gradebook, nb, ids, (policies or {}).get(nb)) for nb, ids in notebooks.items()]
    rows = similarity.read_csv(Path(folder))
    similar = pages.similar_section(rows, similarity_threshold, similarity.CSV_NAME) if rows else None
    png = histogram(folder, {summary.name: (summary.scores, summary.best) for summary in summaries})
    path = Path(folder) / "summary.html"
    write_atomic(path, pages.summary_page(isolation, summaries, attention, similar))
    return path, png
