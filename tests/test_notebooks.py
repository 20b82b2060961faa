"""Notebook hygiene: valid, clean, with the course's skeleton and a consistent exercise schema."""

import json
import re

import nbformat
import pytest

from labs_lib import nbclean

from conftest import NOTEBOOKS

SECTIONS = ("## Overview", "## Setup", "## Summary", "## Exercises")


def _ids(nb):
    return [c.id for c in nb.cells]


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_welcome_and_setup.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid_clean_and_stable(path):
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), "name notebooks NN_lowercase_words.ipynb"
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    assert nb.nbformat == 4
    nbformat.validate(nb)
    assert len(set(_ids(nb))) == len(nb.cells), "cell ids must be unique"
    problems = nbclean.problems(text)  # the keep-list of `labs clean` (one cleaner, one set of rules)
    assert not problems, f"{'; '.join(problems)}: run `make clean-notebooks`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_the_course_skeleton(path):
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    titles = [line for line in markdown.splitlines() if line.startswith("# ")]
    assert len(titles) == 1 and nb.cells[0].source.startswith("# "), "one H1 title, in the first cell"
    for section in SECTIONS:
        assert re.search(rf"^{section}\s*$", markdown, re.M), f"missing section {section!r}"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    assert re.search(r"^QUICK = None\b", params[0].source, re.M) and re.search(r"^SEED = \d+", params[0].source, re.M)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def _exercise_cells(nb):
    return [(i, c) for i, c in enumerate(nb.cells) if "labs" in c.metadata]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_follow_the_schema(path):
    nb = nbformat.read(path, as_version=4)
    prefix = path.name[:2] + "-"
    roles: dict[str, dict[str, int]] = {}
    for i, cell in _exercise_cells(nb):
        meta = cell.metadata["labs"]
        ex, role = meta.get("exercise"), meta.get("role")
        assert isinstance(ex, str) and ex.startswith(prefix), f"cell {i}: exercise id must start with {prefix!r}"
        assert role in ("solution", "tests"), f"cell {i}: role must be 'solution' or 'tests'"
        assert role not in roles.setdefault(ex, {}), f"cell {i}: a second {role} cell for {ex}"
        roles[ex][role] = i
        src = cell.source
        if role == "solution":
            assert src.count("### BEGIN SOLUTION") == src.count("### END SOLUTION") >= 1, f"cell {i}: solution markers"
        else:
            assert isinstance(meta.get("points"), int) and meta["points"] > 0, f"cell {i}: points must be a positive int"
            assert src.count("### BEGIN HIDDEN TESTS") == src.count("### END HIDDEN TESTS") <= 1
            assert "### BEGIN SOLUTION" not in src
    for ex, cells in roles.items():
        assert set(cells) == {"solution", "tests"}, f"{ex} needs one solution and one tests cell"
        assert cells["solution"] < cells["tests"], f"{ex}: the tests come after the solution"
    assert len(roles) >= 2, "every lesson has at least two exercises"


def test_exercise_ids_are_unique_across_the_course():
    seen = {}
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            meta = cell["metadata"].get("labs")
            if meta and meta.get("role") == "tests":
                assert meta["exercise"] not in seen, f"{meta['exercise']} in {path.name} and {seen.get(meta['exercise'])}"
                seen[meta["exercise"]] = path.name


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if not p.name.startswith("00_")], ids=lambda p: p.name)
def test_lessons_record_the_figures_they_state(path):
    """The README's results table is generated from what lessons pass to results.record (labs run --full)."""
    nb = nbformat.read(path, as_version=4)
    plain = [c.source for c in nb.cells if c.cell_type == "code" and "labs" not in c.metadata]
    assert any("results.record(" in source for source in plain), "record the figures the lesson states"
    recorded = [c for c in nb.cells if "labs" in c.metadata and "results.record(" in c.source]
    assert not recorded, "exercise cells are replaced in student editions: record figures in ordinary cells"
