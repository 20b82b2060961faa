"""labs grade --scheduler: the same grades from a Dask cluster (a LocalCluster on 127.0.0.1)."""

import csv

import nbformat
import pytest
from test_grading import filled, write_source

from labs_lib.grading import grade, release

distributed = pytest.importorskip("distributed")


def test_grading_on_a_dask_cluster_gives_the_same_grades(tmp_path):
    source_path = write_source(tmp_path / "src")
    source = nbformat.read(source_path, 4)
    edition = release.student_edition(source, source_path.name)
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(filled(edition, source), subs / "alice.ipynb")
    nbformat.write(filled(edition, source, **{"t-square": "def square(x):\n    return x"}), subs / "bob.ipynb")
    (subs / "carol.ipynb").write_text("not json")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        options = grade.GradeOptions(workers=2, scheduler=cluster.scheduler_address, progress=False)
        report = grade.grade_folder(subs, source_path, tmp_path / "out", options)
    assert report.graded == 3
    rows = {(r["student"], r["exercise"]): r for r in csv.DictReader(open(report.gradebook))}
    assert [rows[("alice", ex)]["points"] for ex in ("t-add", "t-square", "t-mean")] == ["1", "2", "1"]
    assert [rows[("bob", ex)]["points"] for ex in ("t-add", "t-square", "t-mean")] == ["1", "0", "1"]
    assert rows[("bob", "t-square")]["status"] == "failed"
    assert rows[("carol", "t-add")]["status"] == "invalid"
    assert (tmp_path / "out" / "feedback" / "99_fixture" / "bob.html").exists()
