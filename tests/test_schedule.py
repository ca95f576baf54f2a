"""tests/schedule.py, the plugin that runs ``make test`` as one session: its units of work, its
order and its accounting."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("tests_schedule", REPO / "tests" / "schedule.py")
schedule = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(schedule)


def _cell(stem: str, i: int):
    return SimpleNamespace(
        path=REPO / "notebooks" / f"{stem}.ipynb",
        name=f"Cell {i}",
        nodeid=f"notebooks/{stem}.ipynb::Cell {i}",
    )


def _untrained(stem: str):
    return SimpleNamespace(
        path=REPO / "tests" / "negative_control.py",
        name=f"untrained {stem}",
        nodeid=f"tests/negative_control.py::{schedule.NEGATIVE_CONTROL}[{stem}]",
    )


def _unit(name: str, file: str = "test_x.py"):
    return SimpleNamespace(path=REPO / "tests" / file, name=name, nodeid=f"tests/{file}::{name}")


def test_a_notebooks_cells_are_one_unit_and_every_other_test_is_its_own():
    assert schedule.unit_of_work("notebooks/08_diffusion.ipynb::Cell 3") == "notebooks/08_diffusion.ipynb"
    assert schedule.unit_of_work("notebooks/08_diffusion.ipynb::Cell 30") == "notebooks/08_diffusion.ipynb"
    a = "tests/negative_control.py::test_learning_checks_fail_when_untrained[08_diffusion]"
    b = "tests/negative_control.py::test_learning_checks_fail_when_untrained[05_vae_keras]"
    assert schedule.unit_of_work(a) == a != schedule.unit_of_work(b) == b  # spread over the workers


def test_notebooks_then_untrained_runs_then_unit_tests_each_longest_first_cells_in_order():
    first_file, first_name = schedule.FIRST.split("::")
    items = [
        _unit("test_a"),
        _untrained("02_rbm_keras"),
        _unit(first_name, file=first_file.removeprefix("tests/")),
        _cell("02_rbm_keras", 0),
        _cell("02_rbm_keras", 1),
        _untrained("08_diffusion"),
        _cell("08_diffusion", 0),
        _cell("08_diffusion", 1),
        _cell("99_not_listed", 0),
        _unit("test_b"),
    ]
    schedule.pytest_collection_modifyitems(items)
    assert [f"{i.path.stem} {i.name}" for i in items] == [
        f"test_metrics {first_name}",  # trains the classifier that the notebooks need
        "08_diffusion Cell 0",
        "08_diffusion Cell 1",
        "02_rbm_keras Cell 0",
        "02_rbm_keras Cell 1",
        "99_not_listed Cell 0",  # a notebook not listed: after the listed ones, still before the rest
        "negative_control untrained 08_diffusion",
        "negative_control untrained 02_rbm_keras",
        "test_x test_a",
        "test_x test_b",
    ]


def test_the_time_is_accounted_by_part():
    kinds = [
        schedule._kind("notebooks/08_diffusion.ipynb::Cell 3"),
        schedule._kind("tests/negative_control.py::test_learning_checks_fail_when_untrained[08_diffusion]"),
        schedule._kind("tests/test_rbm.py::test_free_energy"),
    ]
    assert kinds == ["smoke      08_diffusion", "untrained  08_diffusion", "unit tests"]


def test_the_test_that_goes_first_exists():
    """FIRST names a real test (renamed, it would silently lose its place)."""
    path, name = schedule.FIRST.split("::")
    assert f"\ndef {name}(" in (REPO / path).read_text(encoding="utf-8")
