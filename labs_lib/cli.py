"""The ``labs`` command: ``labs doctor`` (what this machine has), ``labs clean``, ``labs release`` and
``labs grade`` (student editions and grading, see :mod:`labs_lib.grading`), ``labs run`` (the course with
papermill: times, memory, figures; :mod:`labs_lib.runs`), ``labs bench`` (``benchmarks/``) and ``labs results``
(the README's results table from the results files; :mod:`labs_lib.report`) and ``labs glossary`` (GLOSSARY.md
from the notebooks' glosses; :mod:`labs_lib.glossary`)."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Any

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
        report = releasing.release_course(Path(args.source), Path(args.output), nbgrader=args.nbgrader)
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
    for line in report.unscored:
        print(f"graded by hand: {line}")
    return 0


def grade(args: argparse.Namespace) -> int:
    """Grade a folder of submissions; gradebook, feedback pages and summary go to the output folder."""
    from labs_lib.grading import lms
    from labs_lib.grading.grade import GradeOptions, grade_folder
    from labs_lib.grading.limits import Limits
    from labs_lib.grading.schema import SchemaError

    roster = None
    if args.roster:  # checked before grading, which may take long; labs export then uses it
        try:
            roster = lms.read_roster(Path(args.roster))
        except ValueError as error:
            print(f"labs grade: {error}", file=sys.stderr)
            return 2
    try:
        policy, clear_deadline, threshold = _grade_deadline(args)
    except ValueError as error:  # DeadlineError: a bad date, penalty, duration or file, with what to write
        print(f"labs grade: {error}", file=sys.stderr)
        return 2
    options = GradeOptions(
        workers=args.workers, parameters={name: _parameter_value(value) for name, value in args.parameter},
        seed=args.seed, quick=not args.full, isolation=args.isolation, force=args.force, scheduler=args.scheduler,
        manifest=Path(args.manifest) if args.manifest else None, progress=not args.no_progress,
        limits=Limits(cell_timeout=args.cell_timeout, wall_timeout=args.timeout, memory_mb=args.memory),
        deadline=policy, clear_deadline=clear_deadline, similarity_threshold=threshold,
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
    if roster is not None:
        unknown = lms.remember_roster(Path(args.output), roster)
        if unknown:
            print(f"warning: graded but not in the roster {args.roster}: {', '.join(unknown)}", file=sys.stderr)
    print(f"graded {report.graded} submission(s), {report.skipped} up to date (isolation: {report.isolation})")
    print(f"gradebook: {report.gradebook}\nsummary:   {report.summary}\nhistogram: {report.histogram}")
    if policy is not None:
        print(f"deadline:  {policy.describe()}")
    if report.repenalised:
        print(f"lateness recomputed for {report.repenalised} student(s) already graded (nothing regraded)")
    print(f"similarity: {report.similarity} ({report.similar_pairs} pair(s) at or above {threshold:g})")
    if report.review_sheet is not None:
        print(f"written answers: {report.reviewed} graded by hand, {report.to_review} to grade in "
              f"{report.review_sheet} (fill in points and comment, then run labs grade again: no code is regraded)")
    return 0


def _grade_deadline(args: argparse.Namespace) -> tuple[Any, bool, float]:
    """``labs grade``'s deadline policy (or None), whether to forget the kept one, and the similarity threshold."""
    from labs_lib.grading import deadlines, similarity

    threshold = similarity.parse_threshold(args.similarity_threshold)
    policy, clear = deadlines.from_options(args.deadline, args.grace, args.late_penalty, args.penalty_cap,
                                           args.extensions, args.timestamps)
    if policy is not None and deadlines.naive_deadline(args.deadline):
        print(f"note: --deadline {args.deadline} has no time zone: read as UTC", file=sys.stderr)
    return policy, clear, threshold


def export(args: argparse.Namespace) -> int:
    """Write one or more grading folders as a Canvas, Moodle, plain or term CSV (see :mod:`labs_lib.grading.lms`)."""
    from labs_lib.grading import lms, term

    try:
        weights = term.parse_weights(args.weights)
        book = term.load_term([Path(folder) for folder in args.folders], weights)
        roster_path = Path(args.roster) if args.roster else lms.remembered_roster([Path(f) for f in args.folders])
        roster = lms.read_roster(roster_path) if roster_path else None
        if roster_path and not args.roster:
            print(f"roster: {roster_path} (from labs grade --roster)")
        names = lms.parse_assignment_names(args.assignment_name, [part.label for part in book.parts])
        options = lms.ExportOptions(format=args.format, missing=args.missing, identity=args.lms_id,
                                    assignment_names=names)
        report = lms.export(book, Path(args.output), roster, options)
    except ValueError as error:  # TermError and RosterError are ValueErrors with what to fix
        print(f"labs export: {error}", file=sys.stderr)
        return 2
    fill = "0" if args.missing == "zero" else "left blank"
    if report.not_in_roster:
        kept = "kept, with no name" if report.format == "term" else "NOT exported"
        print(f"warning: graded but not in the roster ({kept}): {', '.join(report.not_in_roster)}", file=sys.stderr)
    if report.no_submission:
        print(f"note: in the roster with no submission ({fill}): {', '.join(report.no_submission)}", file=sys.stderr)
    partial = {s: labels for s, labels in report.missing.items() if s not in report.no_submission}
    totals = report.format in ("plain", "term")
    for student, labels in partial.items():
        print(f"note: {student} has no submission in {', '.join(labels)} "
              + ("(0 in the total)" if totals else f"({fill} in the file)"), file=sys.stderr)
    if book.weighted and not totals:
        print(f"note: {report.format} gets each notebook's points; the weights only change plain and term totals "
              "(weight the assignments in the LMS)", file=sys.stderr)
    weighting = ("weighted " + ",".join(f"{p.label}={p.weight:g}" for p in book.parts)
                 if book.weighted and totals else "one column per folder" if not totals else "unweighted")
    print(f"wrote {report.path}: {report.format}, {report.rows} student(s), {len(book.parts)} folder(s), {weighting}")
    return 0


def links_command(args: argparse.Namespace) -> int:
    from labs_lib import links

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"labs links: {folder} is not a folder; give the course's notebooks folder", file=sys.stderr)
        return 2
    stale = links.update_notebooks(folder, write=not args.check)
    for name in stale:
        print(f"{name}: {'stale badges or Colab setup cell' if args.check else 'updated'} ({links.REPOSITORY})")
    if args.check and stale:
        print("run `labs links` to update them", file=sys.stderr)
        return 1
    return 0


def pretrain(args: argparse.Namespace) -> int:
    """Rebuild the course GPT's checkpoint with :func:`labs_lib.pretrained.pretrain`; print its SHA-256."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from labs_lib import pretrained

    result = pretrained.pretrain(args.output or pretrained.CHECKPOINT,
                                 num_steps=args.steps or pretrained.PRETRAIN["num_steps"],
                                 seed=pretrained.PRETRAIN["seed"] if args.seed is None else args.seed)
    return 0 if result["val_loss"] < pretrained.MAX_VAL_LOSS else 1


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
    p = commands.add_parser("links", help="the lessons' Binder/Colab badges and Colab setup cell, from links.REPOSITORY")
    p.add_argument("folder", nargs="?", default="notebooks", help="the course folder (default: notebooks)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 and name the stale lessons")
    p.set_defaults(func=links_command)
    p = commands.add_parser("release", help="write student editions (stubs, no hidden tests) and a manifest")
    p.add_argument("source", help="the course folder (notebooks/) or one notebook")
    p.add_argument("-o", "--output", required=True, help="folder for the student editions, e.g. release/")
    p.add_argument("--nbgrader", action="store_true",
                   help="also write nbgrader's cell metadata into the editions (for nbgrader's tools)")
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
    p.add_argument("--roster", help="roster CSV (student ids to LMS identities): checked now, used by labs export")
    p.add_argument("--deadline", help="ISO 8601 deadline, e.g. 2026-12-03T23:59+01:00 (no time zone: UTC); "
                                      "kept for later runs; 'none' removes it")
    p.add_argument("--grace", help="lateness that costs nothing, e.g. 15m, 2h, 1d (default 0)")
    p.add_argument("--late-penalty", help="percent of the notebook's points per started day or hour after the "
                                          "grace period, e.g. 10%%/day or 2%%/hour (default: none, lateness only)")
    p.add_argument("--penalty-cap", help="the most lateness can cost, e.g. 50%% (default 100%%)")
    p.add_argument("--extensions", help="CSV student,deadline or student,hours: per-student extensions")
    p.add_argument("--timestamps", help="CSV student,time (or an LMS download: Canvas submitted_at, Moodle's "
                                        "grading worksheet); default: the files' modification times")
    p.add_argument("--similarity-threshold", default="0.7",
                   help="similarity (0-1 or %%) from which pairs of solutions are listed in summary.html (default 0.7)")
    p.set_defaults(func=grade)
    p = commands.add_parser("export", help="grading folders as a Canvas, Moodle, plain or term CSV (LMS import)")
    p.add_argument("folders", nargs="+", help="labs grade output folders, one per notebook (grades/04 grades/07)")
    p.add_argument("--format", choices=("canvas", "moodle", "plain", "term"), default="plain",
                   help="canvas/moodle: their grade import CSV; plain: one total per student; term: the term "
                        "gradebook (default plain)")
    p.add_argument("--roster", help="CSV mapping student ids to LMS identities (needed for canvas and moodle)")
    p.add_argument("-o", "--output", required=True, help="the CSV file to write, e.g. export.csv")
    p.add_argument("--weights", "--weight", dest="weights", action="append", metavar="LABEL=W[,LABEL=W]",
                   help="weight per folder (its name): --weights 04=0.4,07=0.6 or repeated --weight 04=0.4")
    p.add_argument("--assignment-name", action="append", metavar="[LABEL=]NAME",
                   help="LMS assignment name per folder, e.g. '04=Lab 4 (1234)' (Canvas: Name (assignment id)); "
                        "default: the notebook's name")
    p.add_argument("--missing", choices=("zero", "blank"), default="zero",
                   help="grade of a roster student with no submission: 0 (default) or left blank")
    p.add_argument("--lms-id", default="email",
                   choices=("email", "idnumber", "username", "lms_id", "sis_user_id", "sis_login_id"),
                   help="roster field in Moodle's identifier column and plain's lms_id column (default email)")
    p.set_defaults(func=export)
    from labs_lib import glossary, runs, site
    from labs_lib import report as results_report

    runs.add_parser(commands)
    results_report.add_parsers(commands)
    glossary.add_parser(commands)
    p = commands.add_parser("pretrain", help="rebuild the course GPT's pretrained checkpoint (lesson 11), deterministically")
    p.add_argument("-o", "--output", help="where to write it (default: labs_lib/checkpoints/course_gpt.npz)")
    p.add_argument("--steps", type=int, help="training steps (default 2000, labs_lib.pretrained.PRETRAIN)")
    p.add_argument("--seed", type=int, help="seed of the weights and the batches (default 0)")
    p.set_defaults(func=pretrain)
    site.add_parser(commands)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
