"""Where the course lives online: the repository, and every link and install line built from it.

:data:`REPOSITORY` is the one place the course's GitHub path is written. The Binder and Colab badges at the top of
each lesson, the README's badges, and the Colab setup cell of each lesson (which installs ``labs_lib`` from the
repository when a kernel lacks it) are made from it; ``tests/test_links.py`` keeps them all in step, and
``labs links --write`` rewrites the notebooks after the repository moves (``labs links --check`` says what is stale).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPOSITORY = "labs-course/deep-learning-labs"  # owner/name on GitHub
BRANCH = "main"  # what Colab opens and what the setup cell installs
PACKAGE = "labs-lib"  # the distribution name in pyproject.toml
INSTALL_SPEC = f"{PACKAGE} @ git+https://github.com/{REPOSITORY}@{BRANCH}"  # a PEP 508 direct reference
SETUP_TAG = "colab-setup"  # the tag of each lesson's setup cell

BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def binder_url(notebook: str) -> str:
    """JupyterLab on Binder, opened on ``notebooks/<notebook>``."""
    return f"https://mybinder.org/v2/gh/{REPOSITORY}/HEAD?labpath=notebooks%2F{notebook}"


def colab_url(notebook: str) -> str:
    """The notebook opened in Colab straight from GitHub (``BRANCH``)."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/notebooks/{notebook}"


def badges(notebook: str) -> str:
    """The markdown line of launch badges under a lesson's title."""
    return (f"[![Open in Binder]({BINDER_BADGE})]({binder_url(notebook)}) "
            f"[![Open in Colab]({COLAB_BADGE})]({colab_url(notebook)})")


def setup_code() -> str:
    """The source of each lesson's first code cell: installs the course package where it is missing (Colab)."""
    return f'''# On Colab (or in any kernel without the course's package) this installs labs_lib from the course's
# repository, which takes about a minute; where labs_lib is installed (make lab, Binder) it does nothing.
import importlib
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("labs_lib") is None:
    print("labs_lib is not installed in this kernel: installing the course package from GitHub ...")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "{INSTALL_SPEC}"], check=True)
    importlib.invalidate_caches()  # so that the import below finds the package just installed'''


def _is_badge_line(line: str) -> bool:
    return line.startswith("[![Open in")


def updated(nb: Any, notebook: str) -> bool:
    """Make ``nb`` (lesson ``notebook``) carry the current badges and setup cell; True when anything changed.

    The badges replace the badge line of the first cell (or go after its title and tagline); the setup cell is the
    code cell tagged :data:`SETUP_TAG`, created right after the "## Setup" heading when there is none."""
    import nbformat

    changed = False
    first = nb.cells[0]
    lines = first.source.split("\n")
    wanted = badges(notebook)
    where = [i for i, line in enumerate(lines) if _is_badge_line(line)]
    if where:
        if lines[where[0]] != wanted or len(where) > 1:
            lines = [line for i, line in enumerate(lines) if i not in where[1:]]
            lines[where[0]] = wanted
            changed = True
    else:
        lines += ["", wanted]
        changed = True
    first.source = "\n".join(lines)
    tagged = [c for c in nb.cells if SETUP_TAG in c.metadata.get("tags", [])]
    if tagged:
        if tagged[0].source != setup_code():
            tagged[0].source = setup_code()
            changed = True
    else:
        headings = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("## Setup")]
        if not headings:
            raise ValueError(f"{notebook}: no '## Setup' section to put the Colab setup cell under")
        cell = nbformat.v4.new_code_cell(setup_code(), metadata={"tags": [SETUP_TAG]})
        nb.cells.insert(headings[0] + 1, cell)
        changed = True
    return changed


def update_notebooks(folder: Path, write: bool) -> list[str]:
    """The lessons in ``folder`` whose links or setup cell are stale; rewritten when ``write``."""
    import nbformat

    from labs_lib import nbclean

    stale = []
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if updated(nb, path.name):
            stale.append(path.name)
            if write:
                path.write_text(nbclean.cleaned_text(nbformat.writes(nb)), encoding="utf-8")
    return stale
