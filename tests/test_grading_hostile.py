"""labs grade on broken and hostile submissions: every one gets a row with a clear reason, nothing
escapes its sandbox, tampering earns nothing, and the batch never stops.

One batch (``--workers 2``) grades all the submissions below against the fixture lesson of
test_grading.py (three exercises: t-add 1 point, t-square 2, t-mean 1); each test reads its rows.
"""

import csv
import json
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell
from test_grading import SECRET, filled, write_source

import labs_lib
from labs_lib import cli
from labs_lib.grading import release, sandbox, submissions

LIMITS = ["--cell-timeout", "9", "--timeout", "32", "--memory", "1024"]  # room for a loaded 2-core machine
PWNED = f"/tmp/labs-pwned-{uuid.uuid4().hex[:8]}"
PACKAGE_PWNED = Path(labs_lib.__file__).parent / "_pwned_by_a_test.py"
ALICE_NOTE = "ALICE_PRIVATE_NOTE_7f3a"
NAMESPACES = sandbox.namespaces_available()


def _with_added(nb, after, source):
    nb.cells.insert(after + 1, new_code_cell(source))
    return nb


def build_submissions(base, source_path):
    """Write every hostile submission under base/subs; returns the folder."""
    source = nbformat.read(source_path, 4)
    edition = release.student_edition(source, source_path.name)
    subs = base / "subs"
    subs.mkdir()
    paths = {"alice": subs / "alice.ipynb", "source": source_path, "book": base / "grades" / "gradebook.csv",
             "subs": subs, "base": base}

    def write(name, nb):
        nbformat.write(nb, subs / f"{name}.ipynb")

    alice = filled(edition, source, **{"t-add": f"def add(a, b):\n    # {ALICE_NOTE}\n    return a + b"})
    alice.cells.insert(5, new_markdown_cell(f"My own notes: {ALICE_NOTE}"))
    write("alice", alice)
    write("bob", filled(edition, source, **{"t-add": "def add(a, b):\n    return a - b"}))
    write("学生张三", filled(edition, source))  # ids that differ only in non-ASCII letters: two pages
    write("学生李四", filled(edition, source, **{"t-add": "def add(a, b):\n    return a - b"}))
    (subs / "mallory.ipynb").symlink_to(source_path)  # a link to the instructor's notebook, with the solutions
    (subs / "trudy").mkdir()
    (subs / "trudy" / "99_fixture.ipynb").symlink_to("/etc/shadow")  # a folder holding a link to a root-only file
    (subs / "dave").mkdir()
    nbformat.write(filled(edition, source), subs / "dave" / "99_fixture.ipynb")
    (subs / "empty.ipynb").write_bytes(b"")
    (subs / "garbage.ipynb").write_text("this is not a notebook {")
    (subs / "v3.ipynb").write_text(nbformat.writes(nbformat.convert(filled(edition, source), 3), version=3))
    raw = json.loads(nbformat.writes(filled(edition, source)))
    for i, cell in enumerate(raw["cells"]):
        if i % 2:
            cell["id"] = "same-id"
        else:
            cell.pop("id", None)
    (subs / "ids.ipynb").write_text(json.dumps(raw))
    deleted = filled(edition, source)
    del deleted.cells[6:8]
    write("deleted", deleted)
    write("warner", filled(edition, source, **{"t-add": (
        "import sys\nimport warnings\n\nwarnings.warn('only a warning')\nprint('a note on stderr', file=sys.stderr)\n\n"
        "def add(a, b):\n    warnings.warn('careful', RuntimeWarning)\n    return a + b\n\n"
        "warnings.simplefilter('error')  # would turn the tests' warnings into errors if it reached them")}))
    write("syntax", filled(edition, source, **{"t-add": "def add(a, b)\n    return a + b"}))
    write("importerr", filled(edition, source, **{
        "t-square": "import not_a_real_module_xyz\n\ndef square(x):\n    return np.asarray(x) ** 2"}))
    write("loop", filled(edition, source, **{"t-square": "def square(x):\n    while True:\n        pass"}))
    write("stubborn", filled(edition, source, **{"t-add": (
        "import time\n\ndef add(a, b):\n    while True:\n        try:\n            time.sleep(0.5)\n"
        "        except KeyboardInterrupt:\n            pass")}))
    sleeper = filled(edition, source)
    for _ in range(12):  # 36 s of sleeping, past the 32 s limit
        _with_added(sleeper, 4, "import time\ntime.sleep(3)")
    write("sleeper", sleeper)
    write("osexit", filled(edition, source, **{"t-add": "import os\nos._exit(1)\n\ndef add(a, b):\n    return a + b"}))
    write("segfault", filled(edition, source, **{"t-mean": (
        "import ctypes\n\ndef mean(values):\n    return ctypes.string_at(0)  # reads address 0: SIGSEGV")}))
    write("addcrash", _with_added(filled(edition, source), 4, "import os\nos._exit(3)  # a scratch cell that kills the kernel"))
    write("sysexit", filled(edition, source, **{"t-mean": "import sys\nsys.exit()\n\ndef mean(values):\n    return 0"}))
    write("flood", filled(edition, source, **{"t-add": (
        "def add(a, b):\n    return a + b\n\nfor _ in range(100):\n    print('x' * 1_000_000)  # 100 MB in all")}))
    write("writer", _with_added(filled(edition, source), 9, (
        "import os\nimport subprocess\n"
        f"for path in [{str(subs / 'pwned.txt')!r}, {str(paths['book'])!r}, {str(PACKAGE_PWNED)!r}, {PWNED!r},\n"
        f"             {str(base / 'pwned.txt')!r}]:\n"
        "    try:\n        with open(path, 'a') as f:\n            f.write('pwned')\n        print('WROTE', path)\n"
        "    except Exception as error:\n        print('BLOCKED', type(error).__name__)\n"
        "try:\n"
        f"    subprocess.run(['sh', '-c', 'echo pwned > {base / 'pwned-sh.txt'}'], timeout=10)\n"
        "except Exception as error:\n    print('BLOCKED subprocess', type(error).__name__)")))
    reader_code = (
        "import os\nfound = []\n"
        f"for path in [{str(paths['alice'])!r}, {str(source_path)!r}, {str(paths['book'])!r}]:\n"
        "    try:\n        found.append(open(path, errors='replace').read())\n"
        "    except Exception as error:\n        print('BLOCKED', type(error).__name__)\n"
        "for pid in {os.getppid(), 1}:\n    for what in ('environ', 'cmdline'):\n"
        "        try:\n            found.append(open(f'/proc/{pid}/{what}', errors='replace').read())\n"
        "        except Exception as error:\n            print('BLOCKED proc', type(error).__name__)\n"
        f"for root, dirs, files in os.walk({str(base)!r}):\n    for name in files:\n"
        "        try:\n            found.append(open(os.path.join(root, name), errors='replace').read()[:200_000])\n"
        "        except Exception:\n            pass\n"
        "print('\\n'.join(found).replace('S', '5'))")
    write("reader", _with_added(filled(edition, source), 9, reader_code))
    if NAMESPACES:  # TensorFlow's file I/O is C++: only the namespace sandbox stops it
        write("tfreader", _with_added(filled(edition, source), 9, (
            "import tensorflow as tf\n"
            f"for path in [{str(paths['alice'])!r}, {str(source_path)!r}]:\n"
            "    try:\n        print(tf.io.read_file(path).numpy().decode().replace('S', '5'))\n"
            "    except Exception as error:\n        print('BLOCKED', type(error).__name__)\n"
            "try:\n    tf.io.write_file(" + repr(str(base / "tf-pwned.txt")) + ", 'pwned')\n"
            "except Exception as error:\n    print('BLOCKED write', type(error).__name__)")))
        write("escaper", _with_added(filled(edition, source), 9, (
            "import ctypes\nimport os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "for name, flag in (('user', 0x10000000), ('mount', 0x00020000)):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:  # a single-threaded child, as unshare(CLONE_NEWUSER) requires\n"
            "        os._exit(0 if libc.unshare(flag) == 0 else ctypes.get_errno())\n"
            "    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])\n"
            "    print('ESCAPED' if code == 0 else 'BLOCKED', name, os.strerror(code))\n"
            "print([line for line in open('/proc/self/status') if line.startswith(('NoNewPrivs', 'Cap'))])")))
    write("tamper_checks", filled(edition, source, **{"t-add": (
        "def add(a, b):\n    return a - b\n\n"
        "checks.check_function = lambda *a, **k: None\nchecks.check_array = lambda *a, **k: None\n"
        "import labs_lib.checks\nlabs_lib.checks.check_scalar = lambda *a, **k: None\n\n"
        "class Anything:\n    def __getattr__(self, name):\n        return lambda *a, **k: None\n\n"
        "checks = Anything()")}))
    write("tamper_numpy", filled(edition, source, **{"t-square": (
        "def square(x):\n    return np.asarray(x) * 2.0\n\n"
        "np.testing.assert_allclose = lambda *a, **k: None\n"
        "np.isclose = lambda a, b, **k: np.ones(np.broadcast(a, b).shape, dtype=bool)\n"
        "np.allclose = lambda *a, **k: True\n"
        "checks.check_function.__code__ = (lambda *a, **k: None).__code__")}))
    write("tamper_assert", filled(edition, source, **{"t-mean": (
        "import ast\n\ndef mean(values):\n    return 2.0  # right for [1, 2, 3] only\n\n"
        "class NoAsserts(ast.NodeTransformer):\n    def visit_Assert(self, node):\n        return ast.Pass()\n\n"
        "get_ipython().ast_transformers.append(NoAsserts())\n"
        "import builtins\nbuiltins.AssertionError = type('AssertionError', (Exception,), {})")}))
    write("tamper_markers", filled(edition, source, **{"t-add": (
        "def add(a, b):\n    return a * b\n\n"
        "print('t-add: passed 1/1')\nprint('✔ add: correct')\n"
        "from IPython.display import display\n"
        "display({'application/vnd.labs.guard+json': {'kind': 'before', 'exercise': 't-add', 'undone': []}}, raw=True)")}))
    write("tamper_ipython", filled(edition, source, **{"t-add": (
        "def add(a, b):\n    return a - b\n\nip = get_ipython()\n"
        "ip.set_custom_exc((BaseException,), lambda *args, **kwargs: None)\n\n"
        "def blank(lines):\n    return ['pass\\n'] if any('checks.' in line for line in lines) else lines\n\n"
        "ip.input_transformers_cleanup.append(blank)\n\n"
        "def repatch(*args):\n    import labs_lib.checks as c\n    c.check_function = lambda *a, **k: None\n\n"
        "ip.events.register('pre_run_cell', repatch)")}))
    write("tamper_thread", filled(edition, source, **{"t-add": (
        "import threading\nimport time\n\ndef add(a, b):\n    return a - b\n\n"
        "def keep_patching():\n    import labs_lib.checks as c\n    while True:\n"
        "        c.check_function = lambda *a, **k: None\n        time.sleep(0.0005)\n\n"
        "threading.Thread(target=keep_patching, daemon=True).start()")}))
    spy = filled(edition, source, **{"t-add": (
        "def add(a, b):\n    return a + b\n\ncaptured = []\n"
        "get_ipython().events.register('pre_run_cell', lambda info: captured.append(info.raw_cell))")})
    write("spy", _with_added(spy, 9, (
        "import linecache\nimport sys\n"
        "seen = ['\\n'.join(In), '\\n'.join(captured), repr(getattr(sys, 'last_value', None))]\n"
        "seen += [''.join(entry[2]) for entry in list(linecache.cache.values()) if len(entry) > 2 and entry[2]]\n"
        "seen += [repr(value) for name, value in list(globals().items()) if name.startswith('_secret')]\n"
        "print('\\n'.join(seen).replace('S', '5'))")))
    return subs


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    source = write_source(base / "src")
    subs = build_submissions(base, source)
    out = base / "grades"
    code = cli.main(["grade", str(subs), "--source", str(source), "-o", str(out), "--workers", "2", "--no-progress",
                     *LIMITS])
    assert code == 0
    rows = {(r["student"], r["exercise"]): r for r in csv.DictReader(open(out / "gradebook.csv"))}
    yield {"rows": rows, "out": out, "base": base, "subs": subs}
    PACKAGE_PWNED.unlink(missing_ok=True)


def row(graded, student, exercise):
    return graded["rows"][(student, exercise)]


def score(graded, student):
    return {ex: float(row(graded, student, ex)["points"]) for ex in ("t-add", "t-square", "t-mean")}


def page(graded, student):
    return (graded["out"] / "feedback" / "99_fixture" / f"{submissions.file_name(student)}.html").read_text()


FULL = {"t-add": 1, "t-square": 2, "t-mean": 1}


def test_every_submission_has_a_row_for_every_exercise(graded):
    students = {s for s, _ in graded["rows"]}
    expected = {p.stem for p in graded["subs"].glob("*.ipynb")} | {"dave", "trudy"}
    assert students == expected
    assert len(graded["rows"]) == 3 * len(expected)
    for r in graded["rows"].values():
        assert r["status"] in ("passed", "failed", "timeout", "memory", "crashed", "missing", "invalid", "tampered")
        assert r["status"] == "passed" or r["reason"], f"{r['student']} {r['exercise']}: a zero needs a reason"


def test_a_correct_submission_gets_full_marks_in_either_layout(graded):
    for student in ("alice", "dave"):
        assert score(graded, student) == FULL
        assert all(row(graded, student, ex)["status"] == "passed" and row(graded, student, ex)["reason"] == ""
                   for ex in FULL)


def test_a_partly_correct_submission_gets_exactly_its_points(graded):
    assert score(graded, "bob") == {"t-add": 0, "t-square": 2, "t-mean": 1}
    assert row(graded, "bob", "t-add")["status"] == "failed"
    assert "add(1, 2) is wrong: got -1, expected 3" in row(graded, "bob", "t-add")["reason"]


def test_warnings_are_not_failures(graded):
    assert score(graded, "warner") == FULL
    assert "only a warning" in page(graded, "warner") and "a note on stderr" in page(graded, "warner")


@pytest.mark.parametrize(("student", "message"), [("empty", "the file is empty"), ("garbage", "invalid JSON")])
def test_unreadable_files_are_invalid(graded, student, message):
    for ex in FULL:
        assert row(graded, student, ex)["status"] == "invalid" and message in row(graded, student, ex)["reason"]
    assert message in page(graded, student)


def test_symbolic_links_score_nothing_and_are_never_opened(graded):
    for student, shown in (("mallory", "mallory.ipynb is a link"), ("trudy", "trudy/ holds 99_fixture.ipynb")):
        for ex in FULL:
            r = row(graded, student, ex)
            assert r["status"] == "invalid" and float(r["points"]) == 0, (student, ex, r)
            assert r["reason"] == f"symbolic links are not accepted: {shown}"
        assert "symbolic links are not accepted" in page(graded, student)


def test_ids_that_differ_only_in_non_ascii_letters_keep_their_own_pages(graded):
    assert score(graded, "学生张三") == FULL and score(graded, "学生李四") == {"t-add": 0, "t-square": 2, "t-mean": 1}
    zhang, li = page(graded, "学生张三"), page(graded, "学生李四")
    assert "feedback for 学生张三" in zhang and "add(1, 2) is wrong" not in zhang
    assert "feedback for 学生李四" in li and "add(1, 2) is wrong" in li


def test_old_format_and_broken_cell_ids_are_repaired_and_graded(graded):
    assert score(graded, "v3") == FULL and score(graded, "ids") == FULL
    assert "upgraded from nbformat 3 to 4" in page(graded, "v3")
    assert "repaired" in page(graded, "ids")


def test_a_deleted_exercise_is_missing_and_the_others_are_graded(graded):
    assert score(graded, "deleted") == {"t-add": 1, "t-square": 0, "t-mean": 1}
    assert row(graded, "deleted", "t-square")["status"] == "missing"
    assert "deleted" in row(graded, "deleted", "t-square")["reason"]


@pytest.mark.parametrize(("student", "exercise", "message"), [
    ("syntax", "t-add", "SyntaxError"),
    ("importerr", "t-square", "ModuleNotFoundError: No module named 'not_a_real_module_xyz'"),
    ("sysexit", "t-mean", "SystemExit"),
])
def test_an_error_in_one_exercise_does_not_touch_the_others(graded, student, exercise, message):
    expected = {**FULL, exercise: 0}
    assert score(graded, student) == expected
    assert row(graded, student, exercise)["status"] == "failed"
    assert message in row(graded, student, exercise)["reason"]


def test_an_endless_loop_times_out_alone(graded):
    assert score(graded, "loop") == {"t-add": 1, "t-square": 0, "t-mean": 1}
    r = row(graded, "loop", "t-square")
    assert r["status"] == "timeout" and "per-cell limit of 9 s" in r["reason"]


def test_a_loop_that_ignores_interrupts_is_stopped_and_the_rest_graded(graded):
    assert score(graded, "stubborn") == {"t-add": 0, "t-square": 2, "t-mean": 1}
    r = row(graded, "stubborn", "t-add")
    assert r["status"] == "timeout" and "ignored the interrupt" in r["reason"]
    log = (graded["out"] / "kernel-logs" / "99_fixture" / "stubborn.log").read_text()
    assert "Thread" in log and "in add" in log, log  # its stacks, written before it was stopped


def test_sleeping_past_the_wall_clock_limit(graded):
    assert row(graded, "sleeper", "t-add")["status"] == "passed"
    for ex in ("t-square", "t-mean"):
        r = row(graded, "sleeper", ex)
        assert r["status"] == "timeout" and "wall-clock limit of 32 s" in r["reason"] and r["points"] == "0"


HOG = "def square(x):\n    blocks = []\n    while True:\n        blocks.append(np.ones(25_000_000))  # 200 MB each\n"


def test_allocating_too_much_memory(tmp_path):
    """Graded on its own with a small memory limit: this machine's page faults run at about 0.4 GB/s idle, so
    reaching the main fixture's 1 GB took longer than its per-cell limit when the machine was busy."""
    source = write_source(tmp_path / "src")
    source_nb = nbformat.read(source, 4)
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(filled(release.student_edition(source_nb, source.name), source_nb, **{"t-square": HOG}),
                   subs / "hog.ipynb")
    out = tmp_path / "grades"
    assert cli.main(["grade", str(subs), "--source", str(source), "-o", str(out), "--workers", "1", "--no-progress",
                     "--cell-timeout", "30", "--timeout", "120", "--memory", "400"]) == 0
    rows = {r["exercise"]: r for r in csv.DictReader(open(out / "gradebook.csv"))}
    why = {ex: (r["status"], r["reason"]) for ex, r in rows.items()}  # said in full if this fails
    assert {ex: float(r["points"]) for ex, r in rows.items()} == {"t-add": 1, "t-square": 0, "t-mean": 1}, why
    r = rows["t-square"]
    assert (r["status"] == "memory" and "400 MB" in r["reason"]) or (r["status"] == "failed" and "MemoryError" in r["reason"]), why


@pytest.mark.parametrize(("student", "exercise", "message"), [
    ("osexit", "t-add", "exited with status 1"),
    ("segfault", "t-mean", "SIGSEGV"),
])
def test_a_dead_kernel_never_passes_and_the_other_exercises_are_graded(graded, student, exercise, message):
    assert score(graded, student) == {**FULL, exercise: 0}
    r = row(graded, student, exercise)
    assert r["status"] == "crashed" and message in r["reason"]


def test_an_added_cell_that_kills_the_kernel_is_left_out(graded):
    assert score(graded, "addcrash") == FULL
    assert "an added cell killed the kernel" in page(graded, "addcrash")


def test_printing_100_mb_is_cut_and_graded(graded):
    assert score(graded, "flood") == FULL
    html = page(graded, "flood")
    assert len(html) < 2_000_000 and "bytes of further output were dropped" in html


def test_writing_outside_the_sandbox_changes_nothing(graded):
    base = graded["base"]
    assert score(graded, "writer") == FULL
    assert not (graded["subs"] / "pwned.txt").exists() and not (base / "pwned.txt").exists()
    assert not (base / "pwned-sh.txt").exists() and not Path(PWNED).exists() and not PACKAGE_PWNED.exists()
    assert "pwned" not in (graded["out"] / "gradebook.csv").read_text()
    assert "WROTE" not in page(graded, "writer").replace(f"WROTE {PWNED}", "")  # /tmp inside the sandbox is private


def test_reading_other_submissions_or_the_source_finds_nothing(graded):
    assert score(graded, "reader") == FULL
    html = page(graded, "reader")
    assert ALICE_NOTE not in html and ALICE_NOTE.replace("S", "5") not in html
    assert SECRET.replace("S", "5") not in html and SECRET not in html
    assert "BLOCKED" in html


@pytest.mark.skipif(not NAMESPACES, reason="TensorFlow's C++ file I/O is only stopped by the namespace sandbox")
def test_reading_through_tensorflow_finds_nothing(graded):
    html = page(graded, "tfreader")
    assert ALICE_NOTE.replace("S", "5") not in html and SECRET.replace("S", "5") not in html
    assert not (graded["base"] / "tf-pwned.txt").exists()
    assert score(graded, "tfreader") == FULL


@pytest.mark.skipif(not NAMESPACES, reason="only the namespace sandbox has user namespaces to refuse")
def test_no_user_namespaces_of_its_own_and_no_new_privileges(graded):
    html = page(graded, "escaper")
    assert "ESCAPED" not in html
    assert "BLOCKED user No space left on device" in html  # the one nested namespace allowed is used
    assert "BLOCKED mount Operation not permitted" in html  # no capabilities left in the nested namespace
    assert "NoNewPrivs:\\t1" in html  # the repr of the status line
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):  # none at all, none to regain
        assert f"{capabilities}:\\t0000000000000000" in html
    assert score(graded, "escaper") == FULL


@pytest.mark.parametrize(("student", "exercise"), [
    ("tamper_checks", "t-add"), ("tamper_numpy", "t-square"), ("tamper_assert", "t-mean"),
    ("tamper_markers", "t-add"), ("tamper_ipython", "t-add"),
])
def test_tampering_with_checks_numpy_assert_markers_or_ipython_earns_nothing(graded, student, exercise):
    assert score(graded, student) == {**FULL, exercise: 0}
    r = row(graded, student, exercise)
    assert r["status"] in ("failed", "tampered")
    assert "review:" in r["reason"] or student == "tamper_markers"


def test_tampering_from_a_background_thread_earns_nothing(graded):
    assert row(graded, "tamper_thread", "t-add")["points"] == "0"
    assert row(graded, "tamper_thread", "t-add")["status"] in ("failed", "tampered")


def test_feedback_never_shows_hidden_tests(graded):
    for path in (graded["out"] / "feedback" / "99_fixture").glob("*.html"):
        text = path.read_text()
        assert SECRET not in text and SECRET.replace("S", "5") not in text, path.name
        assert "np.testing.assert_allclose(square(np.arange(4.0)) + offset" not in text
    assert score(graded, "spy") == FULL


def test_summary_and_histogram(graded):
    out = graded["out"]
    assert (out / "score_histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.html").read_text()
    assert "99_fixture.ipynb" in summary and "t-square" in summary and "tamper_ipython" in summary


def test_audit_mode_blocks_python_level_reads_and_writes(tmp_path):
    """The fallback sandbox (no namespaces): Python's own file and process calls are refused."""
    source = write_source(tmp_path / "src")
    full = build_submissions(tmp_path, source)
    subs = tmp_path / "few"
    subs.mkdir()
    for name in ("alice", "writer", "reader"):
        (full / f"{name}.ipynb").rename(subs / f"{name}.ipynb")
    out = tmp_path / "grades"
    assert cli.main(["grade", str(subs), "--source", str(source), "-o", str(out), "--workers", "2", "--no-progress",
                     "--isolation", "audit", *LIMITS]) == 0
    rows = {(r["student"], r["exercise"]): r for r in csv.DictReader(open(out / "gradebook.csv"))}
    assert all(rows[(s, ex)]["status"] == "passed" for s in ("alice", "writer", "reader") for ex in FULL)
    reader = (out / "feedback" / "99_fixture" / "reader.html").read_text()
    assert ALICE_NOTE.replace("S", "5") not in reader and SECRET.replace("S", "5") not in reader
    writer = (out / "feedback" / "99_fixture" / "writer.html").read_text()
    assert "WROTE" not in writer and writer.count("BLOCKED") >= 6
    assert not (subs / "pwned.txt").exists() and not Path(PWNED).exists() and not PACKAGE_PWNED.exists()
    assert not (tmp_path / "pwned-sh.txt").exists()
