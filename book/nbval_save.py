"""A pytest plugin: save the notebooks that nbval executes, with their outputs.

CI tests every notebook at ``COURSE_SCALE=smoke`` under nbval, which runs each cell in a kernel
and checks it, but keeps no outputs. With this plugin the same run also writes each executed
notebook, so that the course book is built from the very run that tested it, without executing
anything twice::

    PYTHONPATH=book pytest -p nbval_save --nbval-save-dir build/smoke/notebooks --nbval-lax ... notebooks/*.ipynb

Each saved notebook holds the outputs nbval received (streams, displays, results, errors) and a
``course_execution`` metadata entry (scale, date, commit, machine) that ``book/build.py`` prints
on the page. Widget state is not kept (nbval does not record it): the book shows a progress bar
by its description. Works with pytest-xdist when a notebook stays on one worker (``tests/schedule.py``).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import nbformat
import pytest


def pytest_addoption(parser):
    parser.getgroup("nbval").addoption(
        "--nbval-save-dir",
        default=None,
        help="write each notebook that nbval ran, with its outputs, into this folder",
    )


def _save_dir(config) -> Path | None:
    value = config.getoption("nbval_save_dir", default=None)
    return Path(value) if value else None


def _output(out) -> dict:
    kind = out["output_type"]
    if kind == "stream":
        return nbformat.v4.new_output("stream", name=out["name"], text=out["text"])
    if kind == "error":
        return nbformat.v4.new_output(
            "error", ename=out["ename"], evalue=out["evalue"], traceback=out["traceback"]
        )
    made = nbformat.v4.new_output(kind, data=out.get("data", {}), metadata=out.get("metadata", {}))
    if kind == "execute_result":
        made["execution_count"] = out.get("execution_count")
    return made


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    yield
    if call.when != "call" or _save_dir(item.config) is None or not hasattr(item, "cell"):
        return
    outputs = getattr(item, "test_outputs", None)
    if outputs is None:  # skipped by nbval
        return
    parent = item.parent
    parent._saved_count = getattr(parent, "_saved_count", 0) + 1
    item.cell["outputs"] = [_output(o) for o in outputs if o.get("output_type") != "clear_output"]
    item.cell["execution_count"] = parent._saved_count


def _machine() -> str:
    import platform

    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"


def _commit() -> str:
    try:
        from lib.results import _commit as commit  # the same commit string the results record
    except ImportError:
        return "unknown"
    return commit()


def pytest_runtest_teardown(item, nextitem):
    folder = _save_dir(item.config)
    if folder is None or not hasattr(item, "cell") or not hasattr(item.parent, "nb"):
        return
    if nextitem is not None and nextitem.parent is item.parent:
        return  # not the notebook's last cell yet
    nb = item.parent.nb
    nb.metadata["course_execution"] = {
        "scale": os.environ.get("COURSE_SCALE", "lecture"),
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "commit": _commit(),
        "machine": _machine(),
        "by": "nbval (make test)",
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(str(item.parent.fspath)).name
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, str(tmp))
    tmp.replace(path)
