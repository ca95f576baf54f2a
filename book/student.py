"""The student release: every lecture with its exercises' solutions removed, and its autograder.

    python book/student.py [--out build/student] [notebooks/03_ebm_langevin.py ...]   (make student)

The lectures (``notebooks/NN_*.py``, the source; their ``.ipynb`` pairs) hold the solutions,
written in otter-grader's notebook format (https://otter-grader.readthedocs.io, "Otter Assign"):

- a raw cell ``# BEGIN QUESTION`` with ``name: ex03_1`` (``manual: true`` for an open exercise,
  answered in prose) opens an exercise, a raw cell ``# END QUESTION`` closes it;
- inside, code between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` lines is the solution (the
  student sees ``...``), and a Markdown cell between raw cells ``# BEGIN SOLUTION`` and
  ``# END SOLUTION`` is a model answer (the student sees a prompt to write their own);
- a checked exercise ends with the line ``check("03.1", answer, ...)`` (:mod:`lib.exercises`),
  which both the lecture and the release keep, so the student gets the same feedback.

Otter Assign (``otter.assign.main``) does the stripping. This script only gives it what the
course's notebooks leave implicit, on a copy: the assignment configuration (no otter-specific
cells in the student's notebook, no PDFs) and, after each ``check(...)`` line, the same call as an
otter test, so that Otter's autograder (``book/grade.py``, ``otter run``) grades with the checks
that the student ran. It writes, per lecture,

- ``<out>/<lecture>.ipynb``: the notebook the student opens (stubs, checks, no solutions);
- ``<out>/autograder/<lecture>.zip``: Otter's autograder, which ``book/grade.py`` uses;
- ``<out>/autograder/<lecture>.ipynb``: the solutions as Otter sees them (the grading tests'
  reference).

A lecture without ``# BEGIN QUESTION`` cells is copied as it is (no autograder). Written in a
temporary folder and moved into place, so an interrupted run leaves the last release whole.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import logging
import re
import shutil
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: the repository's lib, whatever the working folder
    sys.path.insert(0, str(REPO))

from lib import cli  # noqa: E402
from lib.exercises import question_name  # noqa: E402

ASSIGNMENT_CONFIG = """# ASSIGNMENT CONFIG
name: {name}
init_cell: false
check_all_cell: false
export_cell: false
run_tests: false
solutions_pdf: false
generate: true
strip_solutions_from_all_cells: true
tests:
  files: false
  ok_format: false
"""
CHECK = re.compile(r'^check\(\s*"(?P<id>\d\d\.\d+)"\s*(?P<args>(,\s*[A-Za-z_]\w*\s*)*),?\s*\)\s*$')
BEGIN_QUESTION = re.compile(r"^#\s*BEGIN\s+QUESTION", re.IGNORECASE)
END_QUESTION = re.compile(r"^#\s*END\s+QUESTION", re.IGNORECASE)


class ReleaseError(ValueError):
    """A lecture whose exercises are not in the form this release understands."""


def _raw(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_raw_cell(text)


def prepare(nb: nbformat.NotebookNode, name: str) -> tuple[nbformat.NotebookNode, list[str]]:
    """A copy of lecture ``nb`` in Otter Assign's format; also the checked exercises' ids.

    Adds the assignment configuration, ``check_cell: false`` to each question (the course's own
    ``check`` line is the check), and after each ``check("NN.k", a, b)`` line a test cell calling
    it, so that the autograder runs the student's checks. Raises :class:`ReleaseError` for a check
    outside a question, a question without an end, or a check of another exercise than its
    question's.
    """
    cells = [_raw(ASSIGNMENT_CONFIG.format(name=name))]
    ids: list[str] = []
    question: str | None = None
    for cell in nb.cells:
        cell = nbformat.from_dict(dict(cell))
        src = cell.source.strip()
        if cell.cell_type == "raw" and BEGIN_QUESTION.match(src):
            if question is not None:
                raise ReleaseError(f"{name}: question {question} has no '# END QUESTION' before the next one")
            found = re.search(r"^name:\s*(\S+)\s*$", src, re.MULTILINE)
            if not found:
                raise ReleaseError(f"{name}: a '# BEGIN QUESTION' cell needs a line 'name: exNN_k'")
            question = found.group(1)
            if not re.search(r"^check_cell:", src, re.MULTILINE):
                cell.source = src + "\ncheck_cell: false"
            cells.append(cell)
            continue
        if cell.cell_type == "raw" and END_QUESTION.match(src):
            if question is None:
                raise ReleaseError(f"{name}: '# END QUESTION' without '# BEGIN QUESTION'")
            question = None
        cells.append(cell)
        if cell.cell_type != "code":
            continue
        for line in src.splitlines():
            m = CHECK.match(line.strip())
            if not m:
                continue
            exercise_id = m.group("id")
            if question != question_name(exercise_id):
                raise ReleaseError(
                    f"{name}: check({exercise_id!r}, ...) belongs in question {question_name(exercise_id)}, "
                    f"found in {question or 'no question'}"
                )
            args = [a.strip() for a in m.group("args").split(",") if a.strip()]
            test = (
                f"def test_{question}({', '.join(args)}):\n"
                "    from lib.exercises import check\n\n"
                f"    check({exercise_id!r}{''.join(', ' + a for a in args)})\n"
            )
            cells += [_raw("# BEGIN TESTS"), nbformat.v4.new_code_cell(test), _raw("# END TESTS")]
            ids.append(exercise_id)
    if question is not None:
        raise ReleaseError(f"{name}: question {question} has no '# END QUESTION'")
    out = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    return out, ids


def _has_questions(nb: nbformat.NotebookNode) -> bool:
    return any(c.cell_type == "raw" and BEGIN_QUESTION.match(c.source.strip()) for c in nb.cells)


def _deterministic(src: Path, dst: Path) -> None:
    """Copy notebook ``src`` to ``dst`` with cell ids made from position and content (Otter and
    nbformat draw random ones), so that the same lecture always releases the same file."""
    nb = nbformat.read(src, as_version=4)
    for k, cell in enumerate(nb.cells):
        cell["id"] = hashlib.sha1(f"{k}\0{cell.source}".encode()).hexdigest()[:12]
    nbformat.write(nb, dst)


def release(sources: list[Path], out: Path) -> list[Path]:
    """Write the student release of lectures ``sources`` (their ``.py``) into ``out``; return the
    student notebooks written."""
    from otter.assign import main as otter_assign  # imported here: only the release needs Otter

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix=".student-", dir=out) as tmp_name:
        tmp = Path(tmp_name)
        for source in sources:
            name = source.stem
            nb = jupytext.read(source)
            stage = tmp / name
            stage.mkdir()
            if not _has_questions(nb):
                nbformat.write(nb, stage / f"{name}.ipynb")
            else:
                master, _ = prepare(nb, name)
                nbformat.write(master, tmp / f"{name}-master.ipynb")
                log = io.StringIO()
                with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                    try:
                        otter_assign(
                            str(tmp / f"{name}-master.ipynb"),
                            str(tmp / f"{name}-otter"),
                            no_run_tests=True,
                            no_pdfs=True,
                        )
                    except Exception as error:
                        raise ReleaseError(
                            f"{name}: otter assign failed: {error}\n{log.getvalue()}"
                        ) from error
                otter_out = tmp / f"{name}-otter"
                _deterministic(otter_out / "student" / f"{name}-master.ipynb", stage / f"{name}.ipynb")
                (stage / "autograder").mkdir()
                (zip_file,) = (otter_out / "autograder").glob("*.zip")
                shutil.copy(zip_file, stage / "autograder" / f"{name}.zip")
                _deterministic(
                    otter_out / "autograder" / f"{name}-master.ipynb", stage / "autograder" / f"{name}.ipynb"
                )
            # into place, one lecture at a time: a lecture is either the last release's or this one's
            for path in sorted(stage.rglob("*")):
                if path.is_file():
                    target = out / path.relative_to(stage)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    path.replace(target)
                    if target.suffix == ".ipynb" and target.parent == out:
                        written.append(target)
    return written


def to_workspace(notebooks: list[Path], workspace: Path) -> list[str]:
    """Copy each released notebook into ``workspace`` where it is not there yet; never overwrite one
    (it holds a student's answers). ``workspace/.release/`` keeps the version each copy was made
    from, so that a later release that changes a lecture is reported once. Returns what to say."""
    record = workspace / ".release"
    record.mkdir(parents=True, exist_ok=True)
    said = []
    for nb in notebooks:
        mine, was = workspace / nb.name, record / nb.name
        if not mine.exists():
            shutil.copyfile(nb, mine)
        elif was.exists() and was.read_bytes() != nb.read_bytes():
            said.append(f"kept your {mine}; the lecture has changed since you copied it: see {nb}")
        shutil.copyfile(nb, was)
    return said


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="*", help="lectures' .py sources (default: every notebooks/NN_*.py)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "student")
    parser.add_argument(
        "--workspace", type=Path, help="also copy each released notebook here where it is missing (make lab)"
    )
    args = parser.parse_args(argv)
    logging.getLogger("otter").setLevel(logging.WARNING)
    sources = cli.expand_globs(args.sources) or sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))
    try:
        written = release(sources, args.out)
    except ReleaseError as error:
        print(f"student release: {error}", file=sys.stderr)
        return 1
    print(
        f"student release: {len(written)} notebooks in {args.out} (autograders in {args.out / 'autograder'})"
    )
    if args.workspace is not None:
        for line in to_workspace(written, args.workspace):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
