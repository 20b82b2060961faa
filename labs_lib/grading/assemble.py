"""The grading copy of a submission: the source notebook's cells with the student's solutions in place.

Only the student's solution cells (matched by their ``labs`` metadata, else by cell id) and the code
cells the student added come from the submission. Every other cell (the lesson, the visible and
hidden tests, the parameters cell) is taken from the source notebook, so an edited or deleted tests
cell is simply restored, and the hidden tests exist only in this copy, never in a file the student
sees. A deleted solution cell is replaced by the release stub (later lesson cells then behave as in the
student edition) and its exercise is marked missing.

The grader adds its own cells (tagged ``labs_grading`` in the cell metadata): the :class:`Guard
<labs_lib.grading.kernel_guard.Guard>` first, a snapshot after each lesson cell, a restore before a
lesson cell that follows student code, and around every tests cell a guard and a verification.
Markdown cells are left out: they do not run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import nbformat

from labs_lib.grading import release, review, schema
from labs_lib.grading.vocab import Kind

KINDS = tuple(Kind)
HEAVY_LIBRARIES = ("tensorflow", "keras")  # protected by the guard when the lesson imports them
# Libraries whose import changes the protected ones (importing KerasHub binds attributes of tensorflow.compat and
# tensorflow.keras). When the lesson uses them (directly, or through the labs_lib module named), the guard imports
# them at bootstrap, before any student code, so that what they change is the recorded state and not tampering.
IMPORTED_FIRST = {"keras_hub": ("keras_hub", "labs_lib.gpt2")}
REDACT_MIN_CHARS = 20  # hidden-test lines at least this long are removed from student outputs in feedback


@dataclass
class Assembly:
    """The grading copy and what the grader learned while building it."""

    nb: Any  # the notebook to execute
    exercises: list[schema.Exercise]
    missing: dict[str, str] = field(default_factory=dict)  # exercise id -> why its solution is missing
    notes: dict[str, list[str]] = field(default_factory=dict)  # exercise id -> remarks (matching, restored cells)
    flags: dict[str, list[str]] = field(default_factory=dict)  # exercise id -> constructs to review
    restored_cells: list[int] = field(default_factory=list)  # source indices of locked cells the student had changed
    added_cells: int = 0
    hidden_lines: list[str] = field(default_factory=list)  # for redacting student outputs in feedback


def _grader_cell(kind: Kind, source: str, exercise: str | None = None, index: int | None = None) -> Any:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["labs_grading"] = {"kind": kind, "exercise": exercise, "source_index": index}
    return cell


def _copy(cell: Any, kind: Kind, source: str, exercise: str | None, index: int | None, tags: list | None = None) -> Any:
    new = nbformat.v4.new_code_cell(source)
    new.metadata["labs_grading"] = {"kind": kind, "exercise": exercise, "source_index": index}
    if tags:
        new.metadata["tags"] = list(tags)
    return new


def _match_solutions(submission: Any, exercises: list[schema.Exercise], assembly: Assembly) -> dict[str, int]:
    """Index of the submitted solution cell of each exercise (absent when missing)."""
    chosen: dict[str, int] = {}
    for ex in exercises:
        by_meta = [j for j, c in enumerate(submission.cells)
                   if (m := schema.labs_meta(c)) and isinstance(m, dict) and m.get("exercise") == ex.id
                   and m.get("role") == "solution"]
        by_id = [j for j, c in enumerate(submission.cells) if c.get("id") == ex.solution_cell_id]
        if by_meta:
            pick = next((j for j in by_meta if j in by_id), by_meta[0])
            if len(by_meta) > 1:
                assembly.notes.setdefault(ex.id, []).append(
                    f"{len(by_meta)} cells claim to be the solution of {ex.id}; graded the one "
                    f"{'with the original cell id' if pick in by_id else 'that comes first'}")
        elif by_id:
            pick = by_id[0]
            assembly.notes.setdefault(ex.id, []).append("the solution cell had lost its labs metadata; matched by cell id")
        else:
            assembly.missing[ex.id] = (f"the solution cell of {ex.id} is not in the submission (deleted?): "
                                       "copy it back from the student edition and put your code in it")
            continue
        if submission.cells[pick].get("cell_type") != "code":
            assembly.missing[ex.id] = f"the solution cell of {ex.id} was turned into a {submission.cells[pick].cell_type} cell"
            continue
        chosen[ex.id] = pick
    return chosen


def solution_sources(source: Any, submission: Any, name: str = "notebook") -> dict[str, str]:
    """The code of each exercise's solution cell in ``submission``, matched as for grading (nothing runs)."""
    exercises = schema.exercises(source, name)
    chosen = _match_solutions(submission, exercises, Assembly(nb=None, exercises=exercises))
    return {ex_id: submission.cells[j].source for ex_id, j in chosen.items()}


def assemble(source: Any, submission: Any, name: str = "notebook", nonce: str | None = None) -> Assembly:
    """Build the grading copy of ``submission`` against the ``source`` notebook (solutions and hidden tests)."""
    exercises = schema.exercises(source, name)
    assembly = Assembly(nb=None, exercises=exercises)
    nonce = nonce or secrets.token_hex(6)
    guard = f"_labs_guard_{nonce}"
    by_solution = {ex.solution_index: ex for ex in exercises}
    by_tests = {ex.tests_index: ex for ex in exercises}
    edition = release.student_edition(source, name)
    chosen = _match_solutions(submission, exercises, assembly)
    chosen_cells = {j: ex_id for ex_id, j in chosen.items()}
    source_ids = {c.get("id"): i for i, c in enumerate(source.cells)}

    # Where the student's own extra cells go: after the source cell they followed in the submission.
    added_after: dict[int, list[Any]] = {}
    anchor = -1
    for j, cell in enumerate(submission.cells):
        meta = schema.labs_meta(cell)
        if j in chosen_cells:
            anchor = next(ex.solution_index for ex in exercises if ex.id == chosen_cells[j])
        elif cell.get("id") in source_ids and source_ids[cell.get("id")] not in by_solution:
            i = source_ids[cell.get("id")]
            anchor = i
            if cell.get("source", "") != edition.cells[i].source and edition.cells[i].cell_type == "code":
                assembly.restored_cells.append(i)
        elif isinstance(meta, dict) and meta.get("role") == "tests" and meta.get("exercise") in {e.id for e in exercises}:
            anchor = next(ex.tests_index for ex in exercises if ex.id == meta["exercise"])
        elif isinstance(meta, dict) and meta.get("role") == "solution":
            continue  # a second copy of a solution cell: not graded, not run
        elif cell.get("cell_type") == "code" and cell.get("source", "").strip():
            added_after.setdefault(anchor, []).append(cell)
            assembly.added_cells += 1

    solution_names: set[str] = set()
    for ex in exercises:
        solution_names |= review.bound_names(source.cells[ex.solution_index].source)
    imports: set[str] = set()
    for i, cell in enumerate(source.cells):
        if cell.cell_type == "code" and i not in by_solution:
            tree = review.parse(cell.source)
            for node in (tree.body if tree else []):
                if node.__class__.__name__ == "ImportFrom" and node.module == "labs_lib":
                    imports |= {f"labs_lib.{a.name}" for a in node.names if a.name != "grading"}
            imported = review.imported_modules(cell.source)
            imports |= {m for m in imported if m in HEAVY_LIBRARIES}
            imports |= {first for first, users in IMPORTED_FIRST.items() if set(users) & (imported | imports)}
    protect = sorted(m for m in imports if m in HEAVY_LIBRARIES)
    imports_list = sorted(imports | {"numpy", "math", "labs_lib.checks"})

    cells: list[Any] = [_grader_cell(
        Kind.BOOTSTRAP,
        f"from labs_lib.grading.kernel_guard import Guard as _labs_Guard_{nonce}\n"
        f"{guard} = _labs_Guard_{nonce}(protect={protect!r}, imports={imports_list!r},\n"
        f"    student_names={sorted(solution_names)!r})\n"
        f"del _labs_Guard_{nonce}")]
    student_ran = False

    def exercise_after(index: int) -> str | None:
        later = [ex for ex in exercises if ex.tests_index > index]
        return later[0].id if later else (exercises[-1].id if exercises else None)

    def add_student_cells(index: int) -> None:
        nonlocal student_ran
        for cell in added_after.get(index, []):
            owner = exercise_after(index)
            cells.append(_copy(cell, Kind.ADDED, cell.source, owner, None))
            flags = review.review_flags(cell.source)
            if flags and owner:
                assembly.flags.setdefault(owner, []).extend(f"an added cell, {f}" for f in flags)
            student_ran = True

    add_student_cells(-1)
    for i, cell in enumerate(source.cells):
        if cell.cell_type != "code":
            add_student_cells(i)
            continue
        if i in by_solution:
            ex = by_solution[i]
            if ex.id in chosen:
                code = submission.cells[chosen[ex.id]].source
                cells.append(_copy(cell, "solution", code, ex.id, i))
                flags = review.review_flags(code)
                if flags:
                    assembly.flags.setdefault(ex.id, []).extend(f"solution cell, {f}" for f in flags)
            else:
                cells.append(_copy(cell, Kind.STUB, release.stub_solution(cell.source, ex), ex.id, i))
            student_ran = True
        elif i in by_tests:
            ex = by_tests[i]
            visible, hidden = schema.split_hidden(cell.source)
            assembly.hidden_lines += [line.strip() for line in hidden.splitlines() if len(line.strip()) >= REDACT_MIN_CHARS]
            names = sorted(review.bound_names(cell.source))
            drop = sorted(review.bound_names(hidden) - review.bound_names(visible))
            if ex.id not in assembly.missing:
                cells.append(_grader_cell(Kind.GUARD, f"{guard}.before_tests({ex.id!r})", ex.id, i))
                cells.append(_copy(cell, "tests", cell.source, ex.id, i))
                cells.append(_grader_cell(Kind.VERIFY, f"{guard}.after_tests({ex.id!r}, {names!r}, drop={drop!r})", ex.id, i))
            else:  # the lesson may still need what the visible checks define: run them, ungraded
                cells.append(_grader_cell(Kind.RESTORE, f"{guard}.restore_names()", None, i))
                cells.append(_copy(cell, Kind.LESSON, visible, None, i))
                cells.append(_grader_cell(Kind.SNAPSHOT, f"{guard}.snapshot({names!r})", None, i))
            student_ran = False
        else:
            if student_ran:
                cells.append(_grader_cell(Kind.RESTORE, f"{guard}.restore_names()", None, i))
                student_ran = False
            tags = cell.metadata.get("tags", [])
            cells.append(_copy(cell, Kind.LESSON, cell.source, None, i, tags=[t for t in tags if t == "parameters"]))
            names = sorted(review.bound_names(cell.source))
            if names:
                cells.append(_grader_cell(Kind.SNAPSHOT, f"{guard}.snapshot({names!r})", None, i))
        add_student_cells(i)
    for i in assembly.restored_cells:
        owner = exercise_after(i)
        if owner:
            assembly.notes.setdefault(owner, []).append(f"cell {i} is part of the lesson: your changes to it were not used")
    for uid, cell in enumerate(cells):  # papermill inserts a cell: the grader finds its own cells by this id
        cell.metadata["labs_grading"]["uid"] = uid
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    assembly.nb = nb
    return assembly
