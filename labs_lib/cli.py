"""The ``labs`` command: ``labs doctor`` (what this machine has); later issues add release, grade, bench."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
from pathlib import Path

PACKAGES = ("tensorflow", "keras", "numpy", "scikit-learn", "matplotlib", "jupyterlab", "ipywidgets",
            "papermill", "nbformat", "nbclient", "labs-lib")  # fmt: skip


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def doctor(args: argparse.Namespace) -> int:
    """Print versions, the device profile and the state of each data set; exit 1 if something is missing."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"python      {platform.python_version()} ({sys.executable})")
    print(f"platform    {platform.platform()}, {os.cpu_count()} CPU core(s)")
    missing = []
    for name in PACKAGES:
        version = _version(name)
        if version == "not installed":
            missing.append(name)
        print(f"{name:<11} {version}")

    from labs_lib import config, data, device

    print(f"quick mode  {config.is_quick()} (from {config.mode_source()})")
    print(f"data dir    {config.data_dir()}")
    profile = device.setup(force_cpu=args.cpu)
    print(profile.report())
    for key, spec in data.SOURCES.items():
        status = data.cache_status(key)
        if status.startswith("cached"):
            line = status
        elif data.source_reachable(key):
            line = f"{status}; source reachable (downloaded on first use)"
        else:
            line = f"{status}; source unreachable: the offline fallback (scikit-learn digits at 28x28) will be used"
        print(f"{spec['title']:<14} {line}")
    print("digits         bundled with scikit-learn (offline)")
    print(f"text corpus    {data.load_text_corpus(quick=False).source}")
    if missing:
        print(f"missing packages: {', '.join(missing)}: run `make lab` or `pip install -e .`")
        return 1
    print("all good")
    return 0


def clean_notebook(path: Path) -> bool:
    """Strip outputs, execution counts and run-time metadata from one notebook; True when it changed."""
    import nbformat

    original = path.read_text(encoding="utf-8")
    nb = nbformat.reads(original, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "collapsed", "scrolled", "papermill"):
            cell.metadata.pop(key, None)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    cleaned = nbformat.writes(nb) + "\n"
    if cleaned != original:
        path.write_text(cleaned, encoding="utf-8")
        return True
    return False


def clean(args: argparse.Namespace) -> int:
    """Clean every notebook under the given paths (files or folders)."""
    paths: list[Path] = []
    for raw in args.paths:
        p = Path(raw)
        if not p.exists():
            print(f"no such file or folder: {p}", file=sys.stderr)
            return 2
        paths.extend(sorted(p.rglob("*.ipynb")) if p.is_dir() else [p])
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    changed = [p for p in paths if clean_notebook(p)]
    for p in changed:
        print(f"cleaned {p}")
    print(f"{len(paths)} notebook(s) checked, {len(changed)} cleaned")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labs", description="Tools for the deep-learning course.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("doctor", help="print versions, the device profile and data set status")
    p.add_argument("--cpu", action="store_true", help="report the CPU-only profile (hide GPUs)")
    p.set_defaults(func=doctor)
    p = commands.add_parser("clean", help="strip outputs and execution counts from notebooks")
    p.add_argument("paths", nargs="+", help="notebooks or folders of notebooks")
    p.set_defaults(func=clean)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
