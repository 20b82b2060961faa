"""The similarity report (labs_lib.grading.similarity): winnowed token fingerprints of solution code, the
released stub and comments removed, names normalised; similarity.csv and the summary page. No kernel."""

import csv

import nbformat
import pytest
from test_grading import filled, fixture_source, write_source

from labs_lib.grading import feedback, grade, gradebook, release, runner, similarity

STUB = ('def standardize(X):\n    """Return X with zero mean and unit variance per column."""\n'
        '    raise NotImplementedError("ex-standardize: replace this line with your code")')

ORIGINAL = '''def standardize(X):
    """Return X with zero mean and unit variance per column."""
    mean = column_mean(X)
    std = column_std(X, mean)
    return (X - mean) / std

def column_mean(X):
    total = 0
    for row in X:
        total = total + row
    return total / len(X)

def column_std(X, mean):
    acc = 0
    for row in X:
        acc = acc + (row - mean) ** 2
    return (acc / len(X)) ** 0.5
'''

COPY = '''def _spread(data, mu):
    # my own helper for the spread (honest)
    s = 0
    for r in data:
        s = s + (r - mu) ** 2
    return (s / len(data)) ** 0.5

def _average(data):
    t = 0
    for r in data:
        t = t + r
    return t / len(data)

def standardize(X):
    """Return X with zero mean and unit variance per column."""
    m = _average(X)
    sd = _spread(X, m)
    return (X - m) / sd
'''

INDEPENDENT = {
    "cat": '''def standardize(X):
    """Return X with zero mean and unit variance per column."""
    X = np.asarray(X, dtype=float)
    return (X - X.mean(axis=0)) / X.std(axis=0)
''',
    "dan": '''def standardize(X):
    """Return X with zero mean and unit variance per column."""
    centered = X - np.mean(X, axis=0)
    scale = np.sqrt(np.mean(centered ** 2, axis=0))
    return centered / scale
''',
    "eve": '''def standardize(X):
    """Return X with zero mean and unit variance per column."""
    mu = X.mean(0); sigma = X.std(0)
    out = (X - mu) / sigma
    return out
''',
}


def test_a_copy_with_renamed_variables_and_reordered_helpers_ranks_first():
    solutions = {"ann": {"ex": ORIGINAL}, "bob": {"ex": COPY}, **{s: {"ex": c} for s, c in INDEPENDENT.items()}}
    found = similarity.pairs(solutions, {"ex": STUB})
    first = found[0]
    assert (first.exercise, first.student_a, first.student_b) == ("ex", "ann", "bob")
    assert first.similarity >= similarity.DEFAULT_THRESHOLD
    assert all(p.similarity < similarity.DEFAULT_THRESHOLD for p in found[1:])


def test_independent_correct_solutions_of_a_short_exercise_are_not_flagged():
    stub = 'def mean(values):\n    """The average of a list of numbers."""\n    raise NotImplementedError("t-mean")'
    answers = {
        "ann": stub.rsplit("\n", 1)[0] + "\n    return sum(values) / len(values)",
        "bob": stub.rsplit("\n", 1)[0] + "\n    total = 0\n    for v in values:\n        total += v\n"
                                         "    return total / len(values)",
        "cho": stub.rsplit("\n", 1)[0] + "\n    return float(np.mean(values))",
        "dev": stub.rsplit("\n", 1)[0] + "\n    import statistics\n    return statistics.fmean(values)",
        "eli": stub.rsplit("\n", 1)[0] + "\n    n = len(values)\n    return sum(values) / n if n else 0.0",
    }
    found = similarity.pairs({s: {"t-mean": code} for s, code in answers.items()}, {"t-mean": stub})
    assert all(p.similarity < similarity.DEFAULT_THRESHOLD for p in found), found


def test_a_submission_with_a_syntax_error_is_still_compared():
    broken = COPY.replace("return (X - m) / sd", "return (X - m / sd\n    print('unfinished")
    assert similarity.tokens(broken)  # the fallback split, not an exception
    solutions = {"ann": {"ex": ORIGINAL}, "bob": {"ex": broken}, "cat": {"ex": "def f(:\n\tx = = 1\n  return"}}
    found = similarity.pairs(solutions, {"ex": STUB})
    assert found[0].student_a == "ann" and found[0].student_b == "bob" and found[0].similarity > 0.5


def test_stub_comments_and_names_do_not_count():
    assert similarity.tokens(STUB + "\n    # nothing yet", STUB) == []  # only the stub and a comment: no code
    assert similarity.tokens("total = price * 2  # double", "") == similarity.tokens("t = p * 7", "") == [
        "V", "=", "V", "*", "N", ";"]
    assert similarity.tokens("np.mean(x)") == ["V", ".", "mean", "(", "V", ")", ";"]  # attributes stay
    with_comments = ORIGINAL.replace("    total = 0\n", "    # start from zero\n    total = 0  # accumulator\n")
    found = similarity.pairs({"a": {"ex": ORIGINAL}, "b": {"ex": with_comments}}, {"ex": STUB})
    assert found[0].similarity == 1.0
    untouched = {s: {"ex": STUB} for s in "abc"}  # nobody wrote anything: nothing to compare
    assert similarity.pairs(untouched, {"ex": STUB}) == []


def test_code_everyone_writes_is_not_evidence():
    shared = "    for row in X:\n        total = total + row\n"
    solutions = {f"s{i}": {"ex": f"def f{i}(X):\n    total = {i}\n{shared}    return total * {i} - len(X) + {i}\n"}
                 for i in range(8)}
    solutions["s0"]["ex"] += "    print('extra', X, total, total ** 2)\n"
    assert similarity.pairs(solutions, {"ex": ""}) == []  # what all eight wrote is the exercise, not a copy
    two = {s: solutions[s] for s in ("s1", "s2")}
    assert similarity.pairs(two, {"ex": ""})[0].similarity == 1.0  # the same code between two students only


def test_similarity_csv_keeps_other_notebooks_and_summary_escapes_names(tmp_path):
    pair = similarity.Pair("ex", "<script>alert(1)</script>", "bob", 0.9, 9, 10, 10)
    other = similarity.Pair("ex2", "cat", "dan", 0.2, 2, 10, 10)
    similarity.write_csv(tmp_path, "01_a.ipynb", [pair], 0.7)
    similarity.write_csv(tmp_path, "02_b.ipynb", [other], 0.7)
    rows = list(csv.DictReader(open(tmp_path / similarity.CSV_NAME, encoding="utf-8")))
    assert [r["notebook"] for r in rows] == ["01_a.ipynb", "02_b.ipynb"]
    assert rows[0] == {"notebook": "01_a.ipynb", "exercise": "ex", "student_a": "<script>alert(1)</script>",
                            "student_b": "bob", "similarity": "0.900", "shared": "9", "fingerprints_a": "10",
                            "fingerprints_b": "10", "flagged": "yes"}
    feedback.write_summary(tmp_path, gradebook.Gradebook(tmp_path), {}, [], "audit", similarity_threshold=0.7)
    page = (tmp_path / "summary.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "2 pair(s) of solutions share code fingerprints; 1 at or above the threshold 0.7" in page


@pytest.mark.parametrize("text, value", [("0.7", 0.7), ("70%", 0.7), ("1", 1.0)])
def test_threshold_is_a_fraction_or_a_percent(text, value):
    assert similarity.parse_threshold(text) == pytest.approx(value)


def test_bad_thresholds_say_what_to_write():
    with pytest.raises(ValueError, match="write e.g. 0.7 or 70%"):
        similarity.parse_threshold("high")
    with pytest.raises(ValueError, match="between 0 and 1"):
        similarity.parse_threshold("120%")


class PassingRunner:
    """Stands in for runner.RunnerProcess (no kernel): everything passes."""

    def __init__(self, batch=""):
        pass

    def grade(self, job):
        return {"exercises": {ex["id"]: {"points": ex["points"], "max": ex["points"], "status": "passed",
                                         "reason": "", "runtime": 0.1} for ex in job["exercises"]},
                "cells": [], "notes": []}

    def close(self):
        pass


def test_labs_grade_writes_the_report_from_the_solution_cells(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "RunnerProcess", PassingRunner)
    source_path = write_source(tmp_path / "src")
    source = fixture_source()
    edition = release.student_edition(source, "99_fixture.ipynb")
    head = 'def mean(values):\n    """The average of a list of numbers."""\n'
    loop = head + "    ### BEGIN SOLUTION\n    total = 0\n    for value in values:\n        total = total + value\n" \
                  "    count = len(values)\n    return total / count\n    ### END SOLUTION"
    renamed = head + "    s = 0\n    for x in values:  # add them up\n        s = s + x\n    n = len(values)\n" \
                     "    return s / n"
    other = head + "    values = sorted(values)\n    return sum(values[::1]) / max(len(values), 1)"
    subs = tmp_path / "subs"
    subs.mkdir()
    broken = renamed.replace("return s / n", "return (s / n\n    print('unfinished")  # a syntax error
    for student, answer in (("ann", loop), ("bob", renamed), ("cho", other), ("eve", broken)):
        nbformat.write(filled(edition, source, **{"t-mean": answer}), subs / f"{student}.ipynb")
    (subs / "dan.ipynb").write_text("not a notebook")  # unreadable: graded invalid, left out of the report
    report = grade.grade_folder(subs, source_path, tmp_path / "out",
                                grade.GradeOptions(workers=1, isolation="audit", progress=False))
    rows = list(csv.DictReader(open(report.similarity, encoding="utf-8")))
    mean_rows = [r for r in rows if r["exercise"] == "t-mean"]
    assert (mean_rows[0]["student_a"], mean_rows[0]["student_b"], mean_rows[0]["flagged"]) == ("ann", "bob", "yes")
    assert all(not r["flagged"] for r in mean_rows[1:] if "cho" in (r["student_a"], r["student_b"]))
    assert "dan" not in {r["student_a"] for r in rows} | {r["student_b"] for r in rows}
    assert ("bob", "eve") in {(r["student_a"], r["student_b"]) for r in mean_rows}  # the broken one is compared
    summary = (tmp_path / "out" / "summary.html").read_text()
    assert "Similar solutions" in summary and "<td>t-mean</td><td>ann</td><td>bob</td>" in summary
