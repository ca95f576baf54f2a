"""The lock, proven for every platform and Python the course supports, without installing anything.

``requirements.lock`` is one universal lock, made by ``make lock`` (uv's universal resolution of
``pyproject.toml``): every package pinned once, platform-only packages (``tensorflow-cpu`` or
``tensorflow``, Jupyter's ``pywinpty`` and ``appnope``, torch's CUDA libraries) behind environment
markers. This module checks two things with uv's resolver, which can resolve for another
platform than its own:

1. **fresh**: resolving ``pyproject.toml`` again, with the lock's pins as preferences, gives the
   lock byte for byte (a lock that is stale against ``pyproject.toml``, or edited by hand, fails);
2. **the grid**: for each cell of :data:`GRID` (Linux x86_64 and aarch64, macOS arm64 14+,
   Windows x64; Python 3.11.5, 3.12 and 3.13), the lock's pins that apply there resolve from
   binary wheels alone, and need no package that the lock does not pin.

Run as ``python tests/platform_grid.py`` (``make check-lock``; CI runs it every time), or with
``--make-lock`` to write the lock (``make lock``). It needs
uv (installed by ``make env``) and the package index; it installs and downloads no wheel.
``UV_PYTHON_DOWNLOADS=never`` keeps uv from fetching an interpreter for each cell.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"

#: (name, uv's target triple) of every platform students bring; macOS needs 14 or later (torch 2.13
#: has no wheel for an older macOS, and none for Intel Macs at all).
PLATFORMS: tuple[tuple[str, str], ...] = (
    ("Linux x86_64", "x86_64-unknown-linux-gnu"),
    ("Linux aarch64", "aarch64-unknown-linux-gnu"),
    ("macOS arm64 (14+)", "aarch64-apple-darwin"),
    ("Windows x64", "x86_64-pc-windows-msvc"),
)
#: The oldest supported patch release of the oldest Python, and the newest two.
PYTHONS: tuple[str, ...] = ("3.11.5", "3.12", "3.13")
MACOS_TARGET = "14.0"

#: The command that makes the lock (the header of requirements.lock names it).
LOCK_ARGS = ["pip", "compile", "--quiet", "--universal", "--python-version", PYTHONS[0],
             "pyproject.toml", "--extra", "dev", "--custom-compile-command", "make lock"]  # fmt: skip


@dataclass(frozen=True)
class Cell:
    platform: str  # a readable name
    triple: str  # uv's --python-platform
    python: str  # uv's --python-version

    def __str__(self) -> str:
        return f"{self.platform}, Python {self.python}"


GRID: tuple[Cell, ...] = tuple(Cell(name, triple, py) for name, triple in PLATFORMS for py in PYTHONS)


@dataclass(frozen=True)
class Outcome:
    cell: Cell
    ok: bool
    seconds: float
    message: str  # why it failed, or how many packages it resolved


def uv_command() -> list[str]:
    """How to run uv: the ``uv`` beside this interpreter's scripts, else on PATH.

    Raises:
        FileNotFoundError: uv is not installed (``make env`` installs it into the venv).
    """
    found = shutil.which("uv", path=sysconfig.get_path("scripts")) or shutil.which("uv")
    if found is None:
        raise FileNotFoundError(
            "uv not found: `make env` installs it into .venv; elsewhere `python -m pip install uv`"
        )
    return [found]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Resolve against the package index alone: a machine's local wheels (find-links, such as a CPU
    # torch build) must not leak into the lock or decide a cell.
    for key in ("UV_FIND_LINKS", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_TORCH_BACKEND"):
        env.pop(key, None)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["MACOSX_DEPLOYMENT_TARGET"] = MACOS_TARGET
    return env


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


def pins(text: str) -> set[tuple[str, str]]:
    """The (normalised name, version) pairs of a requirements file, markers ignored."""
    found = set()
    for line in text.splitlines():
        m = _PIN.match(line.strip())
        if m:
            found.add((re.sub(r"[-_.]+", "-", m[1]).lower(), m[2]))
    return found


def check_cell(cell: Cell, lock: Path = LOCK) -> Outcome:
    """Resolve ``lock`` for one cell, binary wheels only; every package it needs must be pinned in it."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "resolved.txt"
        cmd = [*uv_command(), "pip", "compile", "--quiet", "--no-header", "--no-annotate", str(lock),
               "--python-platform", cell.triple, "--python-version", cell.python,
               "--only-binary", ":all:", "-o", str(out)]  # fmt: skip
        run = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=REPO)
        seconds = time.perf_counter() - start
        if run.returncode != 0:
            return Outcome(cell, False, seconds, _why(run.stderr))
        resolved = pins(out.read_text(encoding="utf-8"))
    unpinned = sorted(f"{n}=={v}" for n, v in resolved - pins(lock.read_text(encoding="utf-8")))
    if unpinned:
        return Outcome(cell, False, seconds, "needs what the lock does not pin: " + ", ".join(unpinned))
    return Outcome(cell, True, seconds, f"{len(resolved)} packages, all from wheels")


def _why(stderr: str) -> str:
    """uv's explanation, without its hints; says so when the index could not be reached."""
    lines = [ln.rstrip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("hint:")]
    text = " ".join(" ".join(lines).split())
    if "No solution found" not in text and any(
        s in text for s in ("Failed to fetch", "error sending request", "dns error", "Connection")
    ):
        return "the package index could not be reached: " + text[:300]
    return text[:600]


def check_grid(cells: Iterable[Cell] = GRID, lock: Path = LOCK, jobs: int = 4) -> list[Outcome]:
    """Every cell, ``jobs`` at a time (uv waits mostly on the index)."""
    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(lambda c: check_cell(c, lock), cells))


def make_lock(
    out: Path, preferences: Path | None = LOCK, upgrade: bool = False
) -> subprocess.CompletedProcess[str]:
    """Write the universal lock of ``pyproject.toml`` to ``out`` (``make lock``).

    uv keeps the pins already in ``out`` wherever they still satisfy ``pyproject.toml``;
    ``preferences``, when given, is copied to ``out`` first, so that its pins are the ones kept.
    ``upgrade`` moves every pin to its newest allowed version instead."""
    if preferences is not None and preferences.resolve() != out.resolve():
        shutil.copyfile(preferences, out)
    cmd = [*uv_command(), *LOCK_ARGS, *(["--upgrade"] if upgrade else []), "-o", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=REPO)


def check_fresh(lock: Path = LOCK) -> tuple[bool, str]:
    """Does ``lock`` equal what ``make lock`` makes of ``pyproject.toml`` now?"""
    with tempfile.TemporaryDirectory() as tmp:
        again = Path(tmp) / "requirements.lock"
        run = make_lock(again, preferences=lock)
        if run.returncode != 0:
            return False, "pyproject.toml does not resolve: " + _why(run.stderr)
        old, new = lock.read_text(encoding="utf-8"), again.read_text(encoding="utf-8")
    if old == new:
        return True, "requirements.lock is what `make lock` makes of pyproject.toml"
    gone, added = sorted(pins(old) - pins(new)), sorted(pins(new) - pins(old))
    detail = "; ".join(
        part for part in (
            "pinned but no longer resolved: " + ", ".join(f"{n}=={v}" for n, v in gone) if gone else "",
            "resolved but not pinned: " + ", ".join(f"{n}=={v}" for n, v in added) if added else "",
        ) if part
    ) or "same pins, other markers or text"  # fmt: skip
    return (
        False,
        f"requirements.lock is stale against pyproject.toml ({detail}): run `make lock` and commit it",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lock", type=Path, default=LOCK, help="the lock to check (default: requirements.lock)"
    )
    parser.add_argument("--no-fresh", action="store_true", help="skip the freshness check")
    parser.add_argument("--make-lock", action="store_true", help="write the lock instead (make lock)")
    parser.add_argument("--upgrade", action="store_true", help="with --make-lock: every pin to its newest")
    args = parser.parse_args(argv)
    if args.make_lock:
        run = make_lock(args.lock, preferences=None, upgrade=args.upgrade)
        print(run.stderr, end="")
        return run.returncode
    start = time.perf_counter()
    failed = 0
    if not args.no_fresh:
        fresh, why = check_fresh(args.lock)
        print(("ok    " if fresh else "FAIL  ") + why)
        failed += not fresh
    print(f"the lock on {len(PLATFORMS)} platforms × {len(PYTHONS)} Pythons, binary wheels only:")
    for o in check_grid(lock=args.lock):
        print(f"{'ok  ' if o.ok else 'FAIL'}  {o.cell!s:<34} {o.seconds:5.1f} s  {o.message}")
        failed += not o.ok
    print(f"{'all passed' if not failed else f'{failed} failed'} in {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
