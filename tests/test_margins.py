"""Every learning check has a bound per scale, and measurements that justify it (tests/margins.json).

A lecture states each learning check with :func:`lib.checks.above` or :func:`lib.checks.below` and
a bound ``config.scaled(smoke=..., lecture=..., full=...)``. ``tests/margins.json``, written by
``tests/margins.py`` from real runs, holds the values measured at each scale. These tests hold the
two together, so that a bound changed in a lecture, or a check added, without new measurements
fails here:

- every cell tagged ``learning-check`` states its checks with ``lib.checks``, each with a bound per
  scale given as numbers;
- every check has, at ``smoke`` and at ``lecture``, measurements of at least two seeds, taken with
  the bound its lecture states now, and every one of them clears that bound;
- at ``untrained`` (the negative control) every check was measured, and failed;
- margins.json names no check that the lectures no longer make.

``full`` is not measured here (it needs the full MNIST and, for some lectures, a GPU): its bounds
are the lectures' own, and a ``full`` run records by how much each passed.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("margins_tool", REPO / "tests" / "margins.py")
margins_tool = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = margins_tool
_spec.loader.exec_module(margins_tool)

LECTURES = sorted(p for p in (REPO / "notebooks").glob("[0-9][0-9]_*.py") if not p.name.startswith("00_"))
MEASURED = ("smoke", "lecture")
MIN_SEEDS = 2


def _cells(path: Path) -> list[tuple[str, str]]:
    """(header, source) of each code cell of a py:percent file."""
    cells, header, lines = [], None, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            if header is not None and "[markdown]" not in header:
                cells.append((header, "\n".join(lines)))
            header, lines = line, []
        else:
            lines.append(line)
    if header is not None and "[markdown]" not in header:
        cells.append((header, "\n".join(lines)))
    return cells


def _number(node: ast.AST) -> float | None:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _scaled(node: ast.AST, assignments: dict[str, ast.AST]) -> dict[str, float] | None:
    """The per-scale numbers of a ``config.scaled(...)`` bound (through a name assigned one)."""
    if isinstance(node, ast.Name) and node.id in assignments:
        node = assignments[node.id]
    if not (isinstance(node, ast.Call) and ast.unparse(node.func) == "config.scaled"):
        return None
    out = {kw.arg: _number(kw.value) for kw in node.keywords}
    return out if set(out) == {"smoke", "lecture", "full"} and None not in out.values() else None


def _pattern(node: ast.AST) -> str | None:
    """A regex for the check's name: a string, or an f-string whose fields match anything."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(
            re.escape(v.value) if isinstance(v, ast.Constant) else "[^]]+?" for v in node.values
        )  # fmt: skip
    return None


def static_checks(path: Path) -> tuple[list[dict], list[str]]:
    """The checks a lecture states, and the problems found in stating them."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assignments = {
        t.id: node.value for node in ast.walk(tree) if isinstance(node, ast.Assign) for t in node.targets
        if isinstance(t, ast.Name)
    }  # fmt: skip
    found, problems = [], []
    for header, source in _cells(path):
        tagged = "learning-check" in header
        try:
            cell = ast.parse(source)
        except SyntaxError:
            continue
        calls = [
            n for n in ast.walk(cell)
            if isinstance(n, ast.Call) and ast.unparse(n.func) in ("checks.above", "checks.below")
        ]  # fmt: skip
        if tagged and not calls:
            problems.append(f"a learning-check cell states no lib.checks check: {source.strip()[:80]!r}")
        for call in calls:
            if not tagged:
                problems.append(f"line {call.lineno} of a cell: a check outside a learning-check cell")
            if len(call.args) < 3:
                problems.append(f"{ast.unparse(call)[:80]}: give the name, the value and the bound")
                continue
            pattern, bounds = _pattern(call.args[0]), _scaled(call.args[2], assignments)
            if pattern is None:
                problems.append(f"{ast.unparse(call)[:80]}: the name must be a string (or an f-string)")
            if bounds is None:
                problems.append(
                    f"{ast.unparse(call)[:80]}: the bound must be config.scaled(smoke=..., lecture=..., "
                    "full=...) with numbers (inline, or assigned to a name)"
                )
            if pattern and bounds:
                op = ">" if ast.unparse(call.func) == "checks.above" else "<"
                found.append({"pattern": pattern, "bounds": bounds, "op": op})
    return found, problems


def _passes(value: float | None, op: str, bound: float) -> bool:
    return value is not None and (value > bound if op == ">" else value < bound)


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_every_learning_check_is_stated_with_a_bound_per_scale(path):
    checks, problems = static_checks(path)
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)
    assert checks, f"{path.name} states no learning check"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_every_check_is_justified_by_measurements_at_each_scale(path):
    """A check with rows (one per temperature, chain length, ...) may have other rows at other scales:
    each scale's rows are held to that scale's bound."""
    checks, _ = static_checks(path)
    measured = margins_tool.load().get(path.stem, {})
    problems = []
    for check in checks:
        entries = {n: e for n, e in measured.items() if re.fullmatch(check["pattern"] + r"(\[[^]]+\])?", n)}
        if not entries:
            problems.append(f"{check['pattern']}: not in tests/margins.json (run tests/margins.py)")
            continue
        for name, entry in entries.items():
            if entry["op"] != check["op"]:
                problems.append(f"{name}: measured with {entry['op']}, the lecture now says {check['op']}")
        for scale in (*MEASURED, "untrained"):
            at_scale = {n: e["measured"][scale] for n, e in entries.items() if scale in e["measured"]}
            if not at_scale:
                problems.append(f"{check['pattern']}: not measured at {scale}")
                continue
            bound = check["bounds"]["smoke" if scale == "untrained" else scale]
            for name, at in at_scale.items():
                if at["bound"] != bound:
                    problems.append(
                        f"{name}: the {scale} bound is {bound} in the lecture, but was {at['bound']} when "
                        "measured: measure again"
                    )
                if scale == "untrained":
                    if any(_passes(v, check["op"], bound) for v in at["values"].values()):
                        problems.append(f"{name}: passes untrained ({at['values']}): it checks nothing")
                    continue
                if len(at["values"]) < MIN_SEEDS:
                    problems.append(f"{name}: fewer than {MIN_SEEDS} seeds measured at {scale}")
                bad = {s: v for s, v in at["values"].items() if not _passes(v, check["op"], bound)}
                if bad:
                    problems.append(f"{name}: at {scale}, seeds {bad} do not clear {check['op']} {bound}")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


def test_margins_json_names_only_checks_the_lectures_make():
    stale = []
    for notebook, entries in margins_tool.load().items():
        path = REPO / "notebooks" / f"{notebook}.py"
        checks = static_checks(path)[0] if path.is_file() else []
        for name in entries:
            if not any(re.fullmatch(c["pattern"] + r"(\[[^]]+\])?", name) for c in checks):
                stale.append(f"{notebook}: {name}")
    assert not stale, "tests/margins.json names checks no lecture makes: " + ", ".join(stale)


def test_the_static_reading_finds_bounds_names_and_problems(tmp_path):
    lecture = tmp_path / "99_x.py"
    lecture.write_text(
        "# %%\nMARGIN = config.scaled(smoke=1, lecture=2, full=3)\n\n"
        '# %% tags=["learning-check"]\n'
        'checks.above("a", v, config.scaled(smoke=5, lecture=6, full=7), "x")\n'
        'checks.below(f"b[{k}]", v, MARGIN, "y")\n\n'
        '# %% tags=["learning-check"]\nassert v > 3\n\n'
        '# %%\nchecks.above("c", v, 3, "z")\n',
        encoding="utf-8",
    )
    checks, problems = static_checks(lecture)
    assert [(c["pattern"], c["bounds"]["lecture"], c["op"]) for c in checks] == [
        ("a", 6.0, ">"),
        (re.escape("b[") + "[^]]+?" + re.escape("]"), 2.0, "<"),
    ]
    assert len(problems) == 3  # the bare assert, the check outside a tagged cell, its bare bound
