"""Grading throughput of ``labs grade``: submissions per minute with 1 and with 2 workers, and what the
grader adds to each submission over the notebook's own run time.

    python benchmarks/grading_throughput.py                      # notebook 00, 4 submissions, 1 and 2 workers
    python benchmarks/grading_throughput.py --notebook notebooks/03_backpropagation.ipynb --submissions 6

Every submission is the student edition with the instructor's solutions filled in (full marks), so all of
it runs. The notebook's own run time is papermill executing that same notebook in quick mode in a plain
kernel (no sandbox, no grading cells), measured ``--baseline-runs`` times (the fastest counts). The
overhead per submission is the single-worker wall time per submission minus that run time: kernel
sandbox, guard cells, result collection, feedback page and gradebook write.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from labs_lib.grading import grade, release, sandbox, schema  # noqa: E402


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

    path = work / "baseline.ipynb"
    nbformat.write(notebook, path)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        papermill.execute_notebook(str(path), str(work / "baseline-out.ipynb"), parameters={"QUICK": True, "SEED": 42},
                                   kernel_name="python3", progress_bar=False, cwd=str(work))  # fmt: skip
        times.append(time.perf_counter() - start)
    return min(times)


def grading_time(notebook: nbformat.NotebookNode, source: Path, work: Path, submissions: int, workers: int,
                 isolation: str) -> float:  # fmt: skip
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", default=str(ROOT / "notebooks" / "00_welcome_and_setup.ipynb"))
    parser.add_argument("--submissions", type=int, default=4, help="submissions per measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to measure")
    parser.add_argument("--baseline-runs", type=int, default=2)
    parser.add_argument("--isolation", default="auto", choices=("auto", "namespace", "audit"))
    args = parser.parse_args()
    source = Path(args.notebook).resolve()
    isolation = sandbox.choose_mode(args.isolation)
    notebook = filled_edition(source)
    work = Path(tempfile.mkdtemp(prefix="labs-bench-"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} core(s); "
              f"python {platform.python_version()}; isolation: {isolation}")  # fmt: skip
        print(f"notebook: {source.name}, {args.submissions} submission(s) per run, quick mode")
        baseline = own_run_time(notebook, work, args.baseline_runs)
        print(f"own run time (papermill, no grading): {baseline:.1f} s")
        print(f"{'workers':>7}  {'wall s':>7}  {'submissions/min':>15}  {'s per submission':>16}  {'overhead s':>10}")
        for workers in args.workers:
            seconds = grading_time(notebook, source, work, args.submissions, workers, isolation)
            per_submission = seconds / args.submissions
            overhead = per_submission * workers - baseline
            print(f"{workers:>7}  {seconds:>7.1f}  {60 * args.submissions / seconds:>15.2f}  {per_submission:>16.1f}  "
                  f"{overhead:>10.1f}")  # fmt: skip
        print("overhead = wall time x workers / submissions - own run time (with more workers than cores it also "
              "counts the wait for a core)")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
