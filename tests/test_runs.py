"""labs run: each notebook in its own process and kernel; wall time, peak memory, recorded figures."""

import json
import subprocess
import sys

import nbformat
import pytest

from labs_lib import cli, runs

from conftest import ROOT


def make_notebook(path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("QUICK = None\nSEED = 42", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ]
    nbformat.write(nb, path)


@pytest.mark.slow
def test_a_notebook_runs_with_its_parameters_and_its_figures_and_memory_are_measured(tmp_path):
    path = tmp_path / "01_demo.ipynb"
    make_notebook(path, (
        "import numpy as np\n"
        "from labs_lib import results\n"
        "block = np.ones(300_000_000 // 8)  # 300 MB resident\n"
        "results.record('quick was', str(QUICK))\n"
        "results.record('accuracy', 0.875, '{:.1%}', data='made up')\n"
    ))
    run = runs.run_notebook(path, quick=False, executed_dir=tmp_path / "out", timeout=120)
    assert run["status"] == "ok", run
    assert run["notebook"] == "01_demo"
    assert [(f["label"], f["text"]) for f in run["figures"]] == [("quick was", "False"), ("accuracy", "87.5%")]
    assert run["figures"][1]["data"] == "made up"
    assert run["peak_rss_mb"] > 300, run  # the kernel's own peak, not the runner's
    assert 0 < run["wall_s"] < 120
    assert (tmp_path / "out" / "01_demo.ipynb").exists()


@pytest.mark.slow
def test_a_failing_notebook_says_which_cell_and_keeps_the_figures_before_it(tmp_path):
    path = tmp_path / "02_broken.ipynb"
    make_notebook(path, "from labs_lib import results\nresults.record('before', 1)\nraise ValueError('no data')")
    run = runs.run_notebook(path, quick=True, executed_dir=tmp_path / "out", timeout=120)
    assert run["status"] == "error"
    assert "ValueError" in run["error"] and "no data" in run["error"]
    assert [f["label"] for f in run["figures"]] == ["before"]


@pytest.mark.slow
def test_a_notebook_past_its_time_is_stopped(tmp_path):
    path = tmp_path / "03_slow.ipynb"
    make_notebook(path, "import time\ntime.sleep(120)")
    run = runs.run_notebook(path, quick=True, executed_dir=tmp_path / "out", timeout=8)
    assert run["status"] == "timeout" and "8 s" in run["error"]


@pytest.mark.slow
def test_labs_run_writes_the_record_and_fails_when_a_notebook_fails(tmp_path, capsys):
    good, bad = tmp_path / "01_good.ipynb", tmp_path / "02_bad.ipynb"
    make_notebook(good, "from labs_lib import results\nresults.record('answer', 42, '{:d}')")
    make_notebook(bad, "1 / 0")
    output = tmp_path / "course.json"
    code = cli.main(["run", str(good), str(bad), "-o", str(output), "--executed", str(tmp_path / "ex")])
    assert code == 1
    record = json.loads(output.read_text())
    assert record["mode"] == "quick" and record["machine"]["cores"] >= 1
    assert record["versions"]["tensorflow"]
    assert [r["status"] for r in record["notebooks"]] == ["ok", "error"]
    assert record["notebooks"][0]["figures"][0]["text"] == "42"
    out = capsys.readouterr()
    assert "01_good" in out.out and "failed: 02_bad" in out.err
    assert cli.main(["run", str(tmp_path / "missing.ipynb")]) == 2


@pytest.mark.slow
def test_labs_run_update_replaces_only_the_notebooks_it_ran(tmp_path, monkeypatch):
    first, second = tmp_path / "01_first.ipynb", tmp_path / "02_second.ipynb"
    make_notebook(first, "from labs_lib import results\nresults.record('answer', 1, '{:d}')")
    make_notebook(second, "from labs_lib import results\nresults.record('answer', 2, '{:d}')")
    monkeypatch.setattr(runs, "course_notebooks", lambda folder=None: [first, second])
    output = tmp_path / "course.json"
    assert cli.main(["run", str(first), str(second), "-o", str(output)]) == 0
    before = json.loads(output.read_text())
    make_notebook(second, "from labs_lib import results\nresults.record('answer', 3, '{:d}')")
    assert cli.main(["run", str(second), "-o", str(output), "--update"]) == 0
    after = json.loads(output.read_text())
    assert [r["notebook"] for r in after["notebooks"]] == ["01_first", "02_second"]
    assert [r["figures"][0]["text"] for r in after["notebooks"]] == ["1", "3"]
    assert after["notebooks"][0]["date"] == before["date"]  # each entry keeps when it was measured
    assert after["total_wall_s"] == round(sum(r["wall_s"] for r in after["notebooks"]), 1)
    full = dict(after, mode="full")
    with pytest.raises(ValueError, match="cannot update a mode='full' results file"):
        runs.merge(full, after)
    elsewhere = dict(after, machine=dict(after["machine"], cpu="Other CPU"))
    with pytest.raises(ValueError, match="rerun every notebook here"):
        runs.merge(elsewhere, after)


def test_the_course_notebooks_are_found_in_order():
    found = runs.course_notebooks()
    assert [p.name[:2] for p in found] == sorted(p.name[:2] for p in found)
    assert found[0].name.startswith("00_") and len(found) >= 13
    with pytest.raises(FileNotFoundError, match="no notebooks"):
        runs.course_notebooks(ROOT / "tests")


def test_machine_names_cpu_cores_and_gpus():
    info = runs.machine()
    assert info["cpu"] and info["cores"] >= 1 and isinstance(info["gpus"], list)
    assert "cores" in runs.machine_line(info)


def test_the_runner_entry_point_refuses_to_be_called_by_hand():
    done = subprocess.run([sys.executable, "-m", "labs_lib.runs"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and "labs run" in done.stderr
