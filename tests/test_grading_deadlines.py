"""Deadlines and late penalties (labs_lib.grading.deadlines), in the gradebook, the feedback pages and
``labs grade``'s options. No kernel: grading runs go through a fake runner that scores from the student id."""

import csv
import datetime as dt
import json
import os

import nbformat
import pytest
from test_grading import filled, fixture_source, write_source

from labs_lib import cli
from labs_lib.grading import deadlines, feedback, grade, gradebook, release, runner, submissions
from labs_lib.grading.deadlines import DeadlineError, DeadlinePolicy, Extension, Penalty

UTC = dt.timezone.utc
DEADLINE = dt.datetime(2026, 12, 3, 23, 59, tzinfo=UTC)
NB = "99_fixture.ipynb"


def at(hours: float) -> dt.datetime:
    return DEADLINE + dt.timedelta(hours=hours)


# ---- reading dates, durations, penalties -------------------------------------------------------------


def test_times_are_iso_8601_and_naive_ones_are_utc():
    assert deadlines.parse_time("2026-12-03T23:59+01:00") == dt.datetime(2026, 12, 3, 22, 59, tzinfo=UTC)
    assert deadlines.parse_time("2026-12-03T22:59:00Z") == dt.datetime(2026, 12, 3, 22, 59, tzinfo=UTC)
    assert deadlines.parse_time("2026-12-03T23:59").tzinfo == UTC
    assert deadlines.naive_deadline("2026-12-03T23:59") and not deadlines.naive_deadline("2026-12-03T23:59Z")
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert deadlines.parse_time("Thursday, 3 December 2026, 11:59 PM", plus_two) == dt.datetime(
        2026, 12, 3, 23, 59, tzinfo=plus_two)  # Moodle's grading worksheet, in the deadline's zone


@pytest.mark.parametrize("text, message", [
    ("2026-12-03", "has a date but no time: write e.g. 2026-12-03T23:59"),
    ("next friday", "is not a date and time: use ISO 8601"),
    ("2026-13-03T10:00", "is not a date and time"),
])
def test_bad_dates_say_what_to_write(text, message):
    with pytest.raises(DeadlineError, match=message):
        deadlines.parse_time(text, what="deadline")


def test_penalties_durations_and_caps_are_read_or_refused_with_an_example():
    assert Penalty.parse("10%/day") == Penalty(10.0, "day")
    assert Penalty.parse("2.5% per hour") == Penalty(2.5, "hour")
    assert Penalty.parse("5%/h") == Penalty(5.0, "hour")
    for bad in ("10/day", "10%/week", "ten%/day", "150%/day"):
        with pytest.raises(DeadlineError, match="late penalty"):
            Penalty.parse(bad)
    assert deadlines.parse_duration("15m") == dt.timedelta(minutes=15)
    assert deadlines.parse_duration("1.5d") == dt.timedelta(hours=36)
    assert deadlines.parse_duration("0") == dt.timedelta(0)
    with pytest.raises(DeadlineError, match="e.g. 15m, 2h or 1d"):
        deadlines.parse_duration("15")
    with pytest.raises(DeadlineError, match="penalty cap must be at most 100%"):
        deadlines.build_policy("2026-12-03T23:59Z", cap="120%")


# ---- lateness and deductions --------------------------------------------------------------------------


def test_every_started_period_after_the_grace_period_costs_up_to_the_cap():
    policy = DeadlinePolicy(DEADLINE, grace=dt.timedelta(minutes=30), penalty=Penalty(10, "day"), cap=25)
    on_time = deadlines.assess(policy, "a", at(-1), "timestamps file")
    assert on_time.late == dt.timedelta(0) and on_time.percent == 0 and "On time." in on_time.describe()
    in_grace = deadlines.assess(policy, "a", at(0.4), "timestamps file")
    assert in_grace.late_hours == pytest.approx(0.4) and in_grace.percent == 0
    assert "within the grace period: nothing deducted" in in_grace.describe()
    just_after = deadlines.assess(policy, "a", at(0.6), "timestamps file")
    assert (just_after.periods, just_after.percent) == (1, 10)
    assert deadlines.assess(policy, "a", at(24.6), "x").percent == 20  # the second day after grace has started
    assert deadlines.assess(policy, "a", at(24 * 9), "x").percent == 25  # capped
    no_penalty = deadlines.assess(DeadlinePolicy(DEADLINE), "a", at(5), "x")
    assert no_penalty.percent == 0 and no_penalty.describe().endswith("5 h late: nothing deducted.")
    hourly = DeadlinePolicy(DEADLINE, penalty=Penalty(5, "hour"))
    assert deadlines.assess(hourly, "a", at(2.01), "x").percent == 15


def test_extensions_move_a_students_deadline():
    policy = DeadlinePolicy(DEADLINE, penalty=Penalty(10, "day"), extensions={
        "bob": Extension(extra=dt.timedelta(hours=48)), "cho": Extension(deadline=at(24))})
    bob = deadlines.assess(policy, "bob", at(47), "x")
    assert bob.percent == 0 and bob.due == at(48) and "extension of 48 hour(s)" in bob.describe()
    cho = deadlines.assess(policy, "cho", at(30), "x")
    assert cho.due == at(24) and cho.percent == 10
    assert deadlines.assess(policy, "ann", at(30), "x").percent == 20  # no extension: two started days


def test_deductions_are_a_percent_of_the_notebooks_points_and_never_below_zero():
    results = {"a": {"points": 1, "max": 1}, "b": {"points": 2, "max": 2}, "c": {"points": 0, "max": 1}}
    cut = deadlines.deductions(results, 25)  # 25% of 4 points = 1 point, taken in proportion to what was earned
    assert cut == {"a": pytest.approx(1 / 3, abs=1e-4), "b": pytest.approx(2 / 3, abs=1e-4), "c": 0.0}
    poor = {"a": {"points": 1, "max": 1}, "b": {"points": 0, "max": 3}}
    assert deadlines.deductions(poor, 50) == {"a": 1.0, "b": 0.0}  # 2 points due, only 1 earned: nothing negative
    assert deadlines.deductions(results, 0) == {"a": 0.0, "b": 0.0, "c": 0.0}


# ---- the files: timestamps (LMS downloads) and extensions ---------------------------------------------


def test_timestamps_from_plain_canvas_and_moodle_csv_files(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("student,time\nann,2026-12-04T01:00Z\nbob,2026-12-03T20:00\n")
    assert deadlines.read_timestamps(plain) == {"ann": at(1 + 1 / 60), "bob": dt.datetime(2026, 12, 3, 20, tzinfo=UTC)}
    canvas = tmp_path / "canvas.csv"
    canvas.write_text("user_id,submitted_at,late\nann,2026-12-03T23:00:00-06:00,true\n")
    assert deadlines.read_timestamps(canvas)["ann"] == dt.datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
    moodle = tmp_path / "moodle.csv"
    moodle.write_text('Identifier,Full name,Status,"Last modified (submission)"\n'
                      '"ann","Ann A","Submitted for grading","Friday, 4 December 2026, 1:30 AM"\n'
                      '"bob","Bob B","No submission","-"\n', encoding="utf-8-sig")
    assert deadlines.read_timestamps(moodle) == {"ann": dt.datetime(2026, 12, 4, 1, 30, tzinfo=UTC)}


@pytest.mark.parametrize("text, message", [
    ("", "is empty: it needs a header line"),
    ("name,when\nann,2026-12-03T10:00Z\n", "needs a student column"),
    ("student,time\nann,yesterday\n", r"line 2: time 'yesterday' is not a date and time"),
    ("student,time\nann,2026-12-03T10:00Z\nann,2026-12-03T11:00Z\n", "line 3: a second time for 'ann'"),
    ("student,time\n,2026-12-03T10:00Z\n", "line 2: no student id"),
])
def test_a_malformed_timestamps_file_names_the_line(tmp_path, text, message):
    path = tmp_path / "times.csv"
    path.write_text(text)
    with pytest.raises(DeadlineError, match=message):
        deadlines.read_timestamps(path)


def test_extensions_file_takes_a_new_deadline_or_extra_hours(tmp_path):
    path = tmp_path / "ext.csv"
    path.write_text("student,deadline,hours\nann,2026-12-05T12:00,\nbob,,36\n")
    found = deadlines.read_extensions(path)
    assert found == {"ann": Extension(deadline=dt.datetime(2026, 12, 5, 12, tzinfo=UTC)),
                     "bob": Extension(extra=dt.timedelta(hours=36))}
    for text, message in [("student,deadline,hours\nann,2026-12-05T12:00,4\n", "not both"),
                          ("student,hours\nann,\n", "not neither"),
                          ("student,hours\nann,two days\n", "extra hours 'two days' is not a number"),
                          ("student,hours\nann,-3\n", "must be a positive number"),
                          ("student,reason\nann,ill\n", "needs a student column and a deadline column"),
                          ("student,hours\nann,3\nann,4\n", "line 3: a second extension for 'ann'")]:
        path.write_text(text)
        with pytest.raises(DeadlineError, match=message):
            deadlines.read_extensions(path)
    with pytest.raises(DeadlineError, match="no such extensions file"):
        deadlines.read_extensions(tmp_path / "nope.csv")


def test_the_policy_round_trips_through_the_state():
    policy = DeadlinePolicy(DEADLINE, grace=dt.timedelta(minutes=15), penalty=Penalty(10, "day"), cap=50,
                            extensions={"ann": Extension(extra=dt.timedelta(hours=2))}, timestamps={"bob": at(3)})
    again = DeadlinePolicy.from_json(json.loads(json.dumps(policy.to_json())))
    assert again == policy
    assert policy.describe() == ("deadline 2026-12-03T23:59+00:00; grace 0.25 h; penalty 10%/day (cap 50%); "
                                 "1 extension(s); 1 submission time(s) from the timestamps file")


# ---- the gradebook ------------------------------------------------------------------------------------


def test_gradebook_deducts_the_penalty_and_recomputes_it_without_the_results(tmp_path):
    book = gradebook.Gradebook(tmp_path)
    book.register_exercises(NB, ["t-add", "t-square"])
    results = {"t-add": {"points": 1, "max": 1, "status": "passed", "reason": "", "runtime": 0.1},
               "t-square": {"points": 2, "max": 2, "status": "passed", "reason": "", "runtime": 0.1}}
    policy = DeadlinePolicy(DEADLINE, penalty=Penalty(10, "day"))
    late = deadlines.assess(policy, "ann", at(30), "file modification time")  # two started days: 20%
    cut = book.record(NB, "ann", "digest", results, lateness=late)
    assert sum(cut.values()) == pytest.approx(0.6)
    rows = {r["exercise"]: r for r in csv.DictReader(open(tmp_path / "gradebook.csv"))}
    assert list(next(iter(rows.values())))[-4:] == ["submitted", "time_source", "late_hours", "penalty"]
    assert rows["t-square"] == {**rows["t-square"], "points": "1.6", "penalty": "0.4", "late_hours": "30.00",
                                     "submitted": "2026-12-05T05:59:00Z", "time_source": "file modification time"}
    again = gradebook.Gradebook(tmp_path)
    softer = deadlines.assess(DeadlinePolicy(DEADLINE, penalty=Penalty(5, "day")), "ann", at(30), "timestamps file")
    assert again.reapply("ann", ["t-add", "t-square"], softer)
    assert again.rows[("ann", "t-square")]["points"] == "1.8" and again.rows[("ann", "t-add")]["points"] == "0.9"
    assert not again.reapply("ann", ["t-add", "t-square"], softer)  # nothing changed the second time
    assert again.reapply("ann", ["t-add", "t-square"], None)  # no deadline: the tests' points come back
    assert [again.rows[("ann", ex)]["points"] for ex in ("t-add", "t-square")] == ["1", "2"]
    assert again.rows[("ann", "t-add")]["late_hours"] == ""


def test_a_gradebook_from_before_the_lateness_columns_still_loads(tmp_path):
    (tmp_path / "gradebook.csv").write_text("student,exercise,points,max,status,reason,runtime\n"
                                            "ann,t-add,1,1,passed,,0.50\n")
    book = gradebook.Gradebook(tmp_path)
    assert book.rows[("ann", "t-add")]["points"] == "1" and book.rows[("ann", "t-add")]["penalty"] == ""
    assert book.totals(["t-add"]) == {"ann": (1.0, 1.0)}
    late = deadlines.assess(DeadlinePolicy(DEADLINE, penalty=Penalty(50, "day")), "ann", at(1), "timestamps file")
    assert book.reapply("ann", ["t-add"], late) and book.rows[("ann", "t-add")]["points"] == "0.5"


# ---- labs grade, with a fake runner (no kernel) -------------------------------------------------------


class ScoringRunner:
    """Stands in for runner.RunnerProcess: every exercise passes, and the runs are counted."""

    runs: list[str] = []

    def __init__(self, batch=""):
        pass

    def grade(self, job):
        ScoringRunner.runs.append(job["student"])
        return {"exercises": {ex["id"]: {"points": ex["points"], "max": ex["points"], "status": "passed",
                                         "reason": "", "runtime": 0.1} for ex in job["exercises"]},
                "cells": [{"kind": "solution", "exercise": "t-add", "outputs": [{"type": "text", "text": "<b>hi</b>"}]}],
                "notes": [], "runtime": 0.3}

    def close(self):
        pass


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A source, two submissions with known modification times, and the fake runner."""
    monkeypatch.setattr(runner, "RunnerProcess", ScoringRunner)
    monkeypatch.setattr(runner, "run_job", lambda job: pytest.fail("a kernel was started"))
    ScoringRunner.runs = []
    source_path = write_source(tmp_path / "src")
    edition = release.student_edition(fixture_source(), NB)
    subs = tmp_path / "subs"
    subs.mkdir()
    for student, hours in (("ann", -2), ("bob", 30)):
        path = subs / f"{student}.ipynb"
        nbformat.write(filled(edition, fixture_source()), path)
        os.utime(path, (at(hours).timestamp(),) * 2)
    return source_path, subs, tmp_path / "out"


def _rows(out):
    return {(r["student"], r["exercise"]): r for r in csv.DictReader(open(out / "gradebook.csv", encoding="utf-8"))}


def _options(**kw):
    return grade.GradeOptions(workers=1, isolation="audit", progress=False, **kw)


def test_a_change_of_deadline_recomputes_penalties_and_pages_without_regrading(course):
    source, subs, out = course
    policy = DeadlinePolicy(DEADLINE, grace=dt.timedelta(minutes=15), penalty=Penalty(10, "day"))
    report = grade.grade_folder(subs, source, out, _options(deadline=policy))
    assert report.graded == 2 and sorted(ScoringRunner.runs) == ["ann", "bob"]
    rows = _rows(out)
    assert rows[("ann", "t-square")]["late_hours"] == "0.00" and rows[("ann", "t-square")]["penalty"] == "0"
    assert rows[("bob", "t-square")]["time_source"] == "file modification time"
    assert rows[("bob", "t-square")]["late_hours"] == "30.00"
    assert sum(float(rows[("bob", ex)]["penalty"]) for ex in ("t-add", "t-square", "t-mean")) == pytest.approx(0.8)
    page = (out / "feedback" / "99_fixture" / "bob.html").read_text()
    assert "Score: 3.20 / 4</strong> (4 before the late penalty)" in page
    assert "1 d 6 h late: 20% of the notebook&#39;s points deducted (0.8 point(s))" in page
    assert "&lt;b&gt;hi&lt;/b&gt;" in page  # the student's output, escaped, survives re-rendering below
    summary = (out / "summary.html").read_text()
    assert "penalty 10%/day (cap 100%)" in summary and "1 late submission(s)" in summary

    ScoringRunner.runs = []  # a softer penalty and an extension for bob: nothing runs again
    times = out.parent / "times.csv"
    times.write_text("student,time\nbob,2026-12-04T01:00Z\n")
    softer = deadlines.build_policy("2026-12-03T23:59Z", grace="15m", late_penalty="5%/hour", cap="50%",
                                    timestamps=times)
    report = grade.grade_folder(subs, source, out, _options(deadline=softer))
    assert report.graded == 0 and ScoringRunner.runs == [] and report.repenalised == 1
    rows = _rows(out)
    assert rows[("bob", "t-add")]["time_source"] == "timestamps file" and rows[("bob", "t-add")]["late_hours"] == "1.02"
    assert sum(float(rows[("bob", ex)]["points"]) for ex in ("t-add", "t-square", "t-mean")) == pytest.approx(3.8)
    page = (out / "feedback" / "99_fixture" / "bob.html").read_text()
    assert "(from the timestamps file)" in page and "5% of the notebook&#39;s points deducted" in page
    assert "&lt;b&gt;hi&lt;/b&gt;" in page

    report = grade.grade_folder(subs, source, out, _options())  # no options: the kept policy still applies
    assert any("applying the deadline policy of the previous run" in w for w in report.warnings)
    assert report.repenalised == 0 and _rows(out)[("bob", "t-add")]["penalty"] != "0"
    report = grade.grade_folder(subs, source, out, _options(clear_deadline=True))
    assert report.repenalised == 2 and ScoringRunner.runs == []  # ann loses her lateness columns too
    assert {r["points"] for k, r in _rows(out).items() if k[0] == "bob"} == {"1", "2"}
    assert "late" not in (out / "feedback" / "99_fixture" / "bob.html").read_text().split("<body>")[1].split("<table>")[0].lower()


def test_students_named_in_the_files_but_absent_are_reported(course, tmp_path):
    source, subs, out = course
    extensions = tmp_path / "ext.csv"
    extensions.write_text("student,hours\nbbo,24\n")  # a typo for bob
    policy = deadlines.build_policy("2026-12-03T23:59Z", late_penalty="10%/day", extensions=extensions)
    report = grade.grade_folder(subs, source, out, _options(deadline=policy))
    assert any("the extensions file names student(s) with no submission: bbo" in w for w in report.warnings)
    assert _rows(out)[("bob", "t-add")]["penalty"] != "0"  # the typo gives bob no extension


def test_submission_time_does_not_follow_a_link(tmp_path):
    target = tmp_path / "real.ipynb"
    target.write_text("{}")
    os.utime(target, (at(100).timestamp(),) * 2)
    link = tmp_path / "link.ipynb"
    link.symlink_to(target)
    os.utime(link, (at(-5).timestamp(),) * 2, follow_symlinks=False)
    when, source = deadlines.submission_time(DeadlinePolicy(DEADLINE), "x", link)
    assert when == at(-5) and source == "file modification time"
    assert submissions.file_name("x") == "x"


def test_feedback_page_without_kept_data_is_not_rewritten(tmp_path):
    results = {"t-add": {"points": 1.0, "max": 1.0, "status": "passed", "reason": ""}}
    assert feedback.rewrite_student_page(tmp_path, NB, "ann", results, None, {}) is None


# ---- the command line ---------------------------------------------------------------------------------


@pytest.mark.parametrize("extra, message", [
    (["--deadline", "2026-12-03"], "has a date but no time"),
    (["--deadline", "2026-12-03T23:59Z", "--late-penalty", "10 percent"], "late penalty '10 percent' is not understood"),
    (["--grace", "1h"], "--grace need(s) --deadline"),
    (["--deadline", "none", "--late-penalty", "10%/day"], "--deadline none removes the deadline"),
    (["--deadline", "2026-12-03T23:59Z", "--extensions", "missing.csv"], "no such extensions file"),
    (["--similarity-threshold", "1.5"], "similarity threshold must be between 0 and 1"),
])
def test_bad_deadline_options_stop_before_grading(tmp_path, capsys, monkeypatch, extra, message):
    monkeypatch.setattr(grade, "grade_folder", lambda *a, **k: pytest.fail("grading started"))
    code = cli.main(["grade", str(tmp_path), "--source", str(tmp_path / "x.ipynb"), "-o", str(tmp_path / "o"), *extra])
    assert code == 2
    assert message in capsys.readouterr().err


def test_labs_grade_takes_the_deadline_options(course, tmp_path, capsys):
    source, subs, out = course
    extensions = tmp_path / "ext.csv"
    extensions.write_text("student,hours\nbob,48\n")
    code = cli.main(["grade", str(subs), "--source", str(source), "-o", str(out), "--workers", "1", "--no-progress",
                     "--isolation", "audit", "--deadline", "2026-12-03T23:59", "--grace", "1h",
                     "--late-penalty", "10%/day", "--penalty-cap", "30%", "--extensions", str(extensions)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "--deadline 2026-12-03T23:59 has no time zone: read as UTC" in captured.err
    assert "deadline:  deadline 2026-12-03T23:59+00:00; grace 1 h; penalty 10%/day (cap 30%); 1 extension(s)" in captured.out
    assert "similarity: " in captured.out
    rows = _rows(out)
    assert rows[("bob", "t-add")]["penalty"] == "0" and rows[("bob", "t-add")]["late_hours"] == "0.00"  # extended
    assert "extension of 48 hour(s)" in (out / "feedback" / "99_fixture" / "bob.html").read_text()
