"""Course run time: every notebook executed with papermill in quick mode, wall time and peak memory.

    python -m benchmarks.course [--quick]

Each notebook runs in a fresh process and kernel (``labs_lib.runs``, as ``labs run`` does); the peak memory is
the kernel's peak resident set (or a larger process the kernel started). Targets: each notebook under 60 s and
under 1.5 GB (Binder gives 2 GB). The whole record (every notebook, the figures it recorded) is written to
``course-quick.json`` next to the other results. ``--quick`` runs two notebooks only (00 and 01): the suite's
quick variant checks that every figure comes out, ``make test`` already runs every notebook.
"""

from __future__ import annotations

import json

from benchmarks.common import RESULTS, figure, main

QUICK_SUBSET = ("00_", "01_")


def run(quick: bool) -> list[dict]:
    from labs_lib import runs

    paths = runs.course_notebooks()
    if quick:
        paths = [p for p in paths if p.name.startswith(QUICK_SUBSET)]
    record = runs.run_course(paths, quick=True, timeout=600, progress=lambda line: None)
    folder = RESULTS / "quick" if quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course-quick.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    figures = []
    for run in record["notebooks"]:
        wall, peak = run["wall_s"], run["peak_rss_mb"]
        failed = run["status"] != "ok"
        detail = f"{run['status']}: {run['error']}" if failed else ""
        figures.append(figure(f"{run['notebook']}: wall time (quick mode)", None if failed else wall, "s",
                              target=f"< {runs.QUICK_WALL_TARGET_S:.0f} s",
                              ok=None if failed else wall < runs.QUICK_WALL_TARGET_S, detail=detail))
        figures.append(figure(f"{run['notebook']}: peak kernel memory", None if failed else peak, "MB",
                              target=f"< {runs.QUICK_RSS_TARGET_MB:,.0f} MB",
                              ok=None if failed or peak is None else peak < runs.QUICK_RSS_TARGET_MB))
    ok = all(r["status"] == "ok" for r in record["notebooks"])
    figures.append(figure(f"course in quick mode, {len(paths)} notebooks: total wall time",
                          record["total_wall_s"] if ok else None, "s"))
    return figures


if __name__ == "__main__":
    main("course", run, __doc__)
