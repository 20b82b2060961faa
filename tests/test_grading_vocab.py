"""The grader's statuses and cell kinds are string enums: equal to their text, written as their text."""

import csv
import io
import json

from labs_lib.grading import pages, scoring
from labs_lib.grading.vocab import EXERCISE_CELLS, RUN_DIED, STUDENT_CELLS, Kind, Status


def test_a_status_is_its_text_in_comparisons_json_csv_and_pages():
    assert Status.PASSED == "passed" and str(Status.TIMEOUT) == "timeout" and f"{Status.FAILED}" == "failed"
    assert {"passed": 1}[Status.PASSED] == 1 and {Status.CRASHED: 1}["crashed"] == 1
    assert json.loads(json.dumps({"status": Status.MEMORY})) == {"status": "memory"}
    out = io.StringIO()
    csv.writer(out).writerow([Status.TAMPERED, Kind.GUARD])
    assert out.getvalue().strip() == "tampered,guard"
    assert set(pages.STATUS_TEXT) >= set(Status), "every status needs its words on the pages"
    assert scoring.STATUSES == tuple(Status)


def test_the_sets_of_kinds_and_statuses_name_only_members():
    assert RUN_DIED == {"crashed", "timeout", "memory"}
    assert STUDENT_CELLS == {"solution", "added", "stub"} and EXERCISE_CELLS == {"solution", "guard", "tests", "verify"}
    assert all(isinstance(k, Kind) for k in STUDENT_CELLS | EXERCISE_CELLS)
    assert len({k.value for k in Kind}) == len(Kind) and len({s.value for s in Status}) == len(Status)
