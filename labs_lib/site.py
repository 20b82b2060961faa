"""The course as a static website: every lesson executed for the purpose, then built with Sphinx and MyST-NB.

    labs site                 # quick mode (the default): build/site/html/index.html
    labs site --full          # full settings: the figures of the README's results table (about an hour)
    labs site --serve         # build, then serve it on http://127.0.0.1:8000 until Ctrl-C

Why these tools: MyST-NB is the notebook reader of Jupyter Book 1 (the executable-books project), a plain Sphinx
extension, so the site gets Sphinx's own static search and cross-references, and sphinx-book-theme the
Jupyter Book look (a sidebar of lessons, launch buttons). The notebooks are NOT executed by MyST-NB
(``nb_execution_mode = "off"``): they run here first, each in its own process and kernel with papermill and the
course's headless engine (:mod:`labs_lib.nbexec`, which avoids the nbclient hang on Output widgets that MyST-NB's
executor would meet), two at a time, without ``allow_errors``: a cell that raises fails the build with its
lesson, cell and message. The executed copies are kept under ``build/site/executed/<mode>/`` with the hash of
what they were made from (the notebook, ``labs_lib``'s code, the settings), so a second build with nothing
changed executes nothing.

What a page shows differs from the notebook in a few deliberate ways (:func:`for_the_site`): the hidden tests
are removed (as in the student edition), the instructor's solutions are folded away behind "Show code cell
source", the cell papermill injects is removed, and a widget, which needs a live kernel, is replaced by its
static picture (the playgrounds draw one before they are shown) and a line saying where to run it. The landing
page is the README (its course map and results) and the glossary its own page (:mod:`labs_lib.glossary`).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import posixpath
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from labs_lib import links

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "site"  # conf.py and the static files: committed
DEFAULT_OUT = ROOT / "build" / "site"  # everything generated: ignored (build/ in .gitignore)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
SITE_KEY = "labs_site"  # notebook metadata: what an executed copy was made from
WIDGET_NOTE = ("<p class=\"labs-widget-note\"><em>An interactive widget: it needs a running kernel. Open this "
               "lesson in JupyterLab, Binder or Colab (the buttons at the top) to use it; the picture above is "
               "what it first shows.</em></p>")
WIDGET_NOTE_NO_PICTURE = WIDGET_NOTE.replace("; the picture above is what it first shows", "")


class SiteError(RuntimeError):
    """The site could not be built: says which lesson, which cell and what to do."""


# --------------------------------------------------------------------------------------- execution


def _code_hash() -> str:
    """A hash of labs_lib's code: an executed copy made with other code is stale."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "labs_lib").rglob("*.py")):
        if path.name == "site.py":  # how pages are written does not change what a lesson computes
            continue
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def source_key(path: Path, quick: bool, seed: int, code: str) -> str:
    """What an executed copy of ``path`` depends on, as one hash."""
    digest = hashlib.sha256(Path(path).read_bytes())
    digest.update(json.dumps({"quick": quick, "seed": seed, "code": code}).encode())
    return digest.hexdigest()[:16]


def _up_to_date(executed: Path, key: str) -> bool:
    if not executed.exists():
        return False
    import nbformat

    try:
        return nbformat.read(executed, 4).metadata.get(SITE_KEY, {}).get("key") == key
    except Exception:  # noqa: BLE001 - a broken copy (an interrupted build) is simply made again
        return False


def _first_error(executed: Path) -> str:
    """The first error output of an executed notebook, as "cell N: Name: message" (or "")."""
    import nbformat

    try:
        nb = nbformat.read(executed, 4)
    except Exception:  # noqa: BLE001
        return ""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"cell {index}: {out.get('ename')}: {str(out.get('evalue'))[:300]}"
    return ""


def execute(paths: list[Path], folder: Path, *, quick: bool, seed: int = 42, workers: int = 2,
            timeout: float = 1800.0, progress=print) -> list[Path]:
    """Execute ``paths`` into ``folder`` (two at a time by default); the executed copies, in order.

    Copies already made from the same notebook, code and settings are reused. Raises :class:`SiteError`
    naming every lesson that failed and its first error."""
    import nbformat

    from labs_lib import runs

    folder.mkdir(parents=True, exist_ok=True)
    code = _code_hash()
    keys = {p: source_key(p, quick, seed, code) for p in paths}
    todo = [p for p in paths if not _up_to_date(folder / p.name, keys[p])]
    for p in paths:
        if p not in todo:
            progress(f"  {p.name}: executed copy up to date")
    failures = []

    def one(path: Path) -> tuple[Path, dict]:
        return path, runs.run_notebook(path, quick=quick, seed=seed, executed_dir=folder, timeout=timeout)

    with cf.ThreadPoolExecutor(max(1, workers)) as pool:
        for path, run in pool.map(one, todo):
            executed = folder / path.name
            if run["status"] != "ok":
                detail = _first_error(executed) or run.get("error") or run["status"]
                failures.append(f"{path.name}: {detail}")
                progress(f"  {path.name}: FAILED: {detail}")
                continue
            nb = nbformat.read(executed, 4)
            nb.metadata[SITE_KEY] = {"key": keys[path], "quick": quick, "seed": seed, "wall_s": run["wall_s"]}
            nbformat.write(nb, executed)
            progress(f"  {path.name}: executed in {run['wall_s']:.0f} s")
    if failures:
        raise SiteError("the site is built from executed lessons, and these raised (fix them; the executed copies "
                        f"in {folder} show the whole output):\n  " + "\n  ".join(failures))
    return [folder / p.name for p in paths]


# --------------------------------------------------------------------------------------- pages


def _strip_solution_markers(source: str) -> str:
    from labs_lib.grading import schema

    drop = {schema.SOLUTION_BEGIN, schema.SOLUTION_END}
    return "\n".join(line for line in source.split("\n") if line.strip() not in drop)


def _add_tag(cell: Any, tag: str) -> None:
    tags = list(cell.metadata.get("tags", []))
    if tag not in tags:
        cell.metadata["tags"] = tags + [tag]


def _widget_outputs(outputs: list) -> list:
    """Outputs with every widget view replaced by its static picture (when it carries one) and a note."""
    import nbformat

    kept, pictures_before = [], False
    for out in outputs:
        data = out.get("data", {})
        if WIDGET_MIME not in data:
            kept.append(out)
            pictures_before = pictures_before or "image/png" in data
            continue
        if "image/png" in data:  # a widget that carries its own picture (the dashboards)
            kept.append(nbformat.from_dict({"output_type": "display_data", "metadata": {},
                                            "data": {"image/png": data["image/png"], "text/plain": "<widget picture>"}}))
            pictures_before = True
        kept.append(nbformat.from_dict({"output_type": "display_data", "metadata": {},
                                        "data": {"text/html": WIDGET_NOTE if pictures_before else WIDGET_NOTE_NO_PICTURE,
                                                 "text/plain": "(an interactive widget: run the notebook to use it)"}}))
    return kept


def for_the_site(nb: Any, mode: str = "quick", lessons: list[str] = ()) -> Any:
    """The executed lesson ``nb`` as its page shows it (a copy; see the module's docstring)."""
    import copy

    from labs_lib.grading import schema

    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            continue
        meta = schema.source_meta(cell) or {}
        role = meta.get("role") if isinstance(meta, dict) else None
        if cell.cell_type == "code":
            if role == "tests":
                cell.source = schema.split_hidden(cell.source)[0]
            elif role == "solution":
                cell.source = _strip_solution_markers(cell.source)
                _add_tag(cell, "hide-input")  # the instructor's solution: there, but folded away
            if links.SETUP_TAG in tags:
                _add_tag(cell, "hide-input")
            cell.outputs = _widget_outputs(cell.get("outputs", []))
            for out in cell.outputs:
                if out.get("output_type") == "error":
                    raise SiteError(f"an error output is left in a cell: {out.get('ename')}: {out.get('evalue')}")
        elif cell.cell_type == "markdown":
            cell.source = site_links(cell.source, lessons, "notebooks/")
            if role == "written":
                cell.source = f"<details><summary>A model answer</summary>\n\n{cell.source}\n\n</details>"
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)  # no widget JavaScript on a static page
    nb.metadata.pop("papermill", None)
    heading = next((i for i, c in enumerate(cells) if c.cell_type == "markdown"), None)
    if heading is not None:
        note = (f"\n\n<p class=\"labs-run-note\">This page was executed in <strong>{mode} mode</strong>"
                + (" (small data, few steps: its figures illustrate; the results table on the first page has "
                   "those of the full runs)" if mode == "quick" else "") + ".</p>")
        cells[heading].source += note
    return nb


def site_links(markdown: str, lessons: list[str], base: str = "") -> str:
    """``markdown`` (a file in the repository's folder ``base``, e.g. "notebooks/") with its relative links made
    right for the site: a lesson on the site becomes a link to its page, the glossary to its page, any other file
    of the repository a link to it on GitHub."""
    blob = f"https://github.com/{links.REPOSITORY}/blob/{links.BRANCH}/"

    def link(match: re.Match) -> str:
        text, target = match.group(1), match.group(2)
        if re.match(r"[a-z]+:|#", target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        path = posixpath.normpath(base + path)
        target = path + ("#" + anchor if anchor else "")
        name = Path(path).name
        if path.startswith("notebooks/") and name.endswith(".ipynb") and Path(name).stem in lessons:
            return f"[{text}]({Path(name).stem}.ipynb{'#' + anchor if anchor else ''})"
        if path == "GLOSSARY.md":
            return f"[{text}](glossary.md{'#' + anchor if anchor else ''})"
        return f"[{text}]({blob}{target})"

    return re.sub(r"\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)", link, markdown)


def readme_page(readme: str, lessons: list[str]) -> str:
    """The README as the landing page (its course map and results), with the site's table of contents."""
    page = site_links(readme, lessons)
    toc = "\n".join(["", "```{toctree}", ":hidden:", ":maxdepth: 1", ":caption: Lessons", "",
                     *lessons, "```", "", "```{toctree}", ":hidden:", ":caption: Reference", "", "glossary", "```", ""])
    return page.rstrip() + "\n" + toc


def write_sources(executed: list[Path], src: Path, mode: str) -> list[str]:
    """The Sphinx source folder: index.md, glossary.md and one page per lesson; the lessons' names."""
    import nbformat

    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    lessons = [path.stem for path in executed]
    for path in executed:
        nbformat.write(for_the_site(nbformat.read(path, 4), mode, lessons), src / path.name)
    (src / "index.md").write_text(readme_page((ROOT / "README.md").read_text(encoding="utf-8"), lessons),
                                  encoding="utf-8")
    glossary = ROOT / "GLOSSARY.md"
    (src / "glossary.md").write_text(site_links(glossary.read_text(encoding="utf-8"), lessons), encoding="utf-8")
    return lessons


def sphinx(src: Path, html: Path, *, quiet: bool = True) -> None:
    """Run sphinx-build (warnings are errors: a broken link or a page left out of the map fails the build)."""
    if html.exists():
        shutil.rmtree(html)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(CONF_DIR), "-W", "--keep-going",
               "-j", "2", *(["-q"] if quiet else []), str(src), str(html)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SiteError(f"sphinx-build failed ({' '.join(command)}):\n{(done.stdout + done.stderr).strip()[-4000:]}")


def require_tools() -> None:
    missing = [name for name in ("sphinx", "myst_nb", "sphinx_book_theme") if _find(name) is None]
    if missing:
        raise SiteError(f"the site needs {', '.join(missing)}: install them with `pip install -e '.[site]'` "
                        "(make site does it)")


def _find(name: str):
    import importlib.util

    return importlib.util.find_spec(name)


def build(out: Path = DEFAULT_OUT, *, quick: bool = True, seed: int = 42, workers: int = 2,
          notebooks: list[Path] | None = None, progress=print) -> Path:
    """Execute the lessons, write the pages, run Sphinx; the folder of the built site (``out/html``)."""
    from labs_lib import runs

    require_tools()
    out = Path(out)
    mode = "quick" if quick else "full"
    paths = [Path(p).resolve() for p in (notebooks or runs.course_notebooks())]
    start = time.perf_counter()
    progress(f"==> executing {len(paths)} lesson(s) in {mode} mode, {workers} at a time")
    executed = execute(paths, out / "executed" / mode, quick=quick, seed=seed, workers=workers, progress=progress)
    progress(f"==> executed in {time.perf_counter() - start:.0f} s; writing the pages")
    write_sources(executed, out / "src", mode)
    middle = time.perf_counter()
    sphinx(out / "src", out / "html")
    progress(f"==> built {out / 'html' / 'index.html'} (Sphinx: {time.perf_counter() - middle:.0f} s)")
    return out / "html"


def serve(folder: Path, port: int = 8000) -> None:
    """Serve a built site on 127.0.0.1 until interrupted."""
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"serving {folder} on http://127.0.0.1:{port}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


def main(args: argparse.Namespace) -> int:
    try:
        html = build(Path(args.output), quick=not args.full, seed=args.seed, workers=args.workers,
                     notebooks=[Path(p) for p in args.notebooks] or None)
    except SiteError as error:
        print(f"labs site: {error}", file=sys.stderr)
        return 1
    if args.serve:
        serve(html, args.port)
    return 0


def add_parser(commands) -> None:
    p = commands.add_parser("site", help="build the course website from executed notebooks (build/site/html)")
    p.add_argument("notebooks", nargs="*", help="lessons to put on the site (default: every lesson)")
    p.add_argument("--full", action="store_true", help="execute with full settings (QUICK=False)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--workers", type=int, default=2, help="lessons executed at once (default 2)")
    p.add_argument("-o", "--output", default=str(DEFAULT_OUT), help="output folder (default build/site)")
    p.add_argument("--serve", action="store_true", help="then serve the site on 127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=main)
