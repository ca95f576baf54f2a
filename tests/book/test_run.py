"""``book/run.py`` (``make run``): notebooks executed side by side, each with its share of the cores."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("book_run", REPO / "book" / "run.py")
run = importlib.util.module_from_spec(_spec)
sys.modules["book_run"] = run  # the worker processes find execute() by its module's name
_spec.loader.exec_module(run)


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _stdout(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    return "".join(
        o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "stream"
    )


def test_runs_side_by_side_with_a_share_of_the_cores_and_records_the_times(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COURSE_SCALE", raising=False)  # make test runs at smoke; make run's default
    src = tmp_path / "src"
    src.mkdir()
    read_env = "import os; print(os.environ.get('COURSE_THREADS'), os.environ.get('OMP_NUM_THREADS'))"
    a = _notebook(src / "01_a.ipynb", read_env)
    b = _notebook(src / "02_b.ipynb", "print(6 * 7)")
    build = tmp_path / "build"
    assert run.main(["--jobs", "2", "--build", str(build), str(a), str(b)]) == 0
    share = str(max(1, (os.cpu_count() or 1) // 2))
    assert _stdout(build / "notebooks" / "01_a.ipynb").split() == [share, share]
    assert _stdout(build / "notebooks" / "02_b.ipynb").strip() == "42"
    assert "42" in (build / "html" / "02_b.html").read_text(encoding="utf-8")
    records = [json.loads(line) for line in (build / "run_times.jsonl").read_text().splitlines()]
    assert sorted(r["notebook"] for r in records) == ["01_a", "02_b", run.ALL]
    assert all(r["jobs"] == 2 and r["scale"] == "lecture" for r in records)
    assert "all 2 notebooks" in capsys.readouterr().out


def test_one_job_leaves_the_threads_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_THREADS", raising=False)
    a = _notebook(tmp_path / "01_a.ipynb", "import os; print(os.environ.get('COURSE_THREADS'))")
    assert run.main(["--jobs", "1", "--build", str(tmp_path / "b"), str(a)]) == 0
    assert _stdout(tmp_path / "b" / "notebooks" / "01_a.ipynb").strip() == "None"


def test_a_failing_notebook_is_saved_reported_and_not_timed(tmp_path, capsys):
    bad = _notebook(
        tmp_path / "01_bad.ipynb", "print('before')", "raise RuntimeError('boom')", "print('after')"
    )
    good = _notebook(tmp_path / "02_good.ipynb", "print('fine')")
    build = tmp_path / "build"
    assert run.main(["--jobs", "2", "--build", str(build), str(bad), str(good)]) == 1
    out = capsys.readouterr().out
    assert "01_bad FAILED" in out and "RuntimeError: boom" in out
    assert "before" in _stdout(build / "notebooks" / "01_bad.ipynb")  # saved as far as it ran
    names = [json.loads(line)["notebook"] for line in (build / "run_times.jsonl").read_text().splitlines()]
    assert names == ["02_good"]  # neither the failure nor a whole-run time is recorded


def test_longest_first_by_the_last_run_at_the_same_scale(tmp_path):
    times = tmp_path / "run_times.jsonl"
    lines = [
        {"notebook": "01_a", "scale": "lecture", "seconds": 500},
        {"notebook": "01_a", "scale": "lecture", "seconds": 10},  # the latest run counts
        {"notebook": "02_b", "scale": "lecture", "seconds": 60},
        {"notebook": "03_c", "scale": "smoke", "seconds": 900},  # another scale: ignored
    ]
    times.write_text("".join(json.dumps(r) + "\n" for r in lines))
    seconds = run.last_seconds(times, "lecture")
    assert seconds == {"01_a": 10.0, "02_b": 60.0}
    order = run.longest_first([Path("01_a.ipynb"), Path("02_b.ipynb"), Path("03_c.ipynb")], seconds)
    assert [p.stem for p in order] == ["03_c", "02_b", "01_a"]  # never run at lecture: first
    # Without records, the lectures' typical first-run times decide: 08 (the longest) first.
    lectures = sorted(p for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    first = run.longest_first(lectures, {})
    assert first[0].stem == "08_diffusion" and first[-1].stem == "00_course_tour"
    assert {p.stem for p in lectures} <= set(run.FIRST_RUN_SECONDS), "a lecture has no first-run time"
    assert run.last_seconds(tmp_path / "none.jsonl", "lecture") == {}


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(SystemExit):
        run.main(["--jobs", "0", str(_notebook(tmp_path / "a.ipynb", "1"))])
    with pytest.raises(SystemExit):
        run.main([str(tmp_path / "missing.ipynb")])
