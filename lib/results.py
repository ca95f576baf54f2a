"""Record each notebook's key results, and collect them into one table.

In a notebook (after ``config.setup("01_rbm_pytorch")``)::

    results.describe(dataset="binarized MNIST (offline subset)", n_train=8000, n_test=2000)
    results.record("test_log_likelihood", -98.7, unit="nats")

writes ``build/results/01_rbm_pytorch.json`` with the scale, the dataset, the device and the
library versions. ``python -m lib.results`` (run by ``make run``) collects every notebook's file
into ``build/results.md``. Every write is atomic: a file is complete or absent.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import sys
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from . import config

__all__ = ["collect", "describe", "load", "record", "reset", "results_dir", "write_atomic"]

_TRACKED = ("numpy", "torch", "tensorflow-cpu", "tensorflow", "keras", "scikit-learn")


def results_dir() -> Path:
    """``$COURSE_BUILD_DIR/results`` (default ``build/results`` in the repository)."""
    return Path(os.environ.get("COURSE_BUILD_DIR", config.BUILD_DIR)) / "results"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _TRACKED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


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
        raise RuntimeError(
            "no notebook name: call lib.config.setup('<notebook>') first or pass notebook=..."
        )
    return name, results_dir() / f"{name}.json"


def load(notebook: str | None = None) -> dict[str, Any]:
    """The recorded results of a notebook (an empty record if nothing was written yet)."""
    name, path = _path(notebook)
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return {"notebook": name, "info": {}, "results": {}}


def reset(notebook: str | None = None) -> None:
    """Forget a notebook's recorded results (``config.setup`` calls this at the start of a run,
    so a file never mixes numbers from two runs or two scales)."""
    _, path = _path(notebook)
    path.unlink(missing_ok=True)


def _save(doc: dict[str, Any], path: Path) -> None:
    doc["scale"] = config.get_scale()
    doc["updated"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    doc["device"] = _device()
    doc["versions"] = _versions()
    write_atomic(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")


def describe(*, notebook: str | None = None, **info: Any) -> None:
    """Record what a notebook's results are about (dataset, its size, model sizes …)."""
    name, path = _path(notebook)
    doc = load(name)
    doc.setdefault("info", {}).update({k: _jsonable(v) for k, v in info.items()})
    _save(doc, path)


def record(name: str, value: float | int | str, *, unit: str = "", notebook: str | None = None, **meta: Any) -> None:
    """Record one key result, e.g. ``record("test_log_likelihood", -98.7, unit="nats")``.

    Numbers must be finite. Extra keyword arguments are stored beside the value.
    """
    if not name:
        raise ValueError("a result needs a name")
    value = _jsonable(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"result {name!r} is not finite ({value}); refusing to record it")
    nb, path = _path(notebook)
    doc = load(nb)
    entry = {"value": value, "unit": unit}
    entry.update({k: _jsonable(v) for k, v in meta.items()})
    doc.setdefault("results", {})[name] = entry
    _save(doc, path)


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
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m lib.results [OUT]``: write the collected table (default build/results.md)."""
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else results_dir().parent / "results.md"
    write_atomic(out, collect())
    print(f"results table: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
