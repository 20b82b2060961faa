"""Measure the course: ``python -m benchmarks`` (``make bench``, ``labs bench``).

    python -m benchmarks            # everything: about 15 minutes on a 2-core laptop
    python -m benchmarks --quick    # small sizes, under 5 minutes: every figure must come out (CI runs it)
    python -m benchmarks --only overhead flops

Each benchmark runs in its own process (a fresh TensorFlow) and writes ``benchmarks/results/<name>.json``
(``benchmarks/results/quick/`` for ``--quick``); the suite prints one table and writes ``summary.json``.
It fails (exit 1) only when a figure is missing (a benchmark crashed or could not measure something),
never because a machine is slow: targets are reported, not enforced. The README's results section is
generated from these files by ``labs results --write-readme``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from benchmarks.common import RESULTS, ROOT, missing, show

BENCHMARKS = ("course", "overhead", "flops", "pipeline", "scaling", "widgets", "grading_throughput", "standin",
              "kv_cache")


def run_one(name: str, quick: bool, folder, timeout: float) -> dict:
    """One benchmark in a child process; its record, or a record saying why there is none."""
    output = folder / f"{name}.json"
    output.unlink(missing_ok=True)
    command = [sys.executable, "-m", f"benchmarks.{name}", "--json", str(output)] + (["--quick"] if quick else [])
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        problem = None if done.returncode == 0 else f"exited {done.returncode}: {done.stderr.strip()[-800:]}"
    except subprocess.TimeoutExpired:
        problem = f"did not finish in {timeout:.0f} s"
    if problem is None and output.exists():
        return json.loads(output.read_text(encoding="utf-8"))
    return {"benchmark": name, "mode": "quick" if quick else "full", "seconds": round(time.perf_counter() - start, 1),
            "figures": [], "error": problem or "wrote no results file"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: every figure must come out")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one benchmark may take")
    args = parser.parse_args(argv)
    folder = RESULTS / "quick" if args.quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    names = args.only or BENCHMARKS
    records, problems = {}, []
    start = time.perf_counter()
    for name in names:
        print(f"==> {name}{' (quick)' if args.quick else ''}", flush=True)
        record = run_one(name, args.quick, folder, args.timeout)
        records[name] = record
        if record.get("error"):
            problems.append(f"{name}: {record['error']}")
            print(f"  FAILED: {record['error']}", flush=True)
            continue
        print(show(record["figures"]), flush=True)
        print(f"  ({record['seconds']:.0f} s)", flush=True)
        problems += [f"{name}: {fig['name']} is missing {('(' + fig['detail'] + ')') if fig['detail'] else ''}"
                     for fig in record["figures"] if missing(fig)]
    from labs_lib import runs

    summary = {
        "mode": "quick" if args.quick else "full", **runs.provenance(),
        "seconds": round(time.perf_counter() - start, 1), "benchmarks": records,
    }
    summary_path = folder / "summary.json"
    if args.only and summary_path.exists():  # a partial run updates its benchmarks in the last summary
        previous = json.loads(summary_path.read_text(encoding="utf-8"))
        summary["benchmarks"] = {**previous.get("benchmarks", {}), **records}
    summary_path.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    everything = [{**fig, "name": f"{name}: {fig['name']}", "detail": ""} for name, r in records.items()
                  for fig in r["figures"]]
    print("\n" + "=" * 40 + " all figures " + "=" * 40 + "\n" + show(everything))
    print(f"\n{len(names)} benchmark(s) in {summary['seconds']:.0f} s on {runs.machine_line(summary['machine'])}")
    print(f"results: {folder}")
    missed = [f"{name}: {fig['name']}" for name, r in records.items() for fig in r["figures"] if fig["ok"] is False]
    if missed:
        print("targets missed on this machine (reported, not a failure):\n  " + "\n  ".join(missed))
    if problems:
        print("MISSING FIGURES:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
