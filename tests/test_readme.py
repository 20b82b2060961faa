"""The README's course map links every notebook, and every link in it resolves."""

import re

from conftest import NOTEBOOKS, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_notebook_is_linked_from_the_course_map():
    for path in NOTEBOOKS:
        assert f"](notebooks/{path.name})" in README, f"{path.name} is missing from the README's course map"


def test_every_relative_link_resolves():
    for target in re.findall(r"\]\((?!https?://|#)([^)]+)\)", README):
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"


def test_readme_gives_the_two_commands_first():
    first_block = README.split("```")[1]
    assert "make lab" in first_block and "make test" in first_block
