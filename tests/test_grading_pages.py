"""The grading pages from Jinja2 templates: what they show, and that a student's text never becomes markup."""

import importlib.resources
import re

import jinja2
import pytest

from labs_lib.grading import gradebook, pages

SCRIPT = "<script>alert('x')</script>"


def test_a_students_text_is_escaped_everywhere_on_the_feedback_page():
    results = {"t-add": {"points": 0, "max": 2, "status": "failed", "reason": f"add(1, 2) gave {SCRIPT}"},
               f"t-{SCRIPT}": {"points": 1.5, "max": 1.5, "status": "passed", "reason": ""}}
    cells = [{"kind": "solution", "exercise": "t-add", "outputs": [{"type": "text", "text": f"printed {SCRIPT}"},
                                                                    {"type": "image", "data": 'AAAA"onerror="x'}]},
             {"kind": "added", "exercise": None, "outputs": [], "status": "error", "truncated": 12345}]
    page = pages.student_page(f"eve{SCRIPT}", "99_fixture.ipynb", results, cells, [f"a note {SCRIPT}"])
    assert "<script>" not in page and "onerror=\"" not in page
    assert page.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") == 6  # title, heading, reason, id, output, note
    assert "<pre>printed &lt;script&gt;" in page
    assert 'src="data:image/png;base64,AAAA&#34;onerror=&#34;x"' in page
    assert "<strong>Score: 1.50 / 3.50</strong>" in page
    assert '<td class="other">failed</td>' in page and '<td class="passed">passed</td>' in page
    assert "<h3>a cell you added</h3>" in page and "12,345 bytes of further output were dropped." in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_the_student_reason_is_shown_instead_of_the_reason_and_the_late_penalty_is_said():
    results = {"t-add": {"points": 2, "max": 2, "status": "passed", "reason": "internal", "student_reason": "fine"},
               "t-mean": {"points": 1, "max": 1, "status": "passed", "reason": ""}}
    page = pages.student_page("bob", "nb.ipynb", results, [], [], late=f"Submitted 26 hours late {SCRIPT}",
                              deducted=0.6, graded="2026-12-03 12:00")
    assert "<td>fine</td>" in page and "internal" not in page
    assert "<strong>Score: 2.40 / 3</strong> (3 before the late penalty)" in page
    assert '<p class="late">Submitted 26 hours late &lt;script&gt;' in page
    assert "Graded 2026-12-03 12:00." in page and "<h2>Notes</h2>" not in page and "Your cells" not in page


def _book(tmp_path):
    book = gradebook.Gradebook(tmp_path)
    book.register_exercises("nb.ipynb", ["t-add", "t-mean"])
    for student, add, mean in [("ann", 2, 1), ("bob", 0, 1), (f"eve{SCRIPT}", 2, 0)]:
        book.record("nb.ipynb", student, "digest", {
            "t-add": {"points": add, "max": 2, "status": "passed" if add else "failed", "reason": "", "runtime": 0.1},
            "t-mean": {"points": mean, "max": 1, "status": "passed" if mean else "timeout", "reason": "", "runtime": 0.1}})
    return book


def test_the_summary_figures_come_from_the_gradebook(tmp_path):
    book = _book(tmp_path)
    book.rows[("bob", "t-add")].update(late_hours="30.5", penalty="0.3")
    book.rows[("bob", "t-mean")].update(late_hours="30.5", penalty="0.1")
    summary = pages.notebook_summary(book, "nb.ipynb", ["t-add", "t-mean"], policy="due 2026-12-01 12:00 UTC")
    assert sorted(summary.scores) == [1.0, 2.0, 3.0] and summary.best == 3.0 and summary.full_marks == 1
    assert [(e.id, e.rate, e.counts["failed"], e.counts["timeout"]) for e in summary.exercises] == [
        ("t-add", "2 / 3", 1, 0), ("t-mean", "2 / 3", 0, 1)]
    (late,) = summary.late
    assert (late.student, late.hours, round(late.deducted, 6)) == ("bob", 30.5, 0.4)
    page = pages.summary_page("namespaces", [summary], [(f"eve{SCRIPT}", "nb.ipynb", f"tampered {SCRIPT}")])
    assert "<script>" not in page and page.count("&lt;script&gt;") == 2
    assert "<p>3 student(s); mean 2.00, median 2.00 of 3 points; 1 with full marks.</p>" in page
    assert "<tr><td>t-mean</td><td>2 / 3</td><td></td><td>1</td>" in page  # failed: none; timed out: 1
    assert "<p>due 2026-12-01 12:00 UTC. 1 late submission(s).</p>" in page
    assert "<tr><td>bob</td><td>30.50</td><td>0.40</td></tr>" in page
    assert "Kernel isolation: <strong>namespaces</strong>" in page and "Similar solutions" not in page


def test_similar_pairs_above_the_threshold_are_listed_most_similar_first_and_escaped():
    rows = [{"notebook": "nb.ipynb", "exercise": "t-add", "student_a": "ann", "student_b": f"eve{SCRIPT}",
             "similarity": "0.91", "shared": "40"},
            {"notebook": "nb.ipynb", "exercise": "t-add", "student_a": "ann", "student_b": "bob",
             "similarity": "0.2", "shared": "3"},
            {"notebook": "nb.ipynb", "exercise": "t-mean", "student_a": "bob", "student_b": "cy",
             "similarity": "0.95", "shared": "12"}]
    section = pages.similar_section(rows, threshold=0.5)
    assert [(p["student_b"], p["similarity"]) for p in section.flagged] == [("cy", 0.95), (f"eve{SCRIPT}", 0.91)]
    page = pages.summary_page("audit", [], [], section)
    assert "3 pair(s) of solutions share code fingerprints; 2 at or above the threshold 0.5" in page
    assert re.search(r"<td>0\.95</td>.*<td>0\.91</td>", page, re.S)
    assert "<script>" not in page and "eve&lt;script&gt;" in page
    assert pages.similar_section(rows, threshold=0.5, max_shown=1).flagged[0]["student_b"] == "cy"


def test_a_value_the_template_does_not_get_is_an_error_not_an_empty_string():
    with pytest.raises(jinja2.UndefinedError):
        pages.render("feedback.html.j2", title="t")


def test_the_templates_ship_with_the_package():
    folder = importlib.resources.files("labs_lib.grading") / "templates"
    assert {p.name for p in folder.iterdir()} >= {"_page.html.j2", "feedback.html.j2", "summary.html.j2"}
    assert pages.environment().autoescape is True
