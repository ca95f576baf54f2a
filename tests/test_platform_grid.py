"""tests/platform_grid.py, the check that the lock installs on every supported platform and Python:
it passes the committed lock's cells, and fails a lock with a pin that has no wheel on one platform,
or one that does not pin everything a platform needs.

These tests ask the package index (through uv's resolver; nothing is downloaded but metadata). With
no uv or no index they are skipped, unless ``COURSE_REQUIRE_NETWORK=1`` (set by CI), where that fails.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("platform_grid", REPO / "tests" / "platform_grid.py")
grid = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = grid  # its dataclasses look their module up
_spec.loader.exec_module(grid)

LINUX = grid.Cell("Linux x86_64", "x86_64-unknown-linux-gnu", "3.11.5")
MACOS = grid.Cell("macOS arm64 (14+)", "aarch64-apple-darwin", "3.12")


def _unreachable(why: str) -> None:
    if os.environ.get("COURSE_REQUIRE_NETWORK") == "1":
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def uv():
    try:
        return grid.uv_command()
    except FileNotFoundError as e:
        _unreachable(str(e))


def _lock_with(tmp_path: Path, edit) -> Path:
    text = grid.LOCK.read_text(encoding="utf-8")
    edited = edit(text)
    assert edited != text, "the edit changed nothing"
    path = tmp_path / "requirements.lock"
    path.write_text(edited, encoding="utf-8")
    return path


def _check(cell, lock: Path):
    outcome = grid.check_cell(cell, lock)
    if "could not be reached" in outcome.message:
        _unreachable(outcome.message)
    return outcome


def test_pins_are_read_with_normalised_names_and_without_markers():
    text = "Jinja2==3.1.6\n    # via sphinx\ntensorflow_cpu==2.21.0 ; sys_platform == 'win32'\n-e .\n"
    assert grid.pins(text) == {("jinja2", "3.1.6"), ("tensorflow-cpu", "2.21.0")}


def test_the_grid_is_twelve_cells_of_four_platforms_and_three_pythons():
    assert len(grid.GRID) == 12 and len({c.triple for c in grid.GRID}) == 4
    assert {c.python for c in grid.GRID} == {"3.11.5", "3.12", "3.13"}


def test_the_grid_and_requires_python_agree():
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'requires-python = ">=3.11.5,<3.14"' in text, "update PYTHONS in tests/platform_grid.py too"
    assert grid.PYTHONS[0] == "3.11.5" and grid.PYTHONS[-1] == "3.13"


def test_a_pin_without_a_macos_wheel_fails_the_macos_cell_only(uv, tmp_path):
    # tensorflow-cpu has wheels for Linux x86_64 and Windows x64 alone: its marker keeps it there.
    lock = _lock_with(tmp_path, lambda t: re.sub(r"(?m)^(tensorflow-cpu==[^ ]+) ;.*$", r"\1", t))
    on_macos = _check(MACOS, lock)
    assert not on_macos.ok
    assert "tensorflow-cpu" in on_macos.message and "macosx" in on_macos.message, on_macos.message
    assert _check(LINUX, lock).ok  # the same lock still resolves where the wheel exists


def test_a_lock_that_misses_a_package_fails(uv, tmp_path):
    lock = _lock_with(tmp_path, lambda t: re.sub(r"(?m)^zipp==.*\n", "", t))
    outcome = _check(LINUX, lock)
    assert not outcome.ok and "does not pin: zipp==" in outcome.message, outcome.message
    fresh, why = grid.check_fresh(lock)
    if "could not be reached" in why:
        _unreachable(why)
    assert not fresh and "resolved but not pinned: zipp==" in why, why


def test_the_committed_lock_passes_a_cell(uv):
    outcome = _check(MACOS, grid.LOCK)
    assert outcome.ok, outcome.message
