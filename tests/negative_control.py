"""The negative control: every lecture at ``COURSE_SCALE=untrained``.

At that scale every training loop stops after its first update (``lib.config.training``), so a
cell that asserts what training achieved (tagged ``learning-check``) must fail with an
``AssertionError``, and every other cell must still run. A check that passes on an untrained
model checks nothing; this test names it. ``make test`` runs this file after the notebooks
have passed at ``smoke`` under nbval (where every cell, learning checks included, must pass).

Not collected with the unit tests (its name does not start with ``test_``): run it as
``pytest -n 2 tests/negative_control.py``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
TAG = "learning-check"
#: Notebooks that train nothing (the course tour) need no learning check.
NO_TRAINING = {"00_course_tour.ipynb"}
LECTURES = sorted(p for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb") if p.name not in NO_TRAINING)


def _checks(nb: nbformat.NotebookNode) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and TAG in c.metadata.get("tags", [])]


def _describe(nb: nbformat.NotebookNode, i: int) -> str:
    first = next((line for line in nb.cells[i].source.splitlines() if line.strip()), "")
    return f"cell {i} ({first.strip()[:70]!r})"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_learning_checks_are_real_asserts(path):
    """Static: a lecture has learning checks, and each holds only what can fail by assert."""
    nb = nbformat.read(path, as_version=4)
    checks = _checks(nb)
    assert checks, f"{path.name} has no cell tagged {TAG!r}: every trained model needs one"
    for i in checks:
        source = nb.cells[i].source
        assert any(s in source for s in ("assert ", "checks.above(", "checks.below(")), (
            f"{path.name}: {_describe(nb, i)} is tagged {TAG} but asserts nothing"
        )


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_learning_checks_fail_when_untrained(path, tmp_path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    checks = set(_checks(nb))
    if not checks:
        pytest.skip("no learning-check cells (reported by test_learning_checks_are_real_asserts)")
    monkeypatch.setenv("COURSE_SCALE", "untrained")
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # The kernel is stopped at once when the last cell is done (as nbval stops its kernels): a
    # graceful shutdown waits for PyTorch or TensorFlow to tear down, 1-1.5 s per notebook.
    client = NotebookClient(
        nb, timeout=1800, kernel_name="python3", allow_errors=True, shutdown_kernel="immediate",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )  # fmt: skip
    client.execute()
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if i in checks:
            if not errors:
                problems.append(f"{_describe(nb, i)} is a {TAG} but PASSED on the untrained model")
            elif errors[0]["ename"] != "AssertionError":
                problems.append(f"{_describe(nb, i)} failed with {errors[0]['ename']}, not an AssertionError: "
                                f"{errors[0]['evalue'][:200]}")  # fmt: skip
        elif errors:
            problems.append(
                f"{_describe(nb, i)} is not a {TAG} but raised {errors[0]['ename']}: {errors[0]['evalue'][:200]}"
            )
    assert not problems, f"{path.name} at COURSE_SCALE=untrained:\n  " + "\n  ".join(problems)
