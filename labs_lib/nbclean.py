"""The one notebook cleaner: what a committed or released notebook keeps, everything else goes.

A keep-list, as tensorflow_docs' ``nbfmt`` and nbdev's ``clean`` do, rather than a list of keys to delete:
whatever a new JupyterLab extension, papermill or Colab writes into a notebook is dropped without anyone
having to name it. Used by ``labs clean`` (and ``labs clean --check``, which the tests call), by
``labs release`` for the student editions, and nowhere else.

Kept:

- notebook metadata: ``kernelspec`` as it is, ``language_info`` reduced to its ``name`` (the version and
  lexer fields change with whoever ran the notebook last);
- cell metadata: ``tags`` (``parameters`` for papermill), ``labs`` (the exercise schema), ``editable`` and
  ``deletable`` (read-only tests cells in a student edition);
- cell ids, sources, markdown attachments.

Cleared: outputs and execution counts of code cells, every other metadata key (``execution``,
``ExecuteTime``, ``collapsed``, ``scrolled``, ``papermill``, ``widgets``, ``colab``, ...). The text is
nbformat's stable JSON layout with a final newline, so cleaning twice changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

NOTEBOOK_METADATA_KEEP = ("kernelspec", "language_info")
LANGUAGE_INFO_KEEP = ("name",)
CELL_METADATA_KEEP = ("tags", "labs", "editable", "deletable")


def clean_cell(cell: Any) -> None:
    """Clear one cell in place: outputs, execution count and every metadata key not on the keep-list."""
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    for key in [k for k in cell.metadata if k not in CELL_METADATA_KEEP]:
        del cell.metadata[key]


def clean(nb: Any) -> Any:
    """Clean a notebook node in place (and return it)."""
    for cell in nb.cells:
        clean_cell(cell)
    for key in [k for k in nb.metadata if k not in NOTEBOOK_METADATA_KEEP]:
        del nb.metadata[key]
    info = nb.metadata.get("language_info")
    if isinstance(info, dict):
        for key in [k for k in info if k not in LANGUAGE_INFO_KEEP]:
            del info[key]
    return nb


def cleaned_text(text: str) -> str:
    """The clean form of a notebook's JSON text."""
    nb = nbformat.reads(text, as_version=4)
    return nbformat.writes(clean(nb)) + "\n"


def problems(text: str) -> list[str]:
    """What keeps the notebook ``text`` from being clean, said so that the fix is plain (empty when clean)."""
    nb = nbformat.reads(text, as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.outputs:
            found.append(f"cell {i} has outputs")
        if cell.cell_type == "code" and cell.execution_count is not None:
            found.append(f"cell {i} has an execution count")
        extra = sorted(k for k in cell.metadata if k not in CELL_METADATA_KEEP)
        if extra:
            found.append(f"cell {i} has run-time metadata {extra}")
    extra = sorted(k for k in nb.metadata if k not in NOTEBOOK_METADATA_KEEP)
    if extra:
        found.append(f"notebook metadata {extra}")
    if not found and cleaned_text(text) != text:
        found.append("not in nbformat's stable JSON layout (or language_info holds more than its name)")
    return found


def clean_file(path: Path, check: bool = False) -> bool:
    """True when ``path`` is not clean; unless ``check``, it is then rewritten clean."""
    original = Path(path).read_text(encoding="utf-8")
    cleaned = cleaned_text(original)
    if cleaned == original:
        return False
    if not check:
        Path(path).write_text(cleaned, encoding="utf-8")
    return True
