"""One gradebook for a term: several ``labs grade`` output folders, weighted into one total per student.

Each folder (``grades/04``, ``grades/07``, ...) is one *part* of the term, named by the folder's name (``04``).
Its points per student are the sum of the student's rows in the folder's ``gradebook.csv``; its maximum is the sum
of each exercise's ``max``, so a student who has no rows in a folder (no submission) gets 0 out of that maximum and
is listed as missing it. The total is either the plain ratio of all points to all maxima (no weights), or, with
weights, the weighted mean of the per-part percentages: ``sum(w * percent) / sum(w)`` (weights need not add up
to 1; ``04=2,07=3`` is the same as ``04=0.4,07=0.6``).

This module only reads gradebooks; :mod:`~labs_lib.grading.lms` writes the term gradebook and the LMS formats.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from labs_lib.grading.gradebook import CSV_NAME, STATE_NAME

REQUIRED_COLUMNS = ("student", "exercise", "points", "max")


class TermError(ValueError):
    """A folder, gradebook or weight that cannot make a term gradebook; the message says what to change."""


@dataclass(frozen=True)
class Part:
    """One graded folder of the term."""

    label: str                # the folder's name, e.g. "04": the key of --weights and the column prefix
    folder: Path              # the labs grade output folder holding gradebook.csv
    notebooks: tuple[str, ...]  # the notebooks graded into it (from .labs-grading.json), e.g. ("04_x.ipynb",)
    max_points: float         # the points a student can earn in this part
    points: dict[str, float]  # student -> points earned, for every student with rows in the gradebook
    weight: float | None = None  # the part's weight, or None when the term is not weighted

    @property
    def assignment(self) -> str:
        """The default LMS assignment name: the notebook's name without ``.ipynb``, else the folder's name."""
        if len(self.notebooks) == 1:
            return self.notebooks[0].removesuffix(".ipynb")
        return self.label

    def percent(self, student: str) -> float:
        """The student's percentage in this part (0 when they have no rows in it)."""
        return 100.0 * self.points.get(student, 0.0) / self.max_points


@dataclass(frozen=True)
class Total:
    """A student's term total."""

    points: float   # the points earned (with weights: the weighted percentage, on a scale of 100)
    max: float      # the points possible (with weights: 100)
    percent: float  # points / max * 100


@dataclass
class Term:
    """The parts of a term and what each student earned in each."""

    parts: list[Part]
    weighted: bool = False
    _students: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._students = sorted({s for part in self.parts for s in part.points})

    @property
    def students(self) -> list[str]:
        """Every student with rows in at least one part, sorted."""
        return list(self._students)

    def has(self, student: str, part: Part) -> bool:
        """True when the student has rows in the part's gradebook (a submission, even an invalid one)."""
        return student in part.points

    def missing(self, student: str) -> list[str]:
        """Labels of the parts in which the student has no rows (they count 0 there)."""
        return [part.label for part in self.parts if student not in part.points]

    def total(self, student: str) -> Total:
        """The student's total: weighted mean of percentages with weights, else all points over all maxima."""
        if self.weighted:
            weight_sum = sum(part.weight or 0.0 for part in self.parts)
            percent = sum((part.weight or 0.0) * part.percent(student) for part in self.parts) / weight_sum
            return Total(points=percent, max=100.0, percent=percent)
        points = sum(part.points.get(student, 0.0) for part in self.parts)
        maximum = sum(part.max_points for part in self.parts)
        return Total(points=points, max=maximum, percent=100.0 * points / maximum)


def parse_weights(specs: list[str] | None) -> dict[str, float] | None:
    """``["04=0.4,07=0.6"]`` or ``["04=0.4", "07=0.6"]`` -> ``{"04": 0.4, "07": 0.6}``; None when none are given.

    Raises :class:`TermError` for a malformed item, a repeated label, or a weight that is not a positive number.
    """
    if not specs:
        return None
    weights: dict[str, float] = {}
    for spec in specs:
        for item in spec.split(","):
            item = item.strip()
            if not item:
                continue
            label, sep, raw = item.partition("=")
            label, raw = label.strip(), raw.strip()
            if not sep or not label or not raw:
                raise TermError(f"weight {item!r} is not LABEL=NUMBER: write e.g. --weights 04=0.4,07=0.6")
            try:
                value = float(raw)
            except ValueError:
                raise TermError(f"weight of {label!r} must be a number, got {raw!r}") from None
            if not math.isfinite(value) or value <= 0:
                raise TermError(f"weight of {label!r} must be a positive number, got {raw!r}")
            if label in weights:
                raise TermError(f"weight of {label!r} is given twice; give each folder one weight")
            weights[label] = value
    return weights or None


def _number(raw: str, what: str, where: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise TermError(f"{where}: {what} must be a number, got {raw!r}; is this a gradebook written by labs grade?"
                        ) from None
    if not math.isfinite(value) or value < 0:
        raise TermError(f"{where}: {what} must be a number >= 0, got {raw!r}")
    return value


def read_part(folder: Path, label: str | None = None) -> Part:
    """Read one ``labs grade`` output folder: each student's points and the part's maximum.

    Raises :class:`TermError` when the folder or its ``gradebook.csv`` is missing or malformed.
    """
    folder = Path(folder)
    path = folder / CSV_NAME
    if not folder.is_dir():
        raise TermError(f"no such grading folder: {folder} (give the -o folder of `labs grade`)")
    if not path.is_file():
        raise TermError(f"no {CSV_NAME} in {folder}: run `labs grade SUBMISSIONS --source NOTEBOOK -o {folder}` first")
    points: dict[str, float] = {}
    exercise_max: dict[str, float] = {}
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise TermError(f"{path} has no column {', '.join(missing)}; its header must start with "
                            f"{','.join(REQUIRED_COLUMNS)} (the gradebook labs grade writes)")
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            student, exercise = (row.get("student") or "").strip(), (row.get("exercise") or "").strip()
            if not student or not exercise:
                raise TermError(f"{where}: a row without a student or an exercise")
            earned = _number(row.get("points") or "0", "points", where)
            maximum = _number(row.get("max") or "0", "max", where)
            points[student] = points.get(student, 0.0) + earned
            exercise_max[exercise] = max(exercise_max.get(exercise, 0.0), maximum)
    notebooks: tuple[str, ...] = ()
    try:
        state = json.loads((folder / STATE_NAME).read_text(encoding="utf-8"))
        notebooks = tuple(sorted(state.get("notebooks", {})))
    except (OSError, ValueError, AttributeError):
        pass  # the state only names the notebooks; without it the folder's name is used
    max_points = sum(exercise_max.values())
    if max_points <= 0:
        raise TermError(f"{path} has no points to earn (no rows, or every max is 0): grade the folder first")
    return Part(label=label or folder.resolve().name, folder=folder, notebooks=notebooks, max_points=max_points,
                points=points)


def load_term(folders: list[Path], weights: dict[str, float] | None = None) -> Term:
    """Read every folder as one part of the term, with ``weights`` keyed by the folders' names (or None).

    Raises :class:`TermError` when two folders share a name, or when weights are given but not exactly one
    per folder.
    """
    if not folders:
        raise TermError("give at least one grading folder (the -o folder of labs grade)")
    parts = [read_part(Path(folder)) for folder in folders]
    labels = [part.label for part in parts]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise TermError(f"two grading folders are both named {', '.join(repeated)}: the folder's name identifies it "
                        "in --weights and in the columns, so give them different names (grades/04, grades/07)")
    if weights is None:
        return Term(parts=parts, weighted=False)
    unknown = sorted(set(weights) - set(labels))
    if unknown:
        raise TermError(f"weights given for {', '.join(unknown)}, which is no folder here; the folders are "
                        f"{', '.join(labels)}")
    absent = [label for label in labels if label not in weights]
    if absent:
        raise TermError(f"no weight for {', '.join(absent)}: give one for every folder, e.g. --weights "
                        + ",".join(f"{label}=1" for label in labels))
    parts = [Part(label=p.label, folder=p.folder, notebooks=p.notebooks, max_points=p.max_points, points=p.points,
                  weight=weights[p.label]) for p in parts]
    return Term(parts=parts, weighted=True)
