"""Finding submissions in a folder and reading them into clean nbformat-4 notebooks.

Two layouts, mixable: ``SUBMISSIONS/student_id.ipynb`` and ``SUBMISSIONS/student_id/NN_name.ipynb``
(in a student's folder the notebook named like the source is taken; failing that, the only notebook
there). Checkpoint and hidden folders are ignored. Symbolic links are not accepted: a submission that is
one, or a student folder holding one, is graded ``invalid`` (a link to the instructor's source notebook
would otherwise score full marks), and files are opened without following links (:func:`read_bytes`).

:func:`file_name` gives every student id the name of the files derived from it (feedback pages): the id
itself when it is lowercase ASCII-safe, otherwise a readable slug and a short hash of the exact id, so
that no two ids share a file, not even on a case-insensitive file system.

:func:`load` turns whatever a student handed in into a notebook the grader can use, or raises
:class:`InvalidSubmission` with a reason a student understands: an empty file, a file that is not
JSON or not a notebook. Old formats are upgraded (nbformat 3 to 4), and missing, malformed or
duplicate cell ids are repaired (new ids), each repair noted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import unicodedata
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

MAX_BYTES = 50 * 2**20  # a course notebook with outputs stays far below this
CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
READABLE = re.compile(r"^[a-z0-9_][a-z0-9_.@+-]{0,63}$")  # ids used as they are for file names
RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$")  # names Windows refuses
NO_LINKS = "symbolic links are not accepted"


class InvalidSubmission(ValueError):
    """The file cannot be graded; the message says why."""


@dataclass
class Submission:
    """One student's file for one notebook (``path`` is None when the student has no such file)."""

    student: str
    path: Path | None
    problem: str | None = None  # why there is no file to grade (graded "missing")
    notes: list[str] = field(default_factory=list)
    invalid: str | None = None  # why what was handed in cannot be graded (graded "invalid")

    def digest(self) -> str:
        """SHA-256 of the file's bytes ('' when there is no file or it cannot be read)."""
        if self.path is None or self.invalid:
            return ""
        try:
            return hashlib.sha256(read_bytes(self.path)).hexdigest()
        except (OSError, InvalidSubmission):
            return ""


def file_name(student: str) -> str:
    """The name (without extension) of files derived from ``student``: unique, stable, and readable where it can be.

    ``alice``, ``s1234567`` and ``j.smith@uni.edu`` stay as they are. Any other id (capitals, spaces, non-ASCII
    letters, a leading ``-``, over 64 characters, a name Windows reserves) becomes a lowercase ASCII slug, a ``~``
    and 10 hex digits of the SHA-256 of the exact id: ``Alice`` is ``alice~3bc5106297``, ``a b`` is
    ``a_b~c8687a08aa`` (``a_b`` stays ``a_b``), ``学生张三`` is ``id~f982ea96fe``. ``~`` never occurs in a readable
    name, so the two forms cannot meet.
    """
    if READABLE.match(student) and not RESERVED.match(student) and not student.endswith("."):
        return student
    ascii_text = unicodedata.normalize("NFKD", student).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9_.@+-]+", "_", ascii_text).strip("_.-")[:40] or "id"
    return f"{slug}~{hashlib.sha256(student.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def read_bytes(path: Path) -> bytes:
    """A submitted file's bytes, opened without following a symbolic link; only regular files are read."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)  # NONBLOCK: a FIFO cannot hang us
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if Path(path).is_symlink():
            raise InvalidSubmission(f"{NO_LINKS}: {Path(path).name} is a link") from None
        raise error
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidSubmission(f"{Path(path).name} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(MAX_BYTES + 1)  # load() says "too large" beyond MAX_BYTES
    finally:
        os.close(fd)


def _links_in(folder: Path) -> list[str]:
    """Symbolic links anywhere under ``folder`` (not followed), as paths relative to it."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            if Path(root, name).is_symlink():
                found.append(str(Path(root, name).relative_to(folder)))
    return sorted(found)


def _ignored(path: Path) -> bool:
    return path.name.startswith((".", "__")) or path.name == ".ipynb_checkpoints"


def discover(folder: Path, notebook_name: str) -> list[Submission]:
    """Every student in ``folder`` with their submission of ``notebook_name`` (sorted by student id)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such submissions folder: {folder}")
    found: dict[str, Submission] = {}
    origin: dict[str, str] = {}
    for entry in sorted(folder.iterdir()):
        if _ignored(entry):
            continue
        student = entry.stem if entry.suffix == ".ipynb" and not entry.is_dir() else entry.name
        if entry.is_symlink():
            if entry.suffix == ".ipynb" or entry.is_dir():
                sub = Submission(student, None, invalid=f"{NO_LINKS}: {entry.name} is a link")
            else:
                continue
        elif entry.is_file() and entry.suffix == ".ipynb":
            sub = Submission(student, entry)
        elif entry.is_dir():
            sub = _from_folder(entry, notebook_name)
        else:
            continue
        if student in found:  # alice.ipynb and alice/: which one counts is not ours to guess
            sub = Submission(student, None, invalid=f"two submissions for {student}: {origin[student]} and "
                                                    f"{entry.name}{'/' if entry.is_dir() else ''}; keep one")
        found[student] = sub
        origin[student] = entry.name + ("/" if entry.is_dir() and not entry.is_symlink() else "")
    return [found[k] for k in sorted(found)]


def _from_folder(entry: Path, notebook_name: str) -> Submission:
    """One student's folder: the notebook named like the source, else the only one; links make it invalid."""
    links = _links_in(entry)
    if links:
        shown = ", ".join(links[:3]) + (f" and {len(links) - 3} more" if len(links) > 3 else "")
        return Submission(entry.name, None, invalid=f"{NO_LINKS}: {entry.name}/ holds {shown}")
    exact = entry / notebook_name
    notebooks = sorted(p for p in entry.glob("*.ipynb") if not _ignored(p))
    if exact.is_file():
        return Submission(entry.name, exact)
    if len(notebooks) == 1:
        return Submission(entry.name, notebooks[0],
                          notes=[f"graded {notebooks[0].name} (no file named {notebook_name})"])
    if notebooks:
        return Submission(entry.name, None, problem=f"no {notebook_name} among {', '.join(p.name for p in notebooks)}")
    return Submission(entry.name, None, problem=f"no notebook in {entry.name}/")


def _error_position(text: str, error: json.JSONDecodeError) -> str:
    return f"line {error.lineno}, column {error.colno}: {error.msg}"


def load(data: bytes) -> tuple[Any, list[str]]:
    """Read a submitted file's bytes into an nbformat-4 notebook; returns (notebook, notes on repairs)."""
    notes: list[str] = []
    if not data.strip():
        raise InvalidSubmission("the file is empty (0 bytes of notebook): was it saved before it was submitted?")
    if len(data) > MAX_BYTES:
        raise InvalidSubmission(f"the file is {len(data) / 2**20:.0f} MB, more than the {MAX_BYTES // 2**20} MB "
                                "the grader accepts: clear the outputs and submit again")
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
