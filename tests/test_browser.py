"""The training playground in a real browser: JupyterLab renders it, the keyboard moves a slider, Train redraws.

Starts JupyterLab on 127.0.0.1 (free port, empty token, runtime and config dirs in a temporary folder) on a
small notebook written here, drives it with Playwright and the system's Chromium, saves a screenshot to
``test-artifacts/browser/`` and always stops the server. Skipped, with the reason, when Playwright or
Chromium is missing (``make test`` installs both where it can: the Chromium package on Debian/Ubuntu).
"""

import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, jupyterlab

ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
NOTEBOOK_CODE = """\
from labs_lib.widgets import PlaygroundConfig, TrainingPlayground

config = PlaygroundConfig(dataset="moons", num_samples=200, hidden_units=(6, 6), batch_size=16, seed=0)
playground = TrainingPlayground(config, draw_every=0.2)
playground
"""


def find_chromium() -> str | None:
    """``LABS_CHROMIUM``, else Chromium on the PATH (Debian: chromium; Ubuntu: chromium-browser)."""
    candidates = [os.environ.get("LABS_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                  "/usr/bin/chromium"]
    return next((c for c in candidates if c and Path(c).exists()), None)


def _requirements() -> tuple[str, object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the browser test needs the 'playwright' package: pip install -e '.[dev]' (or make test)")
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("the browser test needs Chromium: apt-get install chromium (make test does it on Debian/Ubuntu), "
                    "or set LABS_CHROMIUM to a Chromium binary")
    return chromium, sync_playwright




def _write_notebook(folder: Path) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    nb.cells = [nbformat.v4.new_markdown_cell("# Training playground (browser test)"),
                nbformat.v4.new_code_cell(NOTEBOOK_CODE)]
    nbformat.write(nb, folder / "playground.ipynb")
    return "playground.ipynb"


def test_training_playground_in_jupyterlab(tmp_path):
    chromium, sync_playwright = _requirements()
    folder = tmp_path / "notebooks"
    folder.mkdir()
    name = _write_notebook(folder)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "training_playground.png"
    with jupyterlab(folder, tmp_path, env={"TF_CPP_MIN_LOG_LEVEL": "2", "LABS_QUICK": "1"}) as base:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            try:
                _drive(page, base, name, screenshot)
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
                raise
            finally:
                browser.close()
    print(f"screenshot: {screenshot}")


def _drive(page, base: str, name: str, screenshot: Path) -> None:
    page.set_default_timeout(60_000)
    page.goto(f"{base}/lab/tree/{name}")
    code_cell = page.locator(".jp-Notebook .jp-CodeCell").first
    code_cell.wait_for()
    page.locator(".jp-StatusBar-TextItem", has_text="Idle").first.wait_for(timeout=90_000)  # the kernel is up
    code_cell.locator(".jp-InputPrompt").click()  # select the cell (command mode) ...
    page.keyboard.press("Shift+Enter")  # ... and run it

    widget = page.locator(".labs-training-playground")
    widget.wait_for(timeout=120_000)  # the kernel starts, imports TensorFlow, builds the model
    assert page.locator(".jupyter-widgets").count() > 0
    plot = widget.locator(".labs-plot img")
    plot.wait_for()
    before = plot.get_attribute("src")
    # Each redraw replaces the <img>, so look the picture up afresh every time.
    picture_changed = ("old => { const img = document.querySelector('.labs-training-playground .labs-plot img');"
                       " return img !== null && img.getAttribute('src') !== old; }")
    status = widget.locator(".labs-status")

    # Move the "units / layer" slider with the keyboard: 6 -> 8 units, which restarts the run and redraws.
    slider = widget.locator(".widget-hslider", has=page.locator("label", has_text="units / layer"))
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")
    handle.press("ArrowRight")
    status_says = ("text => { const el = document.querySelector('.labs-training-playground .labs-status');"
                   " return el !== null && el.textContent.includes(text); }")
    page.wait_for_function(status_says, arg="back to epoch 0")
    assert slider.locator(".widget-readout").inner_text().strip() == "8"
    page.wait_for_function(picture_changed, arg=before)
    after_slider = plot.get_attribute("src")
    assert after_slider != before

    # Train: the picture must change while the model trains, then Pause must be handled during training.
    widget.locator("button.labs-train").click()
    page.wait_for_function(status_says, arg="training")
    page.wait_for_function(picture_changed, arg=after_slider)
    page.wait_for_function(picture_changed, arg=plot.get_attribute("src"))  # and again: it keeps moving
    widget.locator("button.labs-pause").click()
    page.wait_for_function(status_says, arg="paused at epoch")
    paused_text = status.inner_text()
    epoch = int(re.search(r"paused at epoch (\d+)", paused_text).group(1))
    assert epoch < 500, "Pause came after training had already ended"  # handled while the model trained
    paused_src = plot.get_attribute("src")
    assert paused_src != after_slider
    page.wait_for_timeout(1000)  # nothing may move after Pause
    assert plot.get_attribute("src") == paused_src and status.inner_text() == paused_text
    widget.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
