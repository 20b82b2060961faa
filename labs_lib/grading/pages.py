"""The grading pages rendered from Jinja2 templates: a student's feedback page and the instructor's summary.

The templates are in ``labs_lib/grading/templates/`` (``feedback.html.j2``, ``summary.html.j2`` and the marker's
``written.html.j2`` of :mod:`~labs_lib.grading.written`, all extending ``_page.html.j2``). The environment
autoescapes every value (``autoescape=True``), so a student's text (a
solution's output, a failing check's message, an id) is always shown as text and never becomes markup; a
value the templates do not receive is an error (``StrictUndefined``), not an empty string.

This module only turns plain data into HTML; :mod:`labs_lib.grading.feedback` decides what a page holds
and writes the files. :func:`notebook_summary` and :func:`similar_section` compute the summary's figures
from the gradebook and ``similarity.csv`` rows, so that the template has nothing to compute.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from labs_lib.grading.vocab import Status

if TYPE_CHECKING:
    import jinja2

    from labs_lib.grading.gradebook import Gradebook

STATUS_TEXT = {
    Status.PASSED: "passed", Status.FAILED: "failed", Status.TIMEOUT: "timed out", Status.MEMORY: "memory limit",
    Status.CRASHED: "kernel crashed", Status.MISSING: "missing", Status.INVALID: "not gradable",
    Status.TAMPERED: "not trusted", Status.ERROR: "grader error",
    "reviewed": "graded by hand", "pending": "to be graded by hand",  # written answers (labs_lib.grading.written)
}
CELL_LABELS = {"solution": "your solution", "stub": "the release stub (your solution was missing)",
               "added": "a cell you added"}
MAX_SIMILAR_SHOWN = 100  # pairs listed on the summary page (similarity.csv has them all)


def fmt_points(value: float) -> str:
    """Points as a page shows them: ``2`` for whole numbers, else two decimals (``1.50``)."""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the grading templates: autoescaped, strict about missing values."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("labs_lib.grading", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["points"] = fmt_points
    return env


def render(template: str, **context: Any) -> str:
    """Render one of the grading templates (``feedback.html.j2``, ``summary.html.j2``, ``written.html.j2``)."""
    return environment().get_template(template).render(**context)


def student_page(student: str, notebook: str, results: dict[str, dict[str, Any]], cells: list[dict[str, Any]],
                 notes: list[str], late: str | None = None, deducted: float = 0.0, graded: str | None = None) -> str:
    """The HTML feedback page of one student for one notebook.

    ``results`` maps exercise ids to ``points``, ``max``, ``status`` and ``reason`` (or ``student_reason``, the
    reason as the student may read it), with points before any late penalty; ``cells`` are the records of the
    student's own cells (``kind``, ``exercise``, ``outputs`` of ``{"type": "text", "text"}`` or
    ``{"type": "image", "data": base64 PNG}``, ``truncated`` bytes); ``late`` is the sentence that says how late
    the submission was and ``deducted`` the points the late penalty took; ``graded`` the time shown.
    """
    before = sum(float(r["points"]) for r in results.values())
    rows = [{"exercise": ex, "points": float(res["points"]), "max": float(res["max"]), "status": res["status"],
             "status_text": STATUS_TEXT.get(res["status"], res["status"]),
             "message": res.get("student_reason", res.get("reason", "")) or ""} for ex, res in results.items()]
    shown = [{"label": CELL_LABELS.get(str(c.get("kind")), str(c.get("kind"))), "exercise": c.get("exercise") or "",
              "outputs": [{"type": o.get("type"), "data": o.get("data", ""), "text": o.get("text", "")}
                          for o in c.get("outputs", [])],
              "truncated": int(c.get("truncated") or 0)}
             for c in cells if c.get("outputs") or c.get("status") == "error" or c.get("truncated")]
    return render("feedback.html.j2", title=f"{notebook}: {student}", student=student, notebook=notebook,
                  rows=rows, before=before, deducted=round(float(deducted), 4), got=before - float(deducted),
                  best=sum(float(r["max"]) for r in results.values()), late=late, notes=list(notes), cells=shown,
                  graded=graded or dt.datetime.now().strftime("%Y-%m-%d %H:%M"))


@dataclass
class ExerciseCounts:
    """How the students of one exercise fared: ``rate`` ("3 / 4" passed) and the count of every status."""

    id: str
    rate: str
    counts: dict[str, int]


@dataclass
class LateSubmission:
    """A late student of one notebook: hours late and the points the penalty took."""

    student: str
    hours: float
    deducted: float


@dataclass
class NotebookSummary:
    """The summary figures of one graded notebook."""

    name: str
    scores: list[float]  # each student's total
    best: float  # the notebook's points
    exercises: list[ExerciseCounts]
    policy: str | None = None  # the deadline in words, when there is one
    late: list[LateSubmission] = field(default_factory=list)  # latest first

    @property
    def mean(self) -> float:
        return statistics.mean(self.scores) if self.scores else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.scores) if self.scores else 0.0

    @property
    def full_marks(self) -> int:
        return sum(1 for s in self.scores if s == self.best)


def notebook_summary(gradebook: Gradebook, name: str, exercise_ids: list[str], policy: str | None = None) -> NotebookSummary:
    """The figures of notebook ``name`` from the gradebook (lateness from its ``late_hours`` and ``penalty`` columns)."""
    totals = gradebook.totals(exercise_ids)
    exercises = []
    for ex in exercise_ids:
        statuses = [row["status"] for (_, e), row in gradebook.rows.items() if e == ex]
        counts = {s: statuses.count(s) for s in STATUS_TEXT}
        done = "reviewed" if counts["reviewed"] + counts["pending"] else "passed"  # a written answer: how many marked
        rate = f"{counts[done]} / {len(statuses)}{' reviewed' if done == 'reviewed' else ''}" if statuses else "-"
        exercises.append(ExerciseCounts(ex, rate, counts))
    late: dict[str, LateSubmission] = {}
    for (student, ex), row in gradebook.rows.items():
        hours = row.get("late_hours")
        if ex in exercise_ids and hours and float(hours) > 0:
            entry = late.setdefault(student, LateSubmission(student, float(hours), 0.0))
            entry.deducted += float(row.get("penalty") or 0)
    return NotebookSummary(name=name, scores=[p for p, _ in totals.values()],
                           best=max((m for _, m in totals.values()), default=0.0), exercises=exercises,
                           policy=policy, late=sorted(late.values(), key=lambda s: -s.hours))


@dataclass
class SimilarSection:
    """The summary's similar solutions: how many pairs share fingerprints, and those at or above the threshold."""

    pairs: int
    flagged: list[dict[str, Any]]  # notebook, exercise, student_a, student_b, similarity (float), shared
    threshold: float
    csv_name: str = "similarity.csv"


def similar_section(rows: list[dict[str, str]], threshold: float, csv_name: str = "similarity.csv",
                    max_shown: int = MAX_SIMILAR_SHOWN) -> SimilarSection:
    """The similar pairs to list, from the rows of ``similarity.csv`` (most similar first, at most ``max_shown``)."""
    flagged = [{"notebook": r.get("notebook", ""), "exercise": r.get("exercise", ""), "student_a": r.get("student_a", ""),
                "student_b": r.get("student_b", ""), "similarity": float(r.get("similarity") or 0),
                "shared": r.get("shared", "")} for r in rows if float(r.get("similarity") or 0) >= threshold]
    flagged.sort(key=lambda r: -r["similarity"])
    return SimilarSection(pairs=len(rows), flagged=flagged[:max_shown], threshold=threshold, csv_name=csv_name)


def summary_page(isolation: str, notebooks: list[NotebookSummary], attention: list[tuple[str, str, str]],
                 similar: SimilarSection | None = None) -> str:
    """The instructor's ``summary.html``: each notebook's figures, the submissions to look at, the similar pairs."""
    return render("summary.html.j2", title="Grading summary", isolation=isolation, notebooks=notebooks,
                  attention=[tuple(a) for a in attention], similar=similar, status_text=STATUS_TEXT,
                  other_statuses=[s for s in STATUS_TEXT if s != Status.PASSED])
