"""Record each notebook's key results, and collect them into one table.

In a notebook (after ``config.setup("01_rbm_pytorch")``)::

    results.describe(dataset="binarized MNIST (offline subset)", n_train=8000, n_test=2000)
    results.record("test_log_likelihood", -98.7, unit="nats", key="exact test log-likelihood")

writes ``build/results/01_rbm_pytorch.json`` with the scale, the dataset, the device, the
commit and the library versions. ``python -m lib.results`` collects every notebook's file into
``build/results.md`` (``make run`` does, through :mod:`lib.comparison`, which builds on this module); ``python -m lib.results --readme README.md``
(``make readme``) rewrites the README's table of key results (those recorded with ``key=``)
between its ``<!-- results:begin -->`` and ``<!-- results:end -->`` markers, with where the
numbers come from. Every write is atomic: a file is complete or absent.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from . import config
from .atomic import write_atomic

__all__ = [
    "checks_table",
    "collect",
    "describe",
    "key_results_table",
    "load",
    "record",
    "record_check",
    "reset",
    "results_dir",
    "write_atomic",
]

_TRACKED = ("numpy", "torch", "tensorflow-cpu", "tensorflow", "keras", "scikit-learn")


def results_dir() -> Path:
    """``$COURSE_BUILD_DIR/results`` (default ``build/results`` in the repository)."""
    return config.build_dir() / "results"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _TRACKED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _commit() -> str:
    """The checked-out commit (with ``+dirty`` for uncommitted changes), or ``unknown``."""
    try:
        run = lambda *a: subprocess.run(  # noqa: E731
            ["git", "-C", str(config.REPO_ROOT), *a], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        commit = run("rev-parse", "--short=10", "HEAD")
        return commit + ("+dirty" if run("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _machine() -> str:
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"


def _device() -> str:
    torch = sys.modules.get("torch")
    if torch is not None:
        if torch.cuda.is_available():
            return f"cuda ({torch.cuda.get_device_name(0)})"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
    return f"cpu ({os.cpu_count()} cores)"


def _path(notebook: str | None) -> tuple[str, Path]:
    name = notebook or config.current_notebook()
    if not name:
        raise RuntimeError("no notebook name: call lib.config.setup('<notebook>') first or pass notebook=...")
    return name, results_dir() / f"{name}.json"


def load(notebook: str | None = None) -> dict[str, Any]:
    """The recorded results of a notebook (an empty record if nothing was written yet)."""
    name, path = _path(notebook)
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return {"notebook": name, "info": {}, "results": {}}


def _current(name: str) -> dict[str, Any]:
    """This run's record: what :func:`load` returns if the same run (``config.run_id``) wrote
    it, else a fresh record. A new run of a notebook never mixes with an earlier run's numbers."""
    doc = load(name)
    if doc.get("run") != config.run_id():
        doc = {"notebook": name, "info": {}, "results": {}}
    return doc


def reset(notebook: str | None = None) -> None:
    """Delete a notebook's recorded results file."""
    _, path = _path(notebook)
    path.unlink(missing_ok=True)


def _save(doc: dict[str, Any], path: Path) -> None:
    doc["run"] = config.run_id()
    doc["scale"] = config.get_scale()
    doc["updated"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    doc["device"] = _device()
    doc["machine"] = _machine()
    doc.setdefault("commit", _commit())
    doc["versions"] = _versions()
    write_atomic(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")


def describe(*, notebook: str | None = None, **info: Any) -> None:
    """Record what a notebook's results are about (dataset, its size, model sizes …)."""
    name, path = _path(notebook)
    doc = _current(name)
    doc.setdefault("info", {}).update({k: _jsonable(v) for k, v in info.items()})
    _save(doc, path)


def record(
    name: str,
    value: float | int | str,
    *,
    unit: str = "",
    key: str | None = None,
    notebook: str | None = None,
    **meta: Any,
) -> None:
    """Record one result, e.g. ``record("test_log_likelihood", -98.7, unit="nats")``.

    Numbers must be finite. ``key="exact test log-likelihood"`` marks one of the notebook's key
    results, with the words that describe it in the README's table. Extra keyword arguments are
    stored beside the value.
    """
    if not name:
        raise ValueError("a result needs a name")
    value = _jsonable(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"result {name!r} is not finite ({value}); refusing to record it")
    nb, path = _path(notebook)
    doc = _current(nb)
    entry: dict[str, Any] = {"value": value, "unit": unit}
    if key:
        entry["key"] = key
    entry.update({k: _jsonable(v) for k, v in meta.items()})
    doc.setdefault("results", {})[name] = entry
    _save(doc, path)


def record_check(
    name: str, *, value: float, bound: float, op: str, what: str, passed: bool, notebook: str | None = None
) -> None:
    """Record a learning check (:mod:`lib.checks` calls this): its value, its bound, the
    comparison ``op`` (``">"`` or ``"<"``), what it compares against, and whether it passed.
    A non-finite value is recorded as ``None`` (it failed)."""
    if op not in (">", "<"):
        raise ValueError(f"a check compares with '>' or '<', got {op!r}")
    nb, path = _path(notebook)
    doc = _current(nb)
    finite = math.isfinite(value)
    doc.setdefault("checks", {})[name] = {
        "value": value if finite else None,
        "bound": bound,
        "op": op,
        "margin": (value - bound if op == ">" else bound - value) if finite else None,
        "what": what,
        "passed": bool(passed),
    }
    _save(doc, path)


def checks_table(directory: Path | None = None) -> str:
    """Every recorded learning check, one row each: its value, its bound and by how much it
    passed (or failed), at the scale of the run that recorded it."""
    lines = [
        "## Learning checks",
        "",
        "| notebook | scale | check | value | bound | margin | passed |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for d in _docs(directory):
        for name, c in d.get("checks", {}).items():
            lines.append(
                f"| {d.get('notebook', '?')} | {d.get('scale', '')} | {name} | {_fmt(c.get('value'))} "
                f"| {c['op']} {_fmt(c['bound'])} | {_fmt(c.get('margin'))} | {'yes' if c['passed'] else '**no**'} |"
            )
    if len(lines) == 4:
        lines.append("| (no learning checks recorded yet) | | | | | | |")
    return "\n".join(lines) + "\n"


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item") and callable(v.item):  # numpy / torch scalars
        v = v.item()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return str(v)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
    return str(v)


def collect(directory: Path | None = None) -> str:
    """Collect every ``<notebook>.json`` into one Markdown table (returned, not written)."""
    directory = Path(directory) if directory is not None else results_dir()
    lines = [
        "# Results",
        "",
        "| notebook | scale | data | result | value | unit |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        info = doc.get("info", {})
        data = info.get("dataset", "")
        if "n_train" in info:
            data += f" ({info['n_train']} train"
            data += f", {info['n_test']} test)" if "n_test" in info else ")"
        for key, entry in doc.get("results", {}).items():
            lines.append(
                f"| {doc.get('notebook', path.stem)} | {doc.get('scale', '')} | {data} | {key} "
                f"| {_fmt(entry.get('value'))} | {entry.get('unit', '')} |"
            )
    if not files:
        lines.append("| (no results recorded yet) | | | | | |")
    return "\n".join(lines) + "\n\n" + checks_table(directory)


README_BEGIN = "<!-- results:begin -->"
README_END = "<!-- results:end -->"


def _docs(directory: Path | None) -> list[dict[str, Any]]:
    directory = Path(directory) if directory is not None else results_dir()
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    return [json.loads(p.read_text(encoding="utf-8")) for p in files]


def key_results_table(directory: Path | None = None) -> str:
    """The key results (recorded with ``key=``) of every notebook, one row a notebook, preceded
    by where they come from: the scale, date, commit and machine of the run that recorded them.

    Raises:
        ValueError: if no notebook recorded a key result (run ``make run`` first).
    """
    docs = [d for d in _docs(directory) if any("key" in e for e in d.get("results", {}).values())]
    if not docs:
        raise ValueError("no key results recorded: run `make run` (it writes build/results/) first")
    provenance = sorted(
        {
            (d.get("scale", "?"), d.get("updated", "?")[:10], d.get("commit", "?"), d.get("machine", "?"))
            for d in docs
        }
    )
    lines = ["Generated by `make readme` from the results that `make run` recorded:", ""]
    for scale, date, commit, machine in provenance:
        lines.append(f"- `COURSE_SCALE={scale}`, run on {date} at commit `{commit}`, {machine}")
    lines += ["", "| notebook | key results |", "| --- | --- |"]
    for d in docs:
        cells = [
            f"{e['key']} {_fmt(e['value'])}{(' ' + e['unit']) if e.get('unit') else ''}"
            for e in d["results"].values()
            if "key" in e
        ]
        lines.append(f"| {d['notebook']} | {'; '.join(cells)} |")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, directory: Path | None = None) -> None:
    """Replace what stands between the README's results markers by :func:`key_results_table`."""
    text = readme.read_text(encoding="utf-8")
    if text.count(README_BEGIN) != 1 or text.count(README_END) != 1:
        raise ValueError(f"{readme} needs exactly one {README_BEGIN} and one {README_END} line")
    head, rest = text.split(README_BEGIN)
    _, tail = rest.split(README_END)
    write_atomic(readme, f"{head}{README_BEGIN}\n{key_results_table(directory)}{README_END}{tail}")


def main(argv: list[str] | None = None) -> int:
    """``python -m lib.results [OUT]``: write the collected table (default build/results.md);
    ``python -m lib.results --readme README.md``: rewrite the README's key-results table.
    (``python -m lib.comparison`` writes the table and the comparison of the models beside it.)"""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--readme"]:
        if len(argv) != 2:
            print("usage: python -m lib.results --readme README.md", file=sys.stderr)
            return 2
        try:
            update_readme(Path(argv[1]))
        except (OSError, ValueError) as exc:
            print(f"cannot update {argv[1]}: {exc}", file=sys.stderr)
            return 1
        print(f"key results written into {argv[1]}")
        return 0
    out = Path(argv[0]) if argv else results_dir().parent / "results.md"
    write_atomic(out, collect())
    print(f"results table: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
