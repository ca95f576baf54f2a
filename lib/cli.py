"""What the course's command-line scripts (``book/*.py``) share, so that they run alike on
Linux, macOS and Windows (PowerShell or ``cmd``, a venv or a conda env).

* :func:`console_script` finds a tool that has no ``python -m`` form (``jupyter-book``) in this
  interpreter's scripts directory: ``.venv/bin`` on Linux and macOS, ``.venv\\Scripts`` in a
  Windows venv, ``<env>\\Scripts`` in a Windows conda env, whose ``python.exe`` sits at the env's
  root (so ``Path(sys.executable).parent`` is not it). A tool that runs as a module is better run
  as ``[sys.executable, "-m", module]``.
* :func:`expand_globs` expands patterns such as ``notebooks/*.ipynb`` that the shell left alone:
  PowerShell and ``cmd`` do not expand wildcards, POSIX shells do.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

__all__ = ["console_script", "expand_globs"]

_WILDCARD = re.compile(r"[*?[]")


def console_script(name: str) -> str:
    """The path of the console script ``name`` (e.g. ``"jupyter-book"``) installed with this
    interpreter's packages, from ``sysconfig.get_path("scripts")``; :func:`shutil.which` finds
    ``name.exe`` there on Windows.

    Raises:
        SystemExit: when the script is not installed in this environment.
    """
    scripts = sysconfig.get_path("scripts")
    found = shutil.which(name, path=scripts)
    if found is None:
        raise SystemExit(
            f"{name} not found in {scripts}: install the course's development packages into the "
            f'environment of {sys.executable} (pip install -e ".[dev]")'
        )
    return found


def expand_globs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """``paths`` with each wildcard pattern (``*``, ``?``, ``[...]``) that names no file replaced by
    the files it matches, sorted; a path that exists, or a pattern that matches nothing, is kept as
    given (so that the caller reports it). Where the shell expanded the patterns (bash, zsh) this
    changes nothing."""
    out: list[Path] = []
    for p in paths:
        text = os.fspath(p)
        matches = sorted(glob.glob(text)) if _WILDCARD.search(text) and not os.path.exists(text) else []
        out.extend(Path(m) for m in matches or [text])
    return out
