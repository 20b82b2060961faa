"""The round trip: release the course, fill every stub with the instructor's solution, grade every notebook
in quick mode, get full marks on every exercise with no remark, and feedback pages without hidden tests.

This is also where ``make test`` executes the course: every cell of every notebook runs once here (the released
edition filled with the solutions is the source notebook's code), and a lesson cell that raises fails the test
with its message, as nbval would. ``make notebooks`` runs nbval itself; ``make test-gpu-shape`` runs nbval under
a GPU machine's settings. Two submissions are graded at a time (two workers, one kernel each), the
longest notebooks first, so that no long one is left running alone at the end.
"""

import concurrent.futures as cf
import csv
import json

import nbformat
import pytest
from test_grading import filled

from labs_lib.grading import grade, release, schema

from conftest import NOTEBOOKS, ROOT

WORKERS = 2

# Classic wrong answers that once passed an exercise's visible checks: graded beside the instructor's solutions,
# each must score 0 on its exercise (and the other exercises, filled with the solutions, full marks).
WRONG_ANSWERS = {
    "07_convolutional_networks.ipynb": {
        "07-output-size": (
            "def conv_output_size(n, k, stride, padding):\n"
            "    if padding == 'VALID':\n"
            "        return (n - k + 1) // stride  # right for stride 1 only\n"
            "    return -(-n // stride)\n"),
        "07-max-pool-backward": (
            "def max_pool_backward(X, dY, pool=2, stride=2):\n"
            "    dX = np.zeros(X.shape)  # the gradient spread evenly over the window, as for average pooling\n"
            "    for i in range(dY.shape[1]):\n"
            "        for j in range(dY.shape[2]):\n"
            "            dX[:, i * stride:i * stride + pool, j * stride:j * stride + pool, :] += (\n"
            "                dY[:, i:i + 1, j:j + 1, :] / pool**2)\n"
            "    return dX\n"),
    },
    "09_attention_and_transformers.ipynb": {
        "09-causal-mask": (
            "def causal_mask(seq_len):\n"
            "    t = np.arange(seq_len)[:, None]\n"
            "    s = np.arange(seq_len)[None, :]\n"
            "    return s >= t  # transposed: every position sees the future\n"),
        "09-positional-encoding": (
            "def sinusoidal_encoding(seq_len, d_model, base=10000.0):\n"
            "    return models.positional_encoding(seq_len, d_model)  # the library's, and base ignored\n"),
        "09-sliding-window-mask": (
            "def sliding_window_mask(seq_len, window):\n"
            "    t = np.arange(seq_len)[:, None]\n"
            "    s = np.arange(seq_len)[None, :]\n"
            "    return (s <= t) & (s >= t - window)  # one key too many\n"),
    },
    "13_distributed_training.ipynb": {
        "13-grad-accumulation": (
            "def accumulate_gradients(grad_fn, X, y, num_micro_batches):\n"
            "    return grad_fn(X, y)  # the whole batch at once: the right number, no accumulation\n"),
    },
}


def _grade_one(path, base, student="instructor"):
    """Grade one submission of ``path``: the instructor's solutions, or (``classic-wrong``) the classic slips."""
    edition = nbformat.read(base / "release" / path.name, 4)
    folder = path.stem if student == "instructor" else f"{path.stem}-{student}"
    subs = base / "submissions" / folder
    (subs / student).mkdir(parents=True)
    answers = WRONG_ANSWERS[path.name] if student == "classic-wrong" else {}
    nbformat.write(filled(edition, nbformat.read(path, 4), **answers), subs / student / path.name)
    options = grade.GradeOptions(workers=1, progress=False, manifest=base / "release" / "manifest.json")
    return (path.name, student), grade.grade_folder(subs, path, base / "grades" / folder, options)


def _expected_seconds(path):
    """How long the notebook ran in quick mode when last measured (benchmarks/results), to schedule long ones first."""
    try:
        runs = json.loads((ROOT / "benchmarks" / "results" / "course-quick.json").read_text())["notebooks"]
        return next(r["wall_s"] for r in runs if r["notebook"] == path.stem) or 30.0
    except (OSError, ValueError, KeyError, StopIteration):
        return 30.0


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    base = tmp_path_factory.mktemp("roundtrip")
    release.release_course(NOTEBOOKS[0].parent, base / "release")
    jobs = [(path, "instructor") for path in NOTEBOOKS]
    jobs += [(path, "classic-wrong") for path in NOTEBOOKS if path.name in WRONG_ANSWERS]
    jobs.sort(key=lambda job: -_expected_seconds(job[0]))  # longest first: no long notebook left for the end
    with cf.ThreadPoolExecutor(WORKERS) as pool:  # two submissions at a time, one kernel each
        reports = dict(pool.map(lambda job: _grade_one(job[0], base, job[1]), jobs))
    return base, reports


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_solutions_get_full_marks(course, path):
    base, reports = course
    report = reports[path.name, "instructor"]
    assert report.warnings == [], "the source differs from its release"
    (result,) = [r for r in report.results if r["student"] == "instructor"]
    errors = "\n".join(f"cell {e['cell']}: {e['ename']}: {e['evalue']}" for e in result["lesson_errors"])
    assert not errors, f"cells of {path.name} raised when the solutions were graded:\n{errors}"
    assert result["notes"] == [] and result["attempts"] == 1, (result["notes"], result["attempts"])
    rows = [r for r in csv.DictReader(open(report.gradebook)) if r["student"] == "instructor"]
    exercises = schema.exercises(nbformat.read(path, 4), path.name)
    assert [r["exercise"] for r in rows] == [ex.id for ex in exercises]
    for r, ex in zip(rows, exercises, strict=True):
        assert (r["status"], r["reason"]) == ("passed", ""), (
            f"{ex.id}: {r['status']}: {r['reason']}\nkernel log:\n{result.get('log_tail', '')}")
        assert float(r["points"]) == float(r["max"]) == ex.points
    page = (base / "grades" / path.stem / "feedback" / path.stem / "instructor.html").read_text()
    source = nbformat.read(path, 4)
    for ex in exercises:
        hidden = schema.split_hidden(source.cells[ex.tests_index].source)[1]
        for line in hidden.splitlines():
            if len(line.strip()) > 30:
                assert line.strip() not in page, f"hidden test code of {ex.id} in the feedback page"


@pytest.mark.parametrize("name", sorted(WRONG_ANSWERS))
def test_classic_wrong_answers_score_nothing(course, name):
    base, reports = course
    rows = {r["exercise"]: r for r in csv.DictReader(open(reports[name, "classic-wrong"].gradebook)) if r["student"] == "classic-wrong"}
    assert rows, f"the classic wrong answers of {name} were not graded"
    for exercise, row in rows.items():
        if exercise in WRONG_ANSWERS[name]:
            assert (row["status"], float(row["points"])) == ("failed", 0.0), (exercise, row)
        else:
            assert row["status"] == "passed" and float(row["points"]) == float(row["max"]), (exercise, row)
