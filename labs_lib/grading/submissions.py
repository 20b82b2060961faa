"""Finding submissions in a folder and reading them into clean nbformat-4 notebooks.

Two layouts, mixable: ``SUBMISSIONS/student_id.ipynb`` and ``SUBMISSIONS/student_id/NN_name.ipynb``
(in a student's folder the notebook named like the source is taken; failing that, the only notebook
there). Checkpoint and hidden folders are ignored.

:func:`load` turns whatever a student handed in into a notebook the grader can use, or raises
:class:`InvalidSubmission` with a reason a student understands: an empty file, a file that is not
JSON or not a notebook. Old formats are upgraded (nbformat 3 to 4), and missing, malformed or
duplicate cell ids are repaired (new ids), each repair noted.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

MAX_BYTES = 50 * 2**20  # a course notebook with outputs stays far below this
CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


class InvalidSubmission(ValueError):
    """The file cannot be graded; the message says why."""


@dataclass
class Submission:
    """One student's file for one notebook (``path`` is None when the student has no such file)."""

    student: str
    path: Path | None
    problem: str | None = None  # why there is no file to grade
    notes: list[str] = field(default_factory=list)

    def digest(self) -> str:
        """SHA-256 of the file's bytes ('' when there is no file)."""
        if self.path is None or not self.path.is_file():
            return ""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def _ignored(path: Path) -> bool:
    return path.name.startswith((".", "__")) or path.name == ".ipynb_checkpoints"


def discover(folder: Path, notebook_name: str) -> list[Submission]:
    """Every student in ``folder`` with their submission of ``notebook_name`` (sorted by student id)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such submissions folder: {folder}")
    found: dict[str, Submission] = {}
    for entry in sorted(folder.iterdir()):
        if _ignored(entry):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            found[entry.stem] = Submission(entry.stem, entry)
        elif entry.is_dir():
            exact = entry / notebook_name
            notebooks = sorted(p for p in entry.glob("*.ipynb") if not _ignored(p))
            if exact.is_file():
                found[entry.name] = Submission(entry.name, exact)
            elif len(notebooks) == 1:
                found[entry.name] = Submission(entry.name, notebooks[0],
                                               notes=[f"graded {notebooks[0].name} (no file named {notebook_name})"])  # fmt: skip
            elif notebooks:
                names = ", ".join(p.name for p in notebooks)
                found[entry.name] = Submission(entry.name, None, problem=f"no {notebook_name} among {names}")
            else:
                found[entry.name] = Submission(entry.name, None, problem=f"no notebook in {entry.name}/")
    return [found[k] for k in sorted(found)]


def _error_position(text: str, error: json.JSONDecodeError) -> str:
    return f"line {error.lineno}, column {error.colno}: {error.msg}"


def load(data: bytes) -> tuple[Any, list[str]]:
    """Read a submitted file's bytes into an nbformat-4 notebook; returns (notebook, notes on repairs)."""
    notes: list[str] = []
    if not data.strip():
        raise InvalidSubmission("the file is empty (0 bytes of notebook): was it saved before it was submitted?")
    if len(data) > MAX_BYTES:
        raise InvalidSubmission(f"the file is {len(data) / 2**20:.0f} MB, more than the {MAX_BYTES // 2**20} MB "
                                "the grader accepts: clear the outputs and submit again")  # fmt: skip
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidSubmission("the file is not text (not UTF-8): it is not a notebook") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidSubmission(f"the file is not a notebook: invalid JSON at {_error_position(text, error)}") from None
    if not isinstance(raw, dict) or not ("cells" in raw or "worksheets" in raw):
        raise InvalidSubmission("the file is JSON but not a notebook (no cells)")
    version = raw.get("nbformat")
    if not isinstance(version, int) or version < 3:
        raise InvalidSubmission(f"unsupported notebook format {version!r}: open it in JupyterLab and save it again")
    damaged_ids = 0
    if version == 4 and int(raw.get("nbformat_minor", 0) or 0) >= 5 and isinstance(raw.get("cells"), list):
        seen_raw: set[str] = set()
        for cell in raw["cells"]:
            cell_id = cell.get("id") if isinstance(cell, dict) else None
            if not isinstance(cell_id, str) or not CELL_ID.match(cell_id) or cell_id in seen_raw:
                damaged_ids += 1
            else:
                seen_raw.add(cell_id)
    try:
        with warnings.catch_warnings():  # nbformat warns about (and fixes) some id problems itself
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4, capture_validation_error={})
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds; all mean "cannot read"
        raise InvalidSubmission(f"the notebook cannot be read: {type(error).__name__}: {error}") from None
    if version < 4:
        notes.append(f"upgraded from nbformat {version} to 4")
    nb.nbformat, nb.nbformat_minor = 4, max(int(nb.get("nbformat_minor", 5) or 5), 5)
    seen: set[str] = set()
    repaired = 0
    for cell in nb.cells:
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
        source = cell.get("source", "")
        cell["source"] = "".join(source) if isinstance(source, list) else str(source or "")
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not CELL_ID.match(cell_id) or cell_id in seen:
            cell["id"] = uuid.uuid4().hex[:12]
            repaired += 1
        seen.add(cell["id"])
    if max(repaired, damaged_ids):
        notes.append(f"repaired {max(repaired, damaged_ids)} missing or duplicate cell id(s)")
    return nb, notes
