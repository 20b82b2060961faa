"""labs_lib.grading without kernels: the schema, student editions, reading submissions, the grading
copy, static review, the gradebook. Also the fixture notebook the other grading tests share."""

import csv
import html
import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from labs_lib import cli
from labs_lib.grading import assemble, gradebook, release, review, schema, submissions

from conftest import NOTEBOOKS

SECRET = "SECRET_HIDDEN_CODE"  # appears only in hidden tests: must never reach a student


def code(source, **meta):
    cell = new_code_cell(source)
    cell.metadata.update(meta)
    return cell


def fixture_source():
    """A small lesson with three exercises (1 + 2 + 1 points), NumPy only, so kernels start fast."""
    cells = [
        new_markdown_cell("# Fixture lesson\n\nThree small exercises."),
        code("import numpy as np\nfrom labs_lib import checks"),
        code("QUICK = None\nSEED = 42", tags=["parameters"]),
        code('def add(a, b):\n    """Return a + b (numbers or arrays)."""\n    # your code\n    ### BEGIN SOLUTION\n'
             "    return a + b\n    ### END SOLUTION", labs={"exercise": "t-add", "role": "solution"}),
        code('checks.check_function(add, [((1, 2), 3), ((np.array([1.0, 2.0]), 1.0), np.array([2.0, 3.0]))], name="add")\n'
             f"### BEGIN HIDDEN TESTS\n_secret_add = \"{SECRET} in the tests of t-add\"\n"
             'checks.check_array(add(np.arange(5.0), -1.0), np.arange(5.0) - 1.0, name="add on a longer array")\n'
             "### END HIDDEN TESTS", labs={"exercise": "t-add", "role": "tests", "points": 1}),
        code("offset = 10  # a lesson value the hidden tests use"),
        code('def square(x):\n    """Return x squared, elementwise."""\n    ### BEGIN SOLUTION\n'
             "    return np.asarray(x) ** 2\n    ### END SOLUTION", labs={"exercise": "t-square", "role": "solution"}),
        code('checks.check_function(square, [((3.0,), 9.0)], name="square")\n'
             f"### BEGIN HIDDEN TESTS\n_secret_square = \"{SECRET} in the tests of t-square\"\n"
             "np.testing.assert_allclose(square(np.arange(4.0)) + offset, np.arange(4.0) ** 2 + 10)\n"
             "### END HIDDEN TESTS", labs={"exercise": "t-square", "role": "tests", "points": 2}),
        code('def mean(values):\n    """The average of a list of numbers."""\n    ### BEGIN SOLUTION\n'
             "    return sum(values) / len(values)\n    ### END SOLUTION", labs={"exercise": "t-mean", "role": "solution"}),
        code('assert mean([1.0, 2.0, 3.0]) == 2.0, "mean([1, 2, 3]) should be 2"\n'
             f"### BEGIN HIDDEN TESTS\n_secret_mean = \"{SECRET} in the tests of t-mean\"\n"
             'assert abs(mean([2.0, 4.0, 9.0]) - 5.0) < 1e-12, "mean([2, 4, 9]) should be 5"\n'
             "### END HIDDEN TESTS", labs={"exercise": "t-mean", "role": "tests", "points": 1}),
        new_markdown_cell("## Summary"),
    ]
    return new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                              "language": "python"}})


def write_source(folder):
    """The fixture as a file, with stable cell ids; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = fixture_source()
    for i, cell in enumerate(nb.cells):
        cell.id = f"fixture-{i:02d}"
    path = folder / "99_fixture.ipynb"
    nbformat.write(nb, path)
    return path


def filled(edition, source, **answers):
    """A student edition with the solution cells filled in: the source's solution, or ``answers[exercise]``."""
    nb = nbformat.from_dict(json.loads(json.dumps(edition)))
    for cell, original in zip(nb.cells, source.cells, strict=True):
        meta = cell.metadata.get("labs", {})
        if meta.get("role") == "solution":
            cell.source = answers.get(meta["exercise"], original.source)
    return nb


# ---- the schema --------------------------------------------------------------------------------------


def test_the_fixture_has_three_exercises_in_order():
    found = schema.exercises(fixture_source())
    assert [(e.id, e.points, e.solution_index, e.tests_index) for e in found] == [
        ("t-add", 1, 3, 4), ("t-square", 2, 6, 7), ("t-mean", 1, 8, 9)]


def test_schema_problems_name_the_cell():
    nb = fixture_source()
    nb.cells[7].metadata["labs"]["exercise"] = "t-add"  # a second tests cell for t-add
    del nb.cells[8].metadata["labs"]["exercise"]  # an exercise cell without an id
    nb.cells[9].metadata["labs"]["points"] = 0
    nb.cells[5].source += "\n### BEGIN HIDDEN TESTS\nx = 1\n### END HIDDEN TESTS"  # markers outside an exercise
    nb.cells[2].id = nb.cells[1].id  # duplicate cell id
    with pytest.raises(schema.SchemaError) as error:
        schema.exercises(nb, "broken.ipynb")
    text = str(error.value)
    assert "cell 7: a second tests cell for exercise 't-add'" in text and "the first is cell 4" in text
    assert "cell 8: missing exercise id" in text
    assert "cell 9 (t-mean): points must be a positive integer, got 0" in text
    assert "cell 5 contains '### BEGIN HIDDEN TESTS' but has no labs exercise metadata" in text
    assert "cell 2 has the same cell id" in text
    assert "exercise 't-square' has a solution cell but no tests cell" in text


def test_schema_reports_tests_before_solution_and_unbalanced_markers():
    nb = fixture_source()
    nb.cells[3], nb.cells[4] = nb.cells[4], nb.cells[3]
    nb.cells[7].source = nb.cells[7].source.replace("### END HIDDEN TESTS", "")
    problems = schema.find_problems(nb)
    assert any("the tests of 't-add' come before its solution" in p for p in problems)
    assert any(p.startswith("cell 7 (t-square): unbalanced") for p in problems)


def test_exercise_ids_must_be_unique_across_the_course(tmp_path):
    first = write_source(tmp_path / "a")
    second = write_source(tmp_path / "b")
    with pytest.raises(schema.SchemaError, match="exercise id 't-add' is already used in 99_fixture.ipynb"):
        schema.check_course([first, second])


def test_the_course_notebooks_pass_the_grading_schema():
    found = schema.check_course(NOTEBOOKS)
    assert all(len(exercises) >= 2 for exercises in found.values())


# ---- student editions --------------------------------------------------------------------------------


def test_student_edition_stubs_solutions_and_drops_hidden_tests():
    source = fixture_source()
    source.cells[3].outputs = [nbformat.v4.new_output("stream", text="old output\n")]
    source.cells[3].execution_count = 4
    source.cells[6].metadata["labs"]["hint"] = "use ** 2"
    edition = release.student_edition(source)
    add = edition.cells[3].source
    assert add.startswith('def add(a, b):\n    """Return a + b (numbers or arrays)."""\n    # your code\n')
    assert add.endswith("    raise NotImplementedError('Exercise t-add: replace this line with your code.')")
    assert "return a + b" not in add and "SOLUTION" not in add
    assert "Hint: use ** 2" in edition.cells[6].source
    assert edition.cells[3].outputs == [] and edition.cells[3].execution_count is None
    for i in (4, 7, 9):
        assert SECRET not in edition.cells[i].source and "HIDDEN" not in edition.cells[i].source
        assert edition.cells[i].metadata["editable"] is False
    assert edition.cells[4].source.startswith("checks.check_function(add")  # the visible checks stay
    assert [c.id for c in edition.cells] == [c.id for c in source.cells]
    assert edition.cells[4].metadata["labs"] == source.cells[4].metadata["labs"]
    assert "return a + b" in source.cells[3].source  # the source is left alone


def test_release_writes_editions_and_a_manifest_reproducibly(tmp_path):
    path = write_source(tmp_path / "src")
    (tmp_path / "src" / "figure.png").write_bytes(b"png")
    assert cli.main(["release", str(tmp_path / "src"), "-o", str(tmp_path / "rel")]) == 0
    edition_text = (tmp_path / "rel" / "99_fixture.ipynb").read_text()
    assert SECRET not in edition_text and "BEGIN SOLUTION" not in edition_text
    assert (tmp_path / "rel" / "figure.png").read_bytes() == b"png"
    manifest = json.loads((tmp_path / "rel" / "manifest.json").read_text())
    entry = manifest["notebooks"]["99_fixture.ipynb"]
    assert entry["total_points"] == 4
    assert [e["id"] for e in entry["exercises"]] == ["t-add", "t-square", "t-mean"]
    edition = nbformat.reads(edition_text, as_version=4)
    assert set(entry["locked_cells"]) == {c.id for i, c in enumerate(edition.cells) if i not in (3, 6, 8)}
    assert entry["locked_cells"]["fixture-04"] == release.sha256_text(edition.cells[4].source)
    first = {p.name: p.read_bytes() for p in (tmp_path / "rel").iterdir()}
    assert cli.main(["release", str(path.parent), "-o", str(tmp_path / "rel")]) == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "rel").iterdir()} == first
    assert release.check_against_manifest(nbformat.read(path, 4), path.name, tmp_path / "rel" / "manifest.json") == []
    changed = nbformat.read(path, 4)
    changed.cells[5].source = "offset = 11"
    assert release.check_against_manifest(changed, path.name, tmp_path / "rel" / "manifest.json") == [
        "locked cell fixture-05 changed since the release"]


def test_release_refuses_a_broken_course_and_its_own_folder(tmp_path, capsys):
    path = write_source(tmp_path / "src")
    assert cli.main(["release", str(tmp_path / "src"), "-o", str(tmp_path / "src")]) == 2
    nb = nbformat.read(path, 4)
    nb.cells[4].metadata["labs"]["points"] = -1
    nbformat.write(nb, path)
    assert cli.main(["release", str(tmp_path / "src"), "-o", str(tmp_path / "rel")]) == 2
    assert "cell 4 (t-add): points must be a positive integer" in capsys.readouterr().err
    assert not (tmp_path / "rel").exists()


def test_releasing_the_course_leaves_no_solution_or_hidden_test(tmp_path):
    report = release.release_course(NOTEBOOKS[0].parent, tmp_path)
    assert len(report.notebooks) == len(NOTEBOOKS)
    for path in NOTEBOOKS:
        source = nbformat.read(path, 4)
        edition = nbformat.read(tmp_path / path.name, 4)
        secrets = []
        for ex in schema.exercises(source, path.name):
            body = source.cells[ex.solution_index].source.split(schema.SOLUTION_BEGIN)[1].split(schema.SOLUTION_END)[0]
            secrets += [line.strip() for line in body.splitlines() if len(line.strip()) > 25]
            secrets += [line.strip() for line in schema.split_hidden(source.cells[ex.tests_index].source)[1].splitlines()
                        if len(line.strip()) > 25 and line.strip() not in source.cells[ex.tests_index].source.split(
                            schema.HIDDEN_BEGIN)[0]]
            assert "raise NotImplementedError" in edition.cells[ex.solution_index].source
        text = nbformat.writes(edition)
        leaked = [s for s in secrets if s in text and sum(s in c.source for c in source.cells) == 1]
        assert not leaked, f"{path.name}: {leaked[:3]}"
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text


# ---- reading submissions --------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty"),
    (b"   \n", "the file is empty"),
    (b"{not json", "invalid JSON at line 1, column 2"),
    (b'{"hello": 1}', "JSON but not a notebook"),
    (b"\xff\xfe\x00garbage", "not text"),
    (b'{"nbformat": 2, "cells": []}', "unsupported notebook format 2"),
])
def test_unreadable_submissions_say_why(data, message):
    with pytest.raises(submissions.InvalidSubmission, match=message):
        submissions.load(data)


def test_nbformat_3_is_upgraded_and_bad_cell_ids_repaired():
    source = fixture_source()
    old = nbformat.convert(nbformat.from_dict(json.loads(json.dumps(source))), 3)  # convert works in place
    nb, notes = submissions.load(nbformat.writes(old, version=3).encode())
    assert nb.nbformat == 4 and "upgraded from nbformat 3 to 4" in notes
    assert [c.metadata.get("labs") for c in nb.cells] == [c.metadata.get("labs") for c in source.cells]
    raw = json.loads(nbformat.writes(source))
    raw["cells"][1]["id"] = raw["cells"][2]["id"]
    del raw["cells"][3]["id"]
    raw["cells"][4]["id"] = "not a valid id!"
    nb, notes = submissions.load(json.dumps(raw).encode())
    assert len({c.id for c in nb.cells}) == len(nb.cells) and "repaired 3 missing or duplicate cell id(s)" in notes


def test_discover_finds_both_layouts(tmp_path):
    (tmp_path / "alice.ipynb").write_text("{}")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "99_fixture.ipynb").write_text("{}")
    (tmp_path / "bob" / "scratch.ipynb").write_text("{}")
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "my copy.ipynb").write_text("{}")
    (tmp_path / "dan").mkdir()
    (tmp_path / ".ipynb_checkpoints").mkdir()
    found = {s.student: s for s in submissions.discover(tmp_path, "99_fixture.ipynb")}
    assert sorted(found) == ["alice", "bob", "carol", "dan"]
    assert found["bob"].path.name == "99_fixture.ipynb" and found["carol"].path.name == "my copy.ipynb"
    assert found["dan"].path is None and "no notebook" in found["dan"].problem


def test_symbolic_links_are_invalid_and_never_followed(tmp_path):
    secret = tmp_path / "instructor" / "99_fixture.ipynb"  # outside the submissions folder: the solutions
    secret.parent.mkdir()
    secret.write_text(nbformat.writes(fixture_source()))
    subs = tmp_path / "subs"
    (subs / "erin").mkdir(parents=True)
    (subs / "mallory.ipynb").symlink_to(secret)  # a submission that is a link
    (subs / "trudy").mkdir()
    (subs / "trudy" / "99_fixture.ipynb").symlink_to(secret)  # a student folder holding one
    (subs / "oscar").mkdir()
    (subs / "oscar" / "99_fixture.ipynb").write_text("{}")
    (subs / "oscar" / "data").symlink_to(secret.parent)  # a link beside a real notebook
    (subs / "sybil").symlink_to(secret.parent, target_is_directory=True)  # the folder itself is a link
    (subs / "dangling.ipynb").symlink_to(tmp_path / "nothing-here.ipynb")
    (subs / "notes.txt").symlink_to(secret)  # not a submission at all: ignored
    (subs / "erin" / "99_fixture.ipynb").write_text("{}")
    found = {s.student: s for s in submissions.discover(subs, "99_fixture.ipynb")}
    assert sorted(found) == ["dangling", "erin", "mallory", "oscar", "sybil", "trudy"]
    for student in ("dangling", "mallory", "oscar", "sybil", "trudy"):
        sub = found[student]
        assert sub.path is None and sub.invalid.startswith("symbolic links are not accepted"), (student, sub)
        assert sub.digest() == ""
    assert found["trudy"].invalid == "symbolic links are not accepted: trudy/ holds 99_fixture.ipynb"
    assert found["oscar"].invalid == "symbolic links are not accepted: oscar/ holds data"
    assert found["erin"].invalid is None and found["erin"].path.name == "99_fixture.ipynb"
    with pytest.raises(submissions.InvalidSubmission, match="symbolic links are not accepted: mallory.ipynb is a link"):
        submissions.read_bytes(subs / "mallory.ipynb")  # even if a link appears after discovery
    with pytest.raises(submissions.InvalidSubmission, match="not a regular file"):
        submissions.read_bytes(subs / "erin")


def test_a_student_with_a_file_and_a_folder_is_invalid_not_silently_one_of_them(tmp_path):
    (tmp_path / "alice.ipynb").write_text("{}")
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "99_fixture.ipynb").write_text("{}")
    (only,) = submissions.discover(tmp_path, "99_fixture.ipynb")
    assert only.student == "alice" and only.path is None
    assert only.invalid == "two submissions for alice: alice/ and alice.ipynb; keep one"


ODD_IDS = ["学生张三", "学生李四", "a b", "a_b", "Alice", "alice", "ALICE", "$(rm -rf ~)", "-rf", "--help", "x" * 300,
           "José", "Jose\u0301", "con", "CON", "dot.", "dot", ".hidden", "tab\there", "j.smith@uni.edu"]


def test_every_student_id_gets_its_own_stable_file_name_even_on_a_case_insensitive_file_system():
    names = [submissions.file_name(s) for s in ODD_IDS]
    assert len({n.lower() for n in names}) == len(ODD_IDS)  # unique, also when case is ignored
    assert names == [submissions.file_name(s) for s in ODD_IDS]  # stable: a function of the id alone
    for student, name in zip(ODD_IDS, names, strict=True):
        assert re.fullmatch(r"[a-z0-9_][a-z0-9_.@+~-]{0,63}", name), (student, name)  # portable, no leading - or .
    for readable in ("alice", "a_b", "dot", "j.smith@uni.edu"):  # ASCII-safe ids stay readable
        assert submissions.file_name(readable) == readable
    assert submissions.file_name("Alice").startswith("alice~") and submissions.file_name("José").startswith("jose~")


def test_feedback_pages_of_odd_ids_never_overwrite_each_other(tmp_path):
    from labs_lib.grading import feedback

    results = {"t-add": {"points": 1, "max": 1, "status": "passed", "reason": ""}}
    paths = [feedback.write_student_page(tmp_path, "99_fixture.ipynb", s, results, [], []) for s in ODD_IDS]
    assert len(set(paths)) == len(ODD_IDS) == len(list((tmp_path / "feedback" / "99_fixture").iterdir()))
    for student, path in zip(ODD_IDS, paths, strict=True):
        assert f"feedback for {html.escape(student)}</h1>" in path.read_text(), student  # each page is its student's


# ---- the grading copy ----------------------------------------------------------------------------------


def _kinds(assembly):
    return [(c.metadata["labs_grading"]["kind"], c.metadata["labs_grading"]["exercise"]) for c in assembly.nb.cells]


def test_grading_copy_restores_locked_cells_and_injects_hidden_tests():
    source = fixture_source()
    edition = release.student_edition(source)
    student = filled(edition, source, **{"t-add": "def add(a, b):\n    return a - b"})
    student.cells[4].source = "pass  # the student emptied the tests"
    student.cells[5].source = "offset = 0"
    student.cells.insert(6, code("print('my scratch cell')"))
    built = assemble.assemble(source, student, "99_fixture.ipynb", nonce="n0nce")
    sources = [c.source for c in built.nb.cells]
    tests = [c for c in built.nb.cells if c.metadata["labs_grading"]["kind"] == "tests"]
    assert [t.source for t in tests] == [source.cells[i].source for i in (4, 7, 9)]  # with the hidden tests
    assert "offset = 10  # a lesson value the hidden tests use" in sources and "offset = 0" not in sources
    assert "def add(a, b):\n    return a - b" in sources
    assert "print('my scratch cell')" in sources
    assert sources.index("print('my scratch cell')") == sources.index(source.cells[5].source) + 2  # after its snapshot
    assert built.restored_cells == [4, 5] and built.missing == {}  # the emptied tests cell and the lesson cell
    assert _kinds(built)[:3] == [("bootstrap", None), ("lesson", None), ("snapshot", None)]
    guard_at = _kinds(built).index(("guard", "t-add"))
    assert _kinds(built)[guard_at:guard_at + 3] == [("guard", "t-add"), ("tests", "t-add"), ("verify", "t-add")]
    assert "drop=['_secret_add']" in built.nb.cells[guard_at + 2].source
    assert any(SECRET in line for line in built.hidden_lines)
    params = [c for c in built.nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and params[0].source == "QUICK = None\nSEED = 42"


def test_deleted_solution_is_missing_and_replaced_by_the_stub():
    source = fixture_source()
    student = filled(release.student_edition(source), source)
    del student.cells[6:8]  # the square exercise, solution and tests
    built = assemble.assemble(source, student, "99_fixture.ipynb")
    assert set(built.missing) == {"t-square"} and "deleted" in built.missing["t-square"]
    stub = [c for c in built.nb.cells if c.metadata["labs_grading"]["kind"] == "stub"]
    assert len(stub) == 1 and "raise NotImplementedError" in stub[0].source
    assert ("tests", "t-square") not in _kinds(built)


def test_solution_found_by_cell_id_when_its_metadata_is_gone():
    source = fixture_source()
    student = filled(release.student_edition(source), source)
    student.cells[3].metadata = {}
    built = assemble.assemble(source, student, "99_fixture.ipynb")
    assert built.missing == {} and "matched by cell id" in built.notes["t-add"][0]


def test_review_flags_tampering_and_not_ordinary_code():
    flagged = review.review_flags(
        "import numpy as np\nnp.testing.assert_allclose = lambda *a, **k: None\nchecks = None\n"
        "get_ipython().events.register('pre_run_cell', print)\nimport sys\nsys.modules['x'] = 1\n%timeit 1 + 1\n")
    whats = [f.what for f in flagged]
    assert "changes np.testing.assert_allclose" in whats and "rebinds checks" in whats
    assert "uses get_ipython()" in whats and "uses sys.modules" in whats
    assert review.review_flags("import numpy as np\n%matplotlib inline\ndef f(x):\n    return np.mean(x)\n") == []
    assert review.bound_names("import numpy as np\nfrom labs_lib import checks\nx, (y, z) = 1, (2, 3)\n"
                              "def f():\n    inner = 1\nfor i in range(2):\n    pass\n") == {"np", "checks", "x", "y", "z", "f", "i"}


# ---- the gradebook ----------------------------------------------------------------------------------------


def test_gradebook_is_written_atomically_and_knows_what_is_current(tmp_path):
    book = gradebook.Gradebook(tmp_path)
    book.register_exercises("99_fixture.ipynb", ["t-add", "t-square"])
    digest = gradebook.fingerprint("abc", "src", {"QUICK": True})
    results = {"t-add": {"points": 1, "max": 1, "status": "passed", "reason": "", "runtime": 0.5},
               "t-square": {"points": 0, "max": 2, "status": "failed", "reason": "wrong,\nvery", "runtime": 1.25}}
    book.record("99_fixture.ipynb", "alice", digest, results)
    rows = list(csv.DictReader(open(tmp_path / "gradebook.csv")))
    assert list(rows[0]) == list(gradebook.COLUMNS)
    assert rows[1] == {"student": "alice", "exercise": "t-square", "points": "0", "max": "2", "status": "failed",
                       "reason": "wrong, / very", "runtime": "1.25",
                       "submitted": "", "time_source": "", "late_hours": "", "penalty": "0"}  # no deadline
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    again = gradebook.Gradebook(tmp_path)
    assert again.is_current("99_fixture.ipynb", "alice", digest, ["t-add", "t-square"])
    assert not again.is_current("99_fixture.ipynb", "alice", gradebook.fingerprint("changed", "src", {"QUICK": True}),
                                ["t-add", "t-square"])
    results["t-add"]["status"] = "error"
    again.record("99_fixture.ipynb", "alice", digest, results)
    assert not gradebook.Gradebook(tmp_path).is_current("99_fixture.ipynb", "alice", digest, ["t-add", "t-square"])


def test_parameters_from_the_command_line_are_typed():
    assert [cli._parameter_value(v) for v in ("3", "0.5", "True", "false", "None", "adam")] == [
        3, 0.5, True, False, None, "adam"]


def test_a_broken_source_stops_grading_before_anything_runs(tmp_path, monkeypatch, capsys):
    path = write_source(tmp_path / "src")
    nb = nbformat.read(path, 4)
    nb.cells[9].metadata["labs"]["exercise"] = "t-add"
    nbformat.write(nb, path)
    (tmp_path / "subs").mkdir()
    nbformat.write(nb, tmp_path / "subs" / "alice.ipynb")
    from labs_lib.grading import runner

    monkeypatch.setattr(runner, "run_job", lambda job: pytest.fail("a kernel was started"))
    assert cli.main(["grade", str(tmp_path / "subs"), "--source", str(path), "-o", str(tmp_path / "out")]) == 2
    assert "cell 9: a second tests cell for exercise 't-add' (duplicate id; the first is cell 4)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.kernel
def test_the_student_edition_runs_its_visible_checks(tmp_path):
    """Released notebook 00 runs top to bottom; each exercise's visible check says it is not written yet."""
    from nbclient import NotebookClient

    source = nbformat.read(NOTEBOOKS[0], 4)
    edition = release.student_edition(source, NOTEBOOKS[0].name)
    for cell in edition.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace("QUICK = None", "QUICK = True")
    NotebookClient(edition, timeout=300, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    for ex in schema.exercises(source, NOTEBOOKS[0].name):
        errors = [o for o in edition.cells[ex.tests_index].outputs if o.output_type == "error"]
        assert [e.ename for e in errors] == ["CheckError"], ex.id
        assert "is not written yet" in errors[0].evalue
    others = [(i, o.ename) for i, c in enumerate(edition.cells) if c.cell_type == "code"
              and i not in {e.tests_index for e in schema.exercises(source)}
              for o in c.outputs if o.output_type == "error" and o.ename != "NotImplementedError"]
    assert others == [], "besides the checks, only lesson cells that call an unwritten exercise may fail"


def test_lesson_cells_that_raise_are_listed_in_order_and_noted():
    from labs_lib.grading import runner

    def record(kind, index, status="ok", ename=None, evalue=None):
        return {"kind": kind, "exercise": None, "source_index": index, "status": status, "ename": ename,
                "evalue": evalue}

    records = {0: record("parameters", None), 1: record("lesson", 1), 3: record("solution", 3, "error", "NameError", "x"),
               5: record("lesson", 8, "error", "ValueError", "shapes (3,) and (4,) not aligned" + "!" * 400),
               4: record("lesson", 5, "error", "NameError", "name 'add' is not defined"),
               6: record("tests", 9, "error", "CheckError", "wrong"), 7: record("lesson", 10, "unfinished")}
    errors = runner.lesson_errors_of(records)
    assert [e["cell"] for e in errors] == [6, 9]  # lesson cells only, in notebook order, counted from 1
    assert len(errors[1]["evalue"]) == 300
    note = runner.lesson_error_note(errors)
    assert note.startswith("2 cell(s) of the lesson itself raised an error")
    assert "cell 6: NameError: name 'add' is not defined; cell 9: ValueError: shapes" in note
    assert runner.lesson_errors_of({1: record("lesson", 1)}) == []
    many = runner.lesson_error_note([{"cell": i, "ename": "E", "evalue": ""} for i in range(5)])
    assert many.endswith("cell 2: E; and 2 more")


@pytest.mark.parametrize(("lesson_import", "first"), [
    ("from labs_lib import checks, gpt2", True),  # labs_lib.gpt2 imports KerasHub when a cell uses it
    ("import keras_hub", True),
    ("from labs_lib import checks", False),
])
def test_libraries_that_change_tensorflow_on_import_are_imported_before_student_code(lesson_import, first):
    source = fixture_source()
    source.cells[1].source = lesson_import + "\n" + source.cells[1].source
    built = assemble.assemble(source, filled(release.student_edition(source), source), "99_fixture.ipynb",
                              nonce="n0nce")
    bootstrap = built.nb.cells[0]
    assert bootstrap.metadata["labs_grading"]["kind"] == "bootstrap"
    assert ("'keras_hub'" in bootstrap.source) is first  # imported by the guard, so its changes are the recorded state
