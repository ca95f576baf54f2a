"""A pytest plugin: one parallel session for the unit tests, the notebooks and the negative control.

``make test`` runs everything in one ``pytest -n 2 --no-loadscope-reorder`` session, so that
neither core idles while the other finishes a phase (as three sessions one after another did).
This plugin does three things:

- its scheduler (``pytest_xdist_make_scheduler``) keeps the cells of a notebook on one worker:
  nbval runs a notebook's cells in order in one kernel (what ``--dist loadfile`` did for the
  notebooks alone). Every other test is a unit of work of its own, so the negative control's runs,
  which are the parameters of one test function, spread over both workers. (xdist's own
  ``--dist loadgroup`` cannot do this here: it marks a group by rewriting ``item._nodeid``, which
  pytest 9.2 no longer reads, so each cell became a unit of its own);
- it orders the work: the unit test that trains the MNIST classifier (``FIRST``), every notebook
  at ``smoke``, the negative control's runs at ``untrained``, then the other unit tests, each group
  longest first by its measured cost (``SECONDS``; the rest in collection order). The classifier,
  which every notebook's Fréchet distance needs, is trained once on one worker while the other
  starts the longest notebook (``lib.metrics.load_classifier`` makes a process that wants it
  earlier wait for it); the long notebooks start at once and the many short unit tests fill the
  gaps at the end; and the notebooks at smoke, from which CI builds the course book, are done
  early: ``.ci/run`` builds and checks the book while the session goes on;
- it prints where the time went, by part.

The order changes only how long the session takes, never what it tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

#: Seconds each notebook took in one ``make test`` on a 2-core machine, two things at a time (after
#: the second trust pass): at smoke under nbval, and at untrained in the negative control. Only the
#: order is taken from them; a notebook not listed runs after the listed ones.
SECONDS: dict[str, tuple[float, float]] = {
    "08_diffusion": (54, 28),
    "03_ebm_langevin": (47, 21),
    "06_dcgan_tensorflow": (43, 15),
    "05_vae_keras": (40, 16),
    "10_autoregressive_and_flows": (40, 13),
    "11_neural_samplers": (26, 8),
    "01_rbm_pytorch": (24, 16),
    "07_ising_generative": (22, 14),
    "04_vae_pytorch": (16, 10),
    "00_course_tour": (8, 0),
    "02_rbm_keras": (8, 7),
    "09_rbm_quantum_states": (7, 4),
}
NEGATIVE_CONTROL = "test_learning_checks_fail_when_untrained"
#: Runs before everything else: it trains the classifier (about 15 s on one thread in a clean clone).
FIRST = "tests/test_metrics.py::test_classifier_is_accurate_cached_and_separates_real_from_noise"


def _part(nodeid: str) -> tuple[str, str | None]:
    """The part a test belongs to: ``("smoke", notebook)`` for a cell that nbval collected,
    ``("untrained", notebook)`` for a run of the negative control, else ``("unit", None)``."""
    path, _, rest = nodeid.partition("::")
    if path.endswith(".ipynb"):
        return "smoke", Path(path).stem
    if rest.startswith(NEGATIVE_CONTROL + "["):
        return "untrained", rest[len(NEGATIVE_CONTROL) + 1 :].split("]")[0]
    return "unit", None


def _rank(item: pytest.Item) -> tuple[int, float]:
    """Where ``item`` goes: its group (-1 ``FIRST``, 0 a notebook at smoke, 1 a run at untrained,
    2 any other test), then the run it belongs to, longest first (an unlisted notebook or a unit
    test: 0 s)."""
    if item.nodeid == FIRST:
        return -1, 0.0
    part, notebook = _part(item.nodeid)
    if part == "smoke":
        return 0, -SECONDS.get(notebook, (0.0, 0.0))[0]
    if part == "untrained":
        return 1, -SECONDS.get(notebook, (0.0, 0.0))[1]
    return 2, 0.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort: the cells of a notebook keep their order, and so do the unit tests. Each worker
    # sorts the same collection the same way; the scheduler hands out the work in this order.
    items.sort(key=_rank)


def unit_of_work(nodeid: str) -> str:
    """The unit of work a test belongs to: its notebook for a cell, else the test itself."""
    return nodeid.split("::", 1)[0] if _part(nodeid)[0] == "smoke" else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """A notebook's cells are one unit of work (one worker, in order); any other test is one."""
    from xdist.scheduler import LoadScopeScheduling

    class NotebookScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of_work(nodeid)

    return NotebookScheduling(config, log)


# ---------------------------------------------------------------------------------------------
# where the time went: printed at the end of the session (the sum of the tests' durations, which
# on two workers is about twice the wall time)

_spent: dict[str, float] = {}


def _kind(nodeid: str) -> str:
    part, notebook = _part(nodeid)
    if notebook is not None:
        return f"{part:<10} {notebook}"
    return "unit tests" if nodeid.startswith("tests/") else "other"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    key = _kind(report.nodeid)
    _spent[key] = _spent.get(key, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    if len(_spent) < 2:  # one part only (e.g. make unit): nothing to compare
        return
    terminalreporter.section("seconds spent, by part (summed over the workers)")
    for key, seconds in sorted(_spent.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{seconds:7.1f}  {key}")
    terminalreporter.write_line(f"{sum(_spent.values()):7.1f}  in all")
