"""Run the course: every notebook with papermill, its wall time, its peak memory and the figures it records.

    labs run                       # quick mode, every notebook in notebooks/
    labs run --full                # full settings: the figures of the README's results table
    labs run notebooks/04_training_with_keras.ipynb --full -o /tmp/04.json

Each notebook runs in its own process (papermill, a fresh kernel, the notebook's folder as working
directory, ``QUICK`` and ``SEED`` injected after the ``parameters`` cell), so its figures cannot leak into
the next one and its peak memory is its own: the peak resident set of the kernel, or of a process the
kernel started and waited for if that one was larger (``getrusage(RUSAGE_CHILDREN)`` of the runner
process after the kernel has exited). The figures are what the notebook passed to
:func:`labs_lib.results.record`. The results file also names the date, the machine and the versions.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labs_lib import results

ROOT = Path(__file__).resolve().parents[1]  # the course's folder when installed from a clone (editable)
QUICK_WALL_TARGET_S = 60.0  # every notebook in quick mode, on a 2-core laptop
QUICK_RSS_TARGET_MB = 1500.0  # Binder gives 2 GB; leave room for JupyterLab itself
VERSIONS = ("tensorflow", "keras", "numpy", "scikit-learn", "papermill", "labs-lib")


def machine() -> dict:
    """The machine, said plainly: CPU model, cores, memory, GPUs (from ``nvidia-smi`` when there is one)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)
    except (ValueError, OSError, AttributeError):
        pass
    gpus: list[str] = []
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30, check=True).stdout
            gpus = [line.strip() for line in out.splitlines() if line.strip()]
        except (subprocess.SubprocessError, OSError):
            pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "memory_gb": memory_gb, "gpus": gpus,
            "platform": platform.platform(), "python": platform.python_version()}


def machine_line(info: dict) -> str:
    """One line: 'AMD EPYC 7B13, 2 cores, 24 GB, no GPU'."""
    gpu = ", ".join(info.get("gpus") or []) or "no GPU"
    memory = f", {info['memory_gb']:g} GB" if info.get("memory_gb") else ""
    return f"{info['cpu']}, {info['cores']} cores{memory}, {gpu}"


def versions() -> dict:
    found = {"python": platform.python_version()}
    for name in VERSIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def provenance() -> dict:
    """When and where a measurement was taken: the date (UTC), the machine and the versions."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return {"date": now.isoformat(timespec="seconds"), "machine": machine(), "versions": versions()}


def course_notebooks(folder: Path | None = None) -> list[Path]:
    """The course's notebooks in order (NN_name.ipynb), without checkpoints."""
    folder = Path(folder or ROOT / "notebooks")
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not found:
        raise FileNotFoundError(f"no notebooks NN_name.ipynb in {folder}: run from a clone of the course")
    return found


# ---------------------------------------------------------------------------------------------------
# One notebook, in its own process


def _child(spec: dict) -> dict:
    """Runs in the child process: execute one notebook with papermill; return what happened."""
    import resource

    import papermill

    from labs_lib import nbexec

    source, executed = Path(spec["notebook"]), Path(spec["executed"])
    executed.parent.mkdir(parents=True, exist_ok=True)
    status, error = "ok", None
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source), str(executed), parameters={"QUICK": spec["quick"], "SEED": spec["seed"]},
            cwd=str(source.parent), kernel_name="python3", progress_bar=False, log_output=False,
            execution_timeout=spec.get("cell_timeout"), engine_name=nbexec.register_engine(),
        )
    except papermill.PapermillExecutionError as failure:
        status = "error"
        error = f"cell {failure.exec_count}: {failure.ename}: {str(failure.evalue)[:300]}"
    except Exception as failure:  # the kernel died, a timeout, a broken notebook: say which
        status = "error"
        error = f"{type(failure).__name__}: {str(failure)[:300]}"
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak_bytes = peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB, macOS bytes
    return {"status": status, "error": error, "wall_s": round(wall, 2), "peak_rss_mb": round(peak_bytes / 1e6, 1)}


def run_notebook(path: Path, *, quick: bool, seed: int = 42, executed_dir: Path | None = None,
                 timeout: float = 3600.0, cell_timeout: float | None = None) -> dict:
    """Execute one notebook in a fresh process and kernel; its status, wall time, peak RSS and figures."""
    path = Path(path).resolve()
    executed_dir = Path(executed_dir or tempfile.mkdtemp(prefix="labs-run-"))
    with tempfile.TemporaryDirectory(prefix="labs-figures-") as scratch:
        figures_file = Path(scratch) / "figures.jsonl"
        spec = {"notebook": str(path), "executed": str(executed_dir / path.name), "quick": quick, "seed": seed,
                "cell_timeout": cell_timeout}
        env = dict(os.environ, **{results.ENV: str(figures_file), "TF_CPP_MIN_LOG_LEVEL": "2"})
        env.pop("LABS_QUICK", None)  # the QUICK parameter decides, not the caller's environment
        command = [sys.executable, "-m", "labs_lib.runs", "--child", json.dumps(spec)]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the runner, its kernel and whatever the kernel started
            process.communicate()
            outcome = {"status": "timeout", "error": f"stopped after {timeout:.0f} s", "wall_s": round(timeout, 2),
                       "peak_rss_mb": None}
        else:
            lines = [line for line in out.splitlines() if line.startswith("{")]
            if process.returncode == 0 and lines:
                outcome = json.loads(lines[-1])
            else:
                outcome = {"status": "error", "error": f"runner exited {process.returncode}: {err.strip()[-300:]}",
                           "wall_s": None, "peak_rss_mb": None}
        try:
            figures = results.read(figures_file)
        except ValueError as error:
            figures, outcome["error"] = [], f"{outcome.get('error') or ''} unreadable figures: {error}".strip()
    return {"notebook": path.stem, **outcome, "figures": figures}


def run_course(paths: list[Path], *, quick: bool, seed: int = 42, executed_dir: Path | None = None,
               timeout: float = 3600.0, progress=print) -> dict:
    """Run ``paths`` one after the other; the whole record (machine, versions, every notebook)."""
    started = provenance()
    mode = "quick" if quick else "full"
    executed_dir = Path(executed_dir or Path(tempfile.gettempdir()) / f"labs-run-{mode}")
    runs = []
    for path in paths:
        progress(f"running {Path(path).name} ({mode}) ...")
        run = run_notebook(path, quick=quick, seed=seed, executed_dir=executed_dir, timeout=timeout)
        progress(f"  {run['status']}, {_seconds(run['wall_s'])}, peak {_mb(run['peak_rss_mb'])}, "
                 f"{len(run['figures'])} figure(s)" + (f": {run['error']}" if run["error"] else ""))
        runs.append(run)
    walls = [r["wall_s"] for r in runs if r["wall_s"] is not None]
    peaks = [r["peak_rss_mb"] for r in runs if r["peak_rss_mb"] is not None]
    return {
        "kind": "course", "mode": mode, "seed": seed, **started, "executed": str(executed_dir),
        "total_wall_s": round(sum(walls), 1), "max_peak_rss_mb": max(peaks) if peaks else None,
        "notebooks": runs,
    }


def merge(previous: dict, new: dict) -> dict:
    """``new``'s notebooks replace the same notebooks in ``previous``; the others are kept (``labs run --update``).

    Every notebook entry keeps the date it was measured on, so a table built from a merged record can say
    when each figure was taken. The two records must be of the same mode, seed and machine: figures from
    another machine or seed would be mixed silently otherwise.
    """
    for key in ("mode", "seed"):
        if previous.get(key) != new.get(key):
            raise ValueError(f"cannot update a {key}={previous.get(key)!r} results file with a {key}={new.get(key)!r} "
                             "run: write it to another file with -o, or rerun every notebook")
    if machine_line(previous["machine"]) != machine_line(new["machine"]):
        raise ValueError(f"cannot update results measured on {machine_line(previous['machine'])} with a run on "
                         f"{machine_line(new['machine'])}: rerun every notebook here, or write to another file with -o")
    fresh = {run["notebook"]: {**run, "date": new["date"]} for run in new["notebooks"]}
    kept = {run["notebook"]: {"date": previous["date"], **run} for run in previous["notebooks"]}
    try:  # course order; a kept entry whose notebook is gone (renamed, removed) is dropped
        course = [p.stem for p in course_notebooks()]
        names = [n for n in course if n in fresh or n in kept] + [n for n in fresh if n not in course]
    except FileNotFoundError:  # not run from a clone of the course: keep everything, in order of name
        names = sorted(set(fresh) | set(kept))
    merged = [fresh.get(name) or kept[name] for name in names]
    walls = [r["wall_s"] for r in merged if r["wall_s"] is not None]
    peaks = [r["peak_rss_mb"] for r in merged if r["peak_rss_mb"] is not None]
    return {**new, "total_wall_s": round(sum(walls), 1), "max_peak_rss_mb": max(peaks) if peaks else None,
            "notebooks": merged}


def _seconds(value) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _mb(value) -> str:
    return "-" if value is None else f"{value:,.0f} MB"


def table(record: dict) -> str:
    """A plain-text table of a course record."""
    quick = record["mode"] == "quick"
    rows = [f"{'notebook':<36} {'status':<8} {'wall':>9} {'peak RSS':>10}  figures"]
    for run in record["notebooks"]:
        flag = ""
        if quick and run["wall_s"] is not None and run["wall_s"] > QUICK_WALL_TARGET_S:
            flag += f"  over {QUICK_WALL_TARGET_S:.0f} s"
        if quick and run["peak_rss_mb"] is not None and run["peak_rss_mb"] > QUICK_RSS_TARGET_MB:
            flag += f"  over {QUICK_RSS_TARGET_MB:,.0f} MB"
        shown = "; ".join(f"{f['label']} {f['text']}" for f in run["figures"][:3])
        more = f" (+{len(run['figures']) - 3})" if len(run["figures"]) > 3 else ""
        rows.append(f"{run['notebook'][:36]:<36} {run['status']:<8} {_seconds(run['wall_s']):>9} "
                    f"{_mb(run['peak_rss_mb']):>10}  {shown[:90]}{more}{flag}")
    rows.append(f"{'total':<36} {'':<8} {_seconds(record['total_wall_s']):>9} {_mb(record['max_peak_rss_mb']):>10}")
    rows.append(f"{record['mode']} mode, {record['date']}, {machine_line(record['machine'])}")
    return "\n".join(rows)


def default_output(mode: str) -> Path:
    """benchmarks/results/course-<mode>[-gpu].json in the course's folder."""
    suffix = "-gpu" if machine()["gpus"] else ""
    return ROOT / "benchmarks" / "results" / f"course-{mode}{suffix}.json"


def main(args: argparse.Namespace) -> int:
    """``labs run``: run notebooks, print the table, write the results file; exit 1 if any notebook failed."""
    try:
        paths = [Path(p) for p in args.notebooks] if args.notebooks else course_notebooks()
    except FileNotFoundError as error:
        print(f"labs run: {error}", file=sys.stderr)
        return 2
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"labs run: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    quick = not args.full
    record = run_course(paths, quick=quick, seed=args.seed, executed_dir=args.executed, timeout=args.timeout)
    output = Path(args.output) if args.output else default_output(record["mode"])
    output.parent.mkdir(parents=True, exist_ok=True)
    if args.update and output.exists():
        record = merge(json.loads(output.read_text(encoding="utf-8")), record)
    output.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(table(record))
    print(f"results: {output}\nexecuted notebooks: {record['executed']}")
    failed = [r["notebook"] for r in record["notebooks"] if r["status"] != "ok"]
    if failed:
        print(f"failed: {', '.join(failed)} (the executed copies show where)", file=sys.stderr)
        return 1
    return 0


def add_parser(commands) -> None:
    p = commands.add_parser("run", help="run notebooks with papermill: wall time, peak memory, recorded figures")
    p.add_argument("notebooks", nargs="*", help="notebooks to run (default: every notebook of the course)")
    p.add_argument("--full", action="store_true", help="full settings (QUICK=False): the README's figures")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("-o", "--output", help="results file (default: benchmarks/results/course-<mode>.json)")
    p.add_argument("--update", action="store_true",
                   help="replace only these notebooks' entries in the results file, keep the others (same machine)")
    p.add_argument("--executed", type=Path, help="folder for the executed notebooks (default: a temp folder)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds one notebook may take (default 3600)")
    p.set_defaults(func=main)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(_child(json.loads(sys.argv[2]))))
        sys.exit(0)
    sys.exit("usage: labs run [--full] [notebooks ...] (this module's own entry point is for labs run's workers)")
