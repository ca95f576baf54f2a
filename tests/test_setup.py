"""How a student sets the course up: the Makefile's choice of Python, its refusals, and the places
that must agree with ``pyproject.toml`` (the supported Pythons, the pinned uv, the README's commands).

The refusals run the real ``make env`` with stand-in interpreters (the real one, told it is another
version), in a temporary folder: an unsupported Python must stop it before anything is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAKEFILE = (REPO / "Makefile").read_text(encoding="utf-8")
PYPROJECT = (REPO / "pyproject.toml").read_text(encoding="utf-8")
README = (REPO / "README.md").read_text(encoding="utf-8")

needs_make = pytest.mark.skipif(
    shutil.which("make") is None or os.name != "posix", reason="the Makefile is for macOS and Linux"
)


def _makefile_value(name: str) -> str:
    m = re.search(rf"^{name}\s*:?=\s*(.+)$", MAKEFILE, re.M)
    assert m, f"{name} is not set in the Makefile"
    return m[1].strip()


def test_the_makefile_supports_what_pyproject_requires():
    requires = re.search(r'^requires-python = "(.+)"$', PYPROJECT, re.M)[1]
    assert requires == f">={_makefile_value('PY_MIN')},<{_makefile_value('PY_BELOW')}"
    env_yml = (REPO / "environment.yml").read_text(encoding="utf-8")
    assert f"python>={_makefile_value('PY_MIN')},<{_makefile_value('PY_BELOW')}" in env_yml


def test_the_readme_installs_the_uv_that_make_pins():
    assert f"uv=={_makefile_value('UV_VERSION')}" in README


def test_the_readme_gives_commands_for_each_kind_of_machine():
    for heading in ("### macOS and Linux", "### Windows", "### conda"):
        assert heading in README
    windows = README[README.index("### Windows") : README.index("### conda")]
    commands = [line.split("#")[0].strip() for line in windows.split("```")[1].splitlines()[1:]]
    assert commands and not any(c.startswith("make") for c in commands), "Windows has no make"
    assert r".venv\Scripts\python -m pytest" in windows


def _stand_in(folder: Path, version: str) -> Path:
    """An executable that runs this interpreter, told that it is Python ``version``."""
    major, minor, micro = (int(x) for x in version.split("."))
    path = folder / f"python{major}.{minor}"
    fake = (
        f"import sys, platform; sys.version_info = ({major}, {minor}, {micro}, 'final', 0); "
        f"platform.python_version = lambda: '{version}'; exec(sys.argv[1])"
    )
    path.write_text(
        f'#!/bin/sh\n[ "$1" = "-c" ] || exit 9  # only -c: a stand-in never makes a venv\n'
        f'exec "{sys.executable}" -c "{fake}" "$2"\n',
        encoding="utf-8",
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _make_env(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    args = ["make", "--no-print-directory", "-C", str(REPO), "env", f"VENV={tmp_path / 'venv'}"]
    args += [f"{k}={v}" for k, v in variables.items()]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


@needs_make
@pytest.mark.parametrize("version", ["3.10.13", "3.11.2", "3.14.0"])
def test_an_unsupported_python_stops_make_before_anything_is_installed(tmp_path, version):
    run = _make_env(tmp_path, PYTHON=str(_stand_in(tmp_path, version)))
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert (
        f"is Python {version}" in out and "supports Python 3.11.5" in out and "Nothing was installed" in out
    )
    assert not (tmp_path / "venv").exists()


@needs_make
def test_without_a_supported_python_make_says_what_it_found_and_what_it_needs(tmp_path):
    old = _stand_in(tmp_path, "3.10.13")
    run = _make_env(tmp_path, PYTHONS=str(old))
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert "No supported Python found" in out and f"{old} is Python 3.10.13" in out
    assert "make PYTHON=" in out
    assert not (tmp_path / "venv").exists()


@needs_make
def test_a_missing_python_is_named(tmp_path):
    run = _make_env(tmp_path, PYTHON="python3.99-not-installed")
    assert run.returncode != 0 and "PYTHON=python3.99-not-installed: not found" in run.stdout + run.stderr
    assert not (tmp_path / "venv").exists()


@needs_make
def test_an_install_cut_short_is_not_taken_as_installed(tmp_path):
    """The packages' install fails half-way (here: the index cannot be reached, with an empty
    cache): the environment exists, but without its stamp, so the next `make` installs again."""
    env = {
        **os.environ,
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_INDEX_URL": "http://127.0.0.1:9/simple",
    }
    env.pop("PIP_FIND_LINKS", None)
    args = [
        "make",
        "--no-print-directory",
        "-C",
        str(REPO),
        f"VENV={tmp_path / 'venv'}",
        f"PYTHON={sys.executable}",
    ]
    run = subprocess.run([*args, "env"], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode != 0, run.stdout
    assert (tmp_path / "venv" / "bin" / "python").exists() and not (tmp_path / "venv" / ".installed").exists()
    again = subprocess.run([*args[:-1], "-q", "env"], capture_output=True, text=True, timeout=60, env=env)
    assert again.returncode == 1, "make would take the half-made environment as installed"
