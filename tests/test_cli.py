import json
import subprocess
import sys

import nbformat

from labs_lib import cli

from conftest import ROOT


def test_labs_doctor_reports_the_cpu_profile_and_offline_data(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LABS_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
           "LABS_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "labs_lib.cli", "doctor", "--cpu"], capture_output=True, text=True,
                            env=env, timeout=180, cwd=ROOT)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    out = result.stdout
    assert "tensorflow" in out and "keras" in out
    assert "device: CPU" in out
    assert "MNIST" in out and "offline fallback" in out
    assert "offline MNIST stand-in: not built" in out
    assert "all good" in out


def test_labs_clean_strips_outputs_and_keeps_metadata(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(1)", metadata={"tags": ["parameters"], "labs": {"exercise": "x"}})
    cell.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    cell.execution_count = 3
    nb.cells.append(cell)
    path = tmp_path / "dirty.ipynb"
    nbformat.write(nb, path)
    assert cli.main(["clean", str(tmp_path)]) == 0
    cleaned = json.loads(path.read_text())
    assert cleaned["cells"][0]["outputs"] == [] and cleaned["cells"][0]["execution_count"] is None
    assert cleaned["cells"][0]["metadata"] == {"tags": ["parameters"], "labs": {"exercise": "x"}}
    assert cli.main(["clean", str(path)]) == 0  # idempotent
    assert cli.main(["clean", str(tmp_path / "missing")]) == 2
