"""Grading throughput of ``labs grade``: submissions per minute with 1 and with 2 workers, and what the
grader adds to each submission over the notebook's own run time.

    python -m benchmarks.grading_throughput [--quick]     # notebook 00: 6 submissions (quick: 2), 1 and 2 workers

Every submission is the student edition with the instructor's solutions filled in (full marks), so all of
it runs. The notebook's own run time is papermill executing that same notebook in quick mode in a plain
kernel (no sandbox, no grading cells), measured ``--baseline-runs`` times (the fastest counts). The
overhead per submission is the single-worker wall time per submission minus that run time: kernel
sandbox, guard cells, result collection, feedback page and gradebook write.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from benchmarks.common import ROOT, figure, main
from labs_lib.grading import grade, release, sandbox, schema

NOTEBOOK = ROOT / "notebooks" / "00_welcome_and_setup.ipynb"


def filled_edition(source_path: Path) -> nbformat.NotebookNode:
    """The student edition with the source's solutions in the solution cells."""
    source = nbformat.read(source_path, as_version=4)
    edition = release.student_edition(source, source_path.name)
    for ex in schema.exercises(source, source_path.name):
        edition.cells[ex.solution_index].source = source.cells[ex.solution_index].source
    return edition


def own_run_time(notebook: nbformat.NotebookNode, work: Path, runs: int) -> float:
    """Seconds papermill needs to run the notebook in quick mode, no grading (fastest of ``runs``)."""
    import papermill

    from labs_lib import nbexec

    path = work / "baseline.ipynb"
    nbformat.write(notebook, path)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        papermill.execute_notebook(str(path), str(work / "baseline-out.ipynb"), parameters={"QUICK": True, "SEED": 42},
                                   kernel_name="python3", progress_bar=False, cwd=str(work),
                                   engine_name=nbexec.register_engine())
        times.append(time.perf_counter() - start)
    return min(times)


def grading_time(notebook: nbformat.NotebookNode, source: Path, work: Path, submissions: int, workers: int,
                 isolation: str) -> float:
    """Wall-clock seconds for ``labs grade`` on ``submissions`` copies with ``workers`` workers."""
    subs = work / f"subs-{workers}"
    subs.mkdir()
    for i in range(submissions):
        nbformat.write(notebook, subs / f"student{i:03d}.ipynb")
    options = grade.GradeOptions(workers=workers, progress=False, isolation=isolation)
    start = time.perf_counter()
    report = grade.grade_folder(subs, source, work / f"grades-{workers}", options)
    seconds = time.perf_counter() - start
    failed = [r for r in report.results for e in r["exercises"].values() if e["status"] != "passed"]
    if failed:
        raise SystemExit(f"a benchmark submission did not get full marks: {failed[0]}")
    return seconds


def run(quick: bool) -> list[dict]:
    submissions = 2 if quick else 6
    source = NOTEBOOK
    isolation = sandbox.choose_mode("auto")
    notebook = filled_edition(source)
    work = Path(tempfile.mkdtemp(prefix="labs-bench-"))
    try:
        baseline = own_run_time(notebook, work, 1 if quick else 2)
        figures = []
        for workers in (1, 2):
            seconds = grading_time(notebook, source, work, submissions, workers, isolation)
            per_submission = seconds / submissions
            overhead = per_submission * workers - baseline
            figures.append(figure(f"grading: submissions per minute, {workers} worker(s)", 60 * submissions / seconds,
                                  "per min", detail=f"{source.name}, quick mode, {submissions} submissions, "
                                  f"isolation {isolation}"))
            figures.append(figure(f"grading: overhead per submission, {workers} worker(s)", overhead, "s",
                                  detail=f"over the notebook's own {baseline:.1f} s run (papermill, no grading)"))
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main("grading_throughput", run, __doc__)
