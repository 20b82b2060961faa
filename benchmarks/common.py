"""What every benchmark shares: figures, interleaved timing, the results files.

A benchmark module has ``run(quick: bool) -> list[dict]`` returning figures made with :func:`figure`, and
``main()`` so that it also runs on its own (``python -m benchmarks.overhead --quick``). Timings on a shared
machine are noisy, so comparisons are ratios of runs interleaved in one process, never absolute times
checked against a number.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def figure(name: str, value, unit: str, *, target: str | None = None, ok: bool | None = None,
           detail: str = "", samples: dict[str, list[float]] | None = None) -> dict:
    """One measured figure. ``target`` says what it should be ("<= 1.05"); ``ok`` whether it is;
    ``samples`` keeps the raw timings (seconds per round, per arm) in the results file.

    A figure that could not be measured has ``value`` None (or NaN): the suite reports it as missing.
    """
    if value is not None:
        value = float(value)
    fig = {"name": name, "value": value, "unit": unit, "target": target, "ok": ok, "detail": detail}
    if samples:
        fig["samples"] = {str(arm): [round(float(t), 4) for t in times] for arm, times in samples.items()}
    return fig


def missing(fig: dict) -> bool:
    return fig.get("value") is None or (isinstance(fig["value"], float) and not math.isfinite(fig["value"]))


def interleaved(arms: dict[str, Callable[[], float | None]], repeats: int) -> dict[str, list[float]]:
    """Time each arm ``repeats`` times, alternating the order (ABBA...), so drift hits all arms alike.

    An arm returns the seconds it measured itself, or None to be timed from the outside.
    """
    times: dict[str, list[float]] = {name: [] for name in arms}
    names = list(arms)
    for i in range(repeats):
        for name in names if i % 2 == 0 else reversed(names):
            start = time.perf_counter()
            inner = arms[name]()
            times[name].append(inner if inner is not None else time.perf_counter() - start)
    return times


def median_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median of the per-round ratios (round i of one arm against round i of the other)."""
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``repeats`` calls of ``fn`` after one warm-up call (``fn`` waits for its result)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def mnist_images(count: int):
    """``count`` MNIST-shaped training images (uint8, 28x28) and labels: MNIST when it is cached or can be
    downloaded, else the offline fallback, repeated as often as needed. Call after ``device.setup``."""
    import numpy as np

    from labs_lib import data

    splits = data.load_mnist(quick=False)
    repeats = -(-count // len(splits.X_train))
    return (np.concatenate([splits.X_train] * repeats)[:count],
            np.concatenate([splits.y_train] * repeats)[:count])


def envelope(name: str, quick: bool, figures: list[dict], seconds: float) -> dict:
    from labs_lib import runs

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"benchmark": name, "mode": "quick" if quick else "full", **runs.provenance(), "load_average": load,
            "seconds": round(seconds, 1), "figures": figures}


def show(figures: list[dict]) -> str:
    """Figures as aligned lines."""
    lines = []
    width = max((len(fig["name"]) for fig in figures), default=0)
    for fig in figures:
        value = "MISSING" if missing(fig) else format_value(fig["value"], fig["unit"])
        verdict = "" if fig["ok"] is None else ("  ok" if fig["ok"] else "  MISSED TARGET")
        target = f"  (target {fig['target']})" if fig["target"] else ""
        lines.append(f"  {fig['name']:<{width}} {value:>16}{target}{verdict}")
        if fig.get("detail"):
            lines.append(f"      {fig['detail']}")
    return "\n".join(lines)


def format_value(value: float, unit: str) -> str:
    """As the README's results table shows it, with an 'x' after a ratio."""
    from labs_lib import report

    return report.format_value(value, unit) + ("x" if unit == "x" else "")


def main(name: str, run: Callable[[bool], list[dict]], doc: str) -> None:
    """The command line of one benchmark module: run it, print its figures, optionally write JSON."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}", description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: checks that every figure comes out")
    parser.add_argument("--json", type=Path, help="write the figures (with machine and versions) to this file")
    args = parser.parse_args()
    start = time.perf_counter()
    figures = run(args.quick)
    record = envelope(name, args.quick, figures, time.perf_counter() - start)
    print(f"{name} ({record['mode']}), {record['seconds']:.0f} s")
    print(show(figures))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
