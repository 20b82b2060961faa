"""The course website (labs_lib.site): how a lesson becomes a page, and the built site in a real browser.

The first tests need no build: they check :func:`site.for_the_site` and the link rewriting on small notebooks.
The tests marked ``site`` check the site ``make site`` built (``build/site/html``, or ``LABS_SITE_DIR``): they
serve it on 127.0.0.1 (a free port, stopped afterwards), open the landing page, every lesson page, the glossary
and a search in headless Chromium with every request that leaves 127.0.0.1 refused (the site must stand on its
own), and save screenshots to ``test-artifacts/site/``. ``make test-site`` runs them; ``make test`` leaves them
out (it builds no site). A missing site fails them, it never skips them.
"""

import functools
import http.server
import os
import re
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest
from test_browser import CHROMIUM_ARGS, _requirements

from labs_lib import glossary, links, runs, site

from conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "site"
SITE_DIR = Path(os.environ.get("LABS_SITE_DIR", site.DEFAULT_OUT / "html"))
SOURCES = SITE_DIR.parent / "src"


def _exercise_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A lesson\n\nSee [lesson 02](02_loss_and_gradient_descent.ipynb), the "
                                      "[glossary](../GLOSSARY.md) and [the data module](../labs_lib/data.py)."),
        nbformat.v4.new_code_cell("QUICK = True", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                                  metadata={"labs": {"exercise": "00-f", "role": "solution", "points": 1}}),
        nbformat.v4.new_code_cell("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(21) == 42  # secret\n"
                                  "### END HIDDEN TESTS", metadata={"labs": {"exercise": "00-f", "role": "tests"}}),
        nbformat.v4.new_code_cell("playground", outputs=[
            nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<figure>"}),
            nbformat.v4.new_output("execute_result", execution_count=4, data={
                site.WIDGET_MIME: {"model_id": "abc", "version_major": 2, "version_minor": 0},
                "text/plain": "VBox(children=(HBox(children=(Dropdown(...",
            }),
        ]),
    ]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def test_a_lesson_page_hides_the_hidden_tests_folds_the_solutions_and_shows_widgets_as_pictures():
    page = site.for_the_site(_exercise_notebook(), "quick", lessons=["02_loss_and_gradient_descent"])
    sources = [c.source for c in page.cells]
    assert not any("QUICK = True" in s for s in sources), "papermill's injected cell is on the page"
    solution, tests, widget = page.cells[1:]
    assert "return 2 * x" in solution.source and "BEGIN SOLUTION" not in solution.source
    assert "hide-input" in solution.metadata["tags"]
    assert tests.source == "assert f(1) == 2", "hidden tests must not reach the site"
    kinds = [list(o.get("data", {})) for o in widget.outputs]
    assert kinds == [["image/png", "text/plain"], ["text/html", "text/plain"]]
    assert "picture above" in widget.outputs[1].data["text/html"]
    assert "widgets" not in page.metadata
    assert "quick mode" in page.cells[0].source
    first = page.cells[0].source
    assert "](02_loss_and_gradient_descent.ipynb)" in first  # a lesson on the site: its page
    assert "](glossary.md)" in first  # the glossary: its page
    assert f"](https://github.com/{links.REPOSITORY}/blob/{links.BRANCH}/labs_lib/data.py)" in first
    nbformat.validate(page)


def test_a_widget_without_a_picture_gets_the_note_alone_and_a_widget_with_one_keeps_it():
    nb = _exercise_notebook()
    nb.cells[4].outputs = nb.cells[4].outputs[1:]
    page = site.for_the_site(nb, "full")
    (note,) = page.cells[-1].outputs
    assert "picture above" not in note.data["text/html"] and "needs a running kernel" in note.data["text/html"]
    assert "quick mode" not in page.cells[0].source and "full mode" in page.cells[0].source
    nb.cells[4].outputs[0].data["image/png"] = "iVBORw0KGgo="
    picture, note = site.for_the_site(nb).cells[-1].outputs
    assert list(picture.data) == ["image/png", "text/plain"]


def test_an_error_output_fails_the_page():
    nb = _exercise_notebook()
    nb.cells[2].outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])]
    with pytest.raises(site.SiteError, match="ValueError: bad"):
        site.for_the_site(nb)


def test_links_to_lessons_not_on_the_site_go_to_github():
    text = "[04](notebooks/04_training_with_keras.ipynb#setup) [a](#anchor) [w](https://example.org/x)"
    out = site.site_links(text, lessons=[])
    assert f"(https://github.com/{links.REPOSITORY}/blob/{links.BRANCH}/notebooks/04_training_with_keras.ipynb#setup)" in out
    assert "[a](#anchor)" in out and "[w](https://example.org/x)" in out
    assert "(04_training_with_keras.ipynb#setup)" in site.site_links(text, lessons=["04_training_with_keras"])


def test_the_landing_page_is_the_readme_with_every_lesson_in_the_table_of_contents():
    lessons = [p.stem for p in runs.course_notebooks()]
    page = site.readme_page((ROOT / "README.md").read_text(encoding="utf-8"), lessons)
    toc = page.split("```{toctree}")[1]
    assert [line for line in toc.splitlines() if re.fullmatch(r"\d\d_\w+", line)] == lessons
    assert "](notebooks/" not in page


def test_executed_copies_are_reused_only_while_nothing_they_depend_on_changes(tmp_path):
    lesson = tmp_path / "00_x.ipynb"
    nbformat.write(_exercise_notebook(), lesson)
    key = site.source_key(lesson, True, 42, "code")
    assert key == site.source_key(lesson, True, 42, "code")
    assert len({key, site.source_key(lesson, False, 42, "code"), site.source_key(lesson, True, 0, "code"),
                site.source_key(lesson, True, 42, "other code")}) == 4
    executed = tmp_path / "executed.ipynb"
    nb = _exercise_notebook()
    nb.metadata[site.SITE_KEY] = {"key": key}
    nbformat.write(nb, executed)
    assert site._up_to_date(executed, key) and not site._up_to_date(executed, "other")
    executed.write_text("{ broken", encoding="utf-8")
    assert not site._up_to_date(executed, key)


def test_the_site_configuration_takes_the_repository_from_links():
    conf = (site.CONF_DIR / "conf.py").read_text(encoding="utf-8")
    assert "links.REPOSITORY" in conf and "links.BRANCH" in conf and links.REPOSITORY not in conf
    assert 'nb_execution_mode = "off"' in conf


# ------------------------------------------------------------------------------ the built site in a browser


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def served():
    if not (SITE_DIR / "index.html").exists():
        pytest.fail(f"no built site in {SITE_DIR}: run `make site` first (or set LABS_SITE_DIR)")
    handler = functools.partial(_QuietHandler, directory=str(SITE_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(scope="module")
def browser_page(served):
    chromium, sync_playwright = _requirements()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1400})
        page.set_default_timeout(30_000)
        refused = []

        def route(request_route):
            url = request_route.request.url
            if url.startswith(served):
                request_route.continue_()
            else:  # MathJax and the badges come from the internet; nothing else may
                refused.append(url)
                request_route.abort()

        page.route("**/*", route)
        page.refused = refused
        try:
            yield page
        finally:
            browser.close()


def _lessons() -> list[Path]:
    return runs.course_notebooks()


def _title(nb) -> str:
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    return re.match(r"#\s+(.+)", first.source.strip()).group(1).strip()


def _image_outputs(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _internal_links(page, base: str) -> set[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
    return {h for h in hrefs if h.startswith(base)}


def _check_link(url: str, pages: dict[str, str]) -> str | None:
    """None when ``url`` (on the served site) resolves, with its #fragment if it has one; else why not."""
    path, _, fragment = url.partition("#")
    path = path.split("?")[0]
    if path not in pages:
        try:
            with urllib.request.urlopen(path, timeout=10) as response:
                pages[path] = response.read().decode("utf-8", "replace")
        except Exception as error:  # noqa: BLE001
            return f"{url}: {error}"
    if fragment and f'id="{urllib.parse.unquote(fragment)}"' not in pages[path]:
        return f"{url}: no element with id {fragment!r}"
    return None


@pytest.mark.site
def test_the_site_has_a_page_for_every_lesson_and_the_sources_carry_no_hidden_tests():
    built = sorted(p.stem for p in SOURCES.glob("*.ipynb"))
    assert built == [p.stem for p in _lessons()], "the site must carry every lesson of the course"
    for path in SOURCES.glob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert "BEGIN HIDDEN TESTS" not in text and "injected-parameters" not in text, path.name


@pytest.mark.site
def test_the_landing_page_links_every_lesson_the_glossary_and_resolves_its_links(served, browser_page):
    page = browser_page
    page.goto(f"{served}/index.html")
    assert "Deep learning labs" in page.title()
    hrefs = _internal_links(page, served)
    pages: dict[str, str] = {}
    for lesson in _lessons():
        assert f"{served}/{lesson.stem}.html" in hrefs, f"the landing page does not link {lesson.stem}"
    assert f"{served}/glossary.html" in hrefs
    problems = [p for p in (_check_link(h, pages) for h in sorted(hrefs)) if p]
    assert not problems, "broken links on the landing page:\n" + "\n".join(problems)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "index.png"))


@pytest.mark.site
@pytest.mark.parametrize("lesson", _lessons(), ids=lambda p: p.stem)
def test_each_lesson_page_renders_its_title_figures_and_launch_buttons_without_errors(served, browser_page, lesson):
    page = browser_page
    source = nbformat.read(SOURCES / lesson.name, 4)
    page.goto(f"{served}/{lesson.stem}.html")
    assert page.locator("h1").first.inner_text().strip().rstrip("#").strip() == _title(source)
    assert page.locator(".cell_output .output.error, .cell_output .output.traceback").count() == 0
    assert "Traceback (most recent call last)" not in page.inner_text("article")
    figures = _image_outputs(source)
    images = page.locator(".cell_output img")
    assert images.count() >= figures, f"{lesson.stem}: {figures} figures in the notebook, {images.count()} on the page"
    if figures:
        images.first.scroll_into_view_if_needed()
        broken = page.eval_on_selector_all(".cell_output img", "els => els.filter(i => !(i.naturalWidth > 0)).length")
        assert broken == 0, f"{lesson.stem}: {broken} figure(s) did not load"
    colab = page.eval_on_selector_all("a[href*='colab.research.google.com/github']", "els => els.map(a => a.href)")
    assert links.colab_url(lesson.name) in colab, f"{lesson.stem}: no Colab launch link to {links.colab_url(lesson.name)}"
    binder = page.eval_on_selector_all("a[href*='mybinder.org/v2/gh']", "els => els.map(a => a.href)")
    assert binder and all(f"/gh/{links.REPOSITORY}/" in b for b in binder)
    pages: dict[str, str] = {}
    problems = [p for p in (_check_link(h, pages) for h in sorted(_internal_links(page, served))) if p]
    assert not problems, f"broken links on {lesson.stem}:\n" + "\n".join(problems)
    if lesson.name.startswith("02_"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator(".cell_output img").nth(min(2, figures - 1)).scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"{lesson.stem}.png"))
    assert all(not r.startswith(served) for r in page.refused)


@pytest.mark.site
def test_the_glossary_page_lists_every_term_and_search_finds_a_lesson(served, browser_page):
    page = browser_page
    page.goto(f"{served}/glossary.html")
    rows = page.locator("article table tbody tr").count()
    assert rows == len(glossary.TERMS), (rows, len(glossary.TERMS))
    page.goto(f"{served}/search.html?q=backpropagation")
    results = page.locator("#search-results li, ul.search li")
    results.first.wait_for()
    found = page.eval_on_selector_all("#search-results a, ul.search a", "els => els.map(a => a.href)")
    assert any("03_backpropagation" in href for href in found), found
