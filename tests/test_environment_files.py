"""environment.yml and binder/ name the same packages as pyproject.toml."""

import re

import yaml

from conftest import ROOT

ALIASES = {"tensorflow-cpu": "tensorflow"}  # Binder has no GPU: the CPU build of the same package


def _name(requirement: str) -> str:
    name = re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")
    return ALIASES.get(name, name)


def _pyproject_names() -> set[str]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}


def _conda_pip_names(path) -> set[str]:
    env = yaml.safe_load(path.read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, f"{path}: one pip section"
    return {_name(r) for r in pip_lists[0] if not r.startswith("-")}


def test_environment_yml_matches_pyproject():
    assert _conda_pip_names(ROOT / "environment.yml") == _pyproject_names()


def test_binder_matches_pyproject_and_pins_versions():
    path = ROOT / "binder" / "environment.yml"
    assert _conda_pip_names(path) == _pyproject_names()
    env = yaml.safe_load(path.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert all("==" in r for r in pip), "Binder pins exact versions so every launch is the same"
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()


def test_python_versions_agree():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.10,<3.14"' in text
    assert "python>=3.10,<3.14" in (ROOT / "environment.yml").read_text()
