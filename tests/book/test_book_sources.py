"""Unit tests of the book's build script and the slide-metadata rule (no browser, no Sphinx).

The browser checks of a built site are in ``site_check.py`` beside this file (run explicitly).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"book_{name}", REPO / "book" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load("build")
slides = _load("slides")
nbval_save = _load("nbval_save")


def md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text):
    return {"cell_type": "code", "metadata": {}, "source": text, "outputs": [], "execution_count": None}


# --- slides ---------------------------------------------------------------------------------------

FIGURE = "fig, ax = plt.subplots()\nax.plot(x, y)\nplt.show()"
FILLER = "\n".join(f"line {i}" for i in range(10))


def test_headings_start_slides_and_subslides():
    cells = [
        md("# 01 · Title\n\ntext"),
        code("x = 1"),
        md("## 1. A section"),
        md("### 1.1 Sub"),
        code("y = 2"),
    ]
    assert slides.slide_types(cells) == ["slide", None, "slide", "subslide", None]


def test_a_figure_starts_a_subslide_only_after_some_content():
    right_after_heading = [md("## Section\n\nshort"), code(FIGURE)]
    assert slides.slide_types(right_after_heading) == ["slide", None]
    after_content = [md("## Section\n\n" + FILLER), code(FIGURE)]
    assert slides.slide_types(after_content) == ["slide", "subslide"]


def test_long_derivations_and_long_code_start_subslides():
    derivation = md("We have\n$$a = b$$\nand so\n$$c = d$$")
    environment = md("$$\\begin{aligned} a &= b \\end{aligned}$$")
    long_code = code("\n".join(f"x{i} = {i}" for i in range(25)))
    cells = [md("## S\n\n" + FILLER), derivation, md("x " + FILLER), environment, md(FILLER), long_code]
    assert slides.slide_types(cells) == ["slide", "subslide", None, "subslide", None, "subslide"]
    assert slides.slide_types([md("## S\n\n" + FILLER), md("one $$x$$ formula")]) == ["slide", None]


def test_set_metadata_sets_and_removes_and_is_idempotent():
    cells = [md("# T"), code("x = 1"), md("## S")]
    cells[1]["metadata"]["slideshow"] = {"slide_type": "fragment"}  # not what the rule says: removed
    assert slides.set_metadata(cells) == 3
    assert [c["metadata"].get("slideshow") for c in cells] == [
        {"slide_type": "slide"},
        None,
        {"slide_type": "slide"},
    ]
    assert slides.set_metadata(cells) == 0


PY_NOTEBOOK = """\
# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,slideshow,-all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 99 · A lecture

# %% tags=["learning-check"]
assert 1 + 1 == 2

# %% [markdown]
# ## A section
"""


def test_check_fails_until_apply_and_apply_keeps_tags(tmp_path, capsys):
    path = tmp_path / "99_lecture.py"
    path.write_text(PY_NOTEBOOK, encoding="utf-8")
    assert slides.check([path]) == 1
    assert path.read_text(encoding="utf-8") == PY_NOTEBOOK, "check changed the file"
    assert slides.apply([path]) == 0
    text = path.read_text(encoding="utf-8")
    assert '# %% [markdown] slideshow={"slide_type": "slide"}\n# # 99' in text
    assert '# %% tags=["learning-check"]\nassert' in text
    assert (tmp_path / "99_lecture.ipynb").is_file(), "apply syncs the paired notebook"
    nb = json.loads((tmp_path / "99_lecture.ipynb").read_text(encoding="utf-8"))
    assert nb["cells"][2]["metadata"]["slideshow"] == {"slide_type": "slide"}
    assert slides.check([path]) == 0


def test_check_mode_from_the_command_line(tmp_path):
    path = tmp_path / "99_lecture.py"
    path.write_text(PY_NOTEBOOK, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(REPO / "book" / "slides.py"), "check", str(path)], capture_output=True, text=True
    )
    assert run.returncode == 1 and "would change" in run.stdout
    assert path.read_text(encoding="utf-8") == PY_NOTEBOOK


def test_check_expands_the_wildcards_that_powershell_leaves_alone(tmp_path, capsys):
    for name in ("98_one.py", "99_two.py"):
        (tmp_path / name).write_text(PY_NOTEBOOK, encoding="utf-8")
    assert slides.main(["check", str(tmp_path / "[0-9][0-9]_*.py")]) == 1
    out = capsys.readouterr().out
    assert "98_one.py: " in out and "99_two.py: " in out


def test_the_tools_run_as_modules_of_this_interpreter(tmp_path, monkeypatch):
    """No `bin/jupytext` or `bin/jupyter` beside python (on Windows they are Scripts\\*.exe)."""
    cmd = slides.nbconvert_command([tmp_path / "01_a.ipynb"], tmp_path / "out")
    assert cmd[:5] == [sys.executable, "-m", "nbconvert", "--to", "slides"]
    assert cmd[-1] == str(tmp_path / "01_a.ipynb")
    assert importlib.util.find_spec("nbconvert.__main__") and importlib.util.find_spec("jupytext.__main__")
    calls = []
    monkeypatch.setattr(slides.subprocess, "run", lambda cmd, check: calls.append(cmd))
    path = tmp_path / "99_lecture.py"
    path.write_text(PY_NOTEBOOK, encoding="utf-8")
    slides.apply([path])
    assert calls == [[sys.executable, "-m", "jupytext", "--sync", "--quiet", str(path)]]


def test_jupyter_book_is_the_one_in_the_interpreters_scripts_dir(tmp_path, monkeypatch):
    """Jupyter Book 1.x has no `python -m` form: its script, from sysconfig's scripts directory."""
    calls = []
    monkeypatch.setattr(build.subprocess, "run", lambda cmd, check: calls.append(cmd))
    build.build(tmp_path)
    (cmd,) = calls
    assert Path(cmd[0]).parent == Path(sysconfig.get_path("scripts")) and Path(cmd[0]).stem == "jupyter-book"
    assert cmd[1:] == ["build", str(tmp_path), "--builder", "html", "--warningiserror", "--keep-going"]


# --- build: widgets, provenance, pages --------------------------------------------------------------


def _bar_state(model="m", value=10.0, maximum=10.0):
    return {
        model: {
            "model_name": "HBoxModel",
            "state": {"children": ["IPY_MODEL_a", "IPY_MODEL_b", "IPY_MODEL_c"]},
        },
        "a": {"model_name": "HTMLModel", "state": {"value": "CD-1:\u2007100%"}},
        "b": {"model_name": "FloatProgressModel", "state": {"value": value, "max": maximum}},
        "c": {"model_name": "HTMLModel", "state": {"value": "\u200710/10\u2007[00:02&lt;00:00]"}},
    }


def test_a_tqdm_widget_becomes_its_final_text():
    assert build.progress_text("m", _bar_state()) == "CD-1: 100%|██████████| 10/10 [00:02<00:00]"
    assert build.progress_text("m", _bar_state(value=5.0)).count("█") == 5
    assert build.progress_text("other", _bar_state()) is None


def test_static_outputs_drop_the_widget_state():
    view = {"model_id": "m", "version_major": 2, "version_minor": 0}
    nb = {
        "metadata": {"widgets": {build.WIDGET_STATE: {"state": _bar_state()}}},
        "cells": [
            {
                "cell_type": "code",
                "outputs": [
                    {
                        "output_type": "display_data",
                        "data": {build.WIDGET_VIEW: view, "text/plain": "CD-1: 0%"},
                    },
                    {"output_type": "display_data", "data": {build.WIDGET_VIEW: dict(view, model_id="gone")}},
                    {"output_type": "stream", "name": "stdout", "text": "hello\n"},
                ],
            }
        ],
    }
    build.static_outputs(nb)
    assert "widgets" not in nb["metadata"]
    outs = nb["cells"][0]["outputs"]
    assert outs[0]["text"].startswith("CD-1: 100%|██████████|")
    assert outs[1]["text"] == "[progress bar: widget]\n"
    assert outs[2]["text"] == "hello\n"
    assert build.WIDGET_VIEW not in json.dumps(nb)


def test_provenance_from_metadata_then_results_then_the_file(tmp_path):
    nb_path = tmp_path / "01_x.ipynb"
    nb_path.write_text("{}", encoding="utf-8")
    meta = {"scale": "smoke", "date": "2026-01-02", "commit": "abc", "machine": "m"}
    assert build.provenance("01_x", {"metadata": {"course_execution": meta}}, tmp_path, nb_path) == meta
    (tmp_path / "01_x.json").write_text(
        json.dumps(
            {"scale": "lecture", "updated": "2026-03-04T05:06:07+00:00", "commit": "def", "machine": "n"}
        ),
        encoding="utf-8",
    )
    got = build.provenance("01_x", {"metadata": {}}, tmp_path, nb_path)
    assert got == {"scale": "lecture", "date": "2026-03-04", "commit": "def", "machine": "n"}
    assert build.provenance("02_y", {"metadata": {}}, tmp_path, nb_path)["scale"] == "unknown"


def test_every_lecture_is_a_chapter_in_teaching_order():
    names = build.lecture_names()
    assert names == sorted(names) and names[0].startswith("00_")
    toc = build.toc_yaml(names)
    positions = [toc.index(f"lectures/{n}\n") for n in names]
    assert positions == sorted(positions)
    assert toc.index("file: references") > positions[-1]


def test_titles():
    nb = {"cells": [md("text"), md("# 03 — Energy-based models\n\nmore")]}
    assert build.title_of(nb) == "03 — Energy-based models"
    assert build.short_title("03 — Energy-based models") == "Energy-based models"
    assert build.short_title("01 · RBMs") == "RBMs"


def test_uniform_titles_have_one_separator():
    assert build.uniform_title("01 · RBMs") == "01 — RBMs"
    assert build.uniform_title("03 — Energy-based models") == "03 — Energy-based models"
    assert build.uniform_title("07: Ising") == "07 — Ising"
    assert build.uniform_title("No number") == "No number"
    nb = {"cells": [code("x = 1"), md("# 01 · T\n\nIntro text.\n")]}
    build.set_title(nb, build.uniform_title(build.title_of(nb)))
    assert nb["cells"][1]["source"] == "# 01 — T\n\nIntro text.\n"


def test_the_landing_page_lists_every_lecture_from_the_notebooks(tmp_path):
    """The list is generated from the notebooks: a lecture added to notebooks/ appears in it, and
    intro.md holds no hand-written list that could go stale."""
    names = build.lecture_names()
    titles = {
        n: build.title_of(json.loads((REPO / "notebooks" / f"{n}.ipynb").read_text(encoding="utf-8")))
        for n in names
    }
    page = build.landing_page(names, titles, tmp_path)
    listed = re.findall(r"^- \[(\d\d) — [^]]+\]\(lectures/(\d\d_\w+)\.ipynb\)$", page, flags=re.M)
    assert [n for _, n in listed] == names, "every lecture, once, in teaching order"
    assert all(n.startswith(number) for number, n in listed)
    assert "<!-- lectures -->" in (REPO / "book" / "intro.md").read_text(encoding="utf-8")
    assert "lectures/" not in (REPO / "book" / "intro.md").read_text(encoding="utf-8")


def test_the_stamp_goes_under_the_title():
    nb = {"cells": [code("x = 1"), md("# 01 · T\n\nIntro text.\n")]}
    prov = {"scale": "smoke", "date": "2026-01-02", "commit": "abc", "machine": "m"}
    build.insert_stamp(nb, build.stamp("01_t", prov))
    src = nb["cells"][1]["source"]
    assert src.startswith("# 01 · T\n\n:::{admonition} How this page was made")
    assert "`COURSE_SCALE=smoke` on 2026-01-02, at commit `abc`" in src
    assert src.rstrip().endswith("Intro text.")


def test_stage_refuses_missing_notebooks(tmp_path):
    with pytest.raises(SystemExit, match="no executed notebook"):
        build.stage(tmp_path / "empty-build", tmp_path / "book")


def test_the_references_hold_what_the_issue_asks_for():
    bib = (REPO / "book" / "references.bib").read_text(encoding="utf-8")
    for key in (
        "hinton2002",
        "tieleman2008",
        "salakhutdinov2008",
        "du2019",
        "kingma2014",
        "burda2016",
        "goodfellow2014",
        "radford2016",
        "heusel2017",
        "torlai2016",
    ):
        assert f"{{{key}," in bib, key


CITE = re.compile(r"\{cite(?::[pt])?\}`([^`]+)`")


def _markdown(py: Path) -> str:
    """The Markdown cells of a jupytext py:percent notebook, without the leading '# '."""
    cells = re.split(r"^# %%.*$", py.read_text(encoding="utf-8"), flags=re.M)
    headers = re.findall(r"^# %%.*$", py.read_text(encoding="utf-8"), flags=re.M)
    return "\n".join(
        re.sub(r"^# ?", "", body, flags=re.M)
        for head, body in zip(headers, cells[1:])
        if "[markdown]" in head
    )


def _cited(text: str) -> set[str]:
    return {key.strip() for keys in CITE.findall(text) for key in keys.split(",")}


def _bib_keys() -> list[str]:
    return re.findall(
        r"^@\w+\{([^,\s]+),", (REPO / "book" / "references.bib").read_text(encoding="utf-8"), flags=re.M
    )


def test_every_cited_work_is_in_the_bibliography():
    bib = set(_bib_keys())
    for py in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py")):
        missing = _cited(_markdown(py)) - bib
        assert not missing, f"{py.name} cites {sorted(missing)}, which book/references.bib does not hold"


def test_every_lecture_cites_with_roles():
    for py in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py")):
        if not py.name.startswith("00_"):
            assert _cited(_markdown(py)), f"{py.name} cites no work with a {{cite}} role"


def test_the_bibliography_keys_are_unique():
    keys = _bib_keys()
    assert len(keys) > 20 and len(set(keys)) == len(keys), sorted(k for k in keys if keys.count(k) > 1)


def test_no_citation_role_in_a_heading():
    """The course cites in the text, never in a heading (section titles, the table of contents)."""
    for py in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py")):
        headings = [line for line in _markdown(py).splitlines() if line.startswith("#")]
        assert not [h for h in headings if CITE.search(h)], f"{py.name}: cite the work below the heading"


def test_the_citation_parser():
    text = "see {cite:p}`a2001,b2002` and {cite:t}`c2003`; {cite}`d2004`, not `e2005`"
    assert _cited(text) == {"a2001", "b2002", "c2003", "d2004"}


# --- the nbval plugin -----------------------------------------------------------------------------


def test_nbval_outputs_become_nbformat_outputs():
    import nbformat

    raw = [
        {"output_type": "stream", "name": "stdout", "text": "hi\n"},
        {"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": {}},
        {"output_type": "execute_result", "data": {"text/plain": "3"}, "metadata": {}, "execution_count": 4},
    ]
    cell = nbformat.v4.new_code_cell("1 + 2")
    cell.outputs = [nbval_save._output(o) for o in raw]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nbformat.validate(nb)


def test_solution_markers_are_dropped_from_the_book_only_in_code():
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "source": "def f(x):\n    # BEGIN SOLUTION\n    return x\n    # END SOLUTION\n",
            },
            {"cell_type": "markdown", "source": "# BEGIN SOLUTION is Otter's marker"},
        ]
    }
    build.strip_solution_markers(nb)
    assert nb["cells"][0]["source"] == "def f(x):\n    return x\n"
    assert nb["cells"][1]["source"] == "# BEGIN SOLUTION is Otter's marker"
