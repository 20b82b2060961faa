"""The bilingual glossary: every Chinese gloss in the notebooks has an entry with a definition, every entry is glossed
somewhere, each entry's lesson is the first lesson that glosses it, and GLOSSARY.md is what the data gives."""

import json
import re

import nbformat
import pytest

from labs_lib import cli, glossary

from conftest import NOTEBOOKS, ROOT

NOTEBOOK_DIR = ROOT / "notebooks"


def _sources(path):
    return [("".join(c["source"]) if isinstance(c["source"], list) else c["source"], c["cell_type"])
            for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def test_every_inline_gloss_has_a_glossary_entry():
    lacking = glossary.missing(NOTEBOOK_DIR)
    assert not lacking, "glossed in the notebooks but not in the glossary:\n" + "\n".join(
        f"- {g.chinese} (for '{g.english}'), first in lesson {g.lesson}, cell {g.cell}: ...{g.context}\n"
        f"  add Term({g.english!r}, {g.chinese!r}, <one-line definition>) to TERMS in labs_lib/glossary.py, "
        "then run `labs glossary --write`" for g in lacking)


def test_no_glossary_entry_is_unused():
    unused = [e.term for e in glossary.entries(NOTEBOOK_DIR) if e.lesson is None]
    assert not unused, "in labs_lib/glossary.py's TERMS but glossed in no notebook (remove them, or gloss them " \
        "where the term is introduced): " + ", ".join(f"{t.chinese} ({t.english})" for t in unused)


def test_glossary_file_is_current():
    path = ROOT / "GLOSSARY.md"
    assert path.exists(), "GLOSSARY.md is missing: run `labs glossary --write`"
    assert path.read_text(encoding="utf-8") == glossary.markdown(NOTEBOOK_DIR), \
        "GLOSSARY.md is out of date with labs_lib/glossary.py or the notebooks: run `labs glossary --write`"


def _glossed_in(text: str, chinese: str) -> bool:
    """Whether ``text`` glosses ``chinese``: the term alone between an opening parenthesis or a separator and a
    closing parenthesis or a separator (emphasis marks and spaces allowed around it). Written apart from
    glossary.find_glosses on purpose, so that the two readings check each other."""
    edge_open, edge_close = r"[(（,;:，；：、]", r"[)）,;:，；：、]"
    return re.search(rf"{edge_open}[\s*_`]*{re.escape(chinese)}[\s*_`]*{edge_close}", text) is not None


def test_each_entry_is_introduced_by_the_first_lesson_that_glosses_it():
    texts = [(path.stem, "\n".join(source for source, _ in _sources(path))) for path in NOTEBOOKS]
    for entry in glossary.entries(NOTEBOOK_DIR):
        first = next((stem for stem, text in texts if _glossed_in(text, entry.term.chinese)), None)
        assert entry.lesson == first, f"{entry.term.chinese} ({entry.term.english}): lesson {entry.lesson}, " \
                                      f"but the first lesson that glosses it is {first}"


def test_definitions_are_single_nonempty_lines():
    for term in glossary.TERMS:
        assert term.english.strip() and term.chinese.strip(), term
        assert term.definition.strip(), f"{term.english}: empty definition"
        assert "\n" not in term.definition and term.definition == term.definition.strip(), \
            f"{term.english}: the definition must be one line"
        assert term.definition[0].isupper() or term.definition[0] == "`", \
            f"{term.english}: a definition is a sentence: {term.definition!r}"
        assert term.definition.endswith("."), f"{term.english}: a definition ends with a full stop"


def test_one_entry_per_chinese_term_and_per_english_term():
    chinese = [t.chinese for t in glossary.TERMS]
    english = [t.english.casefold() for t in glossary.TERMS]
    assert len(set(chinese)) == len(chinese), sorted({c for c in chinese if chinese.count(c) > 1})
    assert len(set(english)) == len(english), sorted({e for e in english if english.count(e) > 1})


def test_chinese_in_markdown_is_always_a_gloss():
    """What the regex misses cannot be checked: Chinese in prose outside parentheses is a gloss written another way."""
    stray = []
    for path in NOTEBOOKS:
        for index, (source, kind) in enumerate(_sources(path)):
            if kind != "markdown":
                continue
            rest = glossary.PARENS.sub(lambda m: "" if glossary.HAS_CJK.search(m.group(1)) else m.group(0), source)
            for match in glossary.HAS_CJK.finditer(rest):
                stray.append(f"{path.stem}, cell {index}: ...{rest[max(0, match.start() - 60):match.end() + 20]!r}")
                break
    assert not stray, "Chinese outside a gloss: write it as 'term (中文)' or '(term, 中文)':\n" + "\n".join(stray)


def test_glossary_glosses_the_course_s_first_lesson_and_lesson_00_explains_them():
    sources = [source for source, kind in _sources(NOTEBOOK_DIR / "00_welcome_and_setup.ipynb")
               if kind == "markdown"]
    first = next(i for i, s in enumerate(sources) if glossary.glosses_in(s))
    assert "../GLOSSARY.md" in sources[first] and "Chinese" in sources[first], \
        "lesson 00 explains the glosses, and links the glossary, where the first one appears"


# The reading of a gloss, on small notebooks built for the purpose.

def _write(folder, name, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(text[5:]) if text.startswith("code:") else nbformat.v4.new_markdown_cell(text)
                for text in cells]
    nbformat.write(nb, folder / name)


def test_find_glosses_reads_every_written_form(tmp_path):
    _write(tmp_path, "01_a.ipynb", [
        "# A\n\nThe **loss** (损失函数) and the mean squared error (均方误差, MSE).",
        "Adam's (**bias correction**, 偏差修正) and the perceptron (感知机, Rosenblatt, 1958).",
        "Scores (准确率、精确率、召回率、F1), gradients that are too small (梯度消失, vanishing\ngradients).",
        "A full-width gloss: the *tensor*（张量）; no Chinese (here) and none (here,\n\nacross a paragraph 无).",
        "code:lr = 0.1  # the learning rate (学习率)\nprint(\"分词 (tokenization)\")",
    ])
    found = [(g.chinese, g.english, g.cell) for g in glossary.find_glosses(tmp_path)]
    assert found == [
        ("损失函数", "loss", 0), ("均方误差", "mean squared error", 0),
        ("偏差修正", "bias correction", 1), ("感知机", "and the perceptron", 1),
        ("准确率", "Scores", 2), ("精确率", "Scores", 2), ("召回率", "Scores", 2),
        ("梯度消失", "vanishing gradients", 2),
        ("张量", "tensor", 3),
        ("学习率", "the learning rate", 4),
    ]
    assert all(g.lesson == "01_a" for g in glossary.find_glosses(tmp_path))


def test_the_lesson_of_a_term_is_the_first_notebook_by_file_order(tmp_path):
    _write(tmp_path, "02_b.ipynb", ["# B\n\nThe **loss** (损失函数) again, and a **neuron** (神经元)."])
    _write(tmp_path, "01_a.ipynb", ["# A\n\nFirst the **loss** (损失函数)."])
    lessons = {e.term.chinese: e.lesson for e in glossary.entries(tmp_path)}
    assert lessons["损失函数"] == "01_a" and lessons["神经元"] == "02_b"
    assert lessons["反向传播"] is None  # in the data, glossed nowhere here
    table = glossary.markdown(tmp_path)
    assert "| loss function | 损失函数 | A function that measures" in table
    assert "[01 A](notebooks/01_a.ipynb) |" in table and "[02 B](notebooks/02_b.ipynb) |" in table
    rows = [line.split(" | ")[0][2:] for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:] == sorted(rows[1:], key=glossary.sort_key)  # rows[0] is the header


def test_labs_glossary_check_fails_on_a_stale_file_and_names_an_unknown_term(tmp_path, capsys):
    notebooks, target = tmp_path / "notebooks", tmp_path / "GLOSSARY.md"
    notebooks.mkdir()
    _write(notebooks, "01_a.ipynb", ["# A\n\nThe **loss** (损失函数)."])
    options = ["--file", str(target), "--notebooks", str(notebooks)]
    assert cli.main(["glossary", "--check", *options]) == 1  # no file yet
    assert "run `labs glossary --write`" in capsys.readouterr().err
    assert cli.main(["glossary", "--write", *options]) == 0
    assert target.read_text(encoding="utf-8") == glossary.markdown(notebooks)
    assert cli.main(["glossary", "--check", *options]) == 0
    _write(notebooks, "02_b.ipynb", ["# B\n\nA **widget** (小部件)."])
    assert cli.main(["glossary", "--check", *options]) == 1
    err = capsys.readouterr().err
    assert "小部件 (widget, lesson 02_b, cell 0) is glossed but has no entry" in err
    assert "labs_lib/glossary.py" in err


@pytest.mark.parametrize("text", ["(损失函数)", "（损失函数）", "(**损失函数**, lesson 02)", "(x; 损失函数)"])
def test_the_independent_reading_agrees_on_the_written_forms(text):
    assert _glossed_in(f"the loss {text} here", "损失函数")
    assert [g.chinese for g in glossary.glosses_in(f"the loss {text} here")] == ["损失函数"]
