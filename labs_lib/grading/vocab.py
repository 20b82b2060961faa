"""The grader's words, each written once: what an exercise's result can be, and what a cell of a grading copy is.

Both are string enums, so a member equals its text (``Status.PASSED == "passed"``) and is written as that text to
the gradebook, the JSON records and the pages; code that makes or tests a status names the member, so a typo is an
``AttributeError`` instead of a status no page knows.
"""

from __future__ import annotations

from enum import Enum


class _Text(str, Enum):
    """A str enum whose ``str()`` is its text on every Python the course supports (3.10 has no StrEnum)."""

    def __str__(self) -> str:
        return self.value


class Status(_Text):
    """What grading an exercise came to (a gradebook row's ``status``)."""

    PASSED = "passed"  # every test ran to completion and none failed: full points
    FAILED = "failed"  # a test failed (its message is the reason)
    TIMEOUT = "timeout"  # the tests, the solution or the notebook ran past a time limit
    MEMORY = "memory"  # the kernel went over the memory limit and was stopped
    CRASHED = "crashed"  # the kernel died before or while the tests ran
    MISSING = "missing"  # no solution cell for the exercise in the submission
    INVALID = "invalid"  # the submission is not a notebook the grader can read
    TAMPERED = "tampered"  # the student's code changed what the tests rely on
    ERROR = "error"  # the grader itself failed (graded again on the next run)


RUN_DIED = frozenset({Status.CRASHED, Status.TIMEOUT, Status.MEMORY})  # the kernel was lost: its log is kept


class Kind(_Text):
    """What a cell of the grading copy is (``cell.metadata["labs_grading"]["kind"]``)."""

    BOOTSTRAP = "bootstrap"  # the grader's set-up before any lesson code
    LESSON = "lesson"  # a cell of the lesson, from the source notebook
    SNAPSHOT = "snapshot"  # the grader records the names the tests will use
    RESTORE = "restore"  # the grader restores them
    SOLUTION = "solution"  # the student's solution cell
    STUB = "stub"  # the released stub, where the student left no solution
    ADDED = "added"  # a cell the student added
    GUARD = "guard"  # the grader's check right before an exercise's tests
    TESTS = "tests"  # the exercise's tests, visible and hidden
    VERIFY = "verify"  # the grader's check right after them


STUDENT_CELLS = frozenset({Kind.SOLUTION, Kind.ADDED, Kind.STUB})  # cells whose outputs the student's page shows
EXERCISE_CELLS = frozenset({Kind.SOLUTION, Kind.GUARD, Kind.TESTS, Kind.VERIFY})  # a death there costs that exercise
