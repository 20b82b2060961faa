import json
import subprocess
import sys

import nbformat
import pytest

from labs_lib import cli

from conftest import ROOT


@pytest.mark.slow
def test_labs_doctor_reports_the_cpu_profile_and_offline_data(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LABS_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
           "LABS_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run([sys.executable, "-m", "labs_lib.cli", "doctor", "--cpu"], capture_output=True, text=True,
                            env=env, timeout=180, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    out = result.stdout
    assert "tensorflow" in out and "keras" in out
    assert "device: CPU" in out
    assert "MNIST" in out and "offline fallback" in out
    assert "offline MNIST stand-in: not built" in out
    assert "all good" in out
    assert "LABS_PRECISION not set" in out and "LABS_REPLICAS  not set" in out


@pytest.mark.slow
def test_labs_doctor_reports_the_simulated_gpu_settings(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LABS_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
           "LABS_DATA_DIR": str(tmp_path / "data"), "LABS_PRECISION": "mixed_float16", "LABS_REPLICAS": "2"}
    result = subprocess.run([sys.executable, "-m", "labs_lib.cli", "doctor", "--cpu"], capture_output=True, text=True,
                            env=env, timeout=180, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    out = result.stdout
    assert "LABS_PRECISION mixed_float16 (forces the precision policy" in out
    assert "LABS_REPLICAS  2 (logical CPU devices under MirroredStrategy" in out
    assert "device: MULTI-CPU" in out and "MirroredStrategy with 2 replica(s)" in out
    assert "precision: mixed_float16" in out and "precision mixed_float16 from LABS_PRECISION" in out


def test_labs_doctor_explains_a_bad_setting_and_fails(monkeypatch, capsys):
    monkeypatch.setenv("LABS_REPLICAS", "two")
    assert cli.main(["doctor", "--cpu"]) == 1
    out = capsys.readouterr().out
    assert "LABS_REPLICAS  two" in out
    assert "device setup failed: LABS_REPLICAS must be a positive integer" in out and "LABS_REPLICAS=2" in out


def _dirty_notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python", "version": "3.11.9", "pygments_lexer": "ipython3"},
                   "papermill": {"duration": 1.0}, "widgets": {"state": {}}, "colab": {"provenance": []}}
    keep = {"tags": ["parameters"], "labs": {"exercise": "x"}, "editable": False, "deletable": False}
    cell = nbformat.v4.new_code_cell("print(1)", metadata={**keep, "execution": {"iopub.status.busy": "t"},
                                                           "ExecuteTime": {}, "scrolled": True, "vscode": {}})
    cell.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    cell.execution_count = 3
    nb.cells.append(cell)
    nb.cells.append(nbformat.v4.new_markdown_cell("# Title", metadata={"jp-MarkdownHeadingCollapsed": True}))
    nbformat.write(nb, path)
    return keep


def test_labs_clean_keeps_only_the_keep_list(tmp_path):
    path = tmp_path / "dirty.ipynb"
    keep = _dirty_notebook(path)
    assert cli.main(["clean", str(tmp_path)]) == 0
    cleaned = json.loads(path.read_text())
    assert cleaned["cells"][0]["outputs"] == [] and cleaned["cells"][0]["execution_count"] is None
    assert cleaned["cells"][0]["metadata"] == keep  # a key nobody listed (vscode) goes too: a keep-list
    assert cleaned["cells"][1]["metadata"] == {}
    assert cleaned["metadata"] == {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                                   "language_info": {"name": "python"}}
    text = path.read_text()
    assert cli.main(["clean", str(path)]) == 0 and path.read_text() == text  # idempotent
    assert cli.main(["clean", str(tmp_path / "missing")]) == 2


def test_labs_clean_check_changes_nothing_and_says_what_is_not_clean(tmp_path, capsys):
    path = tmp_path / "dirty.ipynb"
    _dirty_notebook(path)
    before = path.read_text()
    assert cli.main(["clean", "--check", str(tmp_path)]) == 1
    assert path.read_text() == before
    out = capsys.readouterr().out
    assert "not clean:" in out and "cell 0 has outputs" in out and "execution count" in out
    assert "'ExecuteTime'" in out and "'papermill'" in out and "run `labs clean`" in out
    assert cli.main(["clean", str(path)]) == 0
    assert cli.main(["clean", "--check", str(path)]) == 0
    assert "1 notebook(s) checked, 0 not clean" in capsys.readouterr().out
    # the layout alone: a clean notebook written with another indentation is not in the stable form
    path.write_text(json.dumps(json.loads(path.read_text()), indent=2))
    assert cli.main(["clean", "--check", str(path)]) == 1
    assert "stable JSON layout" in capsys.readouterr().out


def test_the_course_notebooks_are_clean(capsys):
    # the same call a maintainer makes before committing (`labs clean --check notebooks`)
    assert cli.main(["clean", "--check", str(ROOT / "notebooks")]) == 0, capsys.readouterr().out
