"""Grade a folder of submissions against a source notebook: the engine behind ``labs grade``.

Order of work, so that nothing is lost and nothing is started on a broken assignment:

1. the source notebook's exercise schema is checked (and, with ``manifest``, compared with what was
   released); a problem stops everything before any submission runs;
2. submissions are found (``student.ipynb`` or ``student/NN_name.ipynb``) and compared with the
   gradebook's fingerprints: only new, changed or previously failed (grader error) ones are graded
   unless ``force``;
3. each is read and normalised (:mod:`~labs_lib.grading.submissions`) and assembled into its grading
   copy (:mod:`~labs_lib.grading.assemble`); unreadable files get their rows at once;
4. the grading copies run, ``workers`` at a time, each in a new sandboxed kernel started by a runner process
   (one long-lived runner per worker thread locally; one per task on Dask)
   (:mod:`~labs_lib.grading.runner`), locally or on a Dask cluster (``scheduler``);
5. as each finishes, its rows go into ``gradebook.csv`` (atomically) and its feedback page is written;
6. at the end, ``summary.html`` and ``score_histogram.png``.

Two things need no kernel and are done before any submission runs: late penalties
(:mod:`~labs_lib.grading.deadlines`; the policy is kept in the state, so a later run without deadline options
applies the same one) are recomputed for every student already graded, whose pages are re-rendered when their
lateness changed; and the similarity report (:mod:`~labs_lib.grading.similarity`) is computed from every
submission's solution cells and written to ``similarity.csv``. So is the review sheet of the written answers
(:mod:`~labs_lib.grading.written`): the points a marker filled in go into the rows and pages of students already
graded, and into those of students graded in this run as their rows are written.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import os
import secrets
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from labs_lib.grading import (
    assemble,
    deadlines,
    execute,
    feedback,
    release,
    runner,
    sandbox,
    schema,
    similarity,
    submissions,
    written,
)
from labs_lib.grading.gradebook import Gradebook, fingerprint
from labs_lib.grading.limits import Limits
from labs_lib.grading.vocab import RUN_DIED, Status


@dataclass
class GradeOptions:
    """How to grade; every field has the default an instructor gets from ``labs grade``."""

    workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # submissions graded at once
    limits: Limits = field(default_factory=Limits)  # time, memory and output limits per submission
    parameters: dict[str, Any] = field(default_factory=dict)  # extra papermill parameters (-p name value)
    quick: bool = True  # the QUICK parameter: small data and few steps
    seed: int = 42  # the SEED parameter: the same numbers for every student
    isolation: str = "auto"  # "auto", "namespace" or "audit" (see labs_lib.grading.sandbox)
    force: bool = False  # grade again even what is up to date
    scheduler: str | None = None  # address of a Dask scheduler; None grades on this machine
    manifest: Path | None = None  # release manifest to compare the source with
    progress: bool = True  # show a progress bar on stderr
    deadline: deadlines.DeadlinePolicy | None = None  # None: keep the policy of the previous run, if any
    clear_deadline: bool = False  # forget the kept policy: no lateness, no penalties
    similarity_threshold: float = similarity.DEFAULT_THRESHOLD  # pairs at or above it are shown in the summary

    def papermill_parameters(self) -> dict[str, Any]:
        return {"QUICK": self.quick, "SEED": self.seed, **self.parameters}


@dataclass
class GradeReport:
    """What a grading run did."""

    graded: int
    skipped: int
    gradebook: Path
    summary: Path
    histogram: Path
    isolation: str
    warnings: list[str]
    results: list[dict[str, Any]]
    similarity: Path | None = None  # similarity.csv
    similar_pairs: int = 0  # pairs at or above the threshold
    repenalised: int = 0  # students already graded whose lateness or penalty changed (no regrading)
    review_sheet: Path | None = None  # review/written.csv, when the notebook has written answers
    reviewed: int = 0  # written answers with points in the review sheet
    to_review: int = 0  # written answers still waiting for points


@dataclass
class _Prepared:
    submission: submissions.Submission
    digest: str
    job: dict[str, Any] | None = None
    immediate: dict[str, Any] | None = None  # a result without running anything (invalid, missing)
    notes: list[str] = field(default_factory=list)
    flags: dict[str, list[str]] = field(default_factory=dict)


def _hidden_paths(submissions_dir: Path, source: Path, output: Path) -> list[str]:
    """What a kernel must not read in audit mode: other submissions, the source folder, the gradebook, git history."""
    hidden = {str(submissions_dir.resolve()), str(source.resolve().parent), str(output.resolve())}
    for parent in source.resolve().parents:
        if (parent / ".git").exists():
            hidden.add(str(parent / ".git"))
            break
    return sorted(hidden)


def _immediate(exercises: list[schema.Exercise], status: Status, reason: str) -> dict[str, dict[str, Any]]:
    return {ex.id: {"points": 0, "max": ex.points, "status": status, "reason": reason, "runtime": 0.0} for ex in exercises}


def _prepare(sub: submissions.Submission, digest: str, source_nb: Any, name: str, exercises: list[schema.Exercise],
             base_job: dict[str, Any]) -> _Prepared:
    prepared = _Prepared(sub, digest, notes=list(sub.notes))
    if sub.invalid:
        prepared.immediate = _immediate(exercises, Status.INVALID, sub.invalid)
        return prepared
    if sub.path is None:
        prepared.immediate = _immediate(exercises, Status.MISSING, sub.problem or "no submission")
        return prepared
    try:
        nb, notes = submissions.load(submissions.read_bytes(sub.path))
    except submissions.InvalidSubmission as error:
        prepared.immediate = _immediate(exercises, Status.INVALID, str(error))
        return prepared
    except OSError as error:
        prepared.immediate = _immediate(exercises, Status.INVALID, f"the file cannot be read: {error}")
        return prepared
    prepared.notes += notes
    built = assemble.assemble(source_nb, nb, name, nonce=secrets.token_hex(6))
    for ex_id, remarks in built.notes.items():
        prepared.notes += [f"{ex_id}: {r}" for r in remarks]
    prepared.flags = built.flags
    prepared.job = {**base_job, "student": sub.student, "grading_nb": built.nb, "missing": built.missing,
                    "hidden_lines": built.hidden_lines}
    return prepared


def _finish(prepared: _Prepared, result: dict[str, Any], book: Gradebook, output: Path, name: str,
            exercises: list[schema.Exercise], lateness: deadlines.Lateness | None = None,
            marked: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Write one student's rows and feedback page (``marked``: their written answers' results); returns what the
    instructor should look at."""
    results = result["exercises"]
    attention = []
    for ex in exercises:
        res = results.setdefault(ex.id, _immediate([ex], Status.ERROR, "grader error: no result")[ex.id])
        res["student_reason"] = res.get("reason", "")
        flags = prepared.flags.get(ex.id, [])
        if flags:
            res["reason"] = (res.get("reason", "") + " | review: " + "; ".join(flags)).lstrip(" |")
            attention.append(f"{ex.id}: " + "; ".join(flags))
        if res["status"] in (Status.ERROR, Status.TAMPERED, Status.CRASHED, Status.MEMORY):
            attention.append(f"{ex.id}: {res['status']}: {res.get('student_reason', '')}")
    results.update({ex: dict(res) for ex, res in (marked or {}).items()})
    notes = prepared.notes + result.get("notes", [])
    penalties = book.record(name, prepared.submission.student, prepared.digest, results,
                            extra={"runtime": result.get("runtime", 0.0), "attention": attention,
                                   "isolation": result.get("isolation", "")}, lateness=lateness)
    feedback.write_student_page(output, name, prepared.submission.student, results, result.get("cells", []), notes,
                                lateness, penalties)
    return attention


def _deadline_policy(book: Gradebook, name: str, options: GradeOptions, warnings: list[str]
                     ) -> deadlines.DeadlinePolicy | None:
    """This run's deadline policy: the options', else the one kept from the previous run (said in a warning)."""
    kept = book.state.setdefault("deadlines", {})
    if options.clear_deadline:
        kept.pop(name, None)
        return None
    if options.deadline is not None:
        kept[name] = options.deadline.to_json()
        return options.deadline
    if name in kept:
        try:
            policy = deadlines.DeadlinePolicy.from_json(kept[name])
        except (KeyError, TypeError, ValueError) as error:
            warnings.append(f"{name}: the kept deadline policy cannot be read ({error}); give --deadline again")
            return None
        warnings.append(f"{name}: applying the deadline policy of the previous run ({policy.describe()}); "
                        "--deadline none removes it")
        return policy
    return None


def _lateness(policy: deadlines.DeadlinePolicy | None, sub: submissions.Submission) -> deadlines.Lateness | None:
    if policy is None or sub.invalid or sub.path is None:
        return None  # nothing was handed in that could be late
    when = deadlines.submission_time(policy, sub.student, sub.path)
    return deadlines.assess(policy, sub.student, *when) if when else None


def _unknown_students(policy: deadlines.DeadlinePolicy, found: list[submissions.Submission], name: str) -> list[str]:
    students = {sub.student for sub in found}
    warnings = []
    for what, ids in (("extensions", policy.extensions), ("timestamps", policy.timestamps)):
        unknown = sorted(set(ids) - students)
        if unknown:
            shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            warnings.append(f"{name}: the {what} file names student(s) with no submission: {shown} "
                            "(check the spelling against the submission names)")
    return warnings


def _solutions(found: list[submissions.Submission], source_nb: Any, name: str) -> dict[str, dict[str, str]]:
    """Every readable submission's solution code per exercise (nothing runs; unreadable files are left out)."""
    solutions: dict[str, dict[str, str]] = {}
    for sub in found:
        if sub.invalid or sub.path is None:
            continue
        try:
            nb, _ = submissions.load(submissions.read_bytes(sub.path))
            solutions[sub.student] = assemble.solution_sources(source_nb, nb, name)
        except Exception:  # noqa: BLE001 - a file the report cannot read is left out of it; grading says why
            continue
    return solutions


def _local_results(jobs: Iterator[_Prepared], workers: int, batch: str) -> Iterator[tuple[_Prepared, dict[str, Any]]]:
    """Run jobs on this machine, ``workers`` at a time, yielding (prepared, result) as each finishes."""
    pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="labs-grade")
    local = threading.local()  # one long-lived runner process per worker thread
    runners: list[runner.RunnerProcess] = []
    lock = threading.Lock()

    def grade_one(job: dict[str, Any]) -> dict[str, Any]:
        if not hasattr(local, "runner"):
            local.runner = runner.RunnerProcess(batch)
            with lock:
                runners.append(local.runner)
        return local.runner.grade(job)

    pending: dict[cf.Future, _Prepared] = {}
    try:
        for prepared in jobs:
            if prepared.immediate is not None:
                yield prepared, {"exercises": prepared.immediate, "cells": [], "notes": []}
                continue
            pending[pool.submit(grade_one, prepared.job)] = prepared
            while len(pending) >= workers:
                done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        for future in cf.as_completed(list(pending)):
            yield pending.pop(future), future.result()
    finally:
        for future in pending:
            future.cancel()
        runner.kill_active(batch)
        pool.shutdown(wait=True, cancel_futures=True)
        for process in runners:
            process.close()


def _dask_results(jobs: Iterator[_Prepared], address: str, window: int) -> Iterator[tuple[_Prepared, dict[str, Any]]]:
    """Run jobs on a Dask cluster; at most ``window`` submitted at once so memory stays flat."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RuntimeError("--scheduler needs Dask: pip install 'labs-lib[dask]'") from None
    with Client(address, set_as_default=False) as client:
        window = max(window, 2 * sum(client.nthreads().values()))
        queue = as_completed(loop=client.loop)
        pending: dict[Any, _Prepared] = {}
        try:
            for prepared in jobs:
                if prepared.immediate is not None:
                    yield prepared, {"exercises": prepared.immediate, "cells": [], "notes": []}
                    continue
                future = client.submit(runner.run_job, prepared.job, pure=False,
                                       key=f"labs-grade-{prepared.submission.student}-{secrets.token_hex(4)}")
                pending[future] = prepared
                queue.add(future)
                while len(pending) >= window:
                    future = next(queue)
                    yield pending.pop(future), _dask_result(future)
            for future in queue:
                yield pending.pop(future), _dask_result(future)
        finally:
            for future in pending:
                future.cancel()


def _dask_result(future: Any) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as error:  # noqa: BLE001 - a lost worker: record it, keep the batch going
        return {"exercises": {}, "cells": [], "notes": [], "error": f"grader error: Dask worker failed: {error}"}


def _write_kernel_log(output: Path, name: str, student: str, text: str) -> None:
    """``kernel-logs/<notebook>/<student>.log``: the end of the kernel's log for a run that died or was stopped.

    For the instructor (never in feedback): a kernel stopped past the per-cell limit writes every thread's
    Python stack there first (:data:`labs_lib.grading.sandbox.STACKS_SIGNAL`)."""
    folder = output / "kernel-logs" / Path(name).stem
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{submissions.file_name(student)}.log").write_text(text or "(the kernel wrote nothing)\n")


def grade_folder(submissions_dir: Path, source: Path, output: Path, options: GradeOptions | None = None) -> GradeReport:
    """Grade every submission of ``source`` in ``submissions_dir``; write the gradebook, feedback and summary to ``output``."""
    options = options or GradeOptions()
    submissions_dir, source, output = Path(submissions_dir), Path(source), Path(output)
    if options.workers < 1:
        raise ValueError(f"workers must be >= 1, got {options.workers}")
    if not source.is_file():
        raise FileNotFoundError(f"no such source notebook: {source}")
    source_bytes = source.read_bytes()
    source_nb = nbformat.reads(source_bytes.decode("utf-8"), as_version=4)
    name = source.name
    exercises = schema.exercises(source_nb, name)  # raises SchemaError with every problem, before any grading
    if options.scheduler is None:  # Dask workers check their own packages before they run a submission
        execute.require_hooks()  # papermill, nbclient, jupyter_client still as the grader expects: one clear error
    warnings: list[str] = []
    by_hand = schema.written_answers(source_nb, name)  # graded by hand (review sheet): rows in notebook order
    written_ids = [w.id for w in by_hand]
    in_order = [i for _, i in sorted([(ex.tests_index, ex.id) for ex in exercises] + [(w.index, w.id) for w in by_hand])]
    if options.manifest:
        warnings += [f"{name}: {p}" for p in release.check_against_manifest(source_nb, name, Path(options.manifest))]
    found = submissions.discover(submissions_dir, name)
    isolation = options.isolation if options.scheduler else sandbox.choose_mode(options.isolation)
    output.mkdir(parents=True, exist_ok=True)
    book = Gradebook(output)
    book.register_exercises(name, in_order)
    parameters = options.papermill_parameters()
    source_sha = hashlib.sha256(source_bytes).hexdigest()
    exercise_ids = [ex.id for ex in exercises]
    todo = []
    for sub in found:
        digest = fingerprint(sub.digest(), source_sha, parameters)  # deadlines are not in it: they regrade nothing
        if options.force or not book.is_current(name, sub.student, digest, exercise_ids):
            todo.append((sub, digest))
    policy = _deadline_policy(book, name, options, warnings)
    if policy is not None:
        warnings += _unknown_students(policy, found, name)
    lateness = {sub.student: _lateness(policy, sub) for sub in found}
    graded_now = {sub.student for sub, _ in todo}
    marks = written.review(output, name, source_nb, found)  # the review sheet: written answers and their points
    warnings += marks.warnings
    all_ids = exercise_ids + written_ids
    repenalised, remarked, stale_pages = 0, 0, []
    for sub in found:  # students already graded: new marks or penalty go into their rows, and their page if changed
        if sub.student in graded_now:
            continue
        own = marks.results.get(sub.student, {})
        changed = book.put_rows(sub.student, own) if own else False
        late = book.reapply(sub.student, all_ids, lateness[sub.student])
        if not (changed or late):
            continue
        repenalised += late
        remarked += changed
        raw = book.raw_results(sub.student, all_ids)
        for ex, res in own.items():  # the marker's comment is what the student reads
            raw[ex].update(status=res["status"], student_reason=res["student_reason"])
        penalties = {ex: float(book.rows[(sub.student, ex)]["penalty"] or 0) for ex in all_ids}
        if feedback.rewrite_student_page(output, name, sub.student, raw, lateness[sub.student], penalties) is None:
            stale_pages.append(sub.student)
    if repenalised or remarked or options.deadline is not None or options.clear_deadline:
        book.save()  # the rows and the kept policy, even when nothing is graded in this run
    if stale_pages:
        warnings.append(f"{name}: the feedback pages of {', '.join(stale_pages[:5])}"
                        f"{f' and {len(stale_pages) - 5} more' if len(stale_pages) > 5 else ''} predate kept page "
                        "data and still show the old penalty or marks (the gradebook is right): --force writes them again")
    stubs = {ex.id: release.stub_solution(source_nb.cells[ex.solution_index].source, ex) for ex in exercises}
    similar = similarity.pairs(_solutions(found, source_nb, name), stubs)
    similarity_csv = similarity.write_csv(output, name, similar, options.similarity_threshold)
    base_job = {
        "notebook": name, "batch": secrets.token_hex(8),
        "exercises": [{"id": ex.id, "points": ex.points} for ex in exercises],
        "parameters": parameters, "limits": asdict(options.limits), "isolation": isolation,
        "threads": max(1, (os.cpu_count() or 1) // options.workers),
        "hidden": _hidden_paths(submissions_dir, source, output),
        "readonly": [os.environ["LABS_DATA_DIR"]] if os.environ.get("LABS_DATA_DIR") else [],
        "stubs": stubs,
        "visible": {ex.id: schema.split_hidden(source_nb.cells[ex.tests_index].source)[0] for ex in exercises},
    }
    sandbox.make_undumpable()
    jobs = (_prepare(sub, digest, source_nb, name, exercises, base_job) for sub, digest in todo)
    if options.scheduler:
        stream = _dask_results(jobs, options.scheduler, 2 * options.workers)
    else:
        stream = _local_results(jobs, options.workers, base_job["batch"])
    bar = _progress(len(todo), options.progress)
    results = []
    try:
        for prepared, result in stream:
            if result.get("error"):
                result = runner.error_result({"student": prepared.submission.student, "notebook": name,
                                               "exercises": base_job["exercises"]}, result["error"])
            _finish(prepared, result, book, output, name, exercises, lateness.get(prepared.submission.student),
                    marks.results.get(prepared.submission.student))
            kept = {k: v for k, v in result.items() if k not in ("cells", "log_tail")}  # keep memory flat
            if any(e.get("status") in RUN_DIED for e in result.get("exercises", {}).values()):
                kept["log_tail"] = result.get("log_tail", "")  # where the kernel was when it died or was stopped
                _write_kernel_log(output, name, prepared.submission.student, kept["log_tail"])
            results.append(kept)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(prepared.submission.student, refresh=False)
    finally:
        if bar is not None:
            bar.close()
        attention = [(student, nb_name, item)
                     for nb_name, students in book.state["submissions"].items()
                     for student, entry in sorted(students.items()) for item in entry.get("attention", [])]
        notebooks = dict(book.state.get("notebooks", {}))
        policies = {}
        for nb_name, kept in book.state.get("deadlines", {}).items():
            with contextlib.suppress(KeyError, TypeError, ValueError):
                policies[nb_name] = deadlines.DeadlinePolicy.from_json(kept).describe()
        summary, png = feedback.write_summary(output, book, notebooks, attention, isolation, policies,
                                              options.similarity_threshold)
    return GradeReport(graded=len(results), skipped=len(found) - len(todo), gradebook=book.path, summary=summary,
                       histogram=png, isolation=isolation, warnings=warnings, results=results,
                       similarity=similarity_csv, repenalised=repenalised, review_sheet=marks.csv_path,
                       reviewed=marks.reviewed, to_review=marks.pending,
                       similar_pairs=sum(1 for p in similar if p.similarity >= options.similarity_threshold))


def _progress(total: int, enabled: bool):
    if not enabled or total == 0:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="submission", desc="grading", file=sys.stderr, dynamic_ncols=True,
                disable=None)  # None: only on a terminal, not in CI logs
