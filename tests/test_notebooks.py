"""Every lecture is a pair: notebooks/NN_name.ipynb and its jupytext py:percent twin."""

from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
IPYNBS = sorted(NOTEBOOKS.glob("*.ipynb"))
SCRIPTS = sorted(NOTEBOOKS.glob("*.py"))


def _cells(path: Path) -> list[tuple[str, str, list[str]]]:
    nb = jupytext.read(path)
    return [(c.cell_type, c.source.strip(), c.metadata.get("tags", [])) for c in nb.cells]


def test_there_are_notebooks():
    assert IPYNBS, "no notebooks found"
    assert IPYNBS[0].name.startswith("00_")


@pytest.mark.parametrize("path", SCRIPTS + IPYNBS, ids=lambda p: p.name)
def test_every_notebook_has_its_pair(path):
    twin = path.with_suffix(".ipynb" if path.suffix == ".py" else ".py")
    assert twin.is_file(), f"{path.name} has no paired {twin.name}; run `make sync`"


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_pair_is_in_sync(path):
    script = path.with_suffix(".py")
    if not script.is_file():
        pytest.skip("unpaired (reported by test_every_notebook_has_its_pair)")
    assert _cells(path) == _cells(script), (
        f"{path.name} and {script.name} disagree; edit the .py and run `make sync`"
    )


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = jupytext.read(path)
    executed = [
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not executed, f"{path.name}: cells {executed} carry outputs; `make sync` from the .py clears them"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_lecture_structure(path):
    """Set-up cell first, theory in Markdown, asserts on results, exercises at the end."""
    cells = _cells(path)
    code = [src for kind, src, _ in cells if kind == "code"]
    markdown = [src for kind, src, _ in cells if kind == "markdown"]
    assert cells[0][0] == "markdown" and cells[0][1].startswith("# "), "a lecture opens with its title"
    assert "config.setup(" in code[0], "the first code cell is the set-up cell (config.setup)"
    assert any("assert " in src for src in code), "a lecture asserts its key results"
    assert any("exercise" in src.lower() for src in markdown[-3:]), "a lecture ends with exercises"
    assert "sys.path" not in "\n".join(code), "notebooks import lib as an installed package"


def test_the_course_tour_lists_every_lecture():
    """Lecture 00's table of the lectures is built from notebooks/*.py when it runs, so that it
    lists every lecture: run its cell here and look for each one."""
    import re

    from lib import config

    cell = next(src for kind, src, _ in _cells(NOTEBOOKS / "00_course_tour.py") if "def lecture_table" in src)
    shown = []
    exec(cell, {"re": re, "config": config, "display": shown.append, "Markdown": str})
    (table,) = shown
    lectures = [p.stem for p in SCRIPTS if re.match(r"\d\d_", p.name)]
    assert len(lectures) > 1
    for name in lectures:
        assert f"| {name[:2]} | " in table and f"`{name}`" in table, f"{name} is missing from 00's table"
