"""The wall time of each lecture under ``make run``: its first recorded run and its latest one,
read from ``build/run_times.jsonl`` (one line per notebook and run, appended by ``make run``)::

    .venv/bin/python benchmarks/bench_lectures.py [--file build/run_times.jsonl]

The first run trains every model; a later one loads them from ``build/cache/`` (lib.cache), so
their ratio is what the cache saves a student who reruns a lecture. The row ``all notebooks`` is
the whole ``make run``; ``jobs`` says how many notebooks ran at once (a notebook's own time is
longer when another runs beside it). Prints ``RATIO lecture_<notebook>_<scale>_cached_over_first
<value>`` per notebook run at least twice at one scale. Reports, never asserts; prints what to do
when there are no records yet.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lib import config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=config.build_dir() / "run_times.jsonl")
    args = parser.parse_args()
    if not args.file.is_file():
        print(f"no lecture run times in {args.file}: run `make run` (twice, to see the cache at work)")
        return
    runs: dict[tuple[str, str], list[dict]] = {}
    for line in args.file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            runs.setdefault((rec["notebook"], rec["scale"]), []).append(rec)
    print(f"{'notebook':<26} | {'scale':<8} | {'first s':>8} | {'latest s':>8} | runs | jobs (first, latest)")
    ratios = {}
    for (nb, scale), recs in sorted(runs.items()):
        first, last = recs[0]["seconds"], recs[-1]["seconds"]
        jobs = f"{recs[0].get('jobs', 1)}, {recs[-1].get('jobs', 1)}"
        print(f"{nb:<26} | {scale:<8} | {first:8.0f} | {last:8.0f} | {len(recs):4d} | {jobs}")
        if len(recs) > 1 and first > 0:
            ratios[f"lecture_{nb.replace(' ', '_')}_{scale}_cached_over_first"] = last / first
    for name, value in ratios.items():
        print(f"RATIO {name} {value:.3f}")


if __name__ == "__main__":
    main()
