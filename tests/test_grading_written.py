"""Written answers graded by hand (labs_lib.grading.written): the review sheet and page, and the marker's points
in the gradebook and feedback pages on the next run. No kernel: grading runs go through a fake runner."""

import copy
import csv
import datetime as dt
import io
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell
from test_grading import filled, fixture_source
from test_grading_nbgrader import nbgrader_source

from labs_lib import cli
from labs_lib.grading import deadlines, grade, release, runner, schema, submissions, written

NB = "99_fixture.ipynb"
RUBRIC = ["names the vanishing gradient", "says why ReLU keeps it (slope 1 for x > 0)"]
QUESTION = "**Why ReLU?** Explain in two sentences.\n\n### BEGIN SOLUTION\nIts slope is 1: gradients do not vanish.\n" \
           "### END SOLUTION"


def written_source():
    """The fixture lesson with a written answer (2 points, a rubric) after its first exercise."""
    nb = fixture_source()
    cell = new_markdown_cell(QUESTION)
    cell.metadata["labs"] = {"exercise": "t-why", "role": "written", "points": 2, "rubric": RUBRIC}
    nb.cells.insert(5, cell)
    for i, c in enumerate(nb.cells):
        c.id = f"fixture-{i:02d}"
    return nb


class FakeRunner:
    """Stands in for runner.RunnerProcess: every exercise passes, and the runs are counted."""

    runs: list[str] = []

    def __init__(self, batch=""):
        pass

    def grade(self, job):
        FakeRunner.runs.append(job["student"])
        return {"exercises": {ex["id"]: {"points": ex["points"], "max": ex["points"], "status": "passed",
                                         "reason": "", "runtime": 0.1} for ex in job["exercises"]},
                "cells": [], "notes": [], "runtime": 0.3}

    def close(self):
        pass


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A source with a written answer; ann answers (with markup), bob deletes the cell, cho leaves it as released."""
    monkeypatch.setattr(runner, "RunnerProcess", FakeRunner)
    monkeypatch.setattr(runner, "run_job", lambda job: pytest.fail("a kernel was started"))
    FakeRunner.runs = []
    source = written_source()
    (tmp_path / "src").mkdir()
    source_path = tmp_path / "src" / NB
    nbformat.write(source, source_path)
    edition = release.student_edition(source, NB)
    subs = tmp_path / "subs"
    subs.mkdir()
    for student in ("ann", "bob", "cho"):
        nb = filled(edition, source)
        if student == "ann":
            nb.cells[5].source = "ReLU does not saturate <script>alert('x')</script>\n=1+1 for large x"
        if student == "bob":
            del nb.cells[5]
        nbformat.write(nb, subs / f"{student}.ipynb")
    return source_path, subs, tmp_path / "out"


def _options(**kw):
    return grade.GradeOptions(workers=1, isolation="audit", progress=False, **kw)


def _sheet(out):
    with open(out / "review" / "written.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _write_sheet(out, rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=written.COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    (out / "review" / "written.csv").write_text(buffer.getvalue(), encoding="utf-8")


def _gradebook(out):
    with open(out / "gradebook.csv", encoding="utf-8", newline="") as f:
        return {(r["student"], r["exercise"]): r for r in csv.DictReader(f)}


# ---- the schema ----------------------------------------------------------------------------------------------


def test_the_rubric_is_read_from_the_metadata_and_a_bad_one_is_a_schema_problem():
    (answer,) = schema.written_answers(written_source(), NB)
    assert answer.rubric == "- names the vanishing gradient\n- says why ReLU keeps it (slope 1 for x > 0)"
    nb = written_source()
    nb.cells[5].metadata["labs"]["rubric"] = {"a": 1}
    with pytest.raises(schema.SchemaError, match=r"cell 5 \(t-why\): the rubric must be text or a list of texts"):
        schema.written_answers(nb, NB)


# ---- the sheet and the page -------------------------------------------------------------------------------


def test_the_sheet_lists_every_students_answer_and_the_page_shows_it_escaped_beside_the_rubric(course):
    source, subs, out = course
    found = submissions.discover(subs, NB)
    result = written.review(out, NB, nbformat.read(source, 4), found)
    rows = _sheet(out)
    assert list(rows[0]) == ["student", "exercise", "max", "points", "comment", "answer"]
    assert [(r["student"], r["exercise"], r["max"], r["points"], r["comment"]) for r in rows] == [
        ("ann", "t-why", "2", "", ""), ("bob", "t-why", "2", "", ""), ("cho", "t-why", "2", "", "")]
    assert rows[0]["answer"] == "ReLU does not saturate <script>alert('x')</script>\n=1+1 for large x"
    assert rows[1]["answer"] == ""  # bob deleted the cell: listed, with an empty answer
    assert rows[2]["answer"] == f"**Why ReLU?** Explain in two sentences.\n\n{schema.WRITTEN_STUB}"  # as released
    statuses = {s: r["t-why"]["status"] for s, r in result.results.items()}
    assert statuses == {"ann": "pending", "bob": "missing", "cho": "missing"}
    assert result.results["bob"]["t-why"]["reason"] == "the answer cell is not in the submission (deleted?)"
    assert (result.reviewed, result.pending) == (0, 1)

    page = (out / "review" / "written.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "- says why ReLU keeps it (slope 1 for x &gt; 0)" in page  # the rubric, escaped, beside the answers
    assert 'rowspan="3"' in page  # one rubric cell beside the three students' answers
    assert "Its slope is 1: gradients do not vanish." in page  # the model answer, for the marker
    assert "not answered: the cell is as it was released" in page


def test_a_formula_in_an_answer_is_neutralised_and_a_student_id_survives_the_round_trip(course, tmp_path):
    source, subs, out = course
    (subs / "ann.ipynb").rename(subs / "=ann.ipynb")
    written.review(out, NB, nbformat.read(source, 4), submissions.discover(subs, NB))
    rows = _sheet(out)
    assert rows[0]["student"] == "'=ann"  # a spreadsheet reads it as text, not as a formula
    rows[0]["points"] = "1.5"
    _write_sheet(out, rows)
    marks, _, warnings = written.read_sheet(out / "review" / "written.csv")
    assert warnings == [] and marks[("=ann", "t-why")].points == "1.5"


# ---- the marks, on the next run ---------------------------------------------------------------------------


def test_filled_in_points_and_comments_go_into_the_gradebook_and_pages_on_the_next_run_without_a_kernel(course):
    source, subs, out = course
    report = grade.grade_folder(subs, source, out, _options())
    assert sorted(FakeRunner.runs) == ["ann", "bob", "cho"] and report.to_review == 1
    assert report.review_sheet == out / "review" / "written.csv" and report.reviewed == 0
    book = _gradebook(out)
    assert (book[("ann", "t-why")]["points"], book[("ann", "t-why")]["max"], book[("ann", "t-why")]["status"]) == (
        "0", "2", "pending")
    assert book[("bob", "t-why")]["status"] == "missing"
    assert "to be graded by hand" in (out / "feedback" / "99_fixture" / "ann.html").read_text(encoding="utf-8")

    rows = _sheet(out)
    rows[0].update(points="1,5", comment="Good, but <b>why</b> does it not saturate?")
    rows[1].update(points="0", comment="Answer missing.")
    _write_sheet(out, rows)
    FakeRunner.runs = []
    report = grade.grade_folder(subs, source, out, _options())
    assert FakeRunner.runs == [] and report.graded == 0 and (report.reviewed, report.to_review) == (2, 0)
    book = _gradebook(out)
    ann = book[("ann", "t-why")]
    assert (ann["points"], ann["status"], ann["reason"]) == ("1.5", "reviewed", "Good, but <b>why</b> does it not saturate?")
    assert book[("bob", "t-why")]["status"] == "reviewed"
    assert sum(float(r["points"]) for (s, _), r in book.items() if s == "ann") == pytest.approx(5.5)
    page = (out / "feedback" / "99_fixture" / "ann.html").read_text(encoding="utf-8")
    assert "Score: 5.50 / 6</strong>" in page and "graded by hand" in page
    assert "Good, but &lt;b&gt;why&lt;/b&gt; does it not saturate?" in page
    summary = (out / "summary.html").read_text(encoding="utf-8")
    assert "2 / 3 reviewed" in summary

    again = _sheet(out)  # the sheet was written again: the marks are kept, the answers refreshed
    assert [(r["student"], r["points"], r["comment"]) for r in again] == [
        ("ann", "1,5", "Good, but <b>why</b> does it not saturate?"), ("bob", "0", "Answer missing."), ("cho", "", "")]
    report = grade.grade_folder(subs, source, out, _options())  # nothing changed: nothing runs, nothing moves
    assert FakeRunner.runs == [] and report.repenalised == 0


def test_a_new_submission_graded_in_the_same_run_gets_its_mark(course):
    source, subs, out = course
    grade.grade_folder(subs, source, out, _options())
    rows = _sheet(out)
    rows[0].update(points="2", comment="Full marks.")
    _write_sheet(out, rows)
    (subs / "ann.ipynb").write_bytes((subs / "ann.ipynb").read_bytes().replace(b"large x", b"large inputs"))
    FakeRunner.runs = []
    grade.grade_folder(subs, source, out, _options())
    assert FakeRunner.runs == ["ann"]  # her code is graded again because her file changed; her mark is kept
    assert _gradebook(out)[("ann", "t-why")]["status"] == "reviewed"
    assert "Full marks." in (out / "feedback" / "99_fixture" / "ann.html").read_text(encoding="utf-8")
    assert "large inputs" in _sheet(out)[0]["answer"]


@pytest.mark.parametrize("points, message", [
    ("three", "points 'three' is not a number: write a number from 0 to 2"),
    ("2.5", "points '2.5' must be a number from 0 to 2"),
    ("-1", "points '-1' must be a number from 0 to 2"),
    ("nan", "points 'nan' must be a number from 0 to 2"),
])
def test_bad_points_are_a_warning_naming_the_row_and_it_stays_pending(course, points, message):
    source, subs, out = course
    grade.grade_folder(subs, source, out, _options())
    rows = _sheet(out)
    rows[0]["points"] = points
    _write_sheet(out, rows)
    report = grade.grade_folder(subs, source, out, _options())
    assert f"{NB}: review/written.csv line 2 (ann, t-why): {message}; the row counts as pending until you fix it" \
        in report.warnings
    assert _gradebook(out)[("ann", "t-why")]["status"] == "pending"
    assert _sheet(out)[0]["points"] == points  # left for the marker to correct
    assert message.replace("'", "&#39;") in (out / "review" / "written.html").read_text(encoding="utf-8")


def test_line_numbers_count_multi_line_answers(course):
    source, subs, out = course
    written.review(out, NB, nbformat.read(source, 4), submissions.discover(subs, NB))
    rows = _sheet(out)
    rows[1]["points"] = "lots"  # bob's row starts on line 4: ann's answer takes lines 2 and 3
    _write_sheet(out, rows)
    _, _, warnings = written.read_sheet(out / "review" / "written.csv")
    assert warnings == []
    result = written.review(out, NB, nbformat.read(source, 4), submissions.discover(subs, NB))
    assert any(w.startswith(f"{NB}: review/written.csv line 4 (bob, t-why): points 'lots'") for w in result.warnings)


def test_an_unreadable_sheet_is_never_overwritten(course):
    source, subs, out = course
    (out / "review").mkdir(parents=True)
    broken = "name;mark\nann;2\n"
    (out / "review" / "written.csv").write_text(broken, encoding="utf-8")
    report = grade.grade_folder(subs, source, out, _options())
    assert any("has no student, exercise, points column" in w and "it was not rewritten" in w for w in report.warnings)
    assert (out / "review" / "written.csv").read_text(encoding="utf-8") == broken
    assert _gradebook(out)[("ann", "t-why")]["status"] == "pending"


def test_rows_of_unknown_students_and_other_notebooks_are_kept_with_a_warning(course):
    source, subs, out = course
    written.review(out, NB, nbformat.read(source, 4), submissions.discover(subs, NB))
    rows = _sheet(out)
    rows.append({"student": "anne", "exercise": "t-why", "max": "2", "points": "2", "comment": "", "answer": ""})
    rows.append({"student": "ann", "exercise": "07-why-pool", "max": "3", "points": "3", "comment": "ok", "answer": "x"})
    rows.append(dict(rows[0], points="1"))  # a second row for ann
    _write_sheet(out, rows)
    result = written.review(out, NB, nbformat.read(source, 4), submissions.discover(subs, NB))
    assert any("student 'anne' has no submission of 99_fixture.ipynb: check the spelling" in w for w in result.warnings)
    assert any("a second row for ann, t-why (the first is line 2)" in w for w in result.warnings)
    kept = {(r["student"], r["exercise"]): r for r in _sheet(out)}
    assert kept[("anne", "t-why")]["points"] == "2" and kept[("ann", "07-why-pool")]["comment"] == "ok"
    assert result.results["ann"]["t-why"]["status"] == "pending"  # the first row (empty points) is the one used


def test_a_sheet_saved_by_a_spreadsheet_with_a_bom_and_semicolons_reads(tmp_path):
    path = tmp_path / "written.csv"
    path.write_bytes("\ufeffstudent;exercise;max;points;comment;answer\nann;t-why;2;1,5;ok;text\n".encode())
    marks, _, warnings = written.read_sheet(path)
    assert warnings == [] and marks[("ann", "t-why")].points == "1,5"
    assert written.parse_points(marks[("ann", "t-why")].points, 2) == 1.5
    assert written.parse_points("  ", 2) is None


def test_a_task_is_answered_by_the_cells_the_student_added_after_it(tmp_path):
    source = fixture_source()
    task = new_markdown_cell("Plot the loss and say what you see.")
    task.metadata["labs"] = {"exercise": "t-plot", "role": "written", "points": 1, "task": True}
    source.cells.insert(5, task)
    for i, c in enumerate(source.cells):
        c.id = f"fixture-{i:02d}"
    nb = filled(release.student_edition(source, NB), source)
    nb.cells.insert(6, new_markdown_cell("The loss falls, then flattens."))
    nb.cells.insert(7, new_code_cell("plt.plot(losses)"))
    nb.cells[6].id, nb.cells[7].id = "mine-1", "mine-2"
    assert written.answer_sources(source, nb, NB) == {"t-plot": "The loss falls, then flattens.\n\nplt.plot(losses)"}


def test_the_late_penalty_covers_the_written_answers_and_the_rows_keep_notebook_order(course):
    source, subs, out = course
    for path in subs.iterdir():
        os.utime(path, (dt.datetime(2026, 12, 5, 12, tzinfo=dt.timezone.utc).timestamp(),) * 2)
    policy = deadlines.build_policy("2026-12-03T23:59Z", late_penalty="10%/day", cap="50%")
    grade.grade_folder(subs, source, out, _options(deadline=policy))  # every file is late: 20% of the points
    rows = _sheet(out)
    rows[0]["points"] = "2"
    _write_sheet(out, rows)
    FakeRunner.runs = []
    grade.grade_folder(subs, source, out, _options())
    assert FakeRunner.runs == []
    book = _gradebook(out)
    ann = [book[("ann", ex)] for ex in ("t-add", "t-why", "t-square", "t-mean")]
    assert sum(float(r["points"]) for r in ann) == pytest.approx(4.8)  # 6 earned, 20% of 6 deducted
    assert float(book[("ann", "t-why")]["penalty"]) == pytest.approx(0.4)  # in proportion: 2 of the 6 points
    assert [ex for (s, ex) in book if s == "ann"] == ["t-add", "t-why", "t-square", "t-mean"]
    assert "Score: 4.80 / 6</strong> (6 before the late penalty)" in (out / "feedback" / "99_fixture" / "ann.html"
                                                                   ).read_text(encoding="utf-8")


def test_labs_grade_says_how_many_written_answers_wait_for_points(course, capsys):
    source, subs, out = course
    code = cli.main(["grade", str(subs), "--source", str(source), "-o", str(out), "--workers", "1", "--no-progress",
                     "--isolation", "audit"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"written answers: 0 graded by hand, 1 to grade in {out / 'review' / 'written.csv'}" in captured.out
    assert "leaves it out of the gradebook" not in captured.err


def test_an_nbgrader_manually_graded_answer_is_found_by_its_grade_id(tmp_path):
    source = nbgrader_source()  # cell 6: a manually graded markdown answer, grade_id why_positive, 3 points
    submission = copy.deepcopy(source)
    for c in submission.cells:
        c.id = f"renamed-{c.id}"  # cell ids lost (copied into a new notebook): the grade_id still finds it
    submission.cells[6].source = "Minus times minus is plus."
    assert written.answer_sources(source, submission, "squares.ipynb") == {"why_positive": "Minus times minus is plus."}
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(submission, subs / "ann.ipynb")
    result = written.review(tmp_path / "out", "squares.ipynb", source, submissions.discover(subs, "squares.ipynb"))
    assert result.results["ann"]["why_positive"] == {"points": 0.0, "max": 3.0, "status": "pending",
                                                     "reason": "to be graded by hand",
                                                     "student_reason": "to be graded by hand", "runtime": 0.0}
    assert "A negative times a negative." in (tmp_path / "out" / "review" / "written.html").read_text(encoding="utf-8")
