"""Learning checks: what training achieved, asserted against a reference, with a bound per scale.

A cell tagged ``learning-check`` states one comparison in one line::

    checks.above("elbo_over_base_rate", test_elbo - base_rate_ll, config.scaled(smoke=50, lecture=70, full=90),
                 "test ELBO minus the independent-pixel base rate's exact log-likelihood, nats")

:func:`above` asserts ``value > bound`` (:func:`below`: ``value < bound``). Either way it first
records the check into the notebook's results (:mod:`lib.results`): its value, its bound, the
margin by which it passed or failed, and what it compares against. So ``make run`` shows by how
much each check passed at the lecture scale (``build/results.md``), and the negative control
(``COURSE_SCALE=untrained``, where every check must fail) records by how much each one failed.

The value is what training changed, measured against a reference computed in the notebook (an
exact value, the base rate, an untrained model, a floor): a difference or a ratio, so that the
bound is a plain number for each scale. Why each bound is where it is (the values measured over
several seeds at each scale, and at ``untrained``) lives in ``tests/margins.json``, which
``tests/margins.py`` writes from real runs and ``tests/test_margins.py`` holds against the
lectures: a bound changed in a lecture without new measurements fails the tests.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from . import config, results

__all__ = ["above", "below"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[A-Za-z0-9_. =-]+\])?")


def _one(name: str, value: float, bound: float, what: str, op: str) -> str | None:
    """Record one check; return why it failed, or None."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            "a check's name is a short identifier such as 'elbo_over_base_rate' (letters, digits and _, "
            f"with an optional [row] suffix), got {name!r}"
        )
    try:
        value, bound = float(value), float(bound)
    except (TypeError, ValueError):
        raise TypeError(
            f"check {name}: value and bound must be numbers, got {value!r} and {bound!r}"
        ) from None
    if math.isnan(bound):
        raise ValueError(f"check {name}: the bound is NaN")
    margin = value - bound if op == ">" else bound - value  # > 0: passed, by this much
    passed = bool(margin > 0)  # a NaN value fails
    if config.current_notebook() is not None:
        results.record_check(name, value=value, bound=bound, op=op, what=what, passed=passed)
    return None if passed else f"{name}: {value:.6g} is not {op} {bound:.6g}"


def _check(name: str, value: float | Mapping[str, float], bound: float, what: str, op: str) -> None:
    if isinstance(value, Mapping):  # one check per row, each recorded before any fails
        if not value:
            raise ValueError(f"check {name}: no values")
        failed = [f for row, v in value.items() if (f := _one(f"{name}[{row}]", v, bound, what, op))]
    else:
        failed = [f for f in [_one(name, value, bound, what, op)] if f]
    if failed:
        raise AssertionError(
            f"learning check failed at COURSE_SCALE={config.get_scale()}: {'; '.join(failed)} ({what})"
        )


def above(name: str, value: float | Mapping[str, float], bound: float, what: str) -> None:
    """Assert that ``value > bound``, after recording the check (see the module's docstring).

    Args:
        name: the check's name, unique in its notebook (e.g. ``"elbo_over_base_rate"``).
        value: what training achieved, against the reference (a difference or a ratio); or a
            dict of them, one per row (``{"CD-1": ..., "PCD-1": ...}``), each recorded as
            ``name[row]`` before any failure is raised.
        bound: the bound at this scale, ``config.scaled(smoke=..., lecture=..., full=...)``.
        what: one line saying what the value is and what it is compared against.

    Raises:
        AssertionError: the value is not above the bound (NaN never is).
    """
    _check(name, value, bound, what, ">")


def below(name: str, value: float | Mapping[str, float], bound: float, what: str) -> None:
    """Assert that ``value < bound``, after recording the check; as :func:`above`."""
    _check(name, value, bound, what, "<")
