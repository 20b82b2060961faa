"""Points, status and reason of every exercise from the cell records of one run.

An exercise passes only if the grader's guard cell before its tests, the tests cell and the
verification after it all ran to completion and the kernel replied ``ok`` for each, with no error
output: a dead kernel, a skipped cell or a timeout never counts as a pass. The reason is what a
student can act on: the failing check's message, the error of their solution cell, the limit that
stopped the run; never the hidden tests' code.
"""

from __future__ import annotations

from typing import Any

from labs_lib.grading.limits import Limits
from labs_lib.grading.vocab import Kind, Status

STATUSES = tuple(Status)


def message(ename: str | None, evalue: str | None) -> str:
    evalue = (evalue or "").strip()
    if ename in ("CheckError", "AssertionError") and evalue:
        return evalue
    return f"{ename}: {evalue}" if evalue else str(ename)


def ended_status(ended: dict, limits: Limits) -> tuple[str, str]:
    reason = ended.get("reason")
    if reason == "wall":
        return Status.TIMEOUT, f"the notebook ran past the wall-clock limit of {limits.wall_timeout:g} s and was stopped"
    if reason == "memory":
        return Status.MEMORY, f"the kernel used more than the memory limit of {limits.memory_mb} MB and was stopped"
    if ended.get("how") == "error":
        return Status.ERROR, f"grader error: {ended.get('detail')}"
    return Status.CRASHED, (ended.get("exit") or "the kernel died") + " before these tests could run"


def score(job: dict, records: dict[int, dict], ended: dict, limits: Limits) -> dict[str, dict[str, Any]]:
    """Points, status and reason of every exercise from one attempt's records."""
    results: dict[str, dict[str, Any]] = {}
    by_exercise: dict[str, dict[str, dict]] = {}
    for record in records.values():
        if record["exercise"]:
            by_exercise.setdefault(record["exercise"], {})[record["kind"]] = record
    for ex in job["exercises"]:
        ex_id, points = ex["id"], ex["points"]
        cells = by_exercise.get(ex_id, {})
        solution, guard, tests, verify = (cells.get(k) for k in (Kind.SOLUTION, Kind.GUARD, Kind.TESTS, Kind.VERIFY))
        runtime = round(sum(c["seconds"] for c in cells.values()), 2)
        status, reason = Status.PASSED, ""
        if ex_id in job.get("missing", {}):
            status, reason = Status.MISSING, job["missing"][ex_id]
        elif tests is None or tests["status"] == "unfinished" or guard is None:
            status, reason = ended_status(ended, limits)
            if tests is not None and tests["status"] == "unfinished" and status != Status.ERROR:
                reason = reason.replace(" before these tests could run", " while these tests ran")
        elif guard["status"] != "ok":
            status = Status.TAMPERED if guard["ename"] == "TamperError" else Status.ERROR
            reason = f"the grader's check before the tests failed: {message(guard['ename'], guard['evalue'])}"
        elif tests["status"] != "ok":
            said = message(tests["ename"], tests["evalue"])
            if tests["timed_out"]:
                status = Status.TIMEOUT
                reason = f"the tests ran past the per-cell limit of {limits.cell_timeout:g} s and were interrupted (an endless loop?)"
            else:
                status, reason = Status.FAILED, said
            if solution and solution["status"] != "ok":
                lead = (f"your solution cell ran past the per-cell limit of {limits.cell_timeout:g} s"
                        if solution["timed_out"] else f"your solution cell raised {message(solution['ename'], solution['evalue'])}")
                status = Status.TIMEOUT if solution["timed_out"] else status
                reason = f"{lead}; then the tests failed: {said}"
        elif verify is None or verify["status"] == "unfinished":
            status, reason = ended_status(ended, limits)
        elif verify["status"] != "ok":
            status = Status.TAMPERED if verify["ename"] == "TamperError" else Status.ERROR
            reason = message(verify["ename"], verify["evalue"])
        undone = sorted({item for report in (guard or {}).get("guard", []) if report for item in report.get("undone", [])})
        if undone and status != Status.MISSING:
            shown = ", ".join(undone[:6]) + (f" and {len(undone) - 6} more" if len(undone) > 6 else "")
            reason = (reason + "; " if reason else "") + f"before the tests the grader undid changes to {shown}"
        finished = tests is not None and tests["status"] != "unfinished" and (
            verify is not None and verify["status"] != "unfinished" or status != Status.PASSED)
        results[ex_id] = {"points": points if status == Status.PASSED else 0, "max": points, "status": status,
                          "reason": reason, "runtime": runtime, "finished": finished}
    return results
