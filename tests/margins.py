"""Why every learning check's bound is where it is: measured, per scale and seed, into margins.json.

A lecture states each learning check in one line (:mod:`lib.checks`) with a bound per scale. The
evidence for those bounds lives here, not in the lecture: ``tests/margins.json`` holds, for every
check of every lecture, the values that real runs measured at each scale (several seeds at
``smoke`` and ``lecture``, one at ``untrained``), with the bound each run asserted, the commit and
the date. ``tests/test_margins.py`` holds the file against the lectures: every check has its
measurements, every measured value clears the bound its lecture states now, every ``untrained``
value fails it. A bound edited in a lecture without new measurements fails the tests.

The file is written by this script, never by hand::

    python tests/margins.py --scale smoke --seeds 0 1 2          # every lecture, three seeds each
    python tests/margins.py --scale untrained                     # the negative control's values
    python tests/margins.py --scale lecture --seeds 0 1 --notebooks 04_vae_pytorch

``--rebound`` takes a lecture's bounds as they stand now into the file without running anything, for
a bound chosen from values already measured (a check's value does not depend on its bound); it
prints every measured value that the new bound would fail.

Each run executes the notebook in a kernel of its own (``COURSE_SEED`` = the seed, the cache off
at ``smoke`` and ``untrained``, each seed's own build folder under ``build/margins/``), two at a
time, reads the checks it recorded, and replaces that notebook's measurements at that scale.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARGINS = REPO / "tests" / "margins.json"
NOTEBOOKS = REPO / "notebooks"


def load(path: Path = MARGINS) -> dict:
    """``{notebook: {check: {"op", "what", "measured": {scale: {"bound", "values": {seed: value},
    "commit", "date"}}}}}`` (empty when the file does not exist)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def run_one(
    notebook: str, scale: str, seed: int, build: Path, threads: int
) -> tuple[str, int, dict, str, float]:
    """Execute one notebook at ``scale`` with ``COURSE_SEED=seed``; return its recorded checks and
    the commit it ran at and its seconds (errors are allowed: at ``untrained`` every check fails)."""
    import nbformat
    from nbclient import NotebookClient

    env = {
        "COURSE_SCALE": scale,
        "COURSE_SEED": str(seed),
        "COURSE_BUILD_DIR": str(build),
        "COURSE_CACHE": "on" if scale in ("lecture", "full") else "off",
        "COURSE_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "MPLBACKEND": "Agg",
    }
    os.environ.update(env)
    nb = nbformat.read(NOTEBOOKS / f"{notebook}.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=None, kernel_name="python3", allow_errors=True, shutdown_kernel="immediate",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )  # fmt: skip
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    path = build / "results" / f"{notebook}.json"
    doc = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return notebook, seed, doc.get("checks", {}), doc.get("commit", "unknown"), seconds


def merge(margins: dict, notebook: str, scale: str, runs: dict[int, dict], commit: str) -> None:
    """Replace ``notebook``'s measurements at ``scale`` by ``runs`` (``{seed: checks}``)."""
    entries = margins.setdefault(notebook, {})
    for entry in entries.values():
        entry.get("measured", {}).pop(scale, None)
    for seed, checks in sorted(runs.items()):
        for name, c in checks.items():
            entry = entries.setdefault(name, {"op": c["op"], "what": c["what"], "measured": {}})
            entry.update(op=c["op"], what=c["what"])
            at = entry["measured"].setdefault(
                scale,
                {"bound": c["bound"], "values": {}, "commit": commit, "date": dt.date.today().isoformat()},
            )
            at["bound"] = c["bound"]
            at["values"][str(seed)] = c["value"]
    for name in [n for n, e in entries.items() if not e.get("measured")]:
        del entries[name]  # a check no run recorded any more


def rebound(margins: dict, notebook: str, scale: str) -> list[str]:
    """Set the recorded ``scale`` bounds of ``notebook``'s checks to what its lecture states now;
    return the measured values that fail them."""
    import re

    sys.path.insert(0, str(REPO / "tests"))
    from test_margins import static_checks

    checks, problems = static_checks(NOTEBOOKS / f"{notebook}.py")
    if problems:
        raise SystemExit(f"{notebook}: {problems}")
    failing = []
    for name, entry in margins.get(notebook, {}).items():
        at = entry["measured"].get(scale)
        match = next((c for c in checks if re.fullmatch(c["pattern"] + r"(\[[^]]+\])?", name)), None)
        if at is None or match is None:
            continue
        bound = match["bounds"]["smoke" if scale == "untrained" else scale]
        at["bound"] = bound
        for seed, v in at["values"].items():
            passed = v is not None and (v > bound if match["op"] == ">" else v < bound)
            if passed == (scale == "untrained"):
                failing.append(f"{notebook} {name} seed {seed}: {v} {match['op']} {bound} at {scale}")
    return failing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", required=True, choices=["smoke", "lecture", "full", "untrained"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--notebooks", nargs="*", help="default: every lecture with learning checks")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=MARGINS)
    parser.add_argument("--rebound", action="store_true", help="take the lectures' bounds now, run nothing")
    args = parser.parse_args(argv)
    if args.rebound:
        margins = load(args.out)
        failing = [f for n in (args.notebooks or list(margins)) for f in rebound(margins, n, args.scale)]
        args.out.write_text(json.dumps(margins, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(
            "\n".join(failing) or f"every measured value is on the right side of the new {args.scale} bounds"
        )
        return 1 if failing else 0
    names = args.notebooks or sorted(
        p.stem
        for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")
        if "learning-check" in p.read_text(encoding="utf-8")
    )
    names = [n.removesuffix(".ipynb").removesuffix(".py").split("/")[-1] for n in names]
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    runs: dict[str, dict[int, dict]] = {n: {} for n in names}
    commits: dict[str, str] = {}
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(
                run_one, n, args.scale, s, REPO / "build" / "margins" / args.scale / f"seed{s}", threads
            )
            for n in names
            for s in args.seeds
        ]
        for future in as_completed(futures):
            notebook, seed, checks, commit, seconds = future.result()
            runs[notebook][seed] = checks
            commits[notebook] = commit
            print(
                f"{time.perf_counter() - start:6.0f} s  {notebook} seed {seed}: {len(checks)} checks, "
                f"ran {seconds:.0f} s",
                flush=True,
            )
            for name, c in checks.items():
                print(
                    f"          {name}: {c['value']} {c['op']} {c['bound']}: {'ok' if c['passed'] else 'FAILED'}"
                )
    margins = load(args.out)
    for notebook in names:
        merge(margins, notebook, args.scale, runs[notebook], commits.get(notebook, "unknown"))
    args.out.write_text(json.dumps(margins, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{args.out}: {args.scale} measurements of {len(names)} notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
