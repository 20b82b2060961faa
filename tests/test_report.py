"""The README's results section is generated from benchmarks/results/, and the committed one is up to date."""

import json

import pytest

from labs_lib import cli, report

from conftest import ROOT

MACHINE = {"cpu": "Test CPU", "cores": 2, "memory_gb": 8.0, "gpus": [], "platform": "Linux", "python": "3.11.2"}
VERSIONS = {"python": "3.11.2", "tensorflow": "2.21.0", "keras": "3.15.1"}


def write_results(folder):
    folder.mkdir(parents=True, exist_ok=True)
    full = {
        "kind": "course", "mode": "full", "seed": 42, "date": "2026-11-25T12:00:00+00:00", "machine": MACHINE,
        "versions": VERSIONS, "total_wall_s": 100.0, "max_peak_rss_mb": 900.0,
        "notebooks": [
            {"notebook": "00_welcome", "status": "ok", "error": None, "wall_s": 5.0, "peak_rss_mb": 700.0,
             "figures": []},
            {"notebook": "04_training", "status": "ok", "error": None, "wall_s": 95.0, "peak_rss_mb": 900.0,
             "figures": [{"label": "MLP test accuracy", "value": 0.961, "text": "96.1%", "data": "digits | 28x28"},
                         {"label": "validation accuracy", "value": 0.983, "text": "98.3%", "data": "digits | 28x28"}]},
            {"notebook": "05_broken", "status": "error", "error": "cell 3: ValueError: x", "wall_s": 2.0,
             "peak_rss_mb": 500.0, "figures": []},
        ],
    }
    (folder / "course-full.json").write_text(json.dumps(full))
    quick = {**full, "mode": "quick", "notebooks": full["notebooks"][:2]}
    (folder / "course-quick.json").write_text(json.dumps(quick))
    bench = {"benchmark": "overhead", "date": "2026-11-25T13:00:00+00:00", "machine": MACHINE, "versions": VERSIONS,
             "figures": [{"name": "helper overhead", "value": 1.01, "unit": "x", "target": "<= 1.05", "ok": True,
                          "detail": "9 rounds"}]}
    (folder / "overhead.json").write_text(json.dumps(bench))


def test_the_section_shows_every_figure_with_its_data_machine_and_versions(tmp_path):
    write_results(tmp_path)
    text = report.section(tmp_path)
    assert "Test CPU, 2 cores, 8 GB, no GPU" in text and "TensorFlow 2.21.0" in text
    row = next(line for line in text.splitlines() if line.startswith("| [04]"))
    assert "MLP test accuracy: **96.1%**; validation accuracy: **98.3%**" in row
    assert "digits \\| 28x28" in row  # a | inside a cell is escaped, once per data set
    assert row.count("digits") == 1 and "1 min 35 s" in row
    assert "[00]" not in text.split("### Quick")[0]  # a notebook without figures has no full-mode row
    assert "**did not finish**: cell 3: ValueError: x" in text
    assert "| helper overhead | helper overhead (9 rounds) | 1.010 | <= 1.05 |" in text
    assert "| [04](notebooks/04_training.ipynb) training | 95.0 s | 900 MB |" in text


def test_write_readme_replaces_only_the_marked_section_and_check_notices_drift(tmp_path, capsys):
    results = tmp_path / "results"
    write_results(results)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Course\n\n## Results\n\n{report.BEGIN}\nold table\n{report.END}\n\n## Next\ntext\n")
    args = ["results", "--readme", str(readme), "--results", str(results)]
    assert cli.main([*args, "--check"]) == 1
    assert cli.main([*args, "--write-readme"]) == 0
    written = readme.read_text()
    assert "old table" not in written and "96.1%" in written
    assert written.startswith("# Course\n\n## Results\n\n") and written.endswith("\n\n## Next\ntext\n")
    assert cli.main([*args, "--check"]) == 0
    assert cli.main([*args, "--write-readme"]) == 0 and readme.read_text() == written  # stable


def test_a_readme_without_markers_and_a_broken_results_file_get_clear_errors(tmp_path, capsys):
    results = tmp_path / "results"
    write_results(results)
    readme = tmp_path / "README.md"
    readme.write_text("# Course\n")
    assert cli.main(["results", "--readme", str(readme), "--results", str(results), "--write-readme"]) == 2
    assert "no results markers" in capsys.readouterr().err
    (results / "overhead.json").write_text("{not json")
    assert cli.main(["results", "--results", str(results)]) == 2
    assert "run the benchmark again" in capsys.readouterr().err


def test_no_results_yet_says_how_to_get_them(tmp_path):
    assert "run `make full` and `make bench`" in report.section(tmp_path)


def test_the_committed_readme_section_is_generated_from_the_committed_results():
    results = ROOT / "benchmarks" / "results"
    if not (results / "course-full.json").exists():
        pytest.fail("benchmarks/results/course-full.json is missing: run `make full` and `make results`")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert report.replace_section(readme, report.section(results)) == readme, (
        "README.md's results section is out of date: run `labs results --write-readme`"
    )
