"""nbgrader's cell metadata: read as the course's ``labs`` metadata, and written beside it in student editions.

The layout followed is nbgrader's cell metadata schema (``nbgrader/nbgraderformat/v3.json``; v4 adds only the
run-time ``duplicate`` flag): ``cell.metadata["nbgrader"]`` holds ``schema_version``, ``grade_id`` (letters,
digits, ``_``, ``-``), the booleans ``solution``, ``grade``, ``locked`` and ``task``, and ``points`` (a number
>= 0, only when ``grade`` is true). nbgrader's "Creating assignments" guide names the cell types, which map so:

==========================  ===============================  ==============================================
nbgrader cell type          nbgrader metadata                labs metadata
==========================  ===============================  ==============================================
autograded answer           solution, not grade              ``role: solution`` of exercise ``grade_id``
autograder tests            grade (points), not solution     ``role: tests`` (points) of the answer before it
manually graded answer      solution and grade (points)      ``role: written`` (markdown only), graded by hand
manually graded task        task (points)                    ``role: written`` with ``task: true``
read-only                   locked only                      nothing: every non-solution cell is locked anyway
==========================  ===============================  ==============================================

**Pairing.** nbgrader does not link an answer to its tests. Here an autograded-answer cell is paired with the
first autograder-tests cell after it, before the next answer cell; the pair is one exercise, named by the answer
cell's ``grade_id``, worth the tests cell's points. An answer cell without ``### BEGIN SOLUTION`` markers is
all solution (nbgrader's student version replaces the whole cell): the in-memory notebook gets the markers around
it, so that the release stubs the whole cell (the file on disk is never changed). What labs cannot grade is an error that says what to change:
an answer with no tests cell before the next answer, a tests cell with no answer before it, a second tests cell
for the same answer (labs scores one tests cell per exercise: merge them, adding the points), fractional or zero
points, and a manually graded *code* answer (labs would run the instructor's code in its place).

**Where.** :func:`normalise` is called by :func:`labs_lib.grading.schema.find_problems`, so every reader of the
schema (release, the grading copy, ``labs grade``) sees the same ``labs`` metadata. A notebook is converted only
when none of its cells carries ``labs`` exercise metadata (an edition written by ``labs release --nbgrader`` has
both, and its ``labs`` metadata wins), and only when the conversion has no problem, so converting twice changes
nothing and a broken notebook reports the same problems every time.

:func:`nbgrader_metadata` is the other direction, for ``labs release --nbgrader``: it writes the source form of
the metadata (no ``checksum``: nbgrader computes checksums itself and treats them as optional).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 3  # the nbgrader cell metadata version written by `labs release --nbgrader`
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"  # the same as labs_lib.grading.schema's
GRADE_ID = re.compile(r"[A-Za-z0-9_-]+")  # nbgrader's grade_id pattern (non-empty)


@dataclass
class Conversion:
    """The ``labs`` metadata derived from a notebook's ``nbgrader`` metadata, by cell index, and what stops it."""

    labs: dict[int, dict[str, Any]] = field(default_factory=dict)
    sources: dict[int, str] = field(default_factory=dict)  # answer cells without markers, wrapped in them
    problems: list[str] = field(default_factory=list)


def cell_meta(cell: Any) -> dict | None:
    """The ``nbgrader`` metadata of a cell when it is an object, else None."""
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else None


def kind(meta: dict) -> str:
    """nbgrader's cell type for a metadata object: ``answer``, ``tests``, ``manual``, ``task``, ``locked`` or ``none``."""
    solution, grade = bool(meta.get("solution")), bool(meta.get("grade"))
    if meta.get("task"):
        return "task"
    if solution and grade:
        return "manual"
    if solution:
        return "answer"
    if grade:
        return "tests"
    return "locked" if meta.get("locked") else "none"


def uses_nbgrader(nb: Any) -> bool:
    """True when some cell carries ``nbgrader`` metadata of a graded kind (answer, tests, manual, task)."""
    return any((m := cell_meta(c)) is not None and kind(m) not in ("locked", "none") for c in nb.cells)


def _has_labs(nb: Any) -> bool:
    return any(isinstance(c.get("metadata", {}).get("labs"), dict) for c in nb.cells)


def _points(meta: dict, where: str, problems: list[str]) -> int | None:
    points = meta.get("points")
    if isinstance(points, bool) or not isinstance(points, (int, float)):
        problems.append(f"{where}: nbgrader points must be a number, got {points!r}")
        return None
    if points <= 0 or float(points) != int(points):
        problems.append(f"{where}: labs grades whole points > 0; nbgrader points {points!r} "
                        "(set them to a positive whole number in the nbgrader metadata)")
        return None
    return int(points)


def convert(nb: Any) -> Conversion:
    """The ``labs`` metadata that :func:`normalise` would write (the notebook is left unchanged)."""
    result = Conversion()
    problems = result.problems
    open_answer: tuple[int, str] | None = None  # (cell index, exercise id) of the answer waiting for its tests
    closed: dict[str, int] = {}  # exercise id -> tests cell index
    last_answer: tuple[int, str] | None = None
    seen_ids: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        meta = cell_meta(cell)
        if meta is None:
            continue
        what = kind(meta)
        if what in ("locked", "none"):
            continue
        grade_id = meta.get("grade_id")
        where = f"cell {i} (nbgrader {what.replace('answer', 'autograded answer')} {grade_id!r})"
        if not isinstance(grade_id, str) or not GRADE_ID.fullmatch(grade_id):
            problems.append(f"cell {i}: an nbgrader {what} cell needs a grade_id of letters, digits, '_' or '-', "
                            f"got {grade_id!r}")
            continue
        if grade_id in seen_ids:
            problems.append(f"{where}: the grade_id is already used by cell {seen_ids[grade_id]}")
            continue
        seen_ids[grade_id] = i
        if what in ("answer", "manual", "task") and open_answer is not None:
            problems.append(f"cell {open_answer[0]} (nbgrader autograded answer {open_answer[1]!r}): no autograder-tests "
                            f"cell follows it before the next answer (cell {i}); labs pairs each answer with the first "
                            "tests cell after it: add one, or turn the answer into a read-only cell")
            open_answer = None
        if what == "answer":
            if cell.get("cell_type") != "code":
                problems.append(f"{where}: an autograded answer must be a code cell")
                continue
            open_answer = last_answer = (i, grade_id)
            result.labs[i] = {"exercise": grade_id, "role": "solution"}
            if not any(line.strip() in (SOLUTION_BEGIN, SOLUTION_END) for line in cell.get("source", "").splitlines()):
                # nbgrader replaces the whole of an answer cell without markers: here the whole cell is the region
                result.sources[i] = f"{SOLUTION_BEGIN}\n{cell.get('source', '')}\n{SOLUTION_END}"
        elif what == "tests":
            points = _points(meta, where, problems)
            if open_answer is None:
                if last_answer is not None and last_answer[1] in closed:
                    problems.append(f"{where}: a second autograder-tests cell for the answer {last_answer[1]!r} "
                                    f"(its tests are cell {closed[last_answer[1]]}); labs scores one tests cell per "
                                    "exercise: merge the two cells and add their points")
                else:
                    problems.append(f"{where}: no autograded-answer cell before it; labs pairs a tests cell with "
                                    "the answer cell (solution: true, grade: false) just before it")
                continue
            if points is not None:
                result.labs[i] = {"exercise": open_answer[1], "role": "tests", "points": points}
            closed[open_answer[1]] = i
            open_answer = None
        else:  # a manually graded answer or task
            points = _points(meta, where, problems)
            if what == "manual" and cell.get("cell_type") != "markdown":
                problems.append(f"{where}: a manually graded code answer is not supported (labs would run the "
                                "instructor's code in its place): make it an autograded answer with a tests cell, "
                                "or a markdown answer")
                continue
            last_answer = None
            if points is not None:
                result.labs[i] = {"exercise": grade_id, "role": "written", "points": points}
                if what == "task":
                    result.labs[i]["task"] = True
    if open_answer is not None:
        problems.append(f"cell {open_answer[0]} (nbgrader autograded answer {open_answer[1]!r}): no autograder-tests "
                        "cell after it; labs pairs each answer with the first tests cell after it: add one")
    return result


def normalise(nb: Any) -> list[str]:
    """Give a notebook in nbgrader's format the equivalent ``labs`` metadata, in place; return the problems.

    Answer cells without solution markers get them around their whole source. Nothing is written when the
    notebook already carries ``labs`` metadata, uses no graded nbgrader cell, or cannot be converted (then the
    problems say why, each with its cell index). Calling it again changes nothing.
    """
    if _has_labs(nb) or not uses_nbgrader(nb):
        return []
    conversion = convert(nb)
    if conversion.problems:
        return conversion.problems
    for i, meta in conversion.labs.items():
        nb.cells[i].metadata["labs"] = meta
    for i, source in conversion.sources.items():
        nb.cells[i].source = source
    return []


def _safe_id(text: str) -> str:
    """``text`` as an nbgrader grade_id: characters outside letters, digits, '_' and '-' become '_'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text) or "cell"


def nbgrader_metadata(nb: Any) -> dict[int, dict[str, Any]]:
    """The nbgrader metadata of each graded cell of a notebook with ``labs`` metadata, by cell index.

    Solution cells become autograded answers (``grade_id`` the exercise id), tests cells autograder tests (locked,
    with the points; ``grade_id`` kept from the source's nbgrader metadata when there is one, else
    ``<exercise>_tests``), written answers manually graded answers or tasks. Ids are made nbgrader-safe and unique.
    """
    result: dict[int, dict[str, Any]] = {}
    used: set[str] = set()

    def unique(wanted: str) -> str:
        base = candidate = _safe_id(wanted)
        n = 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        used.add(candidate)
        return candidate

    for i, cell in enumerate(nb.cells):
        labs = cell.get("metadata", {}).get("labs")
        if not isinstance(labs, dict) or labs.get("role") not in ("solution", "tests", "written"):
            continue
        old = cell_meta(cell) or {}
        role, ex = labs["role"], str(labs.get("exercise", ""))
        meta: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "grade": False, "solution": False, "locked": False}
        if role == "solution":
            meta.update(solution=True, grade_id=unique(ex))
        elif role == "tests":
            tests_id = old.get("grade_id") if isinstance(old.get("grade_id"), str) else f"{ex}_tests"
            meta.update(grade=True, locked=True, points=labs.get("points"), grade_id=unique(tests_id))
        elif labs.get("task"):
            meta.update(task=True, locked=True, points=labs.get("points"), grade_id=unique(ex))
        else:
            meta.update(solution=True, grade=True, points=labs.get("points"), grade_id=unique(ex))
        result[i] = meta
    return result
