"""``labs export``: the roster, the Canvas / Moodle / plain / term CSV files, weights, and formula injection.

Gradebooks are written in tmp_path with the grader's own :class:`~labs_lib.grading.gradebook.Gradebook`, so the
export reads exactly what ``labs grade`` writes; no kernel is started.
"""

from __future__ import annotations

import csv
import io
import math

import pytest

from labs_lib import cli
from labs_lib.grading import lms, term
from labs_lib.grading.gradebook import Gradebook
from labs_lib.grading.lms import ExportOptions, RosterError
from labs_lib.grading.term import TermError


def _book(folder, notebook, scores):
    """A graded folder: ``scores`` maps student -> {exercise: (points, max, status)}."""
    book = Gradebook(folder)
    exercises = sorted({ex for per in scores.values() for ex in per})
    book.register_exercises(notebook, exercises)
    for student, per in scores.items():
        results = {ex: {"points": p, "max": m, "status": st, "reason": "", "runtime": 0.1}
                   for ex, (p, m, st) in per.items()}
        book.record(notebook, student, "digest", results)
    return folder


@pytest.fixture
def grades(tmp_path):
    """grades/04 (10 points: ada 10, bob 4, zoe 7 — zoe is not in the roster) and grades/07 (20 points: ada 15)."""
    g04 = _book(tmp_path / "grades" / "04", "04_training_with_keras.ipynb", {
        "ada": {"04-a": (4, 4, "passed"), "04-b": (6, 6, "passed")},
        "bob": {"04-a": (4, 4, "passed"), "04-b": (0, 6, "failed")},
        "zoe": {"04-a": (1, 4, "failed"), "04-b": (6, 6, "passed")},
    })
    g07 = _book(tmp_path / "grades" / "07", "07_convolutional_networks.ipynb", {
        "ada": {"07-a": (15, 20, "failed")},
        "zoe": {"07-a": (20, 20, "passed")},
    })
    return g04, g07


def _roster(tmp_path, text, name="roster.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


ROSTER = ("student,name,lms_id,sis_user_id,sis_login_id,section,email,idnumber\n"
          "bob,\"Builder, Bob\",102,S2,bob@uni.edu,Lab A,bob@uni.edu,2002\n"
          "ada,\"Lovelace, Ada\",101,S1,ada@uni.edu,Lab B,ada@uni.edu,2001\n"
          "cy,\"Young, Cy\",103,S3,cy@uni.edu,Lab A,cy@uni.edu,2003\n")


def _rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_canvas_file_has_canvas_columns_points_possible_and_the_roster_order(tmp_path, grades):
    book = term.load_term(list(grades))
    roster = lms.read_roster(_roster(tmp_path, ROSTER))
    out = tmp_path / "canvas.csv"
    report = lms.export(book, out, roster, ExportOptions(format="canvas",
                                                         assignment_names={"04": "Lab 4 (1234)"}))
    rows = _rows(out)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lab 4 (1234)",
                       "07_convolutional_networks"]
    assert rows[1] == ["Points Possible", "", "", "", "", "10", "20"]
    assert rows[2:] == [
        ["Builder, Bob", "102", "S2", "bob@uni.edu", "Lab A", "4", "0"],     # no 07 submission: 0 by default
        ["Lovelace, Ada", "101", "S1", "ada@uni.edu", "Lab B", "10", "15"],
        ["Young, Cy", "103", "S3", "cy@uni.edu", "Lab A", "0", "0"],         # no submission at all
    ]
    assert out.read_bytes().count(b"\r\n") == 5  # RFC 4180 line ends
    assert report.not_in_roster == ["zoe"]
    assert report.no_submission == ["cy"]
    assert report.missing == {"bob": ["07"], "cy": ["04", "07"]}


def test_blank_policy_leaves_missing_grades_empty(tmp_path, grades):
    book = term.load_term(list(grades))
    roster = lms.read_roster(_roster(tmp_path, ROSTER))
    out = tmp_path / "canvas.csv"
    lms.export(book, out, roster, ExportOptions(format="canvas", missing="blank"))
    rows = {r[0]: r[5:] for r in _rows(out)[2:]}
    assert rows == {"Builder, Bob": ["4", ""], "Lovelace, Ada": ["10", "15"], "Young, Cy": ["", ""]}


def test_canvas_needs_an_id_for_every_student(tmp_path, grades):
    book = term.load_term(list(grades))
    no_ids = lms.read_roster(_roster(tmp_path, "student,name,email\nada,Ada,ada@uni.edu\n"))
    with pytest.raises(RosterError, match="needs an lms_id, sis_user_id or sis_login_id column"):
        lms.export(book, tmp_path / "c.csv", no_ids, ExportOptions(format="canvas"))
    one_empty = lms.read_roster(_roster(tmp_path, "student,lms_id\nada,101\nbob,\n", name="r2.csv"))
    with pytest.raises(RosterError, match="no lms_id, sis_user_id or sis_login_id for bob"):
        lms.export(book, tmp_path / "c.csv", one_empty, ExportOptions(format="canvas"))
    shared = lms.read_roster(_roster(tmp_path, "student,lms_id\nada,101\nbob,101\n", name="r3.csv"))
    with pytest.raises(RosterError, match="'ada' and 'bob' share the lms_id '101'"):
        lms.export(book, tmp_path / "c.csv", shared, ExportOptions(format="canvas"))
    with pytest.raises(RosterError, match="needs --roster"):
        lms.export(book, tmp_path / "c.csv", None, ExportOptions(format="canvas"))
    assert not (tmp_path / "c.csv").exists()


def test_moodle_file_has_one_identifier_column_and_one_column_per_grade_item(tmp_path, grades):
    book = term.load_term(list(grades))
    roster = lms.read_roster(_roster(tmp_path, ROSTER))
    out = tmp_path / "moodle.csv"
    lms.export(book, out, roster, ExportOptions(format="moodle"))
    assert _rows(out) == [["Email address", "04_training_with_keras", "07_convolutional_networks"],
                          ["bob@uni.edu", "4", "0"], ["ada@uni.edu", "10", "15"], ["cy@uni.edu", "0", "0"]]
    lms.export(book, out, roster, ExportOptions(format="moodle", identity="idnumber"))
    assert [r[0] for r in _rows(out)] == ["ID number", "2002", "2001", "2003"]


def test_moodle_refuses_a_missing_or_shared_identifier(tmp_path, grades):
    book = term.load_term(list(grades))
    roster = lms.read_roster(_roster(tmp_path, ROSTER))
    with pytest.raises(RosterError, match="has no 'username' column"):
        lms.export(book, tmp_path / "m.csv", roster, ExportOptions(format="moodle", identity="username"))
    with pytest.raises(ValueError, match="Moodle identifies users by email, idnumber, username, lms_id"):
        lms.export(book, tmp_path / "m.csv", roster, ExportOptions(format="moodle", identity="sis_user_id"))
    gap = lms.read_roster(_roster(tmp_path, "student,email\nada,ada@uni.edu\nbob,\n", name="gap.csv"))
    with pytest.raises(RosterError, match="no email for bob"):
        lms.export(book, tmp_path / "m.csv", gap, ExportOptions(format="moodle"))


def test_plain_totals_unweighted_and_weighted(tmp_path, grades):
    out = tmp_path / "plain.csv"
    lms.export(term.load_term(list(grades)), out)  # no roster: every graded student, sorted; lms_id empty
    assert _rows(out) == [["student", "lms_id", "points", "max", "percent"],
                          ["ada", "", "25", "30", "83.33"], ["bob", "", "4", "30", "13.33"],
                          ["zoe", "", "27", "30", "90.00"]]
    weighted = term.load_term(list(grades), term.parse_weights(["04=0.4,07=0.6"]))
    roster = lms.read_roster(_roster(tmp_path, ROSTER))
    report = lms.export(weighted, out, roster, ExportOptions(format="plain"))
    # ada: 0.4 * 100% + 0.6 * 75% = 85; bob: 0.4 * 40% + 0.6 * 0% = 16 (missing 07 counts 0)
    assert _rows(out)[1:] == [["bob", "bob@uni.edu", "16", "100", "16.00"], ["ada", "ada@uni.edu", "85", "100",
                                                                              "85.00"],
                              ["cy", "cy@uni.edu", "0", "100", "0.00"]]
    assert report.not_in_roster == ["zoe"]
    lms.export(weighted, out, roster, ExportOptions(format="plain", missing="blank", identity="sis_user_id"))
    assert _rows(out)[3] == ["cy", "S3", "", "", ""]


def test_term_gradebook_lists_percent_per_notebook_total_and_missing(tmp_path, grades):
    book = term.load_term(list(grades), {"04": 2, "07": 3})  # the same as 0.4 / 0.6
    assert book.total("ada").percent == pytest.approx(85.0)
    out = tmp_path / "term.csv"
    lms.export(book, out, lms.read_roster(_roster(tmp_path, ROSTER)), ExportOptions(format="term"))
    rows = _rows(out)
    assert rows[0] == ["student", "name", "04 points (of 10)", "04 %, weight 2", "07 points (of 20)",
                       "07 %, weight 3", "total %", "missing"]
    assert rows[1:] == [
        ["bob", "Builder, Bob", "4", "40.00", "0", "0.00", "16.00", "07"],
        ["ada", "Lovelace, Ada", "10", "100.00", "15", "75.00", "85.00", ""],
        ["cy", "Young, Cy", "0", "0.00", "0", "0.00", "0.00", "04 07"],
        ["zoe", "", "7", "70.00", "20", "100.00", "88.00", ""],  # not in the roster: kept in the term gradebook
    ]


def test_roster_is_lenient_about_bom_case_aliases_and_delimiter(tmp_path):
    text = "\ufeffStudent ID;Full Name;Canvas User ID;E-Mail;Notes\r\n s1 ;Ann;7;ann@uni.edu;x\r\n;;;;\r\ns2;Ben;8;;\r\n"
    roster = lms.read_roster(_roster(tmp_path, text))
    assert list(roster.entries) == ["s1", "s2"]
    assert roster.entries["s1"] == lms.RosterEntry(student="s1", name="Ann", lms_id="7", email="ann@uni.edu")
    assert roster.columns == {"student", "name", "lms_id", "email"}


@pytest.mark.parametrize(("text", "message"), [
    ("name,email\nAnn,a@x\n", "has no 'student' column"),
    ("student,name\ns1,Ann\ns2,Ben\ns1,Ann again\n", r"students listed twice: 's1' \(lines 2 and 4\)"),
    ("student,name\ns1,Ann\n,Ben\n", "line 3: no student id"),
    ("student,email,Email Address\ns1,a@x,b@x\n", "both mean 'email'"),
    ("student,name\n", "has a header but no students"),
    ("", "is empty"),
])
def test_bad_rosters_say_what_to_fix(tmp_path, text, message):
    with pytest.raises(RosterError, match=message):
        lms.read_roster(_roster(tmp_path, text))


def test_roster_that_is_not_utf8_or_absent(tmp_path):
    with pytest.raises(RosterError, match="is not UTF-8 text"):
        lms.read_roster(_roster(tmp_path, "student,name\ns1,Jürgen\n", encoding="utf-16"))
    with pytest.raises(RosterError, match="no such roster"):
        lms.read_roster(tmp_path / "nope.csv")


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://evil\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
                                   "\t=1", "\r=1", "  =1+1", "\uff1d1+1"])
def test_formula_cells_are_neutralised(value):
    assert lms.neutralise(value) == "'" + value
    assert lms.neutralise("Lovelace, Ada") == "Lovelace, Ada" and lms.neutralise("") == ""


def test_export_neutralises_hostile_names_and_ids_and_quotes_per_rfc4180(tmp_path):
    folder = _book(tmp_path / "04", "04_x.ipynb", {"=cmd|'/c calc'!A1": {"04-a": (1, 2, "failed")},
                                                    "ann": {"04-a": (2, 2, "passed")}})
    roster = _roster(tmp_path, 'student,name,lms_id,email\n"=cmd|\'/c calc\'!A1",@evil,+5,-x@uni.edu\n'
                               'ann,"Chevy ""The Man"" Chase",6,ann@uni.edu\n')
    book, people = term.load_term([folder]), lms.read_roster(roster)
    out = tmp_path / "canvas.csv"
    lms.export(book, out, people, ExportOptions(format="canvas", assignment_names={"04": "=Lab 4"}))
    rows = _rows(out)
    assert rows[0][5] == "'=Lab 4"
    assert rows[2][:2] == ["'@evil", "'+5"]
    assert rows[3][0] == 'Chevy "The Man" Chase'
    assert '"Chevy ""The Man"" Chase"' in out.read_text(encoding="utf-8")
    lms.export(book, out, people, ExportOptions(format="plain"))
    assert _rows(out)[1][:2] == ["'=cmd|'/c calc'!A1", "'-x@uni.edu"]
    for row in _rows(out):
        assert all(not cell or cell[0] not in "=+-@\t\r" for cell in row)


@pytest.mark.parametrize(("specs", "message"), [
    (["04=-1"], "must be a positive number"),
    (["04=0"], "must be a positive number"),
    (["04=nan"], "must be a positive number"),
    (["04=inf"], "must be a positive number"),
    (["04=lots"], "must be a number"),
    (["04"], "is not LABEL=NUMBER"),
    (["04=1", "04=2"], "is given twice"),
])
def test_bad_weights_are_refused(specs, message):
    with pytest.raises(TermError, match=message):
        term.parse_weights(specs)


def test_weights_must_cover_exactly_the_folders(tmp_path, grades):
    assert term.parse_weights(["04=0.4", "07=0.6"]) == {"04": 0.4, "07": 0.6}
    assert term.parse_weights(None) is None
    with pytest.raises(TermError, match=r"no weight for 07: give one for every folder, e\.g\. --weights 04=1,07=1"):
        term.load_term(list(grades), {"04": 1.0})
    with pytest.raises(TermError, match="weights given for 09, which is no folder here"):
        term.load_term(list(grades), {"04": 1.0, "07": 1.0, "09": 1.0})
    other = _book(tmp_path / "other" / "04", "04_x.ipynb", {"ada": {"04-a": (1, 1, "passed")}})
    with pytest.raises(TermError, match="two grading folders are both named 04"):
        term.load_term([grades[0], other])


def test_bad_gradebooks_are_refused(tmp_path):
    with pytest.raises(TermError, match="no such grading folder"):
        term.read_part(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TermError, match="no gradebook.csv in .*run `labs grade"):
        term.read_part(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "gradebook.csv").write_text("student,exercise,points,max\nada,04-a,four,4\n")
    with pytest.raises(TermError, match="line 2: points must be a number, got 'four'"):
        term.read_part(tmp_path / "bad")
    (tmp_path / "bad" / "gradebook.csv").write_text("name,score\nada,4\n")
    with pytest.raises(TermError, match="has no column student, exercise, points, max"):
        term.read_part(tmp_path / "bad")
    (tmp_path / "bad" / "gradebook.csv").write_text("student,exercise,points,max\n")
    with pytest.raises(TermError, match="has no points to earn"):
        term.read_part(tmp_path / "bad")


def test_part_max_counts_exercises_a_student_has_no_row_for(tmp_path):
    folder = _book(tmp_path / "04", "04_x.ipynb", {"ada": {"04-a": (2, 2, "passed"), "04-b": (3, 3, "passed")},
                                                    "bob": {"04-a": (2, 2, "passed")}})
    part = term.read_part(folder)
    assert part.max_points == 5 and part.points == {"ada": 5, "bob": 2}
    assert math.isclose(part.percent("bob"), 40.0) and part.percent("nobody") == 0.0
    assert part.assignment == "04_x"


def test_assignment_names(tmp_path):
    assert lms.parse_assignment_names(["Lab 4 (1234)"], ["04"]) == {"04": "Lab 4 (1234)"}
    assert lms.parse_assignment_names(["04=Lab = four"], ["04"]) == {"04": "Lab = four"}
    assert lms.parse_assignment_names(["04=A", "07=B"], ["04", "07"]) == {"04": "A", "07": "B"}
    with pytest.raises(ValueError, match="with several folders write LABEL=NAME"):
        lms.parse_assignment_names(["Lab"], ["04", "07"])
    with pytest.raises(ValueError, match="two assignment names for 04"):
        lms.parse_assignment_names(["04=A", "04=B"], ["04", "07"])
    with pytest.raises(ValueError, match="the name is empty"):
        lms.parse_assignment_names(["04="], ["04", "07"])


def test_cli_export_end_to_end(tmp_path, grades, capsys):
    roster = _roster(tmp_path, ROSTER)
    out = tmp_path / "export.csv"
    code = cli.main(["export", str(grades[0]), str(grades[1]), "--format", "canvas", "--roster", str(roster),
                     "-o", str(out), "--assignment-name", "04=Lab 4 (1234)", "--assignment-name", "07=Lab 7"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert _rows(out)[0][5:] == ["Lab 4 (1234)", "Lab 7"]
    assert _rows(out)[2] == ["Builder, Bob", "102", "S2", "bob@uni.edu", "Lab A", "4", "0"]
    assert "graded but not in the roster (NOT exported): zoe" in captured.err
    assert "in the roster with no submission (0): cy" in captured.err
    assert "bob has no submission in 07" in captured.err
    assert "bob has no submission in 07 (0 in the file)" in captured.err
    assert f"wrote {out}: canvas, 3 student(s), 2 folder(s), one column per folder" in captured.out

    assert cli.main(["export", str(grades[0]), str(grades[1]), "--format", "moodle", "--roster", str(roster),
                     "-o", str(out), "--weights", "04=1,07=3"]) == 0
    captured = capsys.readouterr()
    assert "the weights only change plain and term totals" in captured.err
    assert _rows(out)[2] == ["ada@uni.edu", "10", "15"]  # points per notebook, whatever the weights

    code = cli.main(["export", str(grades[0]), str(grades[1]), "--format", "plain", "-o", str(out),
                     "--weight", "04=0.4", "--weight", "07=0.6", "--roster", str(roster), "--missing", "blank"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert _rows(out)[2] == ["ada", "ada@uni.edu", "85", "100", "85.00"]
    assert "no submission (left blank): cy" in captured.err and "weighted 04=0.4,07=0.6" in captured.out


@pytest.mark.parametrize(("extra", "message"), [
    (["--format", "moodle"], "the moodle format needs --roster"),
    (["--weights", "04=0.4"], "no weight for 07"),
    (["--weights", "04=-1,07=1"], "weight of '04' must be a positive number"),
    (["--roster", "missing.csv"], "no such roster"),
    (["--assignment-name", "Lab"], "with several folders write LABEL=NAME"),
])
def test_cli_export_bad_input_exits_2_with_the_reason(tmp_path, grades, capsys, extra, message):
    out = tmp_path / "export.csv"
    assert cli.main(["export", str(grades[0]), str(grades[1]), "-o", str(out), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_cli_export_without_a_gradebook(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path), "-o", str(tmp_path / "x.csv")]) == 2
    assert "no gradebook.csv in" in capsys.readouterr().err


def test_written_file_parses_as_csv_with_utf8_names(tmp_path):
    folder = _book(tmp_path / "04", "04_x.ipynb", {"学生张三": {"04-a": (1, 1, "passed")}})
    roster = _roster(tmp_path, "student,name,email\n学生张三,张三,zs@uni.edu\n")
    out = tmp_path / "m.csv"
    lms.export(term.load_term([folder]), out, lms.read_roster(roster), ExportOptions(format="moodle"))
    assert list(csv.reader(io.StringIO(out.read_text(encoding="utf-8")))) == [["Email address", "04_x"],
                                                                             ["zs@uni.edu", "1"]]


def test_labs_grade_checks_the_roster_before_grading(tmp_path, capsys):
    bad = _roster(tmp_path, "name,email\nAnn,a@x\n")
    out = tmp_path / "grades" / "04"
    code = cli.main(["grade", str(tmp_path / "submissions"), "--source", str(tmp_path / "04_x.ipynb"), "-o", str(out),
                     "--roster", str(bad)])
    assert code == 2
    assert "labs grade: " in capsys.readouterr().err and not out.exists()


def test_export_uses_the_roster_labs_grade_recorded(tmp_path, grades, capsys):
    path = _roster(tmp_path, ROSTER)
    assert lms.remember_roster(grades[0], lms.read_roster(path)) == ["zoe"]  # what labs grade --roster warns about
    out = tmp_path / "export.csv"
    assert cli.main(["export", str(grades[0]), "--format", "moodle", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"roster: {path.resolve()} (from labs grade --roster)" in captured.out
    assert _rows(out)[1] == ["bob@uni.edu", "4"]
    path.unlink()
    assert cli.main(["export", str(grades[0]), "--format", "moodle", "-o", str(out)]) == 2
    assert "which no longer exists; give --roster roster.csv" in capsys.readouterr().err
