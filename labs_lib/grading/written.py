"""Written answers graded by hand: the review sheet, and the marker's points taken into the gradebook.

A written answer is a markdown cell with ``{"labs": {"exercise": ID, "role": "written", "points": P}}`` and an
optional ``"rubric"`` (:mod:`~labs_lib.grading.schema`; nbgrader's manually graded answers and tasks read as
such). Every ``labs grade`` run reads each submission as grading reads it (:mod:`~labs_lib.grading.submissions`;
nothing runs) and finds the student's answer cell by its ``labs`` metadata, else its nbgrader ``grade_id``, else
its cell id (as :func:`labs_lib.grading.assemble.solution_sources` finds solution cells). For a task (the cell is
the question) the answer is the cells the student added after it. It then writes, in the output folder:

- ``review/written.csv``: one row per student and written answer, columns ``student, exercise, max, points,
  comment, answer``, sorted by exercise, then student. The marker fills in ``points`` (a number from 0 to
  ``max``; ``1,5`` reads as 1.5) and ``comment`` (shown to the student). When the sheet is written again, the
  points and comments already in it are kept; only ``max`` and ``answer`` are refreshed. Rows the run does not
  produce (another notebook's answers, a student whose submission is gone) are kept as they are. The file is
  UTF-8 with RFC 4180 quoting (the csv module); a sheet saved by a spreadsheet with a byte-order mark or with
  ``;`` as the separator reads too. The student-written cells (``student``, ``answer``) are neutralised against
  formula injection as :func:`labs_lib.grading.lms.neutralise` does.
- ``review/written.html``: per written answer, its rubric and the model answer (the source cell's solution
  region) beside every student's answer, with the points and comment the sheet holds now. Rendered from
  ``templates/written.html.j2`` with autoescaping (:mod:`~labs_lib.grading.pages`): an answer is shown as its
  markdown text, never as markup. The folder is for the marker: the model answers are in it.

What the sheet says goes into the gradebook as one row per student and written answer, with the gradebook's
columns (:mod:`~labs_lib.grading.gradebook`): ``points`` and ``max``, ``runtime`` 0, ``reason`` the comment, and
the status ``reviewed`` (points filled in), ``pending`` (not yet: 0 points until then), ``missing`` (no
submission, no answer cell, or the answer left as released: 0 points unless the marker gives some) or
``invalid`` (the submission cannot be read). The late penalty, if any, applies to the whole notebook, written
answers included. A points cell that is not a number from 0 to ``max`` is a warning naming the line and the row,
which then counts as pending; the text stays in the sheet for the marker to correct. None of this regrades code:
:func:`review` runs before any kernel, and :mod:`~labs_lib.grading.grade` merges its results into the rows and
feedback pages as it does for late penalties.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs_lib.grading import lms, nbgrader, pages, release, schema, sheets, submissions
from labs_lib.grading.gradebook import write_atomic
from labs_lib.grading.vocab import Status

FOLDER = "review"
CSV_NAME = "written.csv"
HTML_NAME = "written.html"
COLUMNS = ("student", "exercise", "max", "points", "comment", "answer")
REVIEWED, PENDING = "reviewed", "pending"
MISSING, INVALID = Status.MISSING, Status.INVALID  # shared with the exercises' statuses
STATUSES = (REVIEWED, PENDING)  # the statuses only written answers have (missing and invalid are shared)


class SheetError(ValueError):
    """The review sheet cannot be read (its header, its encoding): it is left as it is, never overwritten."""


@dataclass
class Answer:
    """One student's answer to one written exercise, as found in their submission."""

    student: str
    exercise: str
    max: float
    text: str  # the markdown source ('' when there is no answer)
    state: str  # "answered", "empty", "unchanged", "no cell", "no submission", "invalid"
    why: str = ""  # why there is no answer, for the marker and the student


@dataclass
class Mark:
    """What the marker wrote in one row of the sheet."""

    points: str  # the cell as written ('' when empty)
    comment: str
    line: int  # the row's first line in the file


@dataclass
class Review:
    """What :func:`review` found and wrote: the gradebook results per student and what to tell the instructor."""

    csv_path: Path | None
    html_path: Path | None
    results: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # student -> exercise -> result
    warnings: list[str] = field(default_factory=list)
    reviewed: int = 0
    pending: int = 0


STATE_TEXT = {"unchanged": "not answered: the cell is as it was released", "empty": "not answered: nothing written",
              "no cell": "the answer cell is not in the submission (deleted?)",
              "no submission": "no submission", "invalid": "the submission cannot be read"}


def sheet_path(folder: Path) -> Path:
    """Where the review sheet of an output folder is: ``review/written.csv``."""
    return Path(folder) / FOLDER / CSV_NAME


def parse_points(text: str, maximum: float) -> float | None:
    """The points a marker wrote: None when the cell is empty; raises ValueError saying what to write otherwise.

    ``2``, ``1.5`` and ``1,5`` (a decimal comma) are read; anything that is not a number from 0 to ``maximum`` is
    refused.
    """
    raw = text.strip()
    if not raw:
        return None
    shown = pages.fmt_points(maximum)
    try:
        value = float(raw.replace(",", ".") if raw.count(",") == 1 and "." not in raw else raw)
    except ValueError:
        raise ValueError(f"points {raw!r} is not a number: write a number from 0 to {shown}") from None
    if not math.isfinite(value) or not 0 <= value <= maximum:
        raise ValueError(f"points {raw!r} must be a number from 0 to {shown}")
    return value


def _unneutralise(text: str) -> str:
    """A student id as it was before :func:`lms.neutralise` (which adds a ``'`` before a formula trigger)."""
    if text.startswith("'") and lms.neutralise(text[1:]) == text:
        return text[1:]
    return text


def read_sheet(path: Path) -> tuple[dict[tuple[str, str], Mark], list[dict[str, str]], list[str]]:
    """Read a review sheet: the marks by (student, exercise), every row as read (in order), and warnings.

    A missing file is an empty sheet. Raises :class:`SheetError` when the file cannot be used at all (not UTF-8,
    no ``student``, ``exercise`` or ``points`` column), so that the caller does not overwrite the marker's work.
    """
    path = Path(path)
    if not path.exists():
        return {}, [], []
    table = sheets.read_table(path, "written-answers sheet", SheetError, ",".join(COLUMNS))
    header = [h.strip() for h in table.header]
    missing = [c for c in ("student", "exercise", "points") if c not in header]
    if missing:
        raise SheetError(f"{path} has no {', '.join(missing)} column: its header must be {','.join(COLUMNS)}; "
                         "fix the header (or move the file away to start a new sheet)")
    marks: dict[tuple[str, str], Mark] = {}
    rows: list[dict[str, str]] = []
    warnings: list[str] = []
    for line, row in table.records():
        clean = {c: (row.get(c) or "") for c in COLUMNS}
        clean["student"] = _unneutralise(clean["student"].strip())
        clean["exercise"] = clean["exercise"].strip()
        key = (clean["student"], clean["exercise"])
        where = f"{path.parent.name}/{path.name} line {line}"
        if not key[0] or not key[1]:
            if any(v.strip() for v in clean.values()):
                warnings.append(f"{where}: a row without a student or an exercise is left out")
        elif key in marks:
            warnings.append(f"{where}: a second row for {key[0]}, {key[1]} (the first is line {marks[key].line}); "
                            "only the first is used: delete one")
        else:
            marks[key] = Mark(points=clean["points"], comment=clean["comment"], line=line)
            rows.append(clean)
    return marks, rows, warnings


def _match(cells: list[Any], answer: schema.WrittenAnswer) -> int | None:
    """Index of the student's cell for a written answer: by labs metadata, else nbgrader grade_id, else cell id."""
    for j, cell in enumerate(cells):
        meta = schema.source_meta(cell)
        if isinstance(meta, dict) and meta.get("exercise") == answer.id and meta.get("role") == "written":
            return j
    for j, cell in enumerate(cells):
        theirs = nbgrader.cell_meta(cell)
        if (theirs is not None and nbgrader.kind(theirs) in ("manual", "task") and theirs.get("grade_id") == answer.id
                and schema.source_meta(cell) is None):
            return j
    return next((j for j, cell in enumerate(cells) if answer.cell_id and cell.get("id") == answer.cell_id), None)


def answer_sources(source: Any, submission: Any, name: str = "notebook") -> dict[str, str | None]:
    """The text of each written answer in ``submission`` (None when its cell is not there); nothing runs.

    For a task (the cell is the question), the answer is the cells the student added after it, up to the next
    cell of the source notebook.
    """
    source_ids = {c.get("id") for c in source.cells}
    found: dict[str, str | None] = {}
    for answer in schema.written_answers(source, name):
        j = _match(submission.cells, answer)
        if j is None:
            found[answer.id] = None
        elif answer.task:
            added = []
            for cell in submission.cells[j + 1:]:
                if cell.get("id") in source_ids or schema.source_meta(cell) is not None:
                    break
                added.append(cell.get("source", ""))
            found[answer.id] = "\n\n".join(text for text in added if text.strip())
        else:
            found[answer.id] = submission.cells[j].get("source", "")
    return found


def model_answer(source: Any, answer: schema.WrittenAnswer) -> str:
    """The instructor's answer: the text between the solution markers of the source cell ('' without markers)."""
    text = source.cells[answer.index].get("source", "")
    lines = text.splitlines()
    spans = schema.regions(text, schema.SOLUTION_BEGIN, schema.SOLUTION_END) or []
    return "\n\n".join("\n".join(lines[a + 1:b]).strip() for a, b in spans).strip()


def collect(source: Any, name: str, found: Iterable[submissions.Submission]) -> list[Answer]:
    """Every student's answer to every written answer of ``source`` (submissions read leniently; nothing runs)."""
    written = schema.written_answers(source, name)
    if not written:
        return []
    edition = release.student_edition(source, name)
    answers: list[Answer] = []
    for sub in found:
        texts: dict[str, str | None] = {}
        state, why = "", ""
        if sub.invalid:
            state, why = "invalid", sub.invalid
        elif sub.path is None:
            state, why = "no submission", sub.problem or "no submission"
        else:
            try:
                nb, _ = submissions.load(submissions.read_bytes(sub.path))
                texts = answer_sources(source, nb, name)
            except (submissions.InvalidSubmission, OSError) as error:
                state, why = "invalid", str(error)
            except Exception as error:  # noqa: BLE001 - an odd file must not stop the batch; grading says why too
                state, why = "invalid", f"the submission cannot be read: {error}"
        for w in written:
            text = texts.get(w.id)
            if state:
                answers.append(Answer(sub.student, w.id, float(w.points), "", state, why))
            elif text is None:
                answers.append(Answer(sub.student, w.id, float(w.points), "", "no cell", STATE_TEXT["no cell"]))
            elif not text.strip():
                answers.append(Answer(sub.student, w.id, float(w.points), text, "empty", STATE_TEXT["empty"]))
            elif not w.task and text.strip() == edition.cells[w.index].source.strip():
                answers.append(Answer(sub.student, w.id, float(w.points), text, "unchanged", STATE_TEXT["unchanged"]))
            else:
                answers.append(Answer(sub.student, w.id, float(w.points), text, "answered"))
    return answers


def _result(answer: Answer, mark: Mark | None, warnings: list[str], sheet: str) -> dict[str, Any]:
    """The gradebook result of one answer from the marker's row (see the module docstring for the statuses)."""
    points: float | None = None
    comment = (mark.comment if mark else "").strip()
    if mark is not None:
        try:
            points = parse_points(mark.points, answer.max)
        except ValueError as error:
            warnings.append(f"{sheet} line {mark.line} ({answer.student}, {answer.exercise}): {error}; "
                            "the row counts as pending until you fix it")
    if points is not None:
        status, reason = REVIEWED, comment
    elif answer.state == "answered":
        status, reason = PENDING, "to be graded by hand"
    else:
        status = INVALID if answer.state == "invalid" else MISSING
        reason = answer.why + (f" | {comment}" if comment else "")
    return {"points": points or 0.0, "max": answer.max, "status": status, "reason": reason, "student_reason": reason,
            "runtime": 0.0}


def review(folder: Path, name: str, source: Any, found: list[submissions.Submission]) -> Review:
    """Write the review sheet and page of ``source``'s written answers; return their gradebook results.

    The sheet's existing points and comments are kept. A sheet that cannot be read is left untouched (a
    warning says what to fix) and its answers count as pending. Nothing is written when the notebook has no
    written answers.
    """
    answers = collect(source, name, found)
    if not answers and not schema.written_answers(source, name):
        return Review(None, None)
    path = sheet_path(folder)
    shown_path = f"{FOLDER}/{CSV_NAME}"
    report = Review(path, Path(folder) / FOLDER / HTML_NAME)
    try:
        marks, kept_rows, notes = read_sheet(path)
        readable = True
    except SheetError as error:
        marks, kept_rows, readable = {}, [], False
        notes = [f"{error}; it was not rewritten and its points are not used"]
    students = {a.student for a in answers}
    ids = [w.id for w in schema.written_answers(source, name)]
    for key, mark in marks.items():
        if key[1] in ids and key[0] not in students:
            notes.append(f"{shown_path} line {mark.line}: student {key[0]!r} has no submission of {name}: check the "
                         "spelling against the submission names (the row is kept)")
    for answer in answers:
        result = _result(answer, marks.get((answer.student, answer.exercise)), notes, shown_path)
        report.results.setdefault(answer.student, {})[answer.exercise] = result
        report.reviewed += result["status"] == REVIEWED
        report.pending += result["status"] == PENDING
    report.warnings = [f"{name}: {note}" for note in notes]
    if readable:
        order = {ex: i for i, ex in enumerate(ids)}
        answers.sort(key=lambda a: (order[a.exercise], a.student))
        rows = [{"student": lms.neutralise(a.student), "exercise": a.exercise, "max": pages.fmt_points(a.max),
                 "points": (m.points.strip() if (m := marks.get((a.student, a.exercise))) else ""),
                 "comment": m.comment if m else "", "answer": lms.neutralise(a.text)} for a in answers]
        new_keys = {(a.student, a.exercise) for a in answers}
        rows += [{**r, "student": lms.neutralise(r["student"])} for r in kept_rows
                 if (r["student"], r["exercise"]) not in new_keys]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        write_atomic(path, buffer.getvalue())
    write_atomic(report.html_path, review_page(source, name, answers, report.results, marks, notes))
    return report


def review_page(source: Any, name: str, answers: list[Answer], results: dict[str, dict[str, dict[str, Any]]],
                marks: dict[tuple[str, str], Mark], warnings: list[str]) -> str:
    """``review/written.html``: each written answer's rubric and model answer beside every student's answer."""
    sections = []
    for w in schema.written_answers(source, name):
        rows = []
        for a in (a for a in answers if a.exercise == w.id):
            result = results[a.student][w.id]
            mark = marks.get((a.student, w.id))
            rows.append({"student": a.student, "text": a.text, "state": STATE_TEXT.get(a.state, ""),
                         "status": pages.STATUS_TEXT.get(result["status"], result["status"]),
                         "points": mark.points.strip() if mark else "", "comment": mark.comment if mark else ""})
        sections.append({"id": w.id, "max": float(w.points), "task": w.task, "rubric": w.rubric,
                         "model": model_answer(source, w), "rows": rows})
    return pages.render("written.html.j2", title=f"{name}: written answers", notebook=name, sections=sections,
                        warnings=warnings, csv_name=f"{FOLDER}/{CSV_NAME}")
