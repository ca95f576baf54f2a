"""``make run``: execute the lectures into ``build/``, several at a time, each with its HTML page.

    python book/run.py [--jobs 2] [--build build] [notebooks/NN_name.ipynb ...]

Without notebooks it runs every lecture (``notebooks/NN_*.ipynb``), as ``make run`` does, on any
platform (on Windows, ``python book\run.py``): it first clears the results, executed notebooks and
pages of the last run, and at the end writes the results table and the comparison of the models
(``<build>/results.md``, ``python -m lib.comparison``).

Each notebook is executed in its own kernel (nbclient, no time limit) at ``COURSE_SCALE`` (default
``lecture``); the executed notebook goes to ``<build>/notebooks/`` and its HTML page to
``<build>/html/``. ``--jobs`` notebooks run at once, each in a process of its own, and each gets
its share of the cores (``COURSE_THREADS``, read by ``lib.config.threads``, and the thread pools
of OpenMP, BLAS and TensorFlow): most lectures train on one thread anyway, and two notebooks that
each spin two threads on two cores slow each other down many times over. The notebooks are
independent of each other (each records its own results; ``python -m lib.comparison`` gathers them
afterwards), so the order does not matter for what they compute; the longest, by the last
recorded run (else by ``FIRST_RUN_SECONDS``), start first.

Every finished notebook appends ``{"notebook", "scale", "seconds", "jobs", "date"}`` to
``<build>/run_times.jsonl``, and the whole run one line with ``"notebook": "all notebooks"``:
``benchmarks/bench_lectures.py`` compares the first run (which trains) with the latest (which loads
the trained models from ``build/cache/``). A notebook that fails is saved as far as it ran, its
error is printed, the others go on, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from lib import cli, config

ALL = "all notebooks"
REPO = Path(__file__).resolve().parent.parent


def lectures() -> list[Path]:
    """Every lecture notebook, in teaching order: ``notebooks/NN_*.ipynb``."""
    return sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def last_seconds(times_file: Path, scale: str) -> dict[str, float]:
    """Each notebook's wall time in its latest recorded run at ``scale`` (empty without records)."""
    seconds: dict[str, float] = {}
    if times_file.is_file():
        for line in times_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                if rec.get("scale") == scale:
                    seconds[rec["notebook"]] = float(rec["seconds"])
    return seconds


#: Seconds of each lecture's first run (it trains every model) at lecture scale on a 2-core machine,
#: two at a time (commit 9d02936): the order of a run on a machine that has no records yet, so that
#: lecture 08, the longest, does not start last and run alone on one of two cores at the end.
FIRST_RUN_SECONDS: dict[str, float] = {
    "08_diffusion": 1155,
    "06_dcgan_tensorflow": 279,
    "01_rbm_pytorch": 268,
    "05_vae_keras": 164,
    "03_ebm_langevin": 145,
    "09_rbm_quantum_states": 118,
    "07_ising_generative": 99,
    "10_autoregressive_and_flows": 83,
    "11_neural_samplers": 216,
    "04_vae_pytorch": 80,
    "02_rbm_keras": 22,
    "00_course_tour": 8,
}


def longest_first(notebooks: list[Path], seconds: dict[str, float]) -> list[Path]:
    """Notebooks by their last wall time (``seconds``; else ``FIRST_RUN_SECONDS``), longest first;
    a notebook in neither comes first of all (it may train for long), in the given order."""
    known = {**FIRST_RUN_SECONDS, **seconds}
    return sorted(notebooks, key=lambda p: -known.get(p.stem, float("inf")))


def share_of_cores(jobs: int) -> dict[str, str]:
    """The environment that gives each of ``jobs`` notebooks run at once its share of the cores."""
    n = str(max(1, (os.cpu_count() or 1) // jobs))
    names = (
        "COURSE_THREADS",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "TF_NUM_INTRAOP_THREADS",
    )
    return dict.fromkeys(names, n)


def execute(notebook: Path, build: Path, jobs: int) -> tuple[str, float, str | None]:
    """Run one notebook; write it and its HTML page. Returns (name, seconds, error or None)."""
    if jobs > 1:
        os.environ.update(share_of_cores(jobs))  # this worker process's kernels inherit it
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    start = time.perf_counter()
    nb = nbformat.read(notebook, as_version=4)
    # The kernel is stopped at once after the last cell (a graceful shutdown waits 1-1.5 s for
    # PyTorch or TensorFlow to tear down); everything a notebook writes is written by then.
    client = NotebookClient(
        nb,
        timeout=None,
        kernel_name="python3",
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"
    out = build / "notebooks" / notebook.name
    nbformat.write(nb, out)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (build / "html" / notebook.with_suffix(".html").name).write_text(html, encoding="utf-8")
    return notebook.stem, time.perf_counter() - start, error


def _record(times_file: Path, name: str, scale: str, seconds: float, jobs: int) -> None:
    rec = {
        "notebook": name,
        "scale": scale,
        "seconds": round(seconds),
        "jobs": jobs,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    with times_file.open("a", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(rec) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every lecture")
    parser.add_argument("--build", type=Path, default=Path("build"))
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at once (default 2)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    every = not args.notebooks
    args.notebooks = lectures() if every else cli.expand_globs(args.notebooks)  # PowerShell, cmd: no globs
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing or not args.notebooks:
        parser.error(f"no such notebook: {', '.join(missing) or 'notebooks/NN_*.ipynb'}")
    scale, build = config.get_scale(), args.build.resolve()  # an invalid COURSE_SCALE stops here
    # The kernels inherit this process's environment: they record into this build folder, and draw
    # figures inline (a non-interactive MPLBACKEND, as CI sets, would hide them).
    os.environ["COURSE_BUILD_DIR"] = str(build)
    os.environ.pop("MPLBACKEND", None)
    if every:  # a whole run replaces the last one
        for sub in ("results", "notebooks", "html"):
            shutil.rmtree(build / sub, ignore_errors=True)
    for sub in ("notebooks", "html"):
        (build / sub).mkdir(parents=True, exist_ok=True)
    times_file = build / "run_times.jsonl"
    order = longest_first([p.resolve() for p in args.notebooks], last_seconds(times_file, scale))
    print(f"== {len(order)} notebooks at COURSE_SCALE={scale}, {args.jobs} at a time", flush=True)
    start, failed = time.perf_counter(), []
    # Workers start afresh ("spawn") on every platform, as Windows and macOS must: a fork of this
    # process, whose threads may hold locks, can deadlock (Python 3.12 and later warn of it).
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(execute, p, build, args.jobs) for p in order]
        for future in as_completed(futures):
            name, seconds, error = future.result()
            if error is None:
                print(f"== {name} done in {seconds:.0f} s", flush=True)
                _record(times_file, name, scale, seconds, args.jobs)
            else:
                print(f"== {name} FAILED after {seconds:.0f} s: {error}", flush=True)
                failed.append(name)
    total = time.perf_counter() - start
    if failed:
        print(f"== failed: {', '.join(failed)} (executed as far as they ran: {build / 'notebooks'})")
        return 1
    _record(times_file, ALL, scale, total, args.jobs)
    print(f"== all {len(order)} notebooks in {total:.0f} s", flush=True)
    if every:
        from lib import comparison

        return comparison.main([str(build / "results.md")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
