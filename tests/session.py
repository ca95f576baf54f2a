"""A pytest plugin: the test session's environment, the same whoever starts it.

``make test`` and a plain ``python -m pytest`` (on Windows, in a conda environment, anywhere) run
the same session: pytest reads its options from ``pyproject.toml`` (``[tool.pytest.ini_options]``,
which loads this plugin), and this plugin sets the environment that the session's processes and
notebook kernels inherit, before anything imports NumPy, PyTorch or TensorFlow:

- ``COURSE_SCALE=smoke``: every notebook at the smoke scale (the negative control switches its own
  runs to ``untrained``);
- ``COURSE_CACHE=off``: the tests always train (the cache would reuse an earlier run);
- ``COURSE_BUILD_DIR=build/smoke`` (``--course-build-dir`` names another): what the notebooks
  record, and, in its ``notebooks/`` folder, the executed notebooks (``--nbval-save-dir``), away
  from a lecture run's ``build/``;
- one thread in every pool (OpenMP, BLAS, TensorFlow): the session runs two things at once on two
  workers, and spinning threads took each other's cores (the unit tests alone took 64 core-s
  with two threads each, against 38 with one).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SMOKE_BUILD = REPO / "build" / "smoke"

#: The environment of every test session.
ENVIRONMENT: dict[str, str] = {
    "COURSE_SCALE": "smoke",
    "COURSE_CACHE": "off",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    # The earliest hook a `-p` plugin gets: before tests/conftest.py imports NumPy, and before
    # pytest-xdist starts its workers, which inherit this environment (and so do their kernels).
    os.environ.update(ENVIRONMENT)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--course-build-dir",
        type=Path,
        default=SMOKE_BUILD,
        help="COURSE_BUILD_DIR of the test session (default: build/smoke); the executed notebooks go "
        "into its notebooks/ folder unless --nbval-save-dir says otherwise",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Before pytest-xdist starts its workers (pytest_sessionstart), which inherit it.
    build = config.getoption("course_build_dir").resolve()
    os.environ["COURSE_BUILD_DIR"] = str(build)
    if getattr(config.option, "nbval_save_dir", "absent") is None:
        config.option.nbval_save_dir = str(build / "notebooks")
