"""Grade one submission in its own process: attempts until every exercise has a result.

:func:`run_job` is what the scheduler calls (in a thread, or on a Dask worker): it starts
``python -m labs_lib.grading.runner`` as a separate process, hands it the job (the grading copy
with the hidden tests, the limits, the parameters) on stdin and reads the result (JSON) from its
stdout; whatever happens to that process, a result comes back, so a submission never stops a batch.

In that process, :func:`grade` runs the grading copy (:func:`labs_lib.grading.execute.execute`) and
scores it (:mod:`labs_lib.grading.scoring`). When the kernel dies (``os._exit``, a segfault, the
memory limit, a loop that ignores interrupts), the exercise whose cell was running gets the reason,
its solution is replaced by the release stub, its tests by their visible part, and the notebook runs
again from the top for the exercises after it, at most three times and within the wall-clock limit.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from labs_lib.grading import sandbox, scoring
from labs_lib.grading.execute import execute
from labs_lib.grading.limits import Limits
from labs_lib.grading.vocab import EXERCISE_CELLS, STUDENT_CELLS, Kind, Status

STALE_AFTER_S = 24 * 3600  # a work folder this old belongs to no running grader
WORK_ROOT = Path(tempfile.gettempdir()) / f"labs-grading-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
ACTIVE: dict[subprocess.Popen, str] = {}  # runner processes started by run_job -> their batch, for kill_active()
_ACTIVE_LOCK = threading.Lock()


def _without(nb: Any, exercise: str | None, added_uid: int | None, job: dict) -> Any:
    """The grading copy with one exercise neutralised (stub + visible checks only) or one added cell dropped."""
    import copy

    new = copy.deepcopy(nb)
    cells = []
    for cell in new.cells:
        meta = cell.metadata.get("labs_grading", {})
        if added_uid is not None and meta.get("uid") == added_uid:
            continue
        if exercise and meta.get("exercise") == exercise:
            if meta.get("kind") == "solution":
                cell.source = job["stubs"][exercise]
                meta["kind"] = "stub"
            elif meta.get("kind") in ("guard", "verify"):
                continue
            elif meta.get("kind") == "tests":
                cell.source = job["visible"][exercise]
                meta["kind"], meta["exercise"] = "lesson", None
        cells.append(cell)
    new.cells = cells
    return new


def grade(job: dict) -> dict[str, Any]:
    """Grade one submission in this process (the runner); see the module docstring."""
    import nbformat

    start = time.monotonic()
    limits = Limits(**job.get("limits", {}))
    deadline = start + limits.wall_timeout
    try:
        mode = sandbox.choose_mode(job.get("isolation", "auto"))
    except (RuntimeError, ValueError) as error:
        return error_result(job, str(error))
    nb = nbformat.from_dict(job["grading_nb"])
    job = {**job, "hidden": [*job.get("hidden", []), str(WORK_ROOT)]}  # other runners' folders too
    fixed: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    cells: list[dict] = []  # the student's own cells in the last attempt, for the feedback page
    WORK_ROOT.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in WORK_ROOT.glob("run-*"):  # left by a runner that was killed outright (SIGKILL)
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > STALE_AFTER_S:
                shutil.rmtree(stale, ignore_errors=True)
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=WORK_ROOT))
    attempts, final, ended, records = 0, {}, {}, {}
    died_logs: list[str] = []  # the kernel logs of attempts that died: kept for the instructor
    completed: dict[str, dict[str, Any]] = {}  # exercises whose tests ran to the end in some attempt
    try:
        while True:
            attempts += 1
            run = execute(nb, job, limits, deadline, workdir / f"attempt{attempts}", mode)
            records, ended = run["records"], run["ended"]
            if ended["how"] == "died" or any(r.get("killed") for r in records.values()):
                died_logs.append(f"--- attempt {attempts}: the kernel died or was stopped; the end of its log ---\n"
                                 f"{ended.get('log_tail', '')}")
            final = scoring.score(job, records, ended, limits)
            completed.update({ex: res for ex, res in final.items() if res["finished"]})
            cells = [records[i] for i in sorted(records) if records[i]["kind"] in STUDENT_CELLS]
            if ended["how"] != "died" or ended.get("reason") in ("wall", "orphaned") or attempts >= 3:
                break
            running = ended.get("cell") or {}  # the grading copy's cell that was running when the kernel died
            kind, exercise = running.get("kind"), running.get("exercise")
            status, reason = scoring.ended_status(ended, limits)
            if any(r.get("killed") for r in records.values()):
                status, reason = Status.TIMEOUT, (f"a cell ran past the per-cell limit of {limits.cell_timeout:g} s, ignored "
                                             "the interrupt and was stopped")
            if exercise and kind in EXERCISE_CELLS and exercise not in fixed:
                fixed[exercise] = {"points": 0, "max": next(e["points"] for e in job["exercises"] if e["id"] == exercise),
                                   "status": status, "reason": reason.replace(" before these tests could run", ""),
                                   "runtime": final.get(exercise, {}).get("runtime", 0.0)}
                notes.append(f"the kernel died in {exercise}; the notebook ran again without it")
                nb = _without(nb, exercise, None, job)
            elif kind == "added":
                notes.append(f"an added cell killed the kernel ({reason}); the notebook ran again without it")
                nb = _without(nb, None, running.get("uid"), job)
            else:
                break
            if time.monotonic() >= deadline:
                break
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for ex, res in final.items():  # a later attempt that stopped early keeps what an earlier one finished
        if not res["finished"] and ex in completed:
            final[ex] = completed[ex]
    final.update(fixed)
    for res in final.values():
        res.pop("finished", None)
    lesson_errors = lesson_errors_of(records)
    if lesson_errors:
        notes.append(lesson_error_note(lesson_errors))
    return {
        "student": job["student"], "notebook": job["notebook"], "exercises": final,
        "cells": cells, "runtime": round(time.monotonic() - start, 2),
        "attempts": attempts, "isolation": mode, "notes": notes, "peak_mb": ended.get("peak_mb", 0.0),
        "log_tail": "\n".join(died_logs) or ended.get("log_tail", ""), "lesson_errors": lesson_errors,
    }


def lesson_errors_of(records: dict[int, dict]) -> list[dict[str, Any]]:
    """The lesson's own cells (not exercises, not the grader's) that raised, in order, messages capped.

    A student sees them in the feedback's notes; the course's round-trip test requires none, which makes the
    grading run of the instructor's solutions also the test that every cell of every notebook runs.
    """
    return [{"cell": (r["source_index"] or 0) + 1, "ename": r["ename"], "evalue": (r["evalue"] or "")[:300]}
            for _, r in sorted(records.items()) if r["kind"] == Kind.LESSON and r["status"] == "error"]


def lesson_error_note(errors: list[dict[str, Any]], shown: int = 3) -> str:
    """One note for the feedback page about the lesson cells that raised."""
    listed = "; ".join(f"cell {e['cell']}: {scoring.message(e['ename'], e['evalue'])}" for e in errors[:shown])
    more = f"; and {len(errors) - shown} more" if len(errors) > shown else ""
    return (f"{len(errors)} cell(s) of the lesson itself raised an error, usually because of an answer above "
            f"them (cells counted from 1, markdown included): {listed}{more}")


def error_result(job: dict, reason: str) -> dict[str, Any]:
    """A result that records a grader-side failure for every exercise (re-graded on the next run)."""
    return {
        "student": job["student"], "notebook": job["notebook"], "cells": [], "runtime": 0.0, "attempts": 0,
        "isolation": job.get("isolation", "?"), "notes": [], "peak_mb": 0.0, "log_tail": "", "lesson_errors": [],
        "exercises": {ex["id"]: {"points": 0, "max": ex["points"], "status": Status.ERROR, "reason": reason, "runtime": 0.0}
                      for ex in job["exercises"]},
    }


# ---------------------------------------------------------------------------------------------------
# The process boundary


class RunnerProcess:
    """A ``python -m labs_lib.grading.runner`` process that grades jobs one after another.

    Starting Python with papermill, nbclient and nbformat costs over a second; a runner that stays
    up pays it once. It is replaced when it dies, when a job runs past its hard limit, and after
    ``max_jobs`` jobs. Student code never runs in it (only in the kernels it starts), so nothing of one
    submission reaches the next.
    """

    def __init__(self, batch: str = "", max_jobs: int = 50):
        self.batch, self.max_jobs = batch, max_jobs
        self.process: subprocess.Popen | None = None
        self.errors: Any = None
        self.jobs = 0

    def _start(self) -> subprocess.Popen:
        self.close()
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen([sys.executable, "-m", "labs_lib.grading.runner"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.errors, start_new_session=True)
        self.jobs = 0
        with _ACTIVE_LOCK:
            ACTIVE[self.process] = self.batch
        return self.process

    def _error_tail(self) -> str:
        if self.errors is None:
            return ""
        self.errors.seek(0)
        return self.errors.read()[-3000:].decode("utf-8", "replace").strip()[-500:]

    def grade(self, job: dict) -> dict[str, Any]:
        """Grade one job; never raises for a bad submission (a failure of the runner is an ``error`` result)."""
        import selectors

        limits = Limits(**job.get("limits", {}))
        hard_limit = limits.wall_timeout + limits.startup_timeout * 3 + 60
        job = {**job, "parent_pid": os.getpid()}
        process = self.process
        if process is None or process.poll() is not None or self.jobs >= self.max_jobs:
            process = self._start()
        self.jobs += 1
        try:
            process.stdin.write(json.dumps(job).encode() + b"\n")
            process.stdin.flush()
            with selectors.DefaultSelector() as selector:
                selector.register(process.stdout, selectors.EVENT_READ)
                ready = selector.select(timeout=hard_limit)
            line = process.stdout.readline() if ready else None
        except BrokenPipeError:
            line = b""
        except BaseException:
            self.close()
            raise
        if line is None:
            self.close()
            return error_result(job, f"grader error: the runner did not finish within {hard_limit:.0f} s")
        if not line.strip():
            code = process.wait(timeout=30) if process.poll() is None else process.returncode
            tail = self._error_tail()
            self.close()
            return error_result(job, f"grader error: the runner failed (exit {code}): {tail}")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            self.close()
            return error_result(job, "grader error: the runner's result was not JSON")

    def close(self) -> None:
        """Stop the runner (and anything it still runs)."""
        if self.process is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            _kill_group(self.process)
            with _ACTIVE_LOCK:
                ACTIVE.pop(self.process, None)
            self.process = None
        if self.errors is not None:
            self.errors.close()
            self.errors = None

    def __enter__(self) -> RunnerProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def run_job(job: dict) -> dict[str, Any]:
    """Grade one job in a fresh runner process and return its result; never raises for a bad submission.

    This is the unit of work for Dask workers: it needs only the job itself (the grading copy travels
    inside it, no shared files).
    """
    with RunnerProcess(str(job.get("batch", ""))) as runner:
        return runner.grade(job)


def kill_active(batch: str) -> int:
    """Kill the runners of ``batch`` that are still running (an interrupted batch); returns how many."""
    with _ACTIVE_LOCK:
        running = [process for process, owner in ACTIVE.items() if owner == batch]
    for process in running:
        _kill_group(process)
    return len(running)


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        process.wait(timeout=10)


def main() -> None:
    """``python -m labs_lib.grading.runner``: jobs (one JSON per line) on stdin, one result line each on stdout."""
    sandbox.make_undumpable()
    results = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything papermill or a library prints goes to stderr, not into the results
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            result = grade(job)
        except Exception as error:  # noqa: BLE001 - report, never lose the row
            import traceback

            traceback.print_exc()
            result = error_result(job, f"grader error: {type(error).__name__}: {error}")
        results.write(json.dumps(result) + "\n")
        results.flush()


if __name__ == "__main__":
    main()

