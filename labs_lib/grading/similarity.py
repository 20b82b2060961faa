"""Similarity of students' solution code, per exercise: the pairs an instructor may want to compare by hand.

The fingerprints follow the winnowing scheme of Schleimer, Wilkerson and Aiken, "Winnowing: Local Algorithms for
Document Fingerprinting" (SIGMOD 2003), the method behind MOSS: each solution becomes a sequence of normalised
tokens, every ``k`` consecutive tokens (a k-gram) are hashed, and in every window of ``w`` consecutive hashes the
smallest is kept. Any match of at least ``w + k - 1`` tokens is then guaranteed to share a fingerprint, and matches
shorter than ``k`` tokens are ignored as noise. Two solutions' similarity is the Jaccard index of their
fingerprint sets (shared / all distinct).

Normalisation, so that cosmetic edits do not hide a copy:

- the released stub is removed: every line of the student's cell that is also a line of the stub (the ``def``
  line, the docstring, the hint) is dropped before tokenising;
- comments and blank lines are dropped (Python's :mod:`tokenize`);
- every name that is not a keyword, a builtin or an attribute (``np.mean`` keeps ``mean``) becomes ``V``, string
  literals ``S`` and numbers ``N``, so renamed variables and changed messages do not matter;
- k-grams are position-free, so reordered helper functions still share their fingerprints.

A fingerprint that occurs in more than half of an exercise's solutions or in more than ten (MOSS's default ``-m
10``), and in more than three, is common code (an idiom everyone writes) and does not count, as MOSS ignores code
that appears in many submissions. Solutions
shorter than ``w + k - 1`` tokens once normalised are not compared: two correct one-liners are bound to look alike.
A cell that does not tokenise (a syntax error) is split by a simple regular expression instead, so it is still
compared and never stops the report.

:func:`pairs` is the whole computation (plain dictionaries in, ranked :class:`Pair` out); :func:`write_csv` and
:func:`read_csv` keep ``similarity.csv`` (one notebook's rows are replaced, others kept), and the summary page shows
the pairs at or above the threshold.
"""

from __future__ import annotations

import builtins
import csv
import hashlib
import io
import keyword
import re
import tokenize
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from labs_lib.grading.gradebook import write_atomic

CSV_NAME = "similarity.csv"
CSV_COLUMNS = ("notebook", "exercise", "student_a", "student_b", "similarity", "shared", "fingerprints_a",
               "fingerprints_b", "flagged")
DEFAULT_THRESHOLD = 0.7  # Jaccard index of fingerprints at or above which a pair is shown on the summary page
MAX_CODE = 200_000  # characters of one solution cell that are compared (a huge cell cannot stall the report)
COMMON_MAX = 10  # a fingerprint in more solutions than this (or than half of them) is common code
KGRAM = 6  # k: tokens per hashed k-gram (shorter matches are noise)
WINDOW = 5  # w: hashes per window; matches of w + k - 1 = 10 tokens or more are always found
_BUILTINS = frozenset(dir(builtins))
_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER}
_FALLBACK = re.compile("|".join([  # tokens of a cell that does not tokenise: names, numbers, strings, any other char
    r"[A-Za-z_]\w*", r"\d[\w.]*", r'"{3}[^"]*"{3}', r"'{3}[^']*'{3}", r"'[^']*'", r'"[^"]*"', r"\S"]))


@dataclass(frozen=True)
class Pair:
    """Two students' solutions of one exercise and how much of their fingerprints they share."""

    exercise: str
    student_a: str
    student_b: str
    similarity: float  # Jaccard index of the fingerprint sets, 0..1
    shared: int  # fingerprints in both
    fingerprints_a: int
    fingerprints_b: int


def _without_stub(code: str, stub: str) -> str:
    stub_lines = {line.strip() for line in stub.splitlines() if line.strip()}
    return "\n".join(line for line in code.splitlines() if line.strip() not in stub_lines)


def _name_token(text: str, previous: str) -> str:
    if keyword.iskeyword(text) or text in _BUILTINS or previous == ".":
        return text
    return "V"


def tokens(code: str, stub: str = "") -> list[str]:
    """The normalised tokens of ``code`` with the lines of ``stub`` removed (see the module docstring)."""
    text = _without_stub(code, stub)
    out: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in _SKIPPED:
                continue
            if tok.type == tokenize.NAME:
                out.append(_name_token(tok.string, out[-1] if out else ""))
            elif tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_START", -1):
                out.append("S")
            elif tok.type in (getattr(tokenize, "FSTRING_MIDDLE", -1), getattr(tokenize, "FSTRING_END", -1)):
                continue
            elif tok.type == tokenize.NUMBER:
                out.append("N")
            elif tok.type == tokenize.NEWLINE:
                out.append(";")
            else:
                out.append(tok.string)
        return out
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # a syntax error: fall back to a plain split, line by line, comments cut at '#'
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        found = _FALLBACK.findall(line)
        for piece in found:
            if piece[0].isalpha() or piece[0] == "_":
                out.append(_name_token(piece, out[-1] if out else ""))
            elif piece[0] in "'\"":
                out.append("S")
            elif piece[0].isdigit():
                out.append("N")
            else:
                out.append(piece)
        if found:
            out.append(";")
    return out


def _hash(gram: tuple[str, ...]) -> int:
    return int.from_bytes(hashlib.blake2b(" ".join(gram).encode(), digest_size=8).digest(), "big")


def fingerprints(token_list: list[str], k: int = KGRAM, w: int = WINDOW) -> set[int]:
    """Winnowing (Schleimer et al. 2003): the minimum hash of every window of ``w`` k-gram hashes."""
    hashes = [_hash(tuple(token_list[i:i + k])) for i in range(len(token_list) - k + 1)]
    if len(hashes) <= w:  # one window or less: its minimum
        return {min(hashes)} if hashes else set()
    selected: set[int] = set()
    for start in range(len(hashes) - w + 1):
        window = hashes[start:start + w]
        selected.add(min(window))
    return selected


def pairs(solutions: dict[str, dict[str, str]], stubs: dict[str, str], k: int = KGRAM, w: int = WINDOW) -> list[Pair]:
    """Every pair of students who share fingerprints in some exercise, most similar first.

    ``solutions`` maps a student to their solution code per exercise, ``stubs`` an exercise to the code the
    student edition gave (its lines are not counted). Exercises are compared separately.
    """
    if k < 1 or w < 1:
        raise ValueError(f"k and w must be >= 1, got k={k}, w={w}")
    exercises = sorted({ex for per_student in solutions.values() for ex in per_student})
    found: list[Pair] = []
    for ex in exercises:
        prints: dict[str, set[int]] = {}
        for student, per_student in solutions.items():
            code = per_student.get(ex)
            if not code:
                continue
            token_list = tokens(code[:MAX_CODE], stubs.get(ex, ""))
            if len(token_list) >= w + k - 1:  # too short to tell a copy from the obvious answer
                prints[student] = fingerprints(token_list, k, w)
        owners: dict[int, list[str]] = defaultdict(list)
        for student, values in prints.items():
            for value in values:
                owners[value].append(student)
        common_limit = max(3, min(len(prints) // 2, COMMON_MAX))
        shared: dict[tuple[str, str], int] = defaultdict(int)
        kept: dict[str, int] = defaultdict(int)
        for students in owners.values():
            if len(students) > common_limit:
                continue  # common code: an idiom most solutions share
            for student in students:
                kept[student] += 1
            ordered = sorted(students)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1:]:
                    shared[(a, b)] += 1
        for (a, b), count in shared.items():
            union = kept[a] + kept[b] - count
            found.append(Pair(ex, a, b, round(count / union, 4) if union else 0.0, count, kept[a], kept[b]))
    return sorted(found, key=lambda p: (-p.similarity, -p.shared, p.exercise, p.student_a, p.student_b))


def parse_threshold(text: str) -> float:
    """``0.7`` or ``70%`` as a fraction; a clear error otherwise."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"similarity threshold {text!r} is not a number: write e.g. 0.7 or 70%") from None
    if not 0 <= value <= 1:
        raise ValueError(f"similarity threshold must be between 0 and 1 (or 0% and 100%), got {text!r}")
    return value


def read_csv(folder: Path) -> list[dict[str, str]]:
    """The rows of ``similarity.csv`` in ``folder`` (none when it does not exist)."""
    path = Path(folder) / CSV_NAME
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as f:
        return [row for row in csv.DictReader(f) if row.get("exercise")]


def write_csv(folder: Path, notebook: str, found: list[Pair], threshold: float) -> Path:
    """Replace ``notebook``'s rows of ``similarity.csv`` with ``found`` (other notebooks' rows stay)."""
    rows = [row for row in read_csv(folder) if row.get("notebook") != notebook]
    rows += [{"notebook": notebook, "exercise": p.exercise, "student_a": p.student_a, "student_b": p.student_b,
              "similarity": f"{p.similarity:.3f}", "shared": str(p.shared), "fingerprints_a": str(p.fingerprints_a),
              "fingerprints_b": str(p.fingerprints_b), "flagged": "yes" if p.similarity >= threshold else ""}
             for p in found]
    rows.sort(key=lambda r: (-float(r["similarity"]), r["notebook"], r["exercise"], r["student_a"], r["student_b"]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path = Path(folder) / CSV_NAME
    write_atomic(path, buffer.getvalue())
    return path
