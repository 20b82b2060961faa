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
