"""Grade a folder of submitted student notebooks against the exercises' checks.

    python book/grade.py SUBMISSIONS [--release build/student] [--out SUBMISSIONS/grades.csv]
    make grade SUBMISSIONS=path/to/folder

Each ``*.ipynb`` in ``SUBMISSIONS`` is a student's copy of one lecture from the release
(``make student``); the lecture is read from the notebook's metadata (Otter's assignment name),
else from its file name's ``NN_`` prefix. Each is run by Otter's autograder for that lecture
(``<release>/autograder/<lecture>.zip``) without a container (``otter run``: the course's own
environment, as on the student's machine; Otter's ``otter grade`` needs Docker), at
``COURSE_SCALE=smoke`` unless the environment sets another scale: the exercises do not depend on
it, and the lecture around them only needs to run. A cell that raises does not stop the run.

Writes one row per submission and one column per checked exercise (1 if its check passes,
0 if not), with the total, to ``--out`` (CSV), and prints the table with, for each failed
exercise, the check's message. Open exercises (``manual: true``) are graded by hand against the
lecture's model answers and are not in the table.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Grade:
    """One submission's result: per checked exercise, passed or not, and why not."""

    submission: str
    lecture: str
    passed: dict[str, bool] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def total(self) -> int:
        return sum(self.passed.values())


def lecture_of(notebook: Path, lectures: list[str]) -> str:
    """The lecture (``03_ebm_langevin``) a submission belongs to."""
    try:
        name = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]["otter"]["assignment_name"]
    except (KeyError, ValueError, TypeError):
        name = ""
    if name in lectures:
        return name
    prefix = re.match(r"(\d\d)_", notebook.name)
    matches = [lec for lec in lectures if prefix and lec.startswith(prefix.group(1) + "_")]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(
        f"{notebook.name}: which lecture? Its metadata names none of the release's lectures "
        f"({', '.join(lectures)}) and its name does not start with one's number (as in 03_...)"
    )


def grade(notebook: Path, autograder: Path) -> Grade:
    """Run ``notebook`` through Otter's autograder ``autograder`` (a zip of ``make student``)."""
    from otter.run import main as otter_run

    lecture = autograder.stem
    result = Grade(submission=notebook.name, lecture=lecture)
    log = io.StringIO()
    with (
        tempfile.TemporaryDirectory() as out,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        try:
            results = otter_run(str(notebook), autograder=str(autograder), output_dir=out, no_logo=True)
        except Exception as error:  # a submission that cannot be run at all: graded 0, and said why
            result.error = f"{type(error).__name__}: {error}"
            return result
    for name in sorted(results.test_files, key=lambda n: [int(x) for x in re.findall(r"\d+", n)]):
        test = results.get_result(name)
        result.passed[name] = bool(test.passed_all)
        if not test.passed_all:
            messages = [r.message or "" for r in test.test_case_results if not r.passed]
            last = [line for m in messages for line in m.splitlines() if line.strip()]
            result.why[name] = last[-1] if last else "failed"
    return result


def grade_folder(submissions: Path, release: Path) -> list[Grade]:
    """Grade every ``*.ipynb`` in ``submissions`` against the autograders in ``release``."""
    autograders = {p.stem: p for p in sorted((release / "autograder").glob("*.zip"))}
    if not autograders:
        raise FileNotFoundError(f"no autograders in {release / 'autograder'}: run `make student` first")
    notebooks = sorted(submissions.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no submitted notebooks (*.ipynb) in {submissions}")
    os.environ.setdefault("COURSE_SCALE", "smoke")
    grades = []
    for nb in notebooks:
        lecture = lecture_of(nb, list(autograders))
        grades.append(grade(nb, autograders[lecture]))
    return grades


def write_table(grades: list[Grade], out: Path) -> str:
    """Write the grades as CSV to ``out``; return them as a Markdown table with the reasons."""
    columns = sorted(
        {q for g in grades for q in g.passed}, key=lambda n: [int(x) for x in re.findall(r"\d+", n)]
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "lecture", *columns, "total", "possible", "error"])
        for g in grades:
            cells = ["" if q not in g.passed else int(g.passed[q]) for q in columns]
            writer.writerow([g.submission, g.lecture, *cells, g.total, len(g.passed), g.error])
    lines = [
        "| submission | lecture | " + " | ".join(columns) + " | total |",
        "|---|---|" + "---|" * len(columns) + "---|",
    ]
    for g in grades:
        marks = ["" if q not in g.passed else ("✓" if g.passed[q] else "✗") for q in columns]
        lines.append(
            f"| {g.submission} | {g.lecture} | " + " | ".join(marks) + f" | {g.total}/{len(g.passed)} |"
        )
    for g in grades:
        for q, why in g.why.items():
            lines.append(f"- {g.submission}, {q}: {why}")
        if g.error:
            lines.append(f"- {g.submission}: not graded ({g.error})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="a folder of submitted notebooks (*.ipynb)")
    parser.add_argument(
        "--release", type=Path, default=REPO / "build" / "student", help="what `make student` wrote"
    )
    parser.add_argument("--out", type=Path, help="the CSV to write (default: SUBMISSIONS/grades.csv)")
    args = parser.parse_args(argv)
    try:
        grades = grade_folder(args.submissions, args.release)
    except (FileNotFoundError, ValueError) as error:
        print(f"grade: {error}", file=sys.stderr)
        return 1
    out = args.out or args.submissions / "grades.csv"
    print(write_table(grades, out))
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
