"""Checked exercises: a student's answer measured against an independent reference.

Every lecture ends with exercises. A checked one is a stub to fill in (a function to write, a
number to compute), then one line::

    check("03.1", ula_variance)

which compares the answer with a reference computed independently of it (an exact value, a closed
form, brute-force enumeration, or the course's tested ``lib``) and says what is right or wrong in
the exercise's own terms: which input disagrees, by how much, and what the reference is. It
tolerates what a correct answer may differ by (Monte Carlo noise at a stated sample size, another
valid convention) and nothing more. A right answer prints ``✓`` and a short confirmation; a wrong
or unfilled one raises :class:`ExerciseError` with the explanation.

Each lecture's checks live in ``lib/exercises/lectureNN.py``, registered with :func:`exercise`,
which also takes one plausible wrong answer (a sign error, a missing factor of 2, the other
convention): ``tests/test_exercises.py`` runs every check three ways (the solution passes, the
stub as released fails as a stub, the wrong answer fails as wrong), and so proves that each check
can fail and passes the right answer.

The lectures hold the solutions; ``make student`` strips them (otter-grader's ``otter assign``,
see ``book/student.py``) into the notebooks that students open.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "ExerciseError",
    "array",
    "call",
    "check",
    "exercise",
    "exercise_ids",
    "function",
    "number",
    "pair",
    "question_name",
    "wrong_answer",
]

_ID = re.compile(r"(\d\d)\.(\d+)")
_CHECKS: dict[str, Callable[..., str]] = {}
_WRONG: dict[str, str] = {}


class ExerciseError(AssertionError):
    """An answer that its check rejects. ``str(error)`` says what is wrong and what is expected.

    ``stub`` is True when the answer is still the stub as released (``...``, or a function that
    returns nothing), False when it is an answer, and a wrong one.
    """

    def __init__(self, message: str, *, stub: bool = False) -> None:
        super().__init__(message)
        self.stub = stub


def _parse(exercise_id: str) -> str:
    if not isinstance(exercise_id, str) or not _ID.fullmatch(exercise_id):
        raise ValueError(f"an exercise is named by its lecture and number, as in '03.1', got {exercise_id!r}")
    return exercise_id[:2]


def exercise(exercise_id: str, *, wrong: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Register ``fn`` as the check of exercise ``exercise_id`` (``"03.1"``: lecture 03, exercise 1).

    ``fn`` takes the student's answers in the order that the notebook's ``check`` line passes
    them, returns a one-line confirmation (with the numbers that make it convincing) when they are
    right, and raises :class:`ExerciseError` otherwise. ``wrong`` is Python source for one
    plausible wrong answer: run after the stub, it redefines the answer, and the check must reject
    it (``tests/test_exercises.py``).
    """
    _parse(exercise_id)
    if not wrong.strip():
        raise ValueError(f"exercise {exercise_id}: give one plausible wrong answer as source code")

    def register(fn: Callable[..., str]) -> Callable[..., str]:
        if exercise_id in _CHECKS:
            raise ValueError(f"exercise {exercise_id} is registered twice")
        _CHECKS[exercise_id] = fn
        _WRONG[exercise_id] = wrong
        return fn

    return register


def _load(lecture: str) -> None:
    try:
        importlib.import_module(f"{__name__}.lecture{lecture}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.lecture{lecture}":
            raise
        raise ValueError(
            f"lecture {lecture} has no checked exercises (no lib/exercises/lecture{lecture}.py)"
        ) from None


def _lookup(exercise_id: str) -> Callable[..., str]:
    lecture = _parse(exercise_id)
    if exercise_id not in _CHECKS:
        _load(lecture)
    if exercise_id not in _CHECKS:
        known = ", ".join(sorted(i for i in _CHECKS if i.startswith(lecture + "."))) or "none"
        raise ValueError(f"no exercise {exercise_id}; lecture {lecture} checks: {known}")
    return _CHECKS[exercise_id]


def check(exercise_id: str, *answers: Any) -> None:
    """Check the answers to exercise ``exercise_id``: print ``✓`` and why they are right, or raise
    :class:`ExerciseError` saying what is wrong."""
    message = _lookup(exercise_id)(*answers)
    print(f"✓ Exercise {exercise_id}: {message}")


def exercise_ids(lecture: str) -> list[str]:
    """The checked exercises of lecture ``lecture`` (``"03"``), in order."""
    _load(_parse(f"{lecture}.1"))
    return sorted((i for i in _CHECKS if i.startswith(lecture + ".")), key=lambda i: int(i[3:]))


def wrong_answer(exercise_id: str) -> str:
    """The plausible wrong answer registered for ``exercise_id`` (source code)."""
    _lookup(exercise_id)
    return _WRONG[exercise_id]


def question_name(exercise_id: str) -> str:
    """The name of ``exercise_id`` as an otter-grader question (``"03.1"`` → ``"ex03_1"``)."""
    _parse(exercise_id)
    return "ex" + exercise_id.replace(".", "_")


# Helpers for the checks: each turns an unfilled stub or an answer of the wrong kind into a message.


def _stub(name: str) -> ExerciseError:
    return ExerciseError(
        f"`{name}` is still the stub as released: fill it in where the cell says `...`, run that cell, "
        "then this one.",
        stub=True,
    )


def function(value: Any, name: str) -> Callable[..., Any]:
    """``value`` if it is a function; an :class:`ExerciseError` naming ``name`` otherwise."""
    if value is None or value is Ellipsis:
        raise _stub(name)
    if not callable(value):
        raise ExerciseError(f"`{name}` should be a function, got {type(value).__name__}")
    return value


def call(fn: Callable[..., Any], name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the student's function ``name``; a stub's ``None`` or ``...`` or an exception becomes
    an :class:`ExerciseError` that says which call failed."""
    shown = ", ".join([*(_short(a) for a in args), *(f"{k}={_short(v)}" for k, v in kwargs.items())])
    if len(shown) > 60:  # functions and arrays as arguments: the call's name says enough
        shown = "..."
    try:
        out = fn(*args, **kwargs)
    except ExerciseError:
        raise
    except Exception as error:  # the student's code failed: say where, keep the cause
        raise ExerciseError(f"`{name}({shown})` raised {type(error).__name__}: {error}") from error
    if out is None or out is Ellipsis:
        raise ExerciseError(
            f"`{name}({shown})` returned {out!r}: the stub is not filled in yet (or it lacks a `return`)",
            stub=True,
        )
    return out


def number(value: Any, name: str) -> float:
    """``value`` as a finite float (a Python, NumPy or 0-d PyTorch number); an
    :class:`ExerciseError` naming ``name`` otherwise."""
    if value is None or value is Ellipsis:
        raise _stub(name)
    if isinstance(value, (str, bytes, bool)):
        raise ExerciseError(f"`{name}` should be a number, got {type(value).__name__}: {_short(value)}")
    try:
        out = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        raise ExerciseError(
            f"`{name}` should be a number, got {type(value).__name__}: {_short(value)}"
        ) from None
    if not math.isfinite(out):
        raise ExerciseError(f"`{name}` is {out}: a finite number is expected")
    return out


def pair(value: Any, name: str, what: str) -> tuple[float, float]:
    """Two numbers from the tuple, list or array of two that the student's ``name`` returned
    (``what`` says which two, for the message); an :class:`ExerciseError` otherwise."""
    if isinstance(value, (tuple, list)) or (hasattr(value, "shape") and np.size(value) == 2):
        items = list(value) if isinstance(value, (tuple, list)) else list(np.ravel(np.asarray(value)))
        if len(items) == 2:
            return number(items[0], f"{name}[0]"), number(items[1], f"{name}[1]")
    raise ExerciseError(f"`{name}` should return a pair {what}, got {type(value).__name__}: {value!r:.60}")


def array(value: Any, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``value`` as a float64 NumPy array (from a list, NumPy or PyTorch, detached), of ``shape``
    when given; an :class:`ExerciseError` naming ``name`` otherwise."""
    if value is None or value is Ellipsis:
        raise _stub(name)
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExerciseError(f"`{name}` should be an array of numbers, got {type(value).__name__}") from None
    if shape is not None and out.shape != tuple(shape):
        raise ExerciseError(f"`{name}` has shape {out.shape}, expected {tuple(shape)}")
    if not np.all(np.isfinite(out)):
        raise ExerciseError(f"`{name}` has {int(np.sum(~np.isfinite(out)))} entries that are not finite")
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
