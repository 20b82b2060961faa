"""The repository path in one place (labs_lib.links): badges, README and the Colab setup cell agree with it, and
the setup cell installs the course package exactly when a kernel lacks it (simulated, no network)."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from labs_lib import cli, links

from conftest import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = re.compile(r"https://(?:mybinder\.org/v2/gh|colab\.research\.google\.com/github)/([\w-]+/[\w-]+)")
GITHUB = re.compile(r"https://github\.com/([\w.-]+/[\w-]+)")


def _setup_cell(nb):
    cells = [c for c in nb.cells if links.SETUP_TAG in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"one code cell tagged {links.SETUP_TAG!r}: run `labs links`"
    return cells[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_lesson_has_its_badges_and_the_setup_cell_first(path):
    nb = nbformat.read(path, 4)
    assert links.badges(path.name) in nb.cells[0].source.split("\n"), "stale launch badges: run `labs links`"
    cell = _setup_cell(nb)
    assert cell.cell_type == "code" and cell.source == links.setup_code(), "stale setup cell: run `labs links`"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code is cell, "the setup cell must run before anything imports labs_lib"


def test_every_repository_link_names_the_one_repository():
    texts = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8")}
    texts.update({p.name: p.read_text(encoding="utf-8") for p in NOTEBOOKS})
    owner = links.REPOSITORY.split("/")[0]
    for name, text in texts.items():
        launched = set(LAUNCH.findall(text))  # whatever Binder or Colab opens must be the course
        ours = {repo for repo in GITHUB.findall(text) if repo.split("/")[0] == owner}
        assert launched | ours <= {links.REPOSITORY}, f"{name} links to {sorted((launched | ours) - {links.REPOSITORY})}"
    readme = texts["README.md"]
    assert links.COLAB_BADGE in readme and links.colab_url("00_welcome_and_setup.ipynb") in readme


def test_the_install_line_names_this_package_and_repository():
    requirement = Requirement(links.INSTALL_SPEC)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(rf'^name = "{requirement.name}"$', pyproject, re.M)
    assert requirement.url == f"git+https://github.com/{links.REPOSITORY}@{links.BRANCH}"


def _run_setup(monkeypatch, installed: bool) -> list:
    """Execute the setup cell's code with labs_lib present or (simulated) missing; return the pip calls."""
    calls = []
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "labs_lib" and not installed:
            return None  # what a kernel without the package (Colab) sees
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(subprocess, "run", lambda *a, **kw: calls.append((a, kw)))
    exec(compile(links.setup_code(), "<setup cell>", "exec"), {})
    return calls


def test_the_setup_cell_installs_the_package_only_where_it_is_missing(monkeypatch, capsys):
    assert _run_setup(monkeypatch, installed=True) == []
    assert capsys.readouterr().out == ""  # silent where labs_lib is installed (make lab, Binder, CI)
    calls = _run_setup(monkeypatch, installed=False)
    assert calls == [(([sys.executable, "-m", "pip", "install", "--quiet", links.INSTALL_SPEC],), {"check": True})]
    assert "installing the course package" in capsys.readouterr().out


def test_labs_links_writes_stale_lessons_and_check_reports_them(tmp_path, capsys):
    lesson = tmp_path / NOTEBOOKS[1].name
    nb = nbformat.read(NOTEBOOKS[1], 4)
    nb.cells = [c for c in nb.cells if links.SETUP_TAG not in c.metadata.get("tags", [])]
    nb.cells[0].source = nb.cells[0].source.replace(links.REPOSITORY, "someone/old-name")
    nbformat.write(nb, lesson)
    assert cli.main(["links", "--check", str(tmp_path)]) == 1
    assert lesson.name in capsys.readouterr().out
    assert cli.main(["links", str(tmp_path)]) == 0
    assert cli.main(["links", "--check", str(tmp_path)]) == 0
    fixed = nbformat.read(lesson, 4)
    assert links.badges(lesson.name) in fixed.cells[0].source and "someone/old-name" not in fixed.cells[0].source
    assert _setup_cell(fixed).source == links.setup_code()
    assert cli.main(["clean", "--check", str(lesson)]) == 0  # written in the course's clean layout
    assert cli.main(["links", str(tmp_path / "missing")]) == 2
