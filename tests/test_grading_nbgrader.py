"""A course in nbgrader's format: read as labs metadata, released (also with nbgrader metadata), and graded.

The notebook is built here in nbgrader's layout (cell metadata as nbgrader's schema v3 and its "Creating
assignments" guide define it): autograded answers (solution, not grade), autograder tests (grade, points,
locked), a manually graded markdown answer, a read-only cell. Only the end-to-end test starts a kernel.
"""

import copy
import csv
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from labs_lib import cli
from labs_lib.grading import grade, nbgrader, release, schema

SECRET = "NBGRADER_HIDDEN_SECRET"


def nbg(grade_id, solution=False, grade=False, locked=False, points=None, task=False):
    """nbgrader cell metadata in its source form (schema_version 3)."""
    meta = {"schema_version": 3, "grade_id": grade_id, "solution": solution, "grade": grade, "locked": locked}
    if points is not None:
        meta["points"] = points
    if task:
        meta["task"] = True
    return {"nbgrader": meta}


def cell(source, kind="code", **meta):
    new = new_code_cell(source) if kind == "code" else new_markdown_cell(source)
    new.metadata.update(meta)
    return new


def nbgrader_source():
    """A two-exercise assignment in nbgrader's format, plus a written answer and a read-only cell."""
    cells = [
        cell("# Squares\n\nTwo small functions.", "markdown"),
        cell("import numpy as np", **nbg("imports", locked=True)),
        cell('def square(x):\n    """x squared."""\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION',
             **nbg("square", solution=True)),
        cell('assert square(3) == 9, "square(3) should be 9"\n### BEGIN HIDDEN TESTS\n'
             f'_hidden = "{SECRET}"\nassert square(-4) == 16, "square(-4) should be 16"\n### END HIDDEN TESTS',
             **nbg("test_square", grade=True, locked=True, points=2)),
        cell("def cube(x):\n    ### BEGIN SOLUTION\n    return x ** 3\n    ### END SOLUTION",
             **nbg("cube", solution=True)),
        cell('assert cube(2) == 8, "cube(2) should be 8"', **nbg("test_cube", grade=True, locked=True, points=1.0)),
        cell("Why is `square(-4)` positive?\n\n### BEGIN SOLUTION\nA negative times a negative.\n### END SOLUTION",
             "markdown", **nbg("why_positive", solution=True, grade=True, points=3)),
    ]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    for i, c in enumerate(nb.cells):
        c.id = f"nbg-{i:02d}"
    return nb


# ---- reading nbgrader's format --------------------------------------------------------------------------------

def test_an_nbgrader_notebook_is_read_as_labs_exercises():
    nb = nbgrader_source()
    found = schema.exercises(nb, "squares.ipynb")
    assert [(e.id, e.points, e.solution_index, e.tests_index) for e in found] == [("square", 2, 2, 3), ("cube", 1, 4, 5)]
    # the conversion is written into the notebook, so the grading copy and the release read the same metadata
    assert nb.cells[3].metadata["labs"] == {"exercise": "square", "role": "tests", "points": 2}
    assert nb.cells[5].metadata["labs"]["points"] == 1 and isinstance(nb.cells[5].metadata["labs"]["points"], int)
    assert "labs" not in nb.cells[1].metadata  # read-only cells need nothing: every non-solution cell is locked
    (written,) = schema.written_answers(nb)
    assert (written.id, written.points, written.index, written.task) == ("why_positive", 3, 6, False)
    assert schema.unscored(nb) == ["cell 6: written answer 'why_positive' (3 point(s)) is graded by hand: "
                                   "labs grade lists it in review/written.csv for your points"]
    assert schema.exercises(nb) == found  # converting again changes nothing


def test_labs_metadata_wins_over_nbgrader_metadata_in_the_same_notebook():
    nb = nbgrader_source()
    nb.cells[2].metadata["labs"] = {"exercise": "labs-square", "role": "solution"}
    problems = schema.find_problems(nb)
    assert any("cell 3 contains '### BEGIN HIDDEN TESTS' but has no labs exercise metadata (its nbgrader metadata "
               "is not read" in p for p in problems), problems


@pytest.mark.parametrize("change, message", [
    (lambda cells: cells.pop(3), "cell 2 (nbgrader autograded answer 'square'): no autograder-tests cell follows it "
                                 "before the next answer (cell 3)"),
    (lambda cells: cells.pop(2), "cell 2 (nbgrader tests 'test_square'): no autograded-answer cell before it"),
    (lambda cells: cells.insert(4, cell("assert square(0) == 0", **nbg("test_square_2", grade=True, points=1))),
     "cell 4 (nbgrader tests 'test_square_2'): a second autograder-tests cell for the answer 'square' (its tests "
     "are cell 3); labs scores one tests cell per exercise: merge the two cells and add their points"),
    (lambda cells: cells[3].metadata["nbgrader"].update(points=1.5), "labs grades whole points > 0; nbgrader points 1.5"),
    (lambda cells: cells[3].metadata["nbgrader"].update(points=0), "labs grades whole points > 0; nbgrader points 0"),
    (lambda cells: cells[2].metadata["nbgrader"].update(grade_id="my square"),
     "cell 2: an nbgrader answer cell needs a grade_id of letters, digits, '_' or '-', got 'my square'"),
    (lambda cells: cells[4].metadata["nbgrader"].update(grade_id="square"), "cell 4 (nbgrader autograded answer "
                                                                           "'square'): the grade_id is already used by cell 2"),
    (lambda cells: cells.append(cell("# plot here", **nbg("plot", solution=True, grade=True, points=1))),
     "a manually graded code answer is not supported"),
])
def test_what_labs_cannot_grade_is_an_error_that_says_what_to_change(change, message):
    nb = nbgrader_source()
    change(nb.cells)
    with pytest.raises(schema.SchemaError) as caught:
        schema.exercises(nb, "squares.ipynb")
    assert any(message in p for p in caught.value.problems), caught.value.problems
    assert not any("labs" in c.metadata for c in nb.cells), "a notebook that cannot be converted is left as it was"
    with pytest.raises(schema.SchemaError) as again:
        schema.exercises(nb, "squares.ipynb")
    assert again.value.problems == caught.value.problems  # the same report every time


def test_an_nbgrader_task_is_a_written_answer_released_as_it_is():
    nb = nbgrader_source()
    nb.cells.append(cell("Plot the two functions and describe them.", "markdown",
                         **nbg("describe", task=True, locked=True, points=2)))
    nb.cells[-1].id = "nbg-task"
    tasks = [w for w in schema.written_answers(nb) if w.task]
    assert [(w.id, w.points) for w in tasks] == [("describe", 2)]
    edition = release.student_edition(nb, "squares.ipynb")
    assert edition.cells[-1].source == "Plot the two functions and describe them."


# ---- release ---------------------------------------------------------------------------------------------------

def test_release_of_an_nbgrader_notebook_writes_stubs_and_no_hidden_test_or_model_answer(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    nbformat.write(nbgrader_source(), source / "squares.ipynb")
    report = release.release_course(source, tmp_path / "release")
    assert (report.exercises, report.points) == (2, 3)
    assert report.unscored == ["squares.ipynb: cell 6: written answer 'why_positive' (3 point(s)) is graded by hand: "
                               "labs grade lists it in review/written.csv for your points"]
    text = (tmp_path / "release" / "squares.ipynb").read_text()
    assert SECRET not in text and "A negative times a negative" not in text and "BEGIN SOLUTION" not in text
    edition = nbformat.read(tmp_path / "release" / "squares.ipynb", 4)
    assert edition.cells[2].source == ('def square(x):\n    """x squared."""\n    raise NotImplementedError('
                                       "'Exercise square: replace this line with your code.')")
    assert edition.cells[3].source == 'assert square(3) == 9, "square(3) should be 9"'
    assert edition.cells[6].source == "Why is `square(-4)` positive?\n\nYOUR ANSWER HERE"
    assert all("nbgrader" not in c.metadata for c in edition.cells), "without --nbgrader no nbgrader metadata"
    assert edition.cells[2].metadata["labs"] == {"exercise": "square", "role": "solution"}
    manifest = json.loads(report.manifest.read_text())["notebooks"]["squares.ipynb"]
    assert manifest["written"] == [{"id": "why_positive", "points": 3, "cell": "nbg-06", "task": False}]
    assert "nbg-06" not in manifest["locked_cells"] and "nbg-03" in manifest["locked_cells"]
    assert nbformat.read(tmp_path / "source" / "squares.ipynb", 4) == nbgrader_source()  # the source is unchanged
    assert release.check_against_manifest(nbgrader_source(), "squares.ipynb", report.manifest) == []


def labs_source():
    """Three exercises (1 + 2 + 1 points) in labs metadata, the first with a hidden test, and a written answer."""
    cells = [cell("import numpy as np")]
    for ex, points in [("t-add", 1), ("t-square", 2), ("t-mean", 1)]:
        cells.append(cell(f"def f_{points}():\n    ### BEGIN SOLUTION\n    return {points}\n    ### END SOLUTION",
                          labs={"exercise": ex, "role": "solution"}))
        cells.append(cell(f"assert f_{points}() == {points}\n### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS",
                          labs={"exercise": ex, "role": "tests", "points": points}))
    cells.append(cell("Explain.\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", "markdown",
                      labs={"exercise": "t-explain", "role": "written", "points": 2}))
    nb = new_notebook(cells=cells)
    for i, c in enumerate(nb.cells):
        c.id = f"labs-{i:02d}"
    return nb


def test_release_with_nbgrader_writes_nbgrader_metadata_beside_labs_metadata(tmp_path):
    path = tmp_path / "source" / "99_fixture.ipynb"
    path.parent.mkdir()
    nbformat.write(labs_source(), path)
    assert cli.main(["release", str(path), "-o", str(tmp_path / "release"), "--nbgrader"]) == 0
    edition = nbformat.read(tmp_path / "release" / path.name, 4)
    graded = {c.metadata["nbgrader"]["grade_id"]: (c.metadata["labs"], c.metadata["nbgrader"])
              for c in edition.cells if "nbgrader" in c.metadata}
    assert graded["t-add"] == ({"exercise": "t-add", "role": "solution"},
                               {"schema_version": 3, "grade_id": "t-add", "solution": True, "grade": False,
                                "locked": False})
    assert graded["t-square_tests"][1] == {"schema_version": 3, "grade_id": "t-square_tests", "solution": False,
                                           "grade": True, "locked": True, "points": 2}
    assert graded["t-explain"][1] == {"schema_version": 3, "grade_id": "t-explain", "solution": True, "grade": True,
                                      "locked": False, "points": 2}
    assert len(graded) == 7
    # the editions read back as nbgrader's format too: without their labs metadata, the same labs metadata comes out
    stripped = copy.deepcopy(edition)
    for c in stripped.cells:
        c.metadata.pop("labs", None)
    conversion = nbgrader.convert(stripped)
    assert conversion.problems == []
    assert conversion.labs == {i: c.metadata["labs"] for i, c in enumerate(edition.cells) if "labs" in c.metadata}


def test_nbgrader_ids_are_made_safe_and_unique():
    nb = new_notebook(cells=[
        cell("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION", labs={"exercise": "a.b", "role": "solution"}),
        cell("f()", labs={"exercise": "a.b", "role": "tests", "points": 1}),
        cell("def g():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION", labs={"exercise": "a_b", "role": "solution"}),
        cell("g()", labs={"exercise": "a_b", "role": "tests", "points": 1}),
    ])
    ids = [m["grade_id"] for m in nbgrader.nbgrader_metadata(nb).values()]
    assert ids == ["a_b", "a_b_tests", "a_b_2", "a_b_tests_2"]
    assert all(nbgrader.GRADE_ID.fullmatch(i) for i in ids)


def test_cli_release_says_which_answers_are_graded_by_hand(tmp_path, capsys):
    nbformat.write(nbgrader_source(), tmp_path / "squares.ipynb")
    assert cli.main(["release", str(tmp_path / "squares.ipynb"), "-o", str(tmp_path / "release")]) == 0
    out = capsys.readouterr().out
    assert "2 exercise(s), 3 point(s)" in out
    assert "graded by hand: squares.ipynb: cell 6: written answer 'why_positive' (3 point(s))" in out


# ---- grading -----------------------------------------------------------------------------------------------

@pytest.mark.kernel
def test_an_nbgrader_notebook_is_graded_like_a_labs_one(tmp_path):
    source = tmp_path / "squares.ipynb"
    nbformat.write(nbgrader_source(), source)
    release.release_course(source, tmp_path / "release", nbgrader=True)
    edition = nbformat.read(tmp_path / "release" / "squares.ipynb", 4)
    subs = tmp_path / "submissions"
    subs.mkdir()
    for student, square, cube in [("right", "    return x * x", "    return x ** 3"),
                                  ("wrong", "    return abs(x) * 3", "    return x ** 3")]:
        nb = copy.deepcopy(edition)
        for c in nb.cells:  # students of an nbgrader course submit the cells nbgrader released: no labs metadata
            c.metadata.pop("labs", None)
        assert nb.cells[2].metadata["nbgrader"]["grade_id"] == "square"
        nb.cells[2].source = f'def square(x):\n    """x squared."""\n{square}'
        nb.cells[4].source = f"def cube(x):\n{cube}"
        nb.cells[6].source = "Because the signs cancel."
        nbformat.write(nb, subs / f"{student}.ipynb")
    report = grade.grade_folder(subs, source, tmp_path / "grades", grade.GradeOptions(workers=1, progress=False))
    rows = {(r["student"], r["exercise"]): r for r in csv.DictReader(open(report.gradebook))}
    assert {k: (r["points"], r["max"], r["status"]) for k, r in rows.items()} == {
        ("right", "square"): ("2", "2", "passed"), ("right", "cube"): ("1", "1", "passed"),
        ("wrong", "square"): ("0", "2", "failed"), ("wrong", "cube"): ("1", "1", "passed"),
        ("right", "why_positive"): ("0", "3", "pending"), ("wrong", "why_positive"): ("0", "3", "pending")}  # by hand
    assert rows[("wrong", "square")]["reason"] == "square(-4) should be 16"  # a hidden test: they were injected
    notes = {r["student"]: r["notes"] for r in report.results}
    assert notes == {"right": [], "wrong": []}, "answers are found by their nbgrader grade_id, with no remark"
    page = (tmp_path / "grades" / "feedback" / "squares").glob("wrong*.html")
    assert SECRET not in next(page).read_text()


def test_answers_submitted_to_an_nbgrader_course_are_found_by_grade_id_even_without_cell_ids():
    from labs_lib.grading import assemble

    source = nbgrader_source()
    submission = nbgrader_source()  # what nbgrader released, filled in; the cell ids lost (an old nbformat)
    for c in submission.cells:
        c.id = "x" + c.id
    submission.cells[2].source = "def square(x):\n    return x * x  # mine"
    built = assemble.assemble(source, submission, "squares.ipynb")
    assert built.missing == {} and built.notes.get("square") is None
    solutions = [c.source for c in built.nb.cells if c.metadata["labs_grading"]["kind"] == "solution"]
    assert solutions == ["def square(x):\n    return x * x  # mine", submission.cells[4].source]


def test_an_answer_cell_without_markers_is_all_solution_as_in_nbgrader():
    nb = nbgrader_source()
    nb.cells[4].source = "def cube(x):\n    return x ** 3"  # nbgrader replaces all of such a cell
    assert [(e.id, e.points) for e in schema.exercises(nb)] == [("square", 2), ("cube", 1)]
    assert nb.cells[4].source == "### BEGIN SOLUTION\ndef cube(x):\n    return x ** 3\n### END SOLUTION"  # in memory
    edition = release.student_edition(nb, "squares.ipynb")
    assert edition.cells[4].source == "raise NotImplementedError('Exercise cube: replace this line with your code.')"
    assert edition.cells[2].source.startswith('def square(x):\n    """x squared."""\n    raise')  # markers: kept as is


@pytest.mark.parametrize("change, message", [
    (lambda cells: cells[-1].update(cell_type="code", outputs=[], execution_count=None),
     "cell 7 (t-explain): a written answer must be a markdown cell"),
    (lambda cells: cells[-1].metadata["labs"].update(points=0), "cell 7 (t-explain): points must be a positive integer"),
    (lambda cells: cells[-1].metadata["labs"].update(exercise="t-add"), "cell 7: exercise id 't-add' is already used by cell 1"),
    (lambda cells: cells[-1].metadata["labs"].update(task=True), "cell 7 (t-explain): a task cell is released as it is"),
    (lambda cells: setattr(cells[-1], "source", "### BEGIN SOLUTION\nno end"), "cell 7 (t-explain): unbalanced"),
])
def test_a_broken_written_answer_is_reported_with_its_cell(change, message):
    nb = labs_source()
    change(nb.cells)
    with pytest.raises(schema.SchemaError) as caught:
        schema.exercises(nb)
    assert any(message in p for p in caught.value.problems), caught.value.problems


def test_a_written_answer_in_labs_metadata_is_stubbed_by_the_release():
    edition = release.student_edition(labs_source())
    assert edition.cells[-1].source == "Explain.\n\nYOUR ANSWER HERE"
    assert [(e.id, e.points) for e in schema.exercises(labs_source())] == [("t-add", 1), ("t-square", 2), ("t-mean", 1)]
