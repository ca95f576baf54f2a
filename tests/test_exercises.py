"""Every checked exercise, three ways, through the student release and its autograder.

For each lecture, ``book/student.py`` makes the release (Otter Assign) and this test runs each
checked exercise's cells after the lecture's set-up cell and the exercises' own set-up (the code
cells between ``## Exercises`` and the first question; an exercise needs nothing else from the
lecture, which is what lets a student do it without retraining anything):

1. **the solution**, as the lecture holds it: its ``check`` line passes, and so does the
   autograder's test of the question (Otter's test file from the autograder zip);
2. **the stub as released** (the student notebook's cells): ``check`` raises an
   :class:`~lib.exercises.ExerciseError` that says the stub is not filled in, and the autograder's
   test fails;
3. **a plausible wrong answer** (registered with the check, ``lib/exercises/lectureNN.py``), run
   after the stub: ``check`` raises an :class:`~lib.exercises.ExerciseError` that is not the stub's,
   and the autograder's test fails.

A check that passes a wrong answer, or fails the solution, fails here with the exercise's name.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "book"))

import student  # noqa: E402  (book/student.py)

from lib import exercises  # noqa: E402

LECTURES = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))
MIN_CHECKED = 3  # checked exercises per lecture


def _questions(master: nbformat.NotebookNode) -> tuple[list[str], dict[str, list[str]]]:
    """The exercises' set-up code and, per question, its code cells (tests excluded)."""
    setup: list[str] = []
    per_question: dict[str, list[str]] = {}
    question, in_tests, in_exercises = None, False, False
    for cell in master.cells:
        src = cell.source.strip()
        if cell.cell_type == "markdown" and re.match(r"^##\s+Exercises\b", src):
            in_exercises = True
        if cell.cell_type == "raw":
            if student.BEGIN_QUESTION.match(src):
                question = re.search(r"^name:\s*(\S+)", src, re.MULTILINE).group(1)
                per_question[question] = []
            elif student.END_QUESTION.match(src):
                question = None
            elif re.match(r"#\s*BEGIN TESTS", src):
                in_tests = True
            elif re.match(r"#\s*END TESTS", src):
                in_tests = False
            continue
        if cell.cell_type != "code" or in_tests:
            continue
        if question is not None:
            per_question[question].append(cell.source)
        elif in_exercises:
            setup.append(cell.source)
    return setup, per_question


def _run(sources: list[str], env: dict[str, Any], where: str) -> None:
    for k, src in enumerate(sources):
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(src, f"<{where}, cell {k}>", "exec"), env)


def _is_check(src: str) -> bool:
    return bool(student.CHECK.match(src.strip()))


def _check_outcome(sources: list[str], env: dict[str, Any], where: str) -> exercises.ExerciseError | None:
    """Run the question's non-check cells, then its check line: the ExerciseError it raised, or None."""
    _run([s for s in sources if not _is_check(s)], env, where)
    (check_line,) = [s for s in sources if _is_check(s)]
    try:
        _run([check_line], env, where)
    except exercises.ExerciseError as error:
        return error
    return None


def _otter_passes(test_source: str, env: dict[str, Any]) -> tuple[bool, str]:
    from otter.test_files.exception_test import ExceptionTestFile

    test = ExceptionTestFile.from_string(test_source, path="<autograder test>")
    with contextlib.redirect_stdout(io.StringIO()):
        test.run(env)
    return test.passed_all, "\n".join(r.message or "" for r in test.test_case_results)


@pytest.mark.parametrize("source", LECTURES, ids=[p.stem for p in LECTURES])
def test_checked_exercises_three_ways(source: Path, tmp_path: Path) -> None:
    """In a fresh interpreter per lecture, as a student's kernel: a lecture's set-up may configure
    a framework once per process (TensorFlow's threads), which another test may have done first."""
    run = subprocess.run(
        [sys.executable, __file__, str(source), str(tmp_path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert run.returncode == 0, f"{source.stem}:\n{run.stdout}\n{run.stderr[-4000:]}"


def three_ways(source: Path, tmp_path: Path) -> None:
    """Every checked exercise of lecture ``source`` three ways; raises AssertionError naming the
    first exercise whose check fails the solution or passes the stub or the wrong answer."""
    lecture = source.stem[:2]
    nb = jupytext.read(source)
    master, ids = student.prepare(nb, source.stem)
    assert ids, f"{source.stem} has no checked exercises"
    assert ids == exercises.exercise_ids(lecture), (
        f"the checks in {source.name} ({ids}) and those registered in lib/exercises/lecture{lecture}.py "
        f"({exercises.exercise_ids(lecture)}) should be the same, in order"
    )

    (written,) = student.release([source], tmp_path)
    released = nbformat.read(written, as_version=4)
    released_code = [c.source for c in released.cells if c.cell_type == "code"]
    with zipfile.ZipFile(tmp_path / "autograder" / f"{source.stem}.zip") as zf:
        otter_tests = {Path(n).stem: zf.read(n).decode() for n in zf.namelist() if n.startswith("tests/")}

    from otter.assign.solutions import replace_solutions

    ex_setup, questions = _questions(master)
    lecture_setup = next(c.source for c in nb.cells if c.cell_type == "code")
    base: dict[str, Any] = {"__name__": "__main__"}
    _run([lecture_setup, *ex_setup], base, f"{source.stem} set-up")

    for exercise_id in ids:
        name = exercises.question_name(exercise_id)
        solution = questions[name]
        stub = ["\n".join(replace_solutions(s.split("\n"), "python")) for s in solution]
        for s in stub:
            assert s in released_code, f"{exercise_id}: the release lacks the stub cell\n{s}"
        assert name in otter_tests, f"{exercise_id}: no autograder test {name} in the release"

        # 1. the solution passes, in the lecture and in the autograder
        env = dict(base)
        failed = _check_outcome(solution, env, f"{exercise_id} solution")
        assert failed is None, f"exercise {exercise_id}: the check fails the lecture's solution: {failed}"
        ok, why = _otter_passes(otter_tests[name], env)
        assert ok, f"exercise {exercise_id}: the autograder fails the solution: {why}"

        # 2. the stub as released fails, as a stub, with its message
        env = dict(base)
        failed = _check_outcome(stub, env, f"{exercise_id} stub")
        assert failed is not None, f"exercise {exercise_id}: the check passes the unfilled stub"
        assert failed.stub, f"exercise {exercise_id}: the stub fails, but not as a stub: {failed}"
        assert str(failed).strip(), f"exercise {exercise_id}: the stub's failure has no message"
        ok, _ = _otter_passes(otter_tests[name], env)
        assert not ok, f"exercise {exercise_id}: the autograder passes the unfilled stub"

        # 3. a plausible wrong answer fails, as wrong, with a message
        env = dict(base)
        _run([s for s in stub if not _is_check(s)], env, f"{exercise_id} stub")
        wrong = [exercises.wrong_answer(exercise_id), *[s for s in stub if _is_check(s)]]
        failed = _check_outcome(wrong, env, f"{exercise_id} wrong answer")
        assert failed is not None, (
            f"exercise {exercise_id}: the check passes the wrong answer\n{exercises.wrong_answer(exercise_id)}"
        )
        assert not failed.stub, f"exercise {exercise_id}: the wrong answer is taken for the stub: {failed}"
        ok, _ = _otter_passes(otter_tests[name], env)
        assert not ok, f"exercise {exercise_id}: the autograder passes the wrong answer"


def test_every_lecture_has_three_checked_exercises() -> None:
    for source in LECTURES:
        _, ids = student.prepare(jupytext.read(source), source.stem)
        assert len(ids) >= MIN_CHECKED, (
            f"{source.stem} has {len(ids)} checked exercises, fewer than {MIN_CHECKED}"
        )


def test_check_helpers_say_what_is_wrong() -> None:
    def stub(x):  # the release's stub: a body of `...` returns None
        ...

    with pytest.raises(exercises.ExerciseError, match="still the stub") as info:
        exercises.function(..., "f")
    assert info.value.stub
    with pytest.raises(exercises.ExerciseError, match="should be a function, got int"):
        exercises.function(3, "f")
    with pytest.raises(exercises.ExerciseError, match=r"`f\(1\)` returned None: the stub") as info:
        exercises.call(stub, "f", 1)
    assert info.value.stub
    with pytest.raises(exercises.ExerciseError, match=r"`f\(0\)` raised ZeroDivisionError") as info:
        exercises.call(lambda x: 1 / x, "f", 0)
    assert not info.value.stub and isinstance(info.value.__cause__, ZeroDivisionError)
    assert exercises.number(np.float32(2.5), "x") == 2.5
    assert exercises.number(torch.tensor(1.5), "x") == 1.5
    with pytest.raises(exercises.ExerciseError, match="should be a number, got str"):
        exercises.number("1", "x")
    with pytest.raises(exercises.ExerciseError, match="a finite number"):
        exercises.number(float("nan"), "x")
    assert exercises.array(torch.ones(2, requires_grad=True), "a", (2,)).dtype == np.float64
    with pytest.raises(exercises.ExerciseError, match=r"has shape \(3,\), expected \(2,\)"):
        exercises.array([1, 2, 3], "a", (2,))
    with pytest.raises(exercises.ExerciseError, match="1 entries that are not finite"):
        exercises.array([1, np.inf], "a")


def test_check_registry_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match=r"as in '03\.1'"):
        exercises.check("3.1", None)
    with pytest.raises(ValueError, match=r"no exercise 03\.99; lecture 03 checks: 03\.1"):
        exercises.check("03.99", None)
    with pytest.raises(ValueError, match="lecture 98 has no checked exercises"):
        exercises.check("98.1", None)
    with pytest.raises(ValueError, match="registered twice"):
        exercises.exercise("03.1", wrong="x = 1")(lambda: "")
    with pytest.raises(ValueError, match="one plausible wrong answer"):
        exercises.exercise("97.1", wrong=" ")
    exercises.check("03.1", lambda eps, var: var / (1 - eps / (4 * var)))
    assert capsys.readouterr().out.startswith("✓ Exercise 03.1: ")
    assert exercises.question_name("03.12") == "ex03_12"


if __name__ == "__main__":  # one lecture, in its own process (test_checked_exercises_three_ways)
    three_ways(Path(sys.argv[1]), Path(sys.argv[2]))


def test_lecture02_momentum_reference_is_torch_sgd() -> None:
    """02.3's reference, PyTorch's momentum SGD written out, against torch.optim.SGD itself (in a
    process without TensorFlow: see lib/exercises/lecture02.py)."""
    code = """
import numpy as np, torch
from lib.exercises.lecture02 import _torch_path
rng = np.random.default_rng(0)
grads, lrs, mu = rng.normal(size=(12, 5)), np.linspace(0.1, 0.01, 12), 0.9
theta = torch.zeros(5, dtype=torch.float64, requires_grad=True)
opt = torch.optim.SGD([theta], lr=0.1, momentum=mu)
path = []
for g, lr in zip(grads, lrs):
    opt.param_groups[0]["lr"] = float(lr)
    theta.grad = -torch.from_numpy(g)
    opt.step()
    path.append(theta.detach().numpy().copy())
assert np.allclose(_torch_path(grads, lrs, mu), np.array(path), rtol=1e-12, atol=1e-14)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8")
    assert run.returncode == 0, run.stderr[-3000:]
