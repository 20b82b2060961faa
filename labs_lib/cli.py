"""The ``labs`` command: ``labs doctor`` (what this machine has), ``labs clean``, ``labs release`` and
``labs grade`` (student editions and grading, see :mod:`labs_lib.grading`), ``labs run`` (the course with
papermill: times, memory, figures; :mod:`labs_lib.runs`), ``labs bench`` (``benchmarks/``) and ``labs results``
(the README's results table from the results files; :mod:`labs_lib.report`)."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
from pathlib import Path

PACKAGES = ("tensorflow", "keras", "numpy", "scikit-learn", "matplotlib", "jupyterlab", "ipywidgets",
            "papermill", "nbformat", "nbclient", "labs-lib")


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def doctor(args: argparse.Namespace) -> int:
    """Print versions, the device profile and the state of each data set; exit 1 if something is missing."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"python      {platform.python_version()} ({sys.executable})")
    print(f"platform    {platform.platform()}, {os.cpu_count()} CPU core(s)")
    missing = []
    for name in PACKAGES:
        version = _version(name)
        if version == "not installed":
            missing.append(name)
        print(f"{name:<11} {version}")

    from labs_lib import config, data, device, standin

    print(f"quick mode  {config.is_quick()} (from {config.mode_source()})")
    print(f"data dir    {config.data_dir()}")
    for name, meaning in ((device.PRECISION_ENV, "forces the precision policy"),
                          (device.REPLICAS_ENV, "logical CPU devices under MirroredStrategy")):
        value = os.environ.get(name, "").strip()
        print(f"{name:<14} {value} ({meaning}, simulating a GPU machine)" if value else f"{name:<14} not set")
    try:
        profile = device.setup(force_cpu=args.cpu)
    except ValueError as error:
        print(f"device setup failed: {error}")
        return 1
    print(profile.report())
    for key, spec in data.SOURCES.items():
        status = data.cache_status(key)
        if status.startswith("cached"):
            line = status
        elif data.source_reachable(key):
            line = f"{status}; source reachable (downloaded on first use)"
        else:
            line = f"{status}; source unreachable: the offline fallback (the stand-in of 70,000 generated digits) will be used"
        print(f"{spec['title']:<14} {line}")
    print(f"stand-in       offline MNIST stand-in: {standin.cache_status()}")
    print("digits         bundled with scikit-learn (offline)")
    print(f"text corpus    {data.load_text_corpus(quick=False).source}")
    if missing:
        print(f"missing packages: {', '.join(missing)}: run `make lab` or `pip install -e .`")
        return 1
    print("all good")
    return 0


def clean(args: argparse.Namespace) -> int:
    """Clean every notebook under the given paths (files or folders); with ``--check`` only say which are not."""
    from labs_lib import nbclean

    paths: list[Path] = []
    for raw in args.paths:
        p = Path(raw)
        if not p.exists():
            print(f"no such file or folder: {p}", file=sys.stderr)
            return 2
        paths.extend(sorted(p.rglob("*.ipynb")) if p.is_dir() else [p])
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    if args.check:  # nothing written: list what is not clean and why; exit 1 if anything is
        dirty = {p: nbclean.problems(p.read_text(encoding="utf-8")) for p in paths}
        dirty = {p: found for p, found in dirty.items() if found}
        for p, found in dirty.items():
            print(f"not clean: {p}: {'; '.join(found)}")
        print(f"{len(paths)} notebook(s) checked, {len(dirty)} not clean"
              + (": run `labs clean` on them (make clean-notebooks)" if dirty else ""))
        return 1 if dirty else 0
    changed = [p for p in paths if nbclean.clean_file(p)]
    for p in changed:
        print(f"cleaned {p}")
    print(f"{len(paths)} notebook(s) checked, {len(changed)} cleaned")
    return 0


def _parameter_value(raw: str):
    """``-p name value`` values as papermill's command line reads them: numbers, True/False/None, else text."""
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def release(args: argparse.Namespace) -> int:
    """Write student editions of the course (or one notebook) and the manifest."""
    from labs_lib.grading import release as releasing
    from labs_lib.grading.schema import SchemaError

    try:
        report = releasing.release_course(Path(args.source), Path(args.output))
    except SchemaError as error:
        print(error, file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as error:
        print(f"labs release: {error}", file=sys.stderr)
        return 2
    for path in report.notebooks:
        print(f"wrote {path}")
    print(f"{len(report.notebooks)} notebook(s), {report.exercises} exercise(s), {report.points} point(s); "
          f"manifest: {report.manifest}")
    return 0


def grade(args: argparse.Namespace) -> int:
    """Grade a folder of submissions; gradebook, feedback pages and summary go to the output folder."""
    from labs_lib.grading.grade import GradeOptions, grade_folder
    from labs_lib.grading.limits import Limits
    from labs_lib.grading.schema import SchemaError

    options = GradeOptions(
        workers=args.workers, parameters={name: _parameter_value(value) for name, value in args.parameter},
        seed=args.seed, quick=not args.full, isolation=args.isolation, force=args.force, scheduler=args.scheduler,
        manifest=Path(args.manifest) if args.manifest else None, progress=not args.no_progress,
        limits=Limits(cell_timeout=args.cell_timeout, wall_timeout=args.timeout, memory_mb=args.memory),
    )
    try:
        report = grade_folder(Path(args.submissions), Path(args.source), Path(args.output), options)
    except SchemaError as error:
        print(error, file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"labs grade: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: every submission graded so far is in the gradebook; run again to resume",
              file=sys.stderr)
        return 130
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"graded {report.graded} submission(s), {report.skipped} up to date (isolation: {report.isolation})")
    print(f"gradebook: {report.gradebook}\nsummary:   {report.summary}\nhistogram: {report.histogram}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labs", description="Tools for the deep-learning course.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("doctor", help="print versions, the device profile and data set status")
    p.add_argument("--cpu", action="store_true", help="report the CPU-only profile (hide GPUs)")
    p.set_defaults(func=doctor)
    p = commands.add_parser("clean", help="strip outputs, execution counts and run-time metadata from notebooks")
    p.add_argument("paths", nargs="+", help="notebooks or folders of notebooks")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 and say why if a notebook is not clean")
    p.set_defaults(func=clean)
    p = commands.add_parser("release", help="write student editions (stubs, no hidden tests) and a manifest")
    p.add_argument("source", help="the course folder (notebooks/) or one notebook")
    p.add_argument("-o", "--output", required=True, help="folder for the student editions, e.g. release/")
    p.set_defaults(func=release)
    p = commands.add_parser("grade", help="grade a folder of submissions: gradebook, feedback pages, summary")
    p.add_argument("submissions", help="folder of student_id.ipynb files or student_id/NN_name.ipynb folders")
    p.add_argument("--source", required=True, help="the source notebook with solutions and hidden tests")
    p.add_argument("-o", "--output", required=True, help="folder for gradebook.csv, feedback/ and the summary")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="submissions graded at once (default: the number of cores)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="extra papermill parameter (repeatable)")
    p.add_argument("--seed", type=int, default=42, help="the SEED parameter (default 42)")
    p.add_argument("--full", action="store_true", help="grade with QUICK=False (full data and epochs)")
    p.add_argument("--cell-timeout", type=float, default=120.0, help="seconds per cell before it is interrupted")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds for a whole notebook")
    p.add_argument("--memory", type=int, default=2048, help="memory limit per submission in MB")
    p.add_argument("--isolation", choices=("auto", "namespace", "audit"), default="auto",
                   help="kernel sandbox (auto: namespaces when the system allows them)")
    p.add_argument("--force", action="store_true", help="grade again what is already up to date")
    p.add_argument("--scheduler", help="address of a Dask scheduler (tcp://host:8786) to grade on a cluster")
    p.add_argument("--manifest", help="release manifest.json: warn if the source changed since the release")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=grade)
    from labs_lib import report as results_report
    from labs_lib import runs

    runs.add_parser(commands)
    results_report.add_parsers(commands)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
