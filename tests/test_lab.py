"""`make lab`'s server: JupyterLab starts on the course, answers on its URL, and is stopped by the test."""

import json
import urllib.request

from conftest import ROOT, jupyterlab


def test_jupyterlab_serves_the_course(tmp_path):
    with jupyterlab(ROOT / "notebooks", tmp_path) as base:
        with urllib.request.urlopen(f"{base}/lab", timeout=10) as response:
            assert response.status == 200
            assert "JupyterLab" in response.read().decode()
        with urllib.request.urlopen(f"{base}/api/contents", timeout=10) as response:
            names = {item["name"] for item in json.load(response)["content"]}
        assert "00_welcome_and_setup.ipynb" in names
        with urllib.request.urlopen(f"{base}/api/kernelspecs", timeout=10) as response:
            assert "python3" in json.load(response)["kernelspecs"]
