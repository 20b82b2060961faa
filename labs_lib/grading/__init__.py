"""Student editions and grading for instructors: ``labs release`` and ``labs grade``.

One concern per module:

- :mod:`~labs_lib.grading.schema`        the exercise cell metadata and markers, checked before any work
- :mod:`~labs_lib.grading.nbgrader`      nbgrader's cell metadata read as labs metadata, and written for it
- :mod:`~labs_lib.grading.release`       student editions and the release manifest
- :mod:`~labs_lib.grading.submissions`   finding submissions and reading them leniently
- :mod:`~labs_lib.grading.assemble`      the grading copy: source cells, the student's solutions, the grader's cells
- :mod:`~labs_lib.grading.review`        static reading of cell sources (bound names, constructs to review)
- :mod:`~labs_lib.grading.kernel_guard`  runs inside the kernel: puts back what a submission changed before tests
- :mod:`~labs_lib.grading.sandbox`       the kernel's isolation (namespaces or audit hooks), limits, environment
- :mod:`~labs_lib.grading.limits`        a submission's limits, and the watchdog that enforces time and memory
- :mod:`~labs_lib.grading.execute`       one papermill run of a grading copy, with per-cell records
- :mod:`~labs_lib.grading.vocab`         the statuses of a result and the kinds of a grading copy's cells (enums)
- :mod:`~labs_lib.grading.scoring`       points, status and reason per exercise from those records
- :mod:`~labs_lib.grading.runner`        one submission in its own process, with reruns after a kernel death
- :mod:`~labs_lib.grading.deadlines`     deadlines, grace, late penalties and extensions; submission times
- :mod:`~labs_lib.grading.similarity`    pairwise similarity of solution code (winnowed token fingerprints)
- :mod:`~labs_lib.grading.written`       written answers graded by hand: the review sheet, its points in the gradebook
- :mod:`~labs_lib.grading.gradebook`     the CSV gradebook, written atomically, and what is up to date
- :mod:`~labs_lib.grading.sheets`        the one reader of instructors' CSV files (rosters, timestamps, extensions, the sheet)
- :mod:`~labs_lib.grading.feedback`      per-student HTML pages, the summary and the score histogram
- :mod:`~labs_lib.grading.pages`         the pages' Jinja2 templates (autoescaped) and what they are rendered from
- :mod:`~labs_lib.grading.grade`         the whole batch, locally or on a Dask cluster
- :mod:`~labs_lib.grading.term`          several graded folders as one term: points, weights, totals (reads only)
- :mod:`~labs_lib.grading.lms`           the roster, and the Canvas, Moodle, plain and term CSV files (``labs export``)

Entry points: :func:`labs_lib.grading.release.release_course` and :func:`labs_lib.grading.grade.grade_folder`.
This file imports nothing: the kernel and the sandbox wrapper import single modules of the package.
"""
