"""An interrupted ``labs grade`` loses nothing, and running it again grades only what is missing or changed."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import nbformat
from test_grading import filled, write_source

from labs_lib import cli
from labs_lib.grading import release

from conftest import ROOT


def _rows(path):
    return {(r["student"], r["exercise"]): r for r in csv.DictReader(open(path))}


def test_an_interrupted_run_resumes_and_only_changes_are_regraded(tmp_path, capsys):
    source_path = write_source(tmp_path / "src")
    source = nbformat.read(source_path, 4)
    edition = release.student_edition(source, source_path.name)
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    for name in ("ann", "ben", "cat"):
        nbformat.write(filled(edition, source), subs / f"{name}.ipynb")
    book = out / "gradebook.csv"
    args = ["grade", str(subs), "--source", str(source_path), "-o", str(out), "--no-progress"]
    process = subprocess.Popen([sys.executable, "-m", "labs_lib.cli", *args, "--workers", "1"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not (book.exists() and len(_rows(book)) >= 3):
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)  # harder than Ctrl-C: no clean-up at all
    process.wait(timeout=30)
    first = _rows(book)
    graded_first = {s for s, _ in first}
    assert 1 <= len(graded_first) < 3 and len(first) == 3 * len(graded_first)
    assert all(r["status"] == "passed" for r in first.values())
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    state = json.loads((out / ".labs-grading.json").read_text())

    assert cli.main([*args, "--workers", "2"]) == 0
    assert f"graded {3 - len(graded_first)} submission(s), {len(graded_first)} up to date" in capsys.readouterr().out
    second = _rows(book)
    assert len(second) == 9 and all(r["status"] == "passed" for r in second.values())
    for key in first:
        assert second[key] == first[key]
    assert json.loads((out / ".labs-grading.json").read_text())["submissions"]["99_fixture.ipynb"][
        sorted(graded_first)[0]] == state["submissions"]["99_fixture.ipynb"][sorted(graded_first)[0]]

    nbformat.write(filled(edition, source, **{"t-mean": "def mean(values):\n    return 0.0"}), subs / "ben.ipynb")
    assert cli.main([*args, "--workers", "2"]) == 0
    assert "graded 1 submission(s), 2 up to date" in capsys.readouterr().out
    third = _rows(book)
    assert third[("ben", "t-mean")]["status"] == "failed" and third[("ann", "t-mean")]["status"] == "passed"

    os.utime(subs / "ann.ipynb")  # touching a file is not a change
    assert cli.main([*args, "--workers", "2", "--force"]) == 0
    assert "graded 3 submission(s), 0 up to date" in capsys.readouterr().out
    assert {k: (r["points"], r["status"], r["reason"]) for k, r in _rows(book).items()} == {
        k: (r["points"], r["status"], r["reason"]) for k, r in third.items()}
