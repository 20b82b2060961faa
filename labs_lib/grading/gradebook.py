"""The gradebook: one CSV row per student and exercise, written atomically after every submission.

``gradebook.csv`` has the columns ``student, exercise, points, max, status, reason, runtime``
(``runtime`` in seconds: the exercise's solution and tests cells), then the lateness columns
``submitted, time_source, late_hours, penalty`` (:mod:`~labs_lib.grading.deadlines`): the submission time
(ISO 8601, UTC) and where it came from, the hours past the student's deadline, and the points deducted from
this row; ``points`` is after the deduction (``points + penalty`` is what the tests gave). Written answers graded by hand
(:mod:`~labs_lib.grading.written`) have rows too, with the statuses ``reviewed`` and ``pending``. Gradebooks written
before these columns existed load as they are (the columns are empty until the next run). It is rewritten after each
submission finishes, through a temporary file and an atomic rename, so an interrupted run (Ctrl-C, a
power cut, a killed process) leaves a complete gradebook of everything graded so far and never a
half-written file.

Next to it, ``.labs-grading.json`` remembers, for each notebook and student, a fingerprint of what
was graded (the submission's bytes, the source notebook, the grading parameters). A later run grades
only students whose fingerprint changed, who have no rows yet, or whose rows say ``error`` (a
grader-side failure); ``--force`` grades everyone again. Late penalties are not part of the fingerprint:
:meth:`Gradebook.reapply` recomputes them from the rows alone, so a change of deadline regrades nothing.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from labs_lib.grading import deadlines
from labs_lib.grading.vocab import Status

COLUMNS = ("student", "exercise", "points", "max", "status", "reason", "runtime",
           "submitted", "time_source", "late_hours", "penalty")  # new columns go at the end
LATE_COLUMNS = ("submitted", "time_source", "late_hours", "penalty")
CSV_NAME = "gradebook.csv"
STATE_NAME = ".labs-grading.json"
REGRADE_STATUSES = {Status.ERROR}


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that readers see either the old or the new file, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def fingerprint(submission_sha: str, source_sha: str, parameters: dict[str, Any]) -> str:
    """What decides whether a graded submission is still up to date."""
    blob = json.dumps({"submission": submission_sha, "source": source_sha, "parameters": parameters, "v": 1},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _one_line(text: Any) -> str:
    return " / ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _number(value: Any) -> str:
    value = round(float(value), 4)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _float(text: str) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def late_fields(lateness: deadlines.Lateness | None, penalty: float) -> dict[str, str]:
    """The lateness columns of one row (empty when there is no deadline or no submission time)."""
    if lateness is None:
        return {"submitted": "", "time_source": "", "late_hours": "", "penalty": _number(penalty)}
    return {"submitted": lateness.submitted.astimezone(deadlines.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "time_source": lateness.source, "late_hours": f"{lateness.late_hours:.2f}", "penalty": _number(penalty)}


class Gradebook:
    """The gradebook of one output folder (it may hold several notebooks: exercise ids are unique)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / CSV_NAME
        self.state_path = self.folder / STATE_NAME
        self.rows: dict[tuple[str, str], dict[str, str]] = {}
        self.state: dict[str, Any] = {"version": 1, "exercise_order": [], "submissions": {}}
        if self.path.exists():
            with open(self.path, encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    if row.get("student") and row.get("exercise"):
                        self.rows[(row["student"], row["exercise"])] = {c: row.get(c, "") for c in COLUMNS}
        if self.state_path.exists():
            try:
                self.state.update(json.loads(self.state_path.read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError):
                pass  # a damaged state only means regrading

    def register_exercises(self, notebook: str, exercise_ids: list[str]) -> None:
        """Remember a notebook's exercises, in order (the CSV's row order and the summary use it)."""
        self.state.setdefault("notebooks", {})[notebook] = list(exercise_ids)
        order = self.state["exercise_order"]
        for ex in exercise_ids:
            if ex not in order:
                order.append(ex)

    def is_current(self, notebook: str, student: str, digest: str, exercise_ids: list[str]) -> bool:
        """True when this submission was graded with this fingerprint and all its rows are there and final."""
        entry = self.state["submissions"].get(notebook, {}).get(student)
        if not entry or entry.get("fingerprint") != digest:
            return False
        rows = [self.rows.get((student, ex)) for ex in exercise_ids]
        return all(r is not None and r["status"] not in REGRADE_STATUSES for r in rows)

    def record(self, notebook: str, student: str, digest: str, results: dict[str, dict[str, Any]],
               extra: dict[str, Any] | None = None, lateness: deadlines.Lateness | None = None) -> dict[str, float]:
        """Store one submission's rows and write the gradebook (and then the state) atomically.

        ``results`` hold the points the tests gave; with ``lateness`` the late penalty is deducted from them
        (:func:`deadlines.deductions`). Returns the points deducted per exercise.
        """
        cut = deadlines.deductions(results, lateness.percent) if lateness else {}
        for ex, res in results.items():
            penalty = cut.get(ex, 0.0)
            self.rows[(student, ex)] = {
                "student": student, "exercise": ex, "points": _number(float(res["points"]) - penalty),
                "max": _number(res["max"]), "status": res["status"], "reason": _one_line(res.get("reason", ""))[:2000],
                "runtime": f"{float(res.get('runtime', 0.0)):.2f}", **late_fields(lateness, penalty),
            }
        self.state["submissions"].setdefault(notebook, {})[student] = {"fingerprint": digest, **(extra or {})}
        self.save()
        return cut

    def reapply(self, student: str, exercise_ids: list[str], lateness: deadlines.Lateness | None) -> bool:
        """Recompute the late penalty of a graded student's rows from the rows alone (no regrading).

        The points the tests gave are ``points + penalty`` of each row. Returns whether any row changed; the
        caller saves. A student without all their rows is left alone (they are graded in this run).
        """
        found = [self.rows.get((student, ex)) for ex in exercise_ids]
        rows = [row for row in found if row is not None]
        if len(rows) < len(found):
            return False
        raw = self.raw_results(student, exercise_ids)
        cut = deadlines.deductions(raw, lateness.percent) if lateness else {}
        changed = False
        for row in rows:
            penalty = cut.get(row["exercise"], 0.0)
            new = {"points": _number(raw[row["exercise"]]["points"] - penalty), **late_fields(lateness, penalty)}
            old = {**{k: row.get(k, "") for k in new}, "penalty": row.get("penalty") or "0"}  # '' in old gradebooks
            changed = changed or old != new
            row.update(new)
        return changed

    def put_rows(self, student: str, results: dict[str, dict[str, Any]]) -> bool:
        """Set rows that need no kernel (written answers, :mod:`~labs_lib.grading.written`) from ``results``.

        ``results`` hold points before any late penalty; each row keeps its penalty and lateness columns, so
        that :meth:`reapply` (called next) recomputes the penalty over the whole notebook. Returns whether a row
        changed; the caller saves.
        """
        changed = False
        for ex, res in results.items():
            old = self.rows.get((student, ex))
            late = {k: old.get(k, "") for k in LATE_COLUMNS} if old else late_fields(None, 0.0)
            new = {"student": student, "exercise": ex, "points": _number(float(res["points"]) - _float(late["penalty"])),
                   "max": _number(res["max"]), "status": res["status"], "reason": _one_line(res.get("reason", ""))[:2000],
                   "runtime": f"{float(res.get('runtime', 0.0)):.2f}", **late}
            changed = changed or old != new
            self.rows[(student, ex)] = new
        return changed

    def raw_results(self, student: str, exercise_ids: list[str]) -> dict[str, dict[str, Any]]:
        """A graded student's rows as results (points before any late penalty), for re-rendering their page."""
        return {ex: {"points": round(_float(row["points"]) + _float(row["penalty"]), 4), "max": _float(row["max"]),
                     "status": row["status"], "reason": row["reason"], "runtime": _float(row["runtime"])}
                for ex in exercise_ids if (row := self.rows.get((student, ex))) is not None}

    def save(self) -> None:
        order = {ex: i for i, ex in enumerate(self.state["exercise_order"])}
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for key in sorted(self.rows, key=lambda k: (k[0], order.get(k[1], len(order)), k[1])):
            writer.writerow(self.rows[key])
        write_atomic(self.path, buffer.getvalue())
        write_atomic(self.state_path, json.dumps(self.state, indent=1, sort_keys=True) + "\n")

    def totals(self, exercise_ids: list[str]) -> dict[str, tuple[float, float]]:
        """(points, max) per student over ``exercise_ids``."""
        totals: dict[str, list[float]] = {}
        for (student, ex), row in self.rows.items():
            if ex in exercise_ids:
                entry = totals.setdefault(student, [0.0, 0.0])
                entry[0] += float(row["points"] or 0)
                entry[1] += float(row["max"] or 0)
        return {s: (p, m) for s, (p, m) in totals.items()}
