"""The packaging files agree with pyproject.toml, versions included, and the package map lists every module.

pyproject.toml holds the lower bounds; environment.yml installs the course from it (``-e .[dev]``);
binder/ pins exact versions of the runtime dependencies, each within its lower bound; the running
environment meets every lower bound; every third-party import of ``labs_lib`` is declared.
"""

import ast
import importlib.metadata
import sys

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import ROOT

PACKAGE = ROOT / "labs_lib"
ALIASES = {"tensorflow-cpu": "tensorflow"}  # Binder has no GPU: the CPU build of the same package


def _project() -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _runtime() -> dict[str, Requirement]:
    requirements = [Requirement(r) for r in _project()["dependencies"]]
    return {canonicalize_name(r.name): r for r in requirements}


def _pip_section(path) -> list[str]:
    env = yaml.safe_load(path.read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, f"{path}: one pip section"
    return pip_lists[0]


def _conda_python(path) -> str:
    env = yaml.safe_load(path.read_text())
    (python,) = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    return python.removeprefix("python")


def test_every_runtime_dependency_has_a_lower_bound_only():
    for name, req in _runtime().items():
        operators = {spec.operator for spec in req.specifier}
        assert operators == {">="}, f"{name}: lower bounds only in pyproject.toml (exact pins live in binder/)"


def test_environment_yml_installs_the_course_with_its_dev_extra():
    # pyproject.toml is the one list: a package listed here as well would be a second set of bounds to drift
    assert _pip_section(ROOT / "environment.yml") == ["-e .[dev]"]
    assert "dev" in _project()["optional-dependencies"]


def test_binder_pins_each_runtime_dependency_within_its_lower_bound():
    path = ROOT / "binder" / "environment.yml"
    pins = {}
    for line in _pip_section(path):
        req = Requirement(line)
        specs = list(req.specifier)
        assert [s.operator for s in specs] == ["=="], f"{line}: Binder pins exact versions, the same every launch"
        name = canonicalize_name(req.name)
        pins[ALIASES.get(name, name)] = Version(specs[0].version)
    runtime = _runtime()
    assert set(pins) == set(runtime), "binder/ pins the runtime dependencies of pyproject.toml, no more, no fewer"
    for name, req in runtime.items():
        assert req.specifier.contains(pins[name]), f"binder/ pins {name}=={pins[name]}, pyproject needs {req}"
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()


def test_this_environment_meets_every_lower_bound():
    for name, req in _runtime().items():
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            raise AssertionError(f"{name} is a dependency in pyproject.toml but is not installed") from None
        assert req.specifier.contains(installed), f"{name} {installed} is installed; pyproject.toml needs {req}"


def test_python_versions_agree():
    requires = SpecifierSet(_project()["requires-python"])
    assert SpecifierSet(_conda_python(ROOT / "environment.yml")) == requires
    binder = _conda_python(ROOT / "binder" / "environment.yml")
    assert binder.startswith("=") and requires.contains(binder.lstrip("=") + ".0"), f"Binder's python{binder}"


def _imports(tree) -> list[tuple[str, int]]:
    """(top-level module, line) of every absolute import in ``tree``, in functions too."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append((node.module.split(".")[0], node.lineno))
    return found


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(t, ast.Name) and t.id in ("ImportError", "ModuleNotFoundError") for t in types)


def _third_party_imports() -> dict[str, tuple[str, bool]]:
    """Third-party module imported under labs_lib/ -> (a file importing it, whether every import is guarded).

    Guarded: inside ``try:`` with an ``except ImportError`` that falls back (an optional dependency).
    """
    found: dict[str, tuple[str, bool]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = {
            line
            for node in ast.walk(tree)
            if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers)
            for statement in node.body
            for _, line in _imports(statement)
        }
        for module, line in _imports(tree):
            if module in sys.stdlib_module_names or module == "labs_lib":
                continue
            where, all_guarded = found.get(module, (f"{path.relative_to(ROOT)}:{line}", True))
            found[module] = (where, all_guarded and line in guarded)
    return found


def test_every_third_party_import_is_declared():
    project = _project()
    declared = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    extras = {canonicalize_name(Requirement(r).name) for rs in project["optional-dependencies"].values() for r in rs}
    distributions = importlib.metadata.packages_distributions()  # import name -> distribution names
    imports = _third_party_imports()
    assert {"numpy", "IPython", "scipy"} <= set(imports), "the import scan finds nothing"
    assert imports["tqdm"][1] and not imports["numpy"][1], "the guard detection is broken"
    for module, (where, guarded) in imports.items():
        names = {canonicalize_name(d) for d in distributions.get(module, [module])}
        if guarded:  # optional: an extra may declare it (tqdm, a progress bar, has none: papermill brings it)
            continue
        assert names & declared, (
            f"{where} imports {module} ({', '.join(sorted(names))}) outside an ImportError guard: "
            + ("an extra declares it, [project].dependencies must" if names & extras else "undeclared")
        )


def test_the_package_docstring_maps_every_module():
    doc = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8")))
    modules = [p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"]
    packages = [p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()]
    assert {"cli", "widgets", "grading"} <= set(modules + packages)
    for name in modules + packages:
        assert f":mod:`labs_lib.{name}`" in doc, f"labs_lib/__init__.py's module map leaves out labs_lib.{name}"
    for package in packages:  # each subpackage maps its own public modules
        sub = PACKAGE / package
        doc = ast.get_docstring(ast.parse((sub / "__init__.py").read_text(encoding="utf-8")))
        for path in sub.glob("*.py"):
            if not path.stem.startswith("_"):
                assert f"labs_lib.{package}.{path.stem}`" in doc, f"labs_lib.{package} leaves out {path.stem}"
