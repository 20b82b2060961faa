"""The exercise schema of the course notebooks: find the graded exercises and check them before any work.

A solution cell carries ``{"labs": {"exercise": ID, "role": "solution"}}`` and holds the instructor's
code between ``### BEGIN SOLUTION`` and ``### END SOLUTION``; the tests cell after it carries
``{"labs": {"exercise": ID, "role": "tests", "points": P}}`` and holds visible checks, then
instructor-only tests between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.

A written answer, graded by hand, is a markdown cell with ``{"labs": {"exercise": ID, "role": "written",
"points": P}}`` (and an optional ``"rubric"``, a text or a list of criteria, shown to the marker by
:mod:`~labs_lib.grading.written`): the release replaces its ``BEGIN SOLUTION`` ... ``END SOLUTION`` regions (or, without markers,
the whole cell) by "YOUR ANSWER HERE"; with ``"task": true`` the cell is the question and stays as it is.
No test scores a written answer: a marker does, in the review sheet :mod:`~labs_lib.grading.written` writes;
:func:`unscored` lists them with their points.

A notebook in nbgrader's format (``nbgrader`` cell metadata, no ``labs`` metadata) is read as if it carried
the equivalent ``labs`` metadata: :func:`find_problems` converts it in place first
(:func:`labs_lib.grading.nbgrader.normalise`, which documents the mapping and how answers pair with tests).

:func:`exercises` returns the exercises of one notebook or raises :class:`SchemaError` listing every
problem with its cell index (missing or duplicate ids, bad points, unbalanced markers, markers in a
cell that is not an exercise cell, which a release would otherwise leak). :func:`check_course`
adds the check that exercise ids are unique across the course.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labs_lib.grading import nbgrader

SOLUTION_BEGIN = nbgrader.SOLUTION_BEGIN  # "### BEGIN SOLUTION", nbgrader's marker
SOLUTION_END = nbgrader.SOLUTION_END
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
ROLES = ("solution", "tests", "written")
WRITTEN_STUB = "YOUR ANSWER HERE"  # what a written answer shows in a student edition (nbgrader's text stub)
EXERCISE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Exercise:
    """One graded exercise of a notebook: its id, points and the two cells that make it."""

    id: str
    points: int
    solution_index: int  # index of the solution cell in the source notebook
    tests_index: int  # index of the tests cell
    solution_cell_id: str
    tests_cell_id: str
    hint: str | None = None  # optional ``labs.hint`` on the solution cell, shown in the release stub


@dataclass(frozen=True)
class WrittenAnswer:
    """A written answer (or an nbgrader task) graded by hand: its id, points and cell."""

    id: str
    points: int
    index: int  # index of the markdown cell in the source notebook
    cell_id: str
    task: bool = False  # the cell is the question (an nbgrader task): the release leaves it as it is
    rubric: str = ""  # optional ``labs.rubric`` (a string, or a list of strings one per criterion): for the marker


class SchemaError(ValueError):
    """The exercise cells of a notebook break the schema; ``problems`` lists each with its cell index."""

    def __init__(self, name: str, problems: list[str]):
        self.name = name
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{name}: {len(problems)} problem(s) with the exercise cells:\n{listed}")


def source_meta(cell: Any) -> Any:
    """The ``labs`` metadata of a cell exactly as it is (None when it has none): what the schema checks."""
    return cell.get("metadata", {}).get("labs")


def labs_meta(cell: Any) -> dict | None:
    """The ``labs`` metadata of a cell, or None when it has none; how the grader reads a submitted cell.

    A cell with no ``labs`` metadata but nbgrader's autograded-answer metadata reads as the solution cell of the
    exercise its ``grade_id`` names: students of a course in nbgrader's format submit the cells nbgrader released.
    """
    meta = source_meta(cell)
    if meta is not None:
        return meta
    theirs = nbgrader.cell_meta(cell)
    if theirs is not None and nbgrader.kind(theirs) == "answer" and isinstance(theirs.get("grade_id"), str):
        return {"exercise": theirs["grade_id"], "role": "solution"}
    return None


def marker_lines(source: str, marker: str) -> list[int]:
    """Line numbers (0-based) whose stripped text is exactly ``marker``."""
    return [i for i, line in enumerate(source.splitlines()) if line.strip() == marker]


def regions(source: str, begin: str, end: str) -> list[tuple[int, int]] | None:
    """(begin_line, end_line) pairs of well-nested marker regions, or None when they do not pair up."""
    lines = source.splitlines()
    pairs, start = [], None
    for i, line in enumerate(lines):
        text = line.strip()
        if text == begin:
            if start is not None:
                return None
            start = i
        elif text == end:
            if start is None:
                return None
            pairs.append((start, i))
            start = None
    return None if start is not None else pairs


def split_hidden(source: str) -> tuple[str, str]:
    """Split a tests cell into (visible part, hidden part); both without the marker lines."""
    lines = source.splitlines()
    spans = regions(source, HIDDEN_BEGIN, HIDDEN_END) or []
    hidden_idx = {i for a, b in spans for i in range(a, b + 1)}
    visible = "\n".join(line for i, line in enumerate(lines) if i not in hidden_idx).rstrip()
    hidden = "\n".join(lines[i] for a, b in spans for i in range(a + 1, b))
    return visible, hidden


def _contains_marker(source: str) -> str | None:
    for marker in (SOLUTION_BEGIN, SOLUTION_END, HIDDEN_BEGIN, HIDDEN_END):
        if marker_lines(source, marker):
            return marker
    return None


def find_problems(nb: Any) -> list[str]:
    """Every schema problem of a notebook, each naming its cell index; an empty list means valid.

    A notebook in nbgrader's format is first given its ``labs`` metadata in place (:func:`nbgrader.normalise`).
    """
    problems: list[str] = nbgrader.normalise(nb)
    seen_ids: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        cell_id = cell.get("id")
        if not cell_id:
            problems.append(f"cell {i} has no cell id: save it with nbformat >= 4.5 (JupyterLab does)")
        elif cell_id in seen_ids:
            problems.append(f"cell {i} has the same cell id {cell_id!r} as cell {seen_ids[cell_id]}")
        else:
            seen_ids[cell_id] = i
    cells: dict[str, dict[str, int]] = {}
    written: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        meta = source_meta(cell)
        source = cell.get("source", "")
        if meta is None:
            marker = _contains_marker(source)
            if marker:
                ignored = (" (its nbgrader metadata is not read: other cells carry labs metadata)"
                           if nbgrader.cell_meta(cell) is not None else "")
                problems.append(f"cell {i} contains {marker!r} but has no labs exercise metadata{ignored}: "
                                "the release would leave it in the student edition")
            continue
        if not isinstance(meta, dict):
            problems.append(f"cell {i}: the labs metadata must be an object, got {meta!r}")
            continue
        ex, role = meta.get("exercise"), meta.get("role")
        if not isinstance(ex, str) or not ex:
            problems.append(f"cell {i}: missing exercise id (labs.exercise)")
            continue
        if not EXERCISE_ID.fullmatch(ex):
            problems.append(f"cell {i}: exercise id {ex!r} should be letters, digits, '-', '_' or '.'")
        if role not in ROLES:
            problems.append(f"cell {i} ({ex}): role must be 'solution', 'tests' or 'written', got {role!r}")
            continue
        if role == "written":
            _check_written(i, ex, cell, meta, written, cells, problems)
            continue
        if ex in written:
            problems.append(f"cell {i}: exercise id {ex!r} is already the written answer in cell {written[ex]}")
            continue
        if cell.get("cell_type") != "code":
            problems.append(f"cell {i} ({ex}): a {role} cell must be a code cell")
        first = cells.setdefault(ex, {}).get(role)
        if first is not None:
            problems.append(f"cell {i}: a second {role} cell for exercise {ex!r} (duplicate id; the first is cell {first})")
            continue
        cells[ex][role] = i
        if role == "solution":
            spans = regions(source, SOLUTION_BEGIN, SOLUTION_END)
            if not spans:
                problems.append(f"cell {i} ({ex}): a solution cell needs '{SOLUTION_BEGIN}' ... '{SOLUTION_END}'")
            if marker_lines(source, HIDDEN_BEGIN) or marker_lines(source, HIDDEN_END):
                problems.append(f"cell {i} ({ex}): hidden tests belong in the tests cell, not the solution cell")
        else:
            points = meta.get("points")
            if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
                problems.append(f"cell {i} ({ex}): points must be a positive integer, got {points!r}")
            if regions(source, HIDDEN_BEGIN, HIDDEN_END) is None:
                problems.append(f"cell {i} ({ex}): unbalanced '{HIDDEN_BEGIN}' / '{HIDDEN_END}' markers")
            if marker_lines(source, SOLUTION_BEGIN) or marker_lines(source, SOLUTION_END):
                problems.append(f"cell {i} ({ex}): solution markers in a tests cell")
    for ex, roles in cells.items():
        if "solution" not in roles:
            problems.append(f"cell {roles['tests']}: exercise {ex!r} has a tests cell but no solution cell")
        elif "tests" not in roles:
            problems.append(f"cell {roles['solution']}: exercise {ex!r} has a solution cell but no tests cell")
        elif roles["tests"] < roles["solution"]:
            problems.append(f"cell {roles['tests']}: the tests of {ex!r} come before its solution (cell {roles['solution']})")
    return problems


def _check_written(i: int, ex: str, cell: Any, meta: dict, written: dict[str, int], cells: dict[str, dict[str, int]],
                   problems: list[str]) -> None:
    """The problems of one written-answer cell (``role: written``)."""
    if ex in written or ex in cells:
        first = written.get(ex, next(iter(cells.get(ex, {}).values()), None))
        problems.append(f"cell {i}: exercise id {ex!r} is already used by cell {first}")
        return
    written[ex] = i
    if cell.get("cell_type") != "markdown":
        problems.append(f"cell {i} ({ex}): a written answer must be a markdown cell (code is graded by a tests cell)")
    points = meta.get("points")
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        problems.append(f"cell {i} ({ex}): points must be a positive integer, got {points!r}")
    source = cell.get("source", "")
    if regions(source, SOLUTION_BEGIN, SOLUTION_END) is None:
        problems.append(f"cell {i} ({ex}): unbalanced '{SOLUTION_BEGIN}' / '{SOLUTION_END}' markers")
    if marker_lines(source, HIDDEN_BEGIN) or marker_lines(source, HIDDEN_END):
        problems.append(f"cell {i} ({ex}): hidden tests in a written answer")
    rubric = meta.get("rubric", "")
    if not (isinstance(rubric, str) or (isinstance(rubric, list) and all(isinstance(r, str) for r in rubric))):
        problems.append(f"cell {i} ({ex}): the rubric must be text or a list of texts (one per criterion), "
                        f"got {rubric!r}")
    if meta.get("task") and marker_lines(source, SOLUTION_BEGIN):
        problems.append(f"cell {i} ({ex}): a task cell is released as it is: it cannot hold a solution region")


def written_answers(nb: Any, name: str = "notebook") -> list[WrittenAnswer]:
    """The written answers (and nbgrader tasks) of ``nb``, graded by hand; raises :class:`SchemaError` when broken."""
    problems = find_problems(nb)
    if problems:
        raise SchemaError(name, problems)
    return [WrittenAnswer(id=m["exercise"], points=int(m["points"]), index=i, cell_id=c.get("id", ""),
                          task=bool(m.get("task")), rubric=_rubric_text(m.get("rubric", "")))
            for i, c in enumerate(nb.cells) if isinstance(m := source_meta(c), dict) and m.get("role") == "written"]


def _rubric_text(rubric: str | list[str]) -> str:
    """A rubric as one text: a list becomes one criterion per line."""
    return "\n".join(f"- {item}" for item in rubric) if isinstance(rubric, list) else rubric


def unscored(nb: Any, name: str = "notebook") -> list[str]:
    """One sentence per written answer of ``nb``: graded by hand, so not in what ``labs grade`` scores."""
    return [f"cell {w.index}: {'task' if w.task else 'written answer'} {w.id!r} ({w.points} point(s)) is graded by "
            "hand: labs grade lists it in review/written.csv for your points" for w in written_answers(nb, name)]


def exercises(nb: Any, name: str = "notebook") -> list[Exercise]:
    """The graded exercises of ``nb`` in notebook order; raises :class:`SchemaError` when the schema is broken."""
    problems = find_problems(nb)
    if problems:
        raise SchemaError(name, problems)
    found: dict[str, dict[str, int]] = {}
    for i, cell in enumerate(nb.cells):
        meta = source_meta(cell)
        if meta and meta["role"] != "written":
            found.setdefault(meta["exercise"], {})[meta["role"]] = i
    result = []
    for ex, roles in found.items():
        solution, tests = nb.cells[roles["solution"]], nb.cells[roles["tests"]]
        hint = source_meta(solution).get("hint")
        result.append(Exercise(id=ex, points=int(source_meta(tests)["points"]), solution_index=roles["solution"],
                               tests_index=roles["tests"], solution_cell_id=solution.get("id", ""),
                               tests_cell_id=tests.get("id", ""), hint=hint if isinstance(hint, str) else None))
    return sorted(result, key=lambda e: e.tests_index)


def read_notebook(path: Path) -> Any:
    """Read a source notebook (nbformat 4)."""
    import nbformat

    return nbformat.read(str(path), as_version=4)


def check_course(paths: Iterable[Path]) -> dict[Path, list[Exercise]]:
    """Check every notebook and that exercise ids are unique across them; raise :class:`SchemaError` listing all problems."""
    result: dict[Path, list[Exercise]] = {}
    problems: list[str] = []
    owner: dict[str, str] = {}
    for path in paths:
        nb = read_notebook(path)
        found = find_problems(nb)
        if found:
            problems.extend(f"{path.name}: {p}" for p in found)
            continue
        result[path] = exercises(nb, path.name)
        for ex in result[path]:
            if ex.id in owner:
                problems.append(f"{path.name}: cell {ex.tests_index}: exercise id {ex.id!r} is already used in {owner[ex.id]}")
            owner.setdefault(ex.id, path.name)
    if problems:
        raise SchemaError("course", problems)
    return result
