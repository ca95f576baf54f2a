"""Grading (book/grade.py) on three generated submissions of lecture 03: its solutions, the blank
stubs as released, and one wrong answer; and the release's and the grader's errors.

The submissions keep the lecture's set-up cell and its exercises (a student may delete cells; the
lecture body would only add minutes of training to what is graded), so Otter's autograder runs
each in seconds."""

from __future__ import annotations

import copy
import csv
import json
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "book"))

import grade  # noqa: E402  (book/grade.py)
import student  # noqa: E402  (book/student.py)

from lib import exercises  # noqa: E402

LECTURE = REPO / "notebooks" / "03_ebm_langevin.py"


def _trimmed(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The set-up cell and everything from the exercises on."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    start = next(
        i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("## Exercises")
    )
    out = copy.deepcopy(nb)
    out.cells = [out.cells[code[0]], *out.cells[start:]]
    return out


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release")
    student.release([LECTURE], out)
    return out


def test_grading_three_submissions(release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = LECTURE.stem
    stubs = nbformat.read(release / f"{name}.ipynb", as_version=4)
    solutions = nbformat.read(release / "autograder" / f"{name}.ipynb", as_version=4)
    wrong = _trimmed(stubs)
    # exercise 1 answered wrongly, 2 and 3 right: the solution's cells in place of their stubs
    sol_cells = {c.source.split("\n")[0]: c.source for c in solutions.cells if c.cell_type == "code"}
    for cell in wrong.cells:
        first = cell.source.split("\n")[0]
        if cell.cell_type == "code" and first.startswith("def ula_variance"):
            cell.source = exercises.wrong_answer("03.1")
        elif cell.cell_type == "code" and first.startswith(("def mala_log_accept", "def left_share")):
            cell.source = sol_cells[first]
    subs = tmp_path / "submissions"
    subs.mkdir()
    nbformat.write(_trimmed(solutions), subs / "alice.ipynb")  # the solutions
    nbformat.write(_trimmed(stubs), subs / "bob.ipynb")  # nothing filled in
    nbformat.write(wrong, subs / "carol.ipynb")  # one wrong answer

    assert grade.main([str(subs), "--release", str(release)]) == 0
    with (subs / "grades.csv").open(encoding="utf-8") as f:
        rows = {r["submission"]: r for r in csv.DictReader(f)}
    table = {s: (r["ex03_1"], r["ex03_2"], r["ex03_3"], r["total"], r["possible"]) for s, r in rows.items()}
    assert table == {
        "alice.ipynb": ("1", "1", "1", "3", "3"),
        "bob.ipynb": ("0", "0", "0", "0", "3"),
        "carol.ipynb": ("0", "1", "1", "2", "3"),
    }
    # the table says why: the check's own message, a stub's for the blank, the physics for the wrong
    printed = capsys.readouterr().out
    assert "- bob.ipynb, ex03_1: ExerciseError: `ula_variance(0.1, 1.0)` returned None: the stub" in printed
    assert "- carol.ipynb, ex03_1: ExerciseError: your ULA variance at ε = 0.1" in printed
    assert "alice.ipynb, ex03" not in printed


def test_lecture_of(tmp_path: Path) -> None:
    nb = tmp_path / "renamed.ipynb"
    nb.write_text(json.dumps({"metadata": {"otter": {"assignment_name": "03_ebm_langevin"}}, "cells": []}))
    assert grade.lecture_of(nb, ["03_ebm_langevin", "04_vae_pytorch"]) == "03_ebm_langevin"
    by_name = tmp_path / "04_mine.ipynb"
    by_name.write_text(json.dumps({"metadata": {}, "cells": []}))
    assert grade.lecture_of(by_name, ["03_ebm_langevin", "04_vae_pytorch"]) == "04_vae_pytorch"
    with pytest.raises(ValueError, match="which lecture"):
        grade.lecture_of(tmp_path / "renamed.ipynb", ["01_rbm_pytorch"])


def test_grade_without_release_or_submissions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert grade.main([str(tmp_path), "--release", str(tmp_path / "none")]) == 1
    assert "make student" in capsys.readouterr().err
    (tmp_path / "r" / "autograder").mkdir(parents=True)
    (tmp_path / "r" / "autograder" / "03_x.zip").write_bytes(b"")
    assert grade.main([str(tmp_path), "--release", str(tmp_path / "r")]) == 1
    assert "no submitted notebooks" in capsys.readouterr().err


def _nb(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=list(cells))


def test_release_rejects_malformed_questions() -> None:
    raw, code = nbformat.v4.new_raw_cell, nbformat.v4.new_code_cell
    with pytest.raises(student.ReleaseError, match="has no '# END QUESTION'"):
        student.prepare(_nb(raw("# BEGIN QUESTION\nname: ex03_1"), code('check("03.1", f)')), "03_x")
    with pytest.raises(student.ReleaseError, match="needs a line 'name: exNN_k'"):
        student.prepare(_nb(raw("# BEGIN QUESTION")), "03_x")
    with pytest.raises(student.ReleaseError, match="belongs in question ex03_2"):
        student.prepare(
            _nb(raw("# BEGIN QUESTION\nname: ex03_1"), code('check("03.2", f)'), raw("# END QUESTION")),
            "03_x",
        )
    with pytest.raises(student.ReleaseError, match="without '# BEGIN QUESTION'"):
        student.prepare(_nb(raw("# END QUESTION")), "03_x")
    master, ids = student.prepare(
        _nb(raw("# BEGIN QUESTION\nname: ex03_1"), code('check("03.1", f, g)'), raw("# END QUESTION")), "03_x"
    )
    assert ids == ["03.1"]
    assert "def test_ex03_1(f, g):" in master.cells[4].source
    assert "check_cell: false" in master.cells[1].source


def test_workspace_never_overwrites_answers(release: Path, tmp_path: Path) -> None:
    (nb,) = sorted(release.glob("*.ipynb"))
    ws = tmp_path / "workspace"
    assert student.to_workspace([nb], ws) == []
    assert (ws / nb.name).read_bytes() == nb.read_bytes()
    (ws / nb.name).write_text("my answers", encoding="utf-8")
    assert student.to_workspace([nb], ws) == []  # the same release: nothing to say, nothing touched
    changed = tmp_path / nb.name
    changed.write_bytes(nb.read_bytes() + b"\n")
    (said,) = student.to_workspace([changed], ws)
    assert "kept your" in said and (ws / nb.name).read_text(encoding="utf-8") == "my answers"
    assert student.to_workspace([changed], ws) == []  # said once
