"""Shared test set-up: quiet TensorFlow, a non-interactive plot backend, helpers for subprocess runs."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def free_ports(n: int = 1) -> list[int]:
    """``n`` distinct TCP ports free on 127.0.0.1 right now (the system picks them: bind to port 0)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_python(code: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python process (TensorFlow's device layout can only be set once per process)."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty LABS_DATA_DIR and Keras cache, so tests never see a real cache."""
    monkeypatch.setenv("LABS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path / "data"


@contextlib.contextmanager
def jupyterlab(root_dir: Path, tmp: Path, env: dict | None = None):
    """Start JupyterLab on 127.0.0.1 (free port, empty token, runtime and config in ``tmp``), wait until it
    answers, yield its base URL, and always stop it (its kernels first) however the test ends."""
    port = free_ports(1)[0]
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", f"--ServerApp.root_dir={root_dir}",
               "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.port_retries=0",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        command.append("--allow-root")  # as `make lab` does when run as root (containers, CI)
    full_env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp / "config"),
                **(env or {})}
    full_env.pop("MPLBACKEND", None)  # kernels use the notebook's own (inline) backend
    log_path = tmp / "jupyter.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=root_dir, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/api/status", timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                assert server.poll() is None, "JupyterLab exited:\n" + log_path.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
                time.sleep(0.3)
            yield base
        finally:
            _shutdown_kernels(base)
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _shutdown_kernels(base: str) -> None:
    try:
        with urllib.request.urlopen(f"{base}/api/kernels", timeout=5) as response:
            kernels = json.load(response)
        for kernel in kernels:
            request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}", method="DELETE")
            urllib.request.urlopen(request, timeout=10).close()
    except OSError:
        pass  # the server is going down anyway


# ---- tiers: make unit runs pytest -m "not kernel and not slow" -------------------------------------------

KERNEL_MODULES = {"test_grading_roundtrip", "test_grading_hostile", "test_grading_resume", "test_grading_dask",
                  "test_lab", "test_browser", "test_multi_worker"}


def pytest_collection_modifyitems(config, items):
    """Mark every test of the modules that start kernels, JupyterLab, a browser or grading runs ``kernel``."""
    for item in items:
        if item.module.__name__ in KERNEL_MODULES:
            item.add_marker(pytest.mark.kernel)
