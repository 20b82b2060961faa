"""`make lab`'s server: JupyterLab starts on the course, answers on its URL, and is stopped by the test."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import ROOT, free_ports


def test_jupyterlab_serves_the_course(tmp_path):
    port = free_ports(1)[0]
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--notebook-dir=notebooks",
               "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.port_retries=0"]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")  # as `make lab` does when run as root (containers, CI)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/lab", timeout=5) as response:
                    assert response.status == 200
                    assert "JupyterLab" in response.read().decode()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
                time.sleep(0.5)
        with urllib.request.urlopen(f"{base}/api/contents", timeout=10) as response:
            names = {item["name"] for item in json.load(response)["content"]}
        assert "00_welcome_and_setup.ipynb" in names
        with urllib.request.urlopen(f"{base}/api/kernelspecs", timeout=10) as response:
            assert "python3" in json.load(response)["kernelspecs"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
