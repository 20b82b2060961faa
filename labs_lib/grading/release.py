"""Student editions of the course notebooks and the release manifest.

``labs release notebooks/ -o release/`` (or :func:`release_course`) writes, for every source notebook:

- solution regions replaced by ``raise NotImplementedError("...")`` with a hint, at the region's
  indentation, so the code around them (``def`` line, docstring) stays and the visible checks
  report "not written yet";
- hidden tests removed (the visible checks stay, so students keep their instant feedback);
- written answers (markdown, graded by hand) replaced by "YOUR ANSWER HERE" (only their solution
  regions, when they have some);
- outputs, execution counts and run-time metadata cleared; cell ids and the ``labs`` metadata
  kept (the grader matches submitted cells by them); tests cells marked read-only in JupyterLab;
- with ``nbgrader=True`` (``labs release --nbgrader``), nbgrader's cell metadata written beside the
  ``labs`` metadata (:func:`labs_lib.grading.nbgrader.nbgrader_metadata`), so nbgrader's extensions and
  ``nbgrader autograde`` can take the editions;

plus ``manifest.json``: for each notebook its exercises and points, its written answers, and the SHA-256 of
every locked cell (every cell but the solution cells and written answers) as the student edition shows it.
The output is reproducible: releasing the same sources twice gives identical files. A source in nbgrader's
format is released by the ``labs`` metadata it maps to (:mod:`labs_lib.grading.schema` converts it).
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from labs_lib import nbclean
from labs_lib.grading import nbgrader as nbgrader_format
from labs_lib.grading import schema

MANIFEST = "manifest.json"


def stub_line(exercise: schema.Exercise | str, hint: str | None = None) -> str:
    """The statement that replaces a solution region (without indentation)."""
    ex_id = exercise.id if isinstance(exercise, schema.Exercise) else exercise
    hint = hint if hint is not None else (exercise.hint if isinstance(exercise, schema.Exercise) else None)
    text = f"Exercise {ex_id}: replace this line with your code."
    if hint:
        text += f" Hint: {hint}"
    return f"raise NotImplementedError({text!r})"


def stub_solution(source: str, exercise: schema.Exercise | str, hint: str | None = None) -> str:
    """``source`` with every ``BEGIN SOLUTION`` ... ``END SOLUTION`` region replaced by the stub."""
    lines = source.splitlines()
    spans = schema.regions(source, schema.SOLUTION_BEGIN, schema.SOLUTION_END)
    if not spans:
        raise ValueError(f"no well-formed solution region in the solution cell of {exercise}")
    out: list[str] = []
    position = 0
    for begin, end in spans:
        out.extend(lines[position:begin])
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        out.append(indent + stub_line(exercise, hint))
        position = end + 1
    out.extend(lines[position:])
    return "\n".join(out)


def stub_written(source: str) -> str:
    """A written answer as the student edition shows it: its solution regions, or else all of it, replaced."""
    lines = source.splitlines()
    spans = schema.regions(source, schema.SOLUTION_BEGIN, schema.SOLUTION_END)
    if not spans:
        return schema.WRITTEN_STUB
    out: list[str] = []
    position = 0
    for begin, end in spans:
        out.extend(lines[position:begin])
        out.append(schema.WRITTEN_STUB)
        position = end + 1
    out.extend(lines[position:])
    return "\n".join(out)


def strip_hidden(source: str) -> str:
    """A tests cell without its hidden tests."""
    return schema.split_hidden(source)[0]


def student_edition(nb: Any, name: str = "notebook", nbgrader: bool = False) -> Any:
    """A student edition of the source notebook ``nb``; with ``nbgrader``, nbgrader metadata beside ``labs``.

    ``nb`` keeps its cells, but a notebook in nbgrader's format gains its ``labs`` metadata (see :mod:`schema`).
    """
    exercises = {ex.solution_index: ex for ex in schema.exercises(nb, name)}
    written = {w.index for w in schema.written_answers(nb, name) if not w.task}
    tests_cells = {ex.tests_index for ex in exercises.values()}
    graded = nbgrader_format.nbgrader_metadata(nb) if nbgrader else {}
    edition = nbclean.clean(copy.deepcopy(nb))  # the keep-list of `labs clean`: outputs, counts, run-time metadata go
    for i, cell in enumerate(edition.cells):
        if i in exercises:
            cell.source = stub_solution(cell.source, exercises[i])
        elif i in written:
            cell.source = stub_written(cell.source)
        elif i in tests_cells:
            cell.source = strip_hidden(cell.source)
            cell.metadata["editable"] = False  # JupyterLab shows the tests cell read-only
            cell.metadata["deletable"] = False
        if i in graded:
            cell.metadata["nbgrader"] = graded[i]
    leaks = [i for i, c in enumerate(edition.cells) if schema._contains_marker(c.source)]
    if leaks:  # never write an edition that still holds a solution or hidden tests
        raise schema.SchemaError(name, [f"cell {i} still holds grading markers after the release" for i in leaks])
    return edition


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_written(cell: Any) -> bool:
    meta = schema.source_meta(cell)
    return isinstance(meta, dict) and meta.get("role") == "written" and not meta.get("task")


def locked_cell_hashes(edition: Any, exercises: list[schema.Exercise]) -> dict[str, str]:
    """SHA-256 of every locked cell (all but the solution cells and written answers) of a student edition, by cell id."""
    solution_ids = {ex.solution_cell_id for ex in exercises}
    return {c.id: sha256_text(c.source) for c in edition.cells if c.id not in solution_ids and not _is_written(c)}


def manifest_entry(source_text: str, nb: Any, edition_text: str, edition: Any, name: str) -> dict:
    """The manifest record of one released notebook."""
    found = schema.exercises(nb, name)
    return {
        "source_sha256": sha256_text(source_text),
        "student_sha256": sha256_text(edition_text),
        "total_points": sum(ex.points for ex in found),
        "exercises": [{"id": ex.id, "points": ex.points, "solution_cell": ex.solution_cell_id,
                       "tests_cell": ex.tests_cell_id} for ex in found],
        "locked_cells": locked_cell_hashes(edition, found),
        "written": [{"id": w.id, "points": w.points, "cell": w.cell_id, "task": w.task}
                    for w in schema.written_answers(nb, name)],
    }


@dataclass
class ReleaseReport:
    """What :func:`release_course` wrote."""

    notebooks: list[Path]
    manifest: Path
    exercises: int
    points: int
    unscored: list[str]  # written answers graded by hand, one sentence each ("NN_name.ipynb: cell 4: ...")


def _notebooks(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    return sorted(p for p in source.glob("*.ipynb") if not p.name.startswith("."))


def release_course(source: Path, output: Path, nbgrader: bool = False) -> ReleaseReport:
    """Write student editions of every notebook in ``source`` (a folder or one notebook) into ``output``.

    All notebooks are checked first (:func:`schema.check_course`); nothing is written when one is broken.
    Other files in a source folder (images, data) are copied as they are. With ``nbgrader``, the editions
    also carry nbgrader's cell metadata.
    """
    source, output = Path(source), Path(output)
    if not source.exists():
        raise FileNotFoundError(f"no such notebook or folder: {source}")
    paths = _notebooks(source)
    if not paths:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {source}")
    if output.resolve() == (source if source.is_dir() else source.parent).resolve():
        raise ValueError("the release folder must differ from the source folder (it would overwrite the solutions)")
    schema.check_course(paths)
    output.mkdir(parents=True, exist_ok=True)
    manifest_path = output / MANIFEST
    manifest = {"format": 1, "notebooks": {}}
    if manifest_path.exists() and source.is_file():  # releasing one notebook adds it to the manifest
        manifest = json.loads(manifest_path.read_text())
    written, total_ex, total_points, unscored = [], 0, 0, []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        nb = nbformat.reads(text, as_version=4)
        edition = student_edition(nb, path.name, nbgrader=nbgrader)
        unscored += [f"{path.name}: {line}" for line in schema.unscored(nb, path.name)]
        edition_text = nbformat.writes(edition) + "\n"
        (output / path.name).write_text(edition_text, encoding="utf-8")
        entry = manifest_entry(text, nb, edition_text, edition, path.name)
        manifest["notebooks"][path.name] = entry
        written.append(output / path.name)
        total_ex += len(entry["exercises"])
        total_points += entry["total_points"]
    if source.is_dir():
        for extra in sorted(source.rglob("*")):
            rel = extra.relative_to(source)
            if extra.is_file() and extra.suffix != ".ipynb" and not any(
                    part.startswith((".", "__")) for part in rel.parts):
                (output / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(extra, output / rel)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return ReleaseReport(notebooks=written, manifest=manifest_path, exercises=total_ex, points=total_points,
                         unscored=unscored)


def check_against_manifest(nb: Any, name: str, manifest_path: Path) -> list[str]:
    """Differences between a source notebook and what was released from it (empty when they agree)."""
    manifest = json.loads(Path(manifest_path).read_text())
    entry = manifest.get("notebooks", {}).get(name)
    if entry is None:
        return [f"{name} is not in {manifest_path}: it was never released"]
    edition = student_edition(nb, name)
    now = locked_cell_hashes(edition, schema.exercises(nb, name))
    problems = []
    for cell_id, digest in entry["locked_cells"].items():
        if cell_id not in now:
            problems.append(f"locked cell {cell_id} was released but is no longer in the source")
        elif now[cell_id] != digest:
            problems.append(f"locked cell {cell_id} changed since the release")
    problems += [f"locked cell {cid} was added after the release" for cid in now if cid not in entry["locked_cells"]]
    points_now = {ex.id: ex.points for ex in schema.exercises(nb, name)}
    points_then = {ex["id"]: ex["points"] for ex in entry["exercises"]}
    if points_now != points_then:
        problems.append(f"exercises or points changed since the release: {points_then} -> {points_now}")
    return problems
