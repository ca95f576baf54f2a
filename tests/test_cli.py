"""lib.cli: console scripts from the interpreter's scripts directory, wildcards the shell left alone."""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

import pytest

from lib import cli


def _fake_script(folder: Path, name: str) -> Path:
    """An executable file as pip installs a console script: ``name.exe`` on Windows."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name + (".exe" if os.name == "nt" else ""))
    path.write_bytes(b"")
    path.chmod(0o755)
    return path


@pytest.fixture
def scripts_dir(tmp_path, monkeypatch):
    """``sysconfig.get_path("scripts")`` names ``tmp_path/Scripts``, and python.exe sits at the
    root of ``tmp_path``: the layout of a conda env on Windows."""
    scripts = tmp_path / "Scripts"
    get_path = sysconfig.get_path

    def fake_get_path(name, *args, **kwargs):
        return str(scripts) if name == "scripts" else get_path(name, *args, **kwargs)

    monkeypatch.setattr(sysconfig, "get_path", fake_get_path)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python.exe"))
    return scripts


def test_a_console_script_is_found_in_the_scripts_dir_not_beside_python(scripts_dir):
    want = _fake_script(scripts_dir, "jupyter-book")
    _fake_script(Path(sys.executable).parent, "jupyter-book")  # beside python: not where pip puts it
    assert Path(cli.console_script("jupyter-book")) == want


def test_a_missing_console_script_says_where_it_looked(scripts_dir):
    scripts_dir.mkdir()
    with pytest.raises(SystemExit, match=r"jupyter-book not found in .*Scripts"):
        cli.console_script("jupyter-book")


def test_this_environments_scripts_are_found():
    found = Path(cli.console_script("jupytext"))
    assert found.parent == Path(sysconfig.get_path("scripts")) and found.stem == "jupytext"


def test_wildcards_are_expanded_and_the_rest_kept(tmp_path):
    for name in ("02_b.py", "01_a.py", "x[1].py", "notes.md"):
        (tmp_path / name).write_text("", encoding="utf-8")
    assert cli.expand_globs([tmp_path / "[0-9][0-9]_*.py"]) == [tmp_path / "01_a.py", tmp_path / "02_b.py"]
    assert cli.expand_globs([str(tmp_path / "*.md"), tmp_path / "01_a.py"]) == [
        tmp_path / "notes.md",
        tmp_path / "01_a.py",
    ]
    # a file whose name looks like a pattern is itself; a pattern that matches nothing is kept
    assert cli.expand_globs([tmp_path / "x[1].py"]) == [tmp_path / "x[1].py"]
    assert cli.expand_globs([tmp_path / "*.ipynb", tmp_path / "gone.py"]) == [
        tmp_path / "*.ipynb",
        tmp_path / "gone.py",
    ]
