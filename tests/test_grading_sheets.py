"""The one CSV reader behind rosters, timestamps, extensions and the written-answers sheet."""

import pytest

from labs_lib.grading import deadlines, lms, sheets, written


class Problem(Exception):
    pass


def read(tmp_path, data: bytes) -> sheets.Table:
    path = tmp_path / "sheet.csv"
    path.write_bytes(data)
    return sheets.read_table(path, "roster", Problem, "student,name")


@pytest.mark.parametrize("data", [
    b"student,name\r\nalice,Alice A\r\n\r\nbob,Bob B\r\n",  # Windows line ends and a blank line
    "\ufeffstudent;name\nalice;Alice A\nbob;Bob B\n".encode(),  # Excel "CSV UTF-8" in a decimal-comma locale
    b"student\tname\nalice\tAlice A\nbob\tBob B",  # tab-separated, no final line end
])
def test_separators_byte_order_marks_and_blank_lines(tmp_path, data):
    table = read(tmp_path, data)
    assert table.header == ["student", "name"]
    assert [row for _, row in table.rows] == [["alice", "Alice A"], ["bob", "Bob B"]]


def test_quoted_fields_keep_separators_and_line_breaks_and_rows_know_their_first_line(tmp_path):
    table = read(tmp_path, b'student,comment\nalice,"good; very\ngood, really"\n\nbob,ok\n')
    assert table.rows == [(2, ["alice", "good; very\ngood, really"]), (5, ["bob", "ok"])]
    assert table.records() == [(2, {"student": "alice", "comment": "good; very\ngood, really"}),
                               (5, {"student": "bob", "comment": "ok"})]


def test_a_single_column_and_short_rows(tmp_path):
    assert read(tmp_path, b"student\nalice\n").rows == [(2, ["alice"])]
    assert read(tmp_path, b"student,name,email\nalice\n").records() == [(2, {"student": "alice", "name": "", "email": ""})]


@pytest.mark.parametrize(("data", "message"), [
    (None, "no such roster file"),
    (b"", "is empty: it needs a header line, e.g. student,name"),
    (b"\n  \n", "is empty"),
    ("student\nJosé\n".encode("latin-1"), 'is not UTF-8 text: save it as "CSV UTF-8"'),
])
def test_errors_name_the_file_and_say_what_to_do(tmp_path, data, message):
    path = tmp_path / "sheet.csv"
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(Problem, match=message) as caught:
        sheets.read_table(path, "roster", Problem, "student,name")
    assert str(path) in str(caught.value)


def test_an_unclosed_quote_is_reported_with_its_line_and_a_stray_quote_is_kept(tmp_path):
    with pytest.raises(Problem, match="a quote opened on line 3 is never closed"):
        read(tmp_path, b'student,comment\nalice,fine\nbob,"never closed\ncarol,ok\n')
    assert read(tmp_path, b'student,name\nob,O"Brien\n').rows == [(2, ["ob", 'O"Brien'])]


def test_a_folder_is_not_a_sheet(tmp_path):
    with pytest.raises(Problem, match="is a folder: give the CSV file itself"):
        sheets.read_table(tmp_path, "roster", Problem, "student")


def test_every_reader_accepts_the_same_files(tmp_path):
    """A semicolon-separated file with a byte-order mark reads as a roster, as timestamps and as a sheet."""
    roster = tmp_path / "roster.csv"
    roster.write_text("\ufeffstudent;lms_id\nalice;1001\n", encoding="utf-8")
    assert lms.read_roster(roster).entries["alice"].lms_id == "1001"
    times = tmp_path / "times.csv"
    times.write_text("\ufeffstudent;time\nalice;2026-12-03T10:00:00+00:00\n", encoding="utf-8")
    assert deadlines.read_timestamps(times)["alice"].hour == 10
    sheet = tmp_path / "written.csv"
    sheet.write_text("\ufeff" + ";".join(written.COLUMNS) + "\n" + ";".join(
        {"student": "alice", "exercise": "04-why", "max": "2", "points": "1,5", "comment": "ok",
         "answer": "text"}.get(c, "") for c in written.COLUMNS) + "\n", encoding="utf-8")
    marks, rows, warnings = written.read_sheet(sheet)
    assert marks[("alice", "04-why")].points == "1,5" and warnings == []
    for reader, error in ((lms.read_roster, lms.RosterError), (deadlines.read_timestamps, deadlines.DeadlineError)):
        with pytest.raises(error, match="no such"):
            reader(tmp_path / "missing.csv")
