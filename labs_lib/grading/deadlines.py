"""Deadlines and late penalties: when a submission was due, when it came, and what lateness costs.

A :class:`DeadlinePolicy` holds the deadline, a grace period, a penalty rate (percent of the notebook's points
per started day or hour after the grace period), a cap on that percent, per-student extensions and the
submission times read from an LMS download. :func:`assess` turns it into one student's :class:`Lateness`;
:func:`deductions` spreads the deducted points over the student's rows.

Penalties never enter the grading fingerprint (:func:`labs_lib.grading.gradebook.fingerprint`): a change of
deadline options regrades nothing, it only recomputes penalties when the gradebook rows and feedback pages are
written. The policy is remembered in the output folder's state, so a later run without deadline options keeps it.

Times:

- the deadline and extension deadlines are ISO 8601 (``2026-12-03T23:59+01:00``, ``2026-12-03T22:59Z``); one
  without a time zone is read as UTC (naive extension and submission times: in the deadline's time zone, so UTC
  when the deadline has none); a date without a time is refused (is it the start or the end of the day?);
- submission times come from a timestamps CSV when given, else from the file's modification time (which one was
  used is in the gradebook's ``time_source`` and on the feedback page). The CSV is ``student,time``; the column
  names of two LMS downloads are accepted too: Canvas' Submissions API gives ``submitted_at`` (ISO 8601 with an
  offset, as ``2012-07-01T23:59:00-06:00``), and Moodle's assignment grading worksheet (Download grading
  worksheet) gives ``Last modified (submission)`` in its English date format (``Thursday, 3 December 2026,
  11:59 PM``, no time zone: the deadline's is used) with ``-`` when nothing was submitted.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs_lib.grading import sheets

UTC = dt.timezone.utc
PERIODS = {"day": dt.timedelta(days=1), "hour": dt.timedelta(hours=1)}
_UNIT_ALIASES = {"d": "day", "day": "day", "days": "day", "h": "hour", "hr": "hour", "hour": "hour", "hours": "hour"}
_DURATION_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
                   "d": 86400, "day": 86400, "days": 86400}
STUDENT_COLUMNS = ("student", "student id", "id", "user_id", "username", "login_id", "sis_user_id", "identifier",
                   "email", "email address")
TIME_COLUMNS = ("time", "timestamp", "submitted", "submitted_at", "submission time", "last modified (submission)")
MOODLE_FORMATS = ("%A, %d %B %Y, %I:%M %p", "%A, %d %B %Y, %H:%M")  # the grading worksheet's English dates
NO_TIME = {"", "-", "none", "null"}  # Moodle writes "-" for a student who submitted nothing


class DeadlineError(ValueError):
    """A deadline option or file cannot be read; the message says what to write instead."""


def parse_time(text: str, default_tz: dt.tzinfo = UTC, what: str = "time") -> dt.datetime:
    """An aware datetime from ISO 8601 (or Moodle's worksheet date); naive times get ``default_tz``."""
    raw = str(text).strip()
    value: dt.datetime | None = None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        raise DeadlineError(f"{what} {raw!r} has a date but no time: write e.g. {raw}T23:59 (or {raw}T23:59+01:00)")
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        for layout in MOODLE_FORMATS:
            try:
                value = dt.datetime.strptime(raw, layout)
                break
            except ValueError:
                continue
    if value is None:
        raise DeadlineError(f"{what} {raw!r} is not a date and time: use ISO 8601, e.g. 2026-12-03T23:59+01:00 "
                            "(no time zone: UTC)")
    return value if value.tzinfo is not None else value.replace(tzinfo=default_tz)


def parse_duration(text: str, what: str = "grace") -> dt.timedelta:
    """``15m``, ``2h``, ``1.5d``, ``90s`` or ``0`` as a timedelta."""
    raw = str(text).strip().lower()
    if raw in ("0", "0.0", ""):
        return dt.timedelta(0)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]+)", raw)
    if not match or match.group(2) not in _DURATION_UNITS:
        raise DeadlineError(f"{what} {text!r} is not a duration: write a number and a unit, e.g. 15m, 2h or 1d")
    return dt.timedelta(seconds=float(match.group(1)) * _DURATION_UNITS[match.group(2)])


def _percent(text: str, what: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%?", str(text).strip())
    if not match:
        raise DeadlineError(f"{what} {text!r} is not a percentage: write e.g. 50%")
    value = float(match.group(1))
    if value > 100:
        raise DeadlineError(f"{what} must be at most 100%, got {text!r}")
    return value


@dataclass(frozen=True)
class Penalty:
    """``percent`` of the notebook's points lost per started ``period`` ("day" or "hour") after the grace period."""

    percent: float
    period: str = "day"

    @classmethod
    def parse(cls, text: str) -> Penalty:
        """``10%/day``, ``5%/hour``, ``10% per day``, ``2%/h``."""
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%\s*(?:/|per)\s*([a-z]+)", str(text).strip().lower())
        if not match or match.group(2) not in _UNIT_ALIASES:
            raise DeadlineError(f"late penalty {text!r} is not understood: write a percentage per day or per hour, "
                                "e.g. 10%/day or 2%/hour")
        percent = float(match.group(1))
        if percent > 100:
            raise DeadlineError(f"late penalty must be at most 100% per period, got {text!r}")
        return cls(percent, _UNIT_ALIASES[match.group(2)])

    def __str__(self) -> str:
        return f"{self.percent:g}%/{self.period}"


@dataclass(frozen=True)
class Extension:
    """A student's own deadline: a new one (``deadline``) or extra time on the class deadline (``extra``)."""

    deadline: dt.datetime | None = None
    extra: dt.timedelta = dt.timedelta(0)

    def due(self, class_deadline: dt.datetime) -> dt.datetime:
        return self.deadline if self.deadline is not None else class_deadline + self.extra

    def __str__(self) -> str:
        if self.deadline is not None:
            return f"extension to {_show(self.deadline)}"
        return f"extension of {_hours(self.extra)} hour(s)"


@dataclass
class DeadlinePolicy:
    """The deadline options of one notebook (``labs grade --deadline ...``)."""

    deadline: dt.datetime  # aware; the class deadline
    grace: dt.timedelta = dt.timedelta(0)  # lateness up to this costs nothing
    penalty: Penalty | None = None  # None: lateness is recorded, nothing is deducted
    cap: float = 100.0  # the most a late submission can lose, percent of the notebook's points
    extensions: dict[str, Extension] = field(default_factory=dict)  # student -> their own deadline
    timestamps: dict[str, dt.datetime] = field(default_factory=dict)  # student -> submission time from the LMS

    def __post_init__(self) -> None:
        if self.deadline.tzinfo is None:
            raise DeadlineError("the deadline needs a time zone (parse it with parse_time)")
        if self.grace < dt.timedelta(0):
            raise DeadlineError(f"the grace period must not be negative, got {self.grace}")
        if not 0 <= self.cap <= 100:
            raise DeadlineError(f"the penalty cap must be between 0% and 100%, got {self.cap}")

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form, kept in ``.labs-grading.json`` so that later runs apply the same policy."""
        return {
            "deadline": self.deadline.isoformat(), "grace_seconds": self.grace.total_seconds(),
            "penalty": str(self.penalty) if self.penalty else None, "cap": self.cap,
            "extensions": {s: {"deadline": e.deadline.isoformat() if e.deadline else None,
                               "extra_seconds": e.extra.total_seconds()} for s, e in sorted(self.extensions.items())},
            "timestamps": {s: t.isoformat() for s, t in sorted(self.timestamps.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeadlinePolicy:
        return cls(
            deadline=dt.datetime.fromisoformat(data["deadline"]), grace=dt.timedelta(seconds=data["grace_seconds"]),
            penalty=Penalty.parse(data["penalty"]) if data.get("penalty") else None, cap=float(data["cap"]),
            extensions={s: Extension(dt.datetime.fromisoformat(e["deadline"]) if e.get("deadline") else None,
                                     dt.timedelta(seconds=e.get("extra_seconds", 0)))
                        for s, e in data.get("extensions", {}).items()},
            timestamps={s: dt.datetime.fromisoformat(t) for s, t in data.get("timestamps", {}).items()},
        )

    def describe(self) -> str:
        """One line for the summary page and the command line."""
        parts = [f"deadline {_show(self.deadline)}"]
        if self.grace:
            parts.append(f"grace {_hours(self.grace)} h")
        parts.append(f"penalty {self.penalty} (cap {self.cap:g}%)" if self.penalty else "no penalty")
        if self.extensions:
            parts.append(f"{len(self.extensions)} extension(s)")
        if self.timestamps:
            parts.append(f"{len(self.timestamps)} submission time(s) from the timestamps file")
        return "; ".join(parts)


@dataclass(frozen=True)
class Lateness:
    """When one student's submission was due and came, and the percent of the notebook's points it loses."""

    submitted: dt.datetime
    source: str  # "timestamps file" or "file modification time"
    due: dt.datetime  # the class deadline, or the student's extension
    late: dt.timedelta  # zero when on time
    periods: int  # started penalty periods after the grace period
    percent: float  # of the notebook's points, after the cap
    extension: str = ""  # how the student's deadline differs from the class's, if it does
    within_grace: bool = False  # late, but not past the grace period

    @property
    def late_hours(self) -> float:
        return self.late.total_seconds() / 3600

    def describe(self, deducted: float | None = None) -> str:
        """What the feedback page says about lateness."""
        text = f"Submitted {_show(self.submitted)} (from the {self.source}); due {_show(self.due)}"
        text += f" ({self.extension})." if self.extension else "."
        if not self.late:
            return text + " On time."
        text += f" {_duration_text(self.late)} late"
        if self.percent:
            text += f": {self.percent:g}% of the notebook's points deducted"
            if deducted is not None:
                text += f" ({deducted:g} point(s))"
            return text + "."
        return text + (", within the grace period: nothing deducted." if self.within_grace else ": nothing deducted.")


def _show(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="minutes")


def _hours(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g}"


def _duration_text(delta: dt.timedelta) -> str:
    minutes = math.ceil(delta.total_seconds() / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes)
    return " ".join(parts) or "0 min"


def assess(policy: DeadlinePolicy, student: str, submitted: dt.datetime, source: str) -> Lateness:
    """Lateness and penalty percent of ``student``'s submission at ``submitted`` (aware) under ``policy``."""
    extension = policy.extensions.get(student)
    due = extension.due(policy.deadline) if extension else policy.deadline
    late = max(submitted - due, dt.timedelta(0))
    periods = 0
    if policy.penalty is not None and late > policy.grace:
        periods = math.ceil((late - policy.grace) / PERIODS[policy.penalty.period])  # every started period counts
    percent = min(policy.cap, periods * policy.penalty.percent) if policy.penalty else 0.0
    return Lateness(submitted, source, due, late, periods, percent, str(extension) if extension else "",
                    within_grace=dt.timedelta(0) < late <= policy.grace)


def submission_time(policy: DeadlinePolicy, student: str, path: Path | None) -> tuple[dt.datetime, str] | None:
    """The time a student submitted: the timestamps file's, else the file's modification time (not following links)."""
    if student in policy.timestamps:
        return policy.timestamps[student], "timestamps file"
    if path is None:
        return None
    try:
        mtime = Path(path).lstat().st_mtime
    except OSError:
        return None
    return dt.datetime.fromtimestamp(mtime, UTC), "file modification time"


def deductions(results: dict[str, dict[str, Any]], percent: float) -> dict[str, float]:
    """Points deducted from each row: ``percent`` of the notebook's points, never more than the student scored.

    The deduction is taken from the rows in proportion to the points each one earned, so the rows still add up to
    the student's total after the penalty and no row goes below zero.
    """
    earned = {ex: max(float(r["points"]), 0.0) for ex, r in results.items()}
    total = sum(earned.values())
    best = sum(float(r["max"]) for r in results.values())
    deducted = min(total, best * percent / 100)
    if deducted <= 0 or total <= 0:
        return {ex: 0.0 for ex in results}
    return {ex: round(deducted * points / total, 4) for ex, points in earned.items()}


def _header_index(header: list[str], names: Iterable[str]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def _read_rows(path: Path, what: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    table = sheets.read_table(path, what, DeadlineError, "student,time")
    return table.header, table.rows


def read_timestamps(path: Path, default_tz: dt.tzinfo = UTC) -> dict[str, dt.datetime]:
    """Submission times from a CSV: ``student,time`` (or Canvas' ``submitted_at``, Moodle's worksheet columns)."""
    header, rows = _read_rows(path, "timestamps")
    who = _header_index(header, STUDENT_COLUMNS)
    when = _header_index(header, TIME_COLUMNS)
    if who is None or when is None:
        raise DeadlineError(f"{path}: the header {','.join(header)!r} needs a student column ({STUDENT_COLUMNS[0]}) "
                            f"and a time column ({TIME_COLUMNS[0]} or submitted_at or 'Last modified (submission)')")
    found: dict[str, dt.datetime] = {}
    for line, row in rows:
        student, raw = _cell(row, who), _cell(row, when)
        if not student:
            raise DeadlineError(f"{path}, line {line}: no student id")
        if raw.lower() in NO_TIME:
            continue
        if student in found:
            raise DeadlineError(f"{path}, line {line}: a second time for {student!r}: keep one line per student")
        found[student] = parse_time(raw, default_tz, what=f"{path}, line {line}: time")
    return found


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def read_extensions(path: Path, default_tz: dt.tzinfo = UTC) -> dict[str, Extension]:
    """Extensions from a CSV with ``student`` and, per line, either ``deadline`` (ISO 8601) or ``hours`` (extra)."""
    header, rows = _read_rows(path, "extensions")
    who = _header_index(header, ("student",) + STUDENT_COLUMNS)
    new = _header_index(header, ("deadline", "new deadline", "new_deadline", "due"))
    extra = _header_index(header, ("hours", "extra_hours", "extra hours"))
    if who is None or (new is None and extra is None):
        raise DeadlineError(f"{path}: the header {','.join(header)!r} needs a student column and a deadline column "
                            "(a new deadline) or an hours column (extra hours): e.g. student,deadline,hours")
    found: dict[str, Extension] = {}
    for line, row in rows:
        student, when, hours = (_cell(row, who), _cell(row, new), _cell(row, extra))
        where = f"{path}, line {line}"
        if not student:
            raise DeadlineError(f"{where}: no student id")
        if student in found:
            raise DeadlineError(f"{where}: a second extension for {student!r}: keep one line per student")
        if bool(when) == bool(hours):
            raise DeadlineError(f"{where}: give either a new deadline or extra hours for {student!r}, not "
                                f"{'both' if when else 'neither'}")
        if when:
            found[student] = Extension(deadline=parse_time(when, default_tz, what=f"{where}: deadline"))
            continue
        try:
            value = float(hours)
        except ValueError:
            raise DeadlineError(f"{where}: extra hours {hours!r} is not a number (write e.g. 48)") from None
        if value < 0 or not math.isfinite(value):
            raise DeadlineError(f"{where}: extra hours must be a positive number, got {hours!r}")
        found[student] = Extension(extra=dt.timedelta(hours=value))
    return found


def build_policy(deadline: str, grace: str | None = None, late_penalty: str | None = None, cap: str | None = None,
                 extensions: Path | None = None, timestamps: Path | None = None) -> DeadlinePolicy:
    """The policy from the command line's strings and files (``labs grade --deadline ...``)."""
    when = parse_time(deadline, UTC, what="deadline")
    tz = when.tzinfo or UTC
    return DeadlinePolicy(
        deadline=when, grace=parse_duration(grace) if grace else dt.timedelta(0),
        penalty=Penalty.parse(late_penalty) if late_penalty else None,
        cap=_percent(cap, "penalty cap") if cap else 100.0,
        extensions=read_extensions(Path(extensions), tz) if extensions else {},
        timestamps=read_timestamps(Path(timestamps), tz) if timestamps else {},
    )


def from_options(deadline: str | None, grace: str | None = None, late_penalty: str | None = None,
                 cap: str | None = None, extensions: str | None = None, timestamps: str | None = None
                 ) -> tuple[DeadlinePolicy | None, bool]:
    """``labs grade``'s deadline options as (policy, forget the kept policy); bad combinations are refused.

    No ``deadline``: (None, False), the kept policy applies; ``deadline="none"``: (None, True).
    """
    others = {"--grace": grace, "--late-penalty": late_penalty, "--penalty-cap": cap, "--extensions": extensions,
              "--timestamps": timestamps}
    given = [name for name, value in others.items() if value]
    if deadline is None:
        if given:
            raise DeadlineError(f"{', '.join(given)} need(s) --deadline (e.g. --deadline 2026-12-03T23:59+01:00)")
        return None, False
    if deadline.strip().lower() == "none":
        if given:
            raise DeadlineError(f"--deadline none removes the deadline: drop {', '.join(given)}")
        return None, True
    return build_policy(deadline, grace, late_penalty, cap, Path(extensions) if extensions else None,
                        Path(timestamps) if timestamps else None), False


def naive_deadline(text: str) -> bool:
    """True when ``text`` gives no time zone (so it is read as UTC: the command line says so)."""
    try:
        return dt.datetime.fromisoformat(str(text).strip()).tzinfo is None
    except ValueError:
        return False
