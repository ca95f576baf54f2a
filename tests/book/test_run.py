"""``book/run.py`` (``make run``): notebooks executed side by side, each with its share of the cores."""

from __future__ import annotations

import importlib
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
# Imported from book/ on sys.path, as `python book/run.py` has it: the worker processes find
# execute() by its module's name, and a spawned worker (Windows, macOS) imports that module afresh
# from the sys.path it inherits, where a module made from a file spec would not be found.
sys.path.insert(0, str(REPO / "book"))
run = importlib.import_module("run")


@pytest.fixture(autouse=True)
def _environment(monkeypatch):
    """run.main sets COURSE_BUILD_DIR and drops MPLBACKEND for its kernels: restored after each test."""
    monkeypatch.setenv("COURSE_BUILD_DIR", os.environ.get("COURSE_BUILD_DIR", "build"))
    monkeypatch.setenv("MPLBACKEND", "Agg")  # as CI sets it


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
    records = [
        json.loads(line) for line in (build / "run_times.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert sorted(r["notebook"] for r in records) == ["01_a", "02_b", run.ALL]
    assert all(r["jobs"] == 2 and r["scale"] == "lecture" for r in records)
    assert "all 2 notebooks" in capsys.readouterr().out


def test_one_job_leaves_the_threads_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_THREADS", raising=False)
    a = _notebook(tmp_path / "01_a.ipynb", "import os; print(os.environ.get('COURSE_THREADS'))")
    assert run.main(["--jobs", "1", "--build", str(tmp_path / "b"), str(a)]) == 0
    assert _stdout(tmp_path / "b" / "notebooks" / "01_a.ipynb").strip() == "None"


def test_workers_are_spawned_as_on_windows(tmp_path, monkeypatch):
    """Windows has no fork: workers start afresh ("spawn") on every platform, and import execute()
    by its module's name."""
    contexts = []

    def recording(*args, mp_context=None, **kwargs):
        contexts.append(mp_context.get_start_method())
        return ProcessPoolExecutor(*args, mp_context=mp_context, **kwargs)

    monkeypatch.setattr(run, "ProcessPoolExecutor", recording)
    a = _notebook(tmp_path / "01_a.ipynb", "print(6 * 7)")
    assert run.main(["--jobs", "1", "--build", str(tmp_path / "b"), str(a)]) == 0
    assert _stdout(tmp_path / "b" / "notebooks" / "01_a.ipynb").strip() == "42"
    assert contexts == ["spawn"]


def test_wildcards_the_shell_left_alone_are_expanded(tmp_path, monkeypatch):
    """PowerShell and cmd pass `notebooks/*.ipynb` on as it is; bash expands it first."""
    seen = []
    monkeypatch.setattr(run, "longest_first", lambda notebooks, seconds: seen.extend(notebooks) or [])
    _notebook(tmp_path / "01_a.ipynb", "1")
    _notebook(tmp_path / "02_b.ipynb", "2")
    assert run.main(["--build", str(tmp_path / "b"), str(tmp_path / "*.ipynb")]) == 0
    assert [p.name for p in seen] == ["01_a.ipynb", "02_b.ipynb"]
    with pytest.raises(SystemExit):  # a pattern that matches nothing is reported as missing
        run.main(["--build", str(tmp_path / "b"), str(tmp_path / "*.nothing")])


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
    names = [
        json.loads(line)["notebook"]
        for line in (build / "run_times.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert names == ["02_good"]  # neither the failure nor a whole-run time is recorded


def test_longest_first_by_the_last_run_at_the_same_scale(tmp_path):
    times = tmp_path / "run_times.jsonl"
    lines = [
        {"notebook": "01_a", "scale": "lecture", "seconds": 500},
        {"notebook": "01_a", "scale": "lecture", "seconds": 10},  # the latest run counts
        {"notebook": "02_b", "scale": "lecture", "seconds": 60},
        {"notebook": "03_c", "scale": "smoke", "seconds": 900},  # another scale: ignored
    ]
    times.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
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


def test_the_lectures_are_every_numbered_notebook_in_order():
    names = [p.name for p in run.lectures()]
    assert names == sorted(names) and names[0].startswith("00_") and len(names) >= 10


def test_a_whole_run_replaces_the_last_one_and_writes_the_results_table(tmp_path, monkeypatch):
    """Without notebooks named: every lecture, the last run's outputs cleared, results.md written,
    and the kernels record into --build, with figures inline (no MPLBACKEND)."""
    src = tmp_path / "src"
    src.mkdir()
    lecture = _notebook(
        src / "01_a.ipynb",
        "import os; print(os.environ.get('MPLBACKEND'))",
        "from lib import config, results; config.setup('01_a', quiet=True); results.record('answer', 42)",
    )
    monkeypatch.setattr(run, "lectures", lambda: [lecture])
    build = tmp_path / "build"
    (build / "results").mkdir(parents=True)
    (build / "results" / "99_stale.json").write_text("{}", encoding="utf-8")
    assert run.main(["--jobs", "1", "--build", str(build)]) == 0
    assert sorted(p.name for p in (build / "results").iterdir()) == ["01_a.json"]
    assert _stdout(build / "notebooks" / "01_a.ipynb").strip() != "Agg"  # the kernel's own (inline)
    assert "answer" in (build / "results.md").read_text(encoding="utf-8")
