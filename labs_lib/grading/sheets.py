"""Reading the CSV files instructors give the grader: rosters, timestamps, extensions, the written-answers sheet.

One reader, so they all accept the same files: UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8"),
``,``, ``;`` (spreadsheets in decimal-comma locales) or a tab between fields, guessed from the header line;
quoted fields may hold separators and line breaks; blank lines are skipped. Every error names the file and says
what to do, and is raised as the caller's own exception class.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

DELIMITERS = ",;\t"


@dataclass(frozen=True)
class Table:
    """A CSV file's header and rows; ``rows`` pairs each row with its line number in the file (1 = the header)."""

    path: Path
    header: list[str]
    rows: list[tuple[int, list[str]]]

    def records(self) -> list[tuple[int, dict[str, str]]]:
        """The rows as ``{column: value}`` (header names stripped; missing trailing cells are empty)."""
        names = [h.strip() for h in self.header]
        return [(line, {name: (row[i] if i < len(row) else "") for i, name in enumerate(names)})
                for line, row in self.rows]


def _delimiter(header_line: str) -> str:
    try:
        return csv.Sniffer().sniff(header_line, delimiters=DELIMITERS).delimiter
    except csv.Error:  # one column: no separator to find
        return ","


def read_table(path: Path, what: str, error: type[Exception], header_hint: str) -> Table:
    """Read ``path`` (the instructor's ``what``, e.g. "roster") or raise ``error`` saying what is wrong.

    ``header_hint`` is an example header for the message about an empty file, e.g. ``"student,time"``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"no such {what} file: {path}") from None
    except IsADirectoryError:
        raise error(f"the {what} file {path} is a folder: give the CSV file itself") from None
    except OSError as problem:
        raise error(f"the {what} file {path} cannot be read: {problem.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(f"the {what} file {path} is not UTF-8 text: save it as \"CSV UTF-8\" (Excel) or UTF-8 CSV") from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise error(f"the {what} file {path} is empty: it needs a header line, e.g. {header_hint}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    numbered = []
    start = 1  # the line a row starts on (a quoted field may run over several lines)
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                numbered.append((start, row))
            start = reader.line_num + 1
    except csv.Error as problem:
        raise error(f"the {what} file {path}, line {reader.line_num}: {problem} (an unclosed quote?)") from None
    strict = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first), strict=True)
    opened = 1  # the first line of the row being read
    try:
        for _ in strict:
            opened = strict.line_num + 1
    except csv.Error as problem:  # the lenient reader above took everything after an open quote as one field
        if "unexpected end of data" in str(problem):
            raise error(f"the {what} file {path}: a quote opened on line {opened} is never closed, so the rest of "
                        "the file would be one field; close it (or remove the stray quote)") from None
    return Table(path, numbered[0][1], numbered[1:])
