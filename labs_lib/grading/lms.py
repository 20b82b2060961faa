"""Grades out to a learning management system: the roster, and the Canvas, Moodle, plain and term CSV files.

``labs grade`` knows students by the id in their submission's file name. A *roster* CSV maps that id to the
student's LMS identities. Its header names the columns (case, spaces and a byte-order mark do not matter; the
delimiter may be ``,``, ``;`` or a tab); only ``student`` is required:

======================  ==========================================================================
column (aliases)        what
======================  ==========================================================================
``student``             the id ``labs grade`` uses (``submissions/STUDENT.ipynb``), exactly as there
``name``                the student's name as the LMS shows it (``full_name``, ``student_name``)
``lms_id``              the LMS's own user id: Canvas's ``ID`` (``canvas_id``, ``canvas_user_id``, ``user_id``)
``sis_user_id``         Canvas's ``SIS User ID`` (``sis_id``)
``sis_login_id``        Canvas's ``SIS Login ID`` (``login_id``, ``login``)
``section``             Canvas's ``Section``
``email``               the e-mail address (Moodle's "Email address") (``email_address``, ``e_mail``)
``username``            Moodle's username
``idnumber``            Moodle's "ID number" (``id_number``)
======================  ==========================================================================

Formats (one row per roster student, in the roster's order; one grade column per graded folder):

- ``canvas``: the layout Canvas's gradebook importer reads (``app/models/gradebook_importer.rb`` in
  instructure/canvas-lms: a header whose first columns are ``Student, ID, SIS User ID, SIS Login ID, Section``,
  then one column per assignment named ``Name (assignment id)`` or just ``Name`` for a new assignment; an optional
  row whose first cell is ``Points Possible`` sets each assignment's points). Canvas finds the student by ``ID``,
  then ``SIS User ID``, then ``SIS Login ID``, then the name.
- ``moodle``: Moodle's CSV grade import (MoodleDocs "Grade import"; ``grade/import/csv`` maps a column to the user
  field ``useremail``, ``useridnumber``, ``username`` or ``userid``): one identifier column (``Email address``,
  ``ID number``, ``Username`` or ``User ID``) and one column per grade item; on the import page choose that column
  under "Map from" and the matching field under "Map to", and each grade column's grade item.
- ``plain``: ``student, lms_id, points, max, percent``, one total per student, for Gradescope, Blackboard or a
  spreadsheet.
- ``term``: the term gradebook for the instructor: each folder's points and percentage, the total, and the folders
  each student is missing.

Every text cell is neutralised against spreadsheet formula injection (OWASP "CSV Injection"): a cell whose first
character (or first after leading spaces) is ``= + - @``, a tab, a carriage return or a NUL gets a leading ``'``,
which spreadsheets read as "this is text". Quoting follows RFC 4180 (the csv module), lines end in CRLF, UTF-8.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labs_lib.grading import sheets
from labs_lib.grading.gradebook import write_atomic
from labs_lib.grading.term import Term, read_part

ALIASES = {  # roster field -> the header names that mean it (lower case, spaces and hyphens as "_")
    "student": ("student", "student_id", "course_id"),
    "name": ("name", "full_name", "student_name"),
    "lms_id": ("lms_id", "canvas_id", "canvas_user_id", "user_id"),
    "sis_user_id": ("sis_user_id", "sis_id"),
    "sis_login_id": ("sis_login_id", "login_id", "login"),
    "section": ("section",),
    "email": ("email", "email_address", "e_mail"),
    "username": ("username", "user_name"),
    "idnumber": ("idnumber", "id_number"),
}
FORMATS = ("canvas", "moodle", "plain", "term")
MISSING_POLICIES = ("zero", "blank")
# Moodle's CSV import identifies users by one of these user fields (grade/import/csv/classes/load_data.php:
# userid -> id, useridnumber -> idnumber, useremail -> email, username -> username); the header is Moodle's own
# export label for the field, so "Map from" finds it at once.
MOODLE_IDENTITIES = {"email": "Email address", "idnumber": "ID number", "username": "Username", "lms_id": "User ID"}
PLAIN_IDENTITIES = ("email", "lms_id", "sis_user_id", "sis_login_id", "username", "idnumber")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
PLAIN_COLUMNS = ("student", "lms_id", "points", "max", "percent")
ROSTER_NOTE = ".labs-roster.json"  # in a grading folder: the roster given to labs grade --roster
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # and full-width


class RosterError(ValueError):
    """A roster that cannot be used as it is; the message says what to change in it."""


@dataclass(frozen=True)
class RosterEntry:
    """One student of the roster: the course's id and the identities the LMS knows them by ("" when not given)."""

    student: str
    name: str = ""
    lms_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    email: str = ""
    username: str = ""
    idnumber: str = ""


@dataclass(frozen=True)
class Roster:
    """The students of a roster file, in the file's order, and which columns it has."""

    path: Path
    entries: dict[str, RosterEntry]  # course student id -> entry, in the file's order
    columns: frozenset[str]          # the roster fields present in the header


@dataclass(frozen=True)
class ExportOptions:
    """How ``labs export`` writes a file."""

    format: str = "plain"   # canvas | moodle | plain | term
    missing: str = "zero"   # zero | blank: a roster student's grade for a folder they have no submission in
    identity: str = "email"  # the roster field in Moodle's identifier column and in plain's lms_id column
    assignment_names: dict[str, str] = field(default_factory=dict)  # folder label -> LMS assignment name


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote and whom it could not place."""

    path: Path
    format: str
    rows: int                            # student rows written
    not_in_roster: list[str]             # graded students the roster does not list (left out of LMS files)
    no_submission: list[str]             # roster students with no rows in any folder (zero or blank, per options)
    missing: dict[str, list[str]]        # student -> folders they have no submission in (they count 0 there)


def neutralise(text: str) -> str:
    """``text`` made safe for a spreadsheet: a leading ``'`` when it would otherwise start a formula."""
    if text and (text[0] in FORMULA_TRIGGERS or text.lstrip(" ")[:1] in FORMULA_TRIGGERS):
        return "'" + text
    return text


def _header_key(raw: str) -> str:
    return re.sub(r"[\s\-]+", "_", raw.replace("\ufeff", "").strip().strip('"').lower())


def read_roster(path: Path) -> Roster:
    """Read a roster CSV (see the module's docstring for its columns).

    Raises :class:`RosterError` for a file that is missing or not UTF-8, a header without ``student``, two
    columns meaning the same field, a row without a student id, or a student listed twice.
    """
    path = Path(path)
    table = sheets.read_table(path, "roster", RosterError, "student,name,lms_id,email")
    header = table.header
    lookup = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
    index: dict[str, int] = {}
    for position, raw in enumerate(header):
        name = lookup.get(_header_key(raw))
        if name is None:
            continue  # other columns (a Canvas export's extras, notes) are allowed and ignored
        if name in index:
            raise RosterError(f"{path}: columns {header[index[name]]!r} and {raw!r} both mean {name!r}; keep one")
        index[name] = position
    if "student" not in index:
        raise RosterError(f"{path} has no 'student' column (the id labs grade uses, from the submission's file "
                          f"name); its header is {', '.join(repr(h) for h in header)}")
    entries: dict[str, RosterEntry] = {}
    first_line: dict[str, int] = {}
    duplicates: list[str] = []
    for line, row in table.rows:
        values = {name: (row[i].strip() if i < len(row) else "") for name, i in index.items()}
        if not values["student"]:
            raise RosterError(f"{path}, line {line}: no student id; every row needs one in 'student'")
        student = values["student"]
        if student in entries:
            duplicates.append(f"{student!r} (lines {first_line[student]} and {line})")
            continue
        first_line[student] = line
        entries[student] = RosterEntry(**values)
    if duplicates:
        raise RosterError(f"{path}: students listed twice: {', '.join(duplicates)}; keep one row per student")
    if not entries:
        raise RosterError(f"{path} has a header but no students")
    return Roster(path=path, entries=entries, columns=frozenset(index))


def parse_assignment_names(specs: list[str] | None, labels: list[str]) -> dict[str, str]:
    """``--assignment-name`` values -> ``{folder label: LMS assignment name}``.

    Each value is ``LABEL=NAME`` (``04=Lab 4 (1234)``); with a single folder, a value that does not start with
    that folder's label and ``=`` is the whole name. Raises :class:`ValueError` for an unknown label, a repeated
    one, or an empty name.
    """
    names: dict[str, str] = {}
    for spec in specs or []:
        label, sep, name = spec.partition("=")
        label, name = label.strip(), name.strip()
        if len(labels) == 1 and not (sep and label == labels[0]):
            label, name = labels[0], spec.strip()
        elif not sep or label not in labels:
            raise ValueError(f"--assignment-name {spec!r}: with several folders write LABEL=NAME, LABEL one of "
                             f"{', '.join(labels)} (e.g. {labels[0]}=\"Lab {labels[0]} (1234)\")")
        if not name:
            raise ValueError(f"--assignment-name {spec!r}: the name is empty")
        if label in names:
            raise ValueError(f"two assignment names for {label}: {names[label]!r} and {name!r}")
        names[label] = name
    return names


def remember_roster(folder: Path, roster: Roster) -> list[str]:
    """Record ``roster``'s path in a grading folder (``labs grade --roster``), for ``labs export`` to use.

    Returns the students of the folder's gradebook that the roster does not list (they could not be exported).
    """
    folder = Path(folder)
    write_atomic(folder / ROSTER_NOTE, json.dumps({"roster": str(roster.path.resolve())}, indent=1) + "\n")
    try:
        graded = read_part(folder).points
    except ValueError:
        return []  # nothing graded yet
    return sorted(s for s in graded if s not in roster.entries)


def remembered_roster(folders: list[Path]) -> Path | None:
    """The roster recorded by ``labs grade --roster`` in the first of ``folders`` that has one, else None.

    Raises :class:`RosterError` when the recorded roster no longer exists.
    """
    for folder in folders:
        note = Path(folder) / ROSTER_NOTE
        try:
            path = Path(json.loads(note.read_text(encoding="utf-8"))["roster"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not path.is_file():
            raise RosterError(f"{folder} was graded with the roster {path}, which no longer exists; "
                              "give --roster roster.csv")
        return path
    return None


def _points(value: float) -> str:
    value = round(float(value), 2)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _percent(value: float) -> str:
    return f"{float(value):.2f}"


def _unique_identity(roster: Roster, students: list[str], fieldname: str, hint: str) -> None:
    if fieldname not in roster.columns:
        raise RosterError(f"{roster.path} has no {fieldname!r} column, which {hint}")
    empty = [s for s in students if not getattr(roster.entries[s], fieldname)]
    if empty:
        raise RosterError(f"{roster.path}: no {fieldname} for {', '.join(empty)}, which {hint}; fill it in")
    seen: dict[str, str] = {}
    for s in students:
        value = getattr(roster.entries[s], fieldname)
        if value in seen:
            raise RosterError(f"{roster.path}: {seen[value]!r} and {s!r} share the {fieldname} {value!r}; "
                              "the LMS could not tell them apart")
        seen[value] = s


def _check_canvas(roster: Roster, students: list[str]) -> None:
    ids = ("lms_id", "sis_user_id", "sis_login_id")
    if not roster.columns & set(ids):
        raise RosterError(f"{roster.path} needs an lms_id, sis_user_id or sis_login_id column for Canvas, which finds "
                          "students by them; copy ID, SIS User ID and SIS Login ID from a Canvas gradebook export")
    empty = [s for s in students if not any(getattr(roster.entries[s], f) for f in ids)]
    if empty:
        raise RosterError(f"{roster.path}: no lms_id, sis_user_id or sis_login_id for {', '.join(empty)}; "
                          "Canvas needs one of them to find the student")
    for f in ids:
        seen: dict[str, str] = {}
        for s in students:
            value = getattr(roster.entries[s], f)
            if value and value in seen:
                raise RosterError(f"{roster.path}: {seen[value]!r} and {s!r} share the {f} {value!r}")
            seen[value] = s


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


def _canvas_rows(term: Term, roster: Roster, students: list[str], names: list[str],
                 cells: Callable[[str], list[str]]) -> list[list[str]]:
    _check_canvas(roster, students)
    rows = [[*CANVAS_COLUMNS, *names],
            ["Points Possible", "", "", "", "", *[_points(part.max_points) for part in term.parts]]]
    for s in students:
        e = roster.entries[s]
        rows.append([e.name or s, e.lms_id, e.sis_user_id, e.sis_login_id, e.section, *cells(s)])
    return rows


def _moodle_rows(roster: Roster, students: list[str], names: list[str], cells: Callable[[str], list[str]],
                 identity: str) -> list[list[str]]:
    if identity not in MOODLE_IDENTITIES:
        raise ValueError(f"Moodle identifies users by {', '.join(MOODLE_IDENTITIES)}; got {identity!r}")
    _unique_identity(roster, students, identity, "identifies the student in Moodle's import")
    return [[MOODLE_IDENTITIES[identity], *names],
            *[[getattr(roster.entries[s], identity), *cells(s)] for s in students]]


def _plain_rows(term: Term, roster: Roster | None, students: list[str], no_submission: list[str],
                options: ExportOptions) -> list[list[str]]:
    if options.identity not in PLAIN_IDENTITIES:
        raise ValueError(f"the lms_id column can hold {', '.join(PLAIN_IDENTITIES)}; got {options.identity!r}")
    if roster is not None:
        _unique_identity(roster, students, options.identity, "fills the lms_id column")
    rows = [list(PLAIN_COLUMNS)]
    for s in students:
        identity = getattr(roster.entries[s], options.identity) if roster is not None else ""
        if s in no_submission and options.missing == "blank":
            rows.append([s, identity, "", "", ""])
            continue
        total = term.total(s)
        rows.append([s, identity, _points(total.points), _points(total.max), _percent(total.percent)])
    return rows


def _term_rows(term: Term, roster: Roster | None, students: list[str]) -> list[list[str]]:
    header = ["student", *(["name"] if roster is not None else [])]
    for part in term.parts:
        weight = f", weight {part.weight:g}" if term.weighted and part.weight is not None else ""
        header += [f"{part.label} points (of {_points(part.max_points)})", f"{part.label} %{weight}"]
    rows = [[*header, "total %", "missing"]]
    for s in students:
        row = [s]
        if roster is not None:
            row.append(roster.entries[s].name if s in roster.entries else "")
        for part in term.parts:
            row += [_points(part.points.get(s, 0.0)), _percent(part.percent(s))]
        rows.append([*row, _percent(term.total(s).percent), " ".join(term.missing(s))])
    return rows


def export(term: Term, output: Path, roster: Roster | None = None,
           options: ExportOptions | None = None) -> ExportReport:
    """Write ``term``'s grades to ``output`` in ``options.format``; return what was written and who is unmatched.

    ``canvas`` and ``moodle`` need a roster. With a roster, the rows are the roster's students in its order; graded
    students it does not list are left out (``term`` keeps them, with no name) and reported in ``not_in_roster``.
    Raises :class:`RosterError` or :class:`ValueError` with what to fix.
    """
    options = options or ExportOptions()
    output = Path(output)
    if options.format not in FORMATS:
        raise ValueError(f"unknown format {options.format!r}; choose one of {', '.join(FORMATS)}")
    if options.missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {', '.join(MISSING_POLICIES)}, got {options.missing!r}")
    labels = [part.label for part in term.parts]
    unknown = sorted(set(options.assignment_names) - set(labels))
    if unknown:
        raise ValueError(f"assignment names given for {', '.join(unknown)}, which is no folder here; "
                         f"the folders are {', '.join(labels)}")
    if options.format in ("canvas", "moodle") and roster is None:
        raise RosterError(f"the {options.format} format needs --roster roster.csv to map students to LMS users")
    graded = term.students
    if roster is None:
        students, not_in_roster, no_submission = graded, [], []
    else:
        students = list(roster.entries)
        not_in_roster = [s for s in graded if s not in roster.entries]
        no_submission = [s for s in students if all(not term.has(s, part) for part in term.parts)]
        if options.format == "term":
            students = students + not_in_roster
    missing = {s: term.missing(s) for s in students if term.missing(s)}
    names = [options.assignment_names.get(part.label, part.assignment) for part in term.parts]

    def cells(student: str) -> list[str]:
        return [("" if options.missing == "blank" and not term.has(student, part) else
                 _points(part.points.get(student, 0.0))) for part in term.parts]

    if options.format == "canvas" and roster is not None:
        rows = _canvas_rows(term, roster, students, names, cells)
    elif options.format == "moodle" and roster is not None:
        rows = _moodle_rows(roster, students, names, cells, options.identity)
    elif options.format == "plain":
        rows = _plain_rows(term, roster, students, no_submission, options)
    else:
        rows = _term_rows(term, roster, students)
    safe = [[neutralise(value) for value in row] for row in rows]
    write_atomic(output, _csv_text(safe))
    return ExportReport(path=output, format=options.format, rows=len(students), not_in_roster=not_in_roster,
                        no_submission=no_submission, missing=missing)
