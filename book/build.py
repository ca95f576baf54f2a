"""Build the course book, a static site, from notebooks that were already executed.

    python book/build.py                    # from build/notebooks/ (the last `make run`)
    COURSE_BUILD_DIR=build/smoke python book/build.py   # from the CI test run's notebooks

reads ``$COURSE_BUILD_DIR/notebooks/NN_*.ipynb`` (default ``build/``) and the results that the
same run recorded (``$COURSE_BUILD_DIR/results/``), writes the book's sources into ``build/book/``
and builds ``build/book/_build/html/`` with Jupyter Book 1.x. Nothing is executed here: Sphinx
runs with ``execute_notebooks: off``. When a lecture's executed notebook is missing the build
stops and says so (``make book`` runs ``make run`` first when there is none at all).

What the sources get on the way, so that the site is honest and works offline:

- each lecture page starts with a box that says at which ``COURSE_SCALE``, on which date and at
  which commit its notebook was executed (from the run's ``results/<notebook>.json``, or from
  the ``course_execution`` metadata that ``book/nbval_save.py`` writes in CI);
- tqdm.auto progress bars (Jupyter widgets) become their final text, e.g.
  ``CD-1: 100%|██████████| 10/10 [00:02<00:00, 3.81it/s]``, and the widget state is dropped:
  a static page has no widget manager (and loading one would mean a CDN);
- the exercises' solutions lose Otter's ``# BEGIN SOLUTION`` / ``# END SOLUTION`` marker lines (the
  book shows each solution folded, a cell tagged ``hide-input``, and each model answer in a closed
  dropdown);
- the landing page's lecture list is generated from the notebooks' titles, and its results table from
  ``lib.results``; every page title gets one separator after its number (``01 — …``);
- MathJax 3 is copied from ``node_modules/mathjax`` (``npm ci``) into the book.

Files are rewritten only when their content changes, so a rebuild is incremental (seconds).
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BOOK_SRC = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))

from lib import cli, results  # noqa: E402

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MATHJAX = REPO / "node_modules" / "mathjax" / "es5"
# The MathJax 3 files the site needs: the combined component Sphinx loads and what it loads lazily
# (TeX extensions such as boldsymbol, the CHTML fonts, the accessibility and menu parts).
MATHJAX_KEEP = ("tex-mml-chtml.js", "input", "output", "a11y", "ui", "adaptors", "sre", "latest.js")


def lecture_names(notebooks: Path = REPO / "notebooks") -> list[str]:
    """The lectures in teaching order: every ``notebooks/NN_name.ipynb``, sorted by number."""
    return sorted(p.stem for p in notebooks.glob("[0-9][0-9]_*.ipynb"))


def title_of(nb: dict[str, Any]) -> str:
    """The notebook's first level-1 heading."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in _source(cell).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise ValueError("notebook without a '# title' heading")


def short_title(title: str) -> str:
    """``01 · Restricted Boltzmann machines …`` -> ``Restricted Boltzmann machines …``."""
    return re.sub(r"^\d\d\s*[—·:.-]\s*", "", title)


def uniform_title(title: str) -> str:
    """A lecture's title with one separator after its number, whichever the notebook uses:
    ``01 · Restricted Boltzmann machines …`` -> ``01 — Restricted Boltzmann machines …``."""
    match = re.match(r"^(\d\d)\s*[—·:.-]\s*", title)
    return f"{match.group(1)} — {title[match.end() :]}" if match else title


def set_title(nb: dict[str, Any], title: str) -> None:
    """Replace the notebook's ``# title`` line by ``title`` (in place)."""
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        lines = _source(cell).splitlines(keepends=True)
        for i, line in enumerate(lines):
            if line.startswith("# "):
                lines[i] = f"# {title}" + ("\n" if line.endswith("\n") else "")
                cell["source"] = "".join(lines)
                return
    raise ValueError("notebook without a '# title' heading")


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def provenance(name: str, nb: dict[str, Any], results_dir: Path, nb_path: Path) -> dict[str, str]:
    """Scale, date, commit and machine of the run that executed the notebook.

    The notebook's own ``course_execution`` metadata (written by ``book/nbval_save.py``) comes
    first, then the results file that the same run wrote; the file's date is the last resort."""
    meta = nb.get("metadata", {}).get("course_execution")
    if meta:
        return {k: str(meta.get(k, "unknown")) for k in ("scale", "date", "commit", "machine")}
    path = results_dir / f"{name}.json"
    if path.is_file():
        doc = json.loads(path.read_text(encoding="utf-8"))
        return {
            "scale": doc.get("scale", "unknown"),
            "date": doc.get("updated", "unknown")[:10],
            "commit": doc.get("commit", "unknown"),
            "machine": doc.get("machine", "unknown"),
        }
    mtime = dt.datetime.fromtimestamp(nb_path.stat().st_mtime, dt.UTC).date().isoformat()
    return {"scale": "unknown", "date": mtime, "commit": "unknown", "machine": "unknown"}


def stamp(name: str, prov: dict[str, str]) -> str:
    """The box under a lecture's title that says how the page was made."""
    return (
        ":::{admonition} How this page was made\n:class: note\n\n"
        f"This is the notebook `notebooks/{name}.ipynb` (source: `notebooks/{name}.py`) as executed at "
        f"`COURSE_SCALE={prov['scale']}` on {prov['date']}, at commit `{prov['commit']}` "
        f"({prov['machine']}). Every number and figure below comes from that run; your own run at "
        "the same scale draws other samples, within the bounds that the notebook asserts.\n:::\n"
    )


def insert_stamp(nb: dict[str, Any], text: str) -> None:
    """Put ``text`` right under the notebook's ``# title`` line (in place)."""
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        lines = _source(cell).splitlines(keepends=True)
        for i, line in enumerate(lines):
            if line.startswith("# "):
                cell["source"] = "".join([*lines[: i + 1], "\n", text, "\n", *lines[i + 1 :]])
                return
    raise ValueError("notebook without a '# title' heading")


def progress_text(model_id: str, state: dict[str, Any]) -> str | None:
    """The final text of a tqdm.auto bar (an HBox of HTML, FloatProgress, HTML) from the widget
    state, e.g. ``CD-1: 100%|██████████| 10/10 [00:02<00:00, 3.81it/s]``; None if not a bar."""
    box = state.get(model_id)
    if not box or box.get("model_name") != "HBoxModel":
        return None
    parts = [state.get(c.removeprefix("IPY_MODEL_"), {}) for c in box["state"].get("children", [])]
    names = [p.get("model_name") for p in parts]
    if names != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    left, bar, right = (p["state"] for p in parts)
    frac = min(1.0, float(bar.get("value", 0)) / float(bar.get("max") or 1))
    filled = round(10 * frac)
    clean = lambda s: html.unescape(s.get("value", "")).replace("\u2007", " ")  # noqa: E731
    return f"{clean(left)}|{'█' * filled}{' ' * (10 - filled)}|{clean(right)}"


def static_outputs(nb: dict[str, Any]) -> None:
    """Replace widget outputs by text and drop the widget state (in place)."""
    state = nb.get("metadata", {}).pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb["cells"]:
        outs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                text = progress_text(data[WIDGET_VIEW].get("model_id", ""), state)
                if text is None:  # no saved state (e.g. executed by nbval): the bar's description only
                    plain = "".join(data.get("text/plain", ""))
                    text = f"[progress bar: {plain.split(':')[0].strip() or 'widget'}]"
                out = {"output_type": "stream", "name": "stderr", "text": text + "\n"}
            outs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outs


SOLUTION_MARKER = re.compile(r"^[ \t]*# (BEGIN|END) SOLUTION( NO PROMPT)?[ \t]*$\n?", re.MULTILINE)


def strip_solution_markers(nb: dict[str, Any]) -> None:
    """Drop the ``# BEGIN SOLUTION`` / ``# END SOLUTION`` lines from code cells (in place): they tell
    Otter Assign what to strip for the students (``book/student.py``); a reader of the book sees the
    solution itself, folded."""
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code":
            cell["source"] = SOLUTION_MARKER.sub("", _source(cell))


def write_if_changed(path: Path, text: str) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def prepare_lecture(name: str, src: Path, results_dir: Path, dest: Path) -> str:
    """Write the lecture's page source (a notebook) into ``dest``; return its title."""
    nb = json.loads(src.read_text(encoding="utf-8"))
    prov = provenance(name, nb, results_dir, src)
    static_outputs(nb)
    strip_solution_markers(nb)
    set_title(nb, uniform_title(title_of(nb)))  # one separator in every page title and the sidebar
    insert_stamp(nb, stamp(name, prov))
    write_if_changed(dest / "lectures" / f"{name}.ipynb", json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return title_of(nb)


def toc_yaml(names: list[str]) -> str:
    lines = [
        "# Generated by book/build.py: the landing page, one chapter per lecture in teaching order",
        "# (every notebooks/NN_*.ipynb), the results and the references.",
        "format: jb-book",
        "root: intro",
        "parts:",
        "  - caption: Lectures",
        "    numbered: false",
        "    chapters:",
        *[f"      - file: lectures/{n}" for n in names],
        "  - caption: Back matter",
        "    chapters:",
        "      - file: comparison",
        "      - file: results",
        "      - file: references",
    ]
    return "\n".join(lines) + "\n"


def results_section(results_dir: Path) -> str:
    try:
        table = results.key_results_table(results_dir)
    except ValueError:
        return "No key results were recorded by the run that executed these notebooks.\n"
    # key_results_table() opens with a line meant for the README; the rest is the same table.
    body = table.split("\n", 2)[2]
    return f"Generated from the results that the notebooks of this book recorded when they ran:\n\n{body}"


def lecture_list(names: list[str], titles: dict[str, str]) -> str:
    """The landing page's list of lectures, one line each, from the notebooks' own titles."""
    return "\n".join(f"- [{uniform_title(titles[n])}](lectures/{n}.ipynb)" for n in names)


def landing_page(names: list[str], titles: dict[str, str], results_dir: Path) -> str:
    template = (BOOK_SRC / "intro.md").read_text(encoding="utf-8")
    lectures = lecture_list(names, titles)
    return template.replace("<!-- lectures -->", lectures).replace(
        "<!-- results -->", results_section(results_dir)
    )


def all_results_page(results_dir: Path) -> str:
    table = results.collect(results_dir).split("\n", 1)[1]  # drop its "# Results" heading
    return (
        "# Every recorded result\n\n"
        "Every number that the lectures recorded with `lib.results.record` in the run that executed "
        "this book's notebooks (the table that `make run` writes to `build/results.md`).\n"
        f"{table}"
    )


def comparison_page(results_dir: Path, dest: Path) -> str:
    """The course's comparison of its MNIST models (lib.comparison), with its figure."""
    from lib import comparison

    comparison.write_comparison(dest, results_dir)  # comparison.md (overwritten below) + .png
    table = comparison.comparison_table(results_dir).split("\n", 1)[1]  # drop its heading
    return f"# The models compared\n{table}\n![FCD of each model](comparison.png)\n"


def copy_mathjax(dest: Path) -> None:
    if not (MATHJAX / "tex-mml-chtml.js").is_file():
        raise SystemExit(f"MathJax 3 not found in {MATHJAX}: run `npm ci` in {REPO}")
    target = dest / "_mathjax" / "mathjax"
    if (target / "tex-mml-chtml.js").is_file():
        return
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for item in MATHJAX_KEEP:
        src = MATHJAX / item
        if src.is_dir():
            shutil.copytree(src, target / item)
        elif src.is_file():
            shutil.copy2(src, target / item)


def stage(build_dir: Path, dest: Path, allow_missing: bool = False) -> list[str]:
    """Write the book's sources into ``dest``; return the lectures."""
    names = lecture_names()
    executed = build_dir / "notebooks"
    missing = [n for n in names if not (executed / f"{n}.ipynb").is_file()]
    if allow_missing:
        names = [n for n in names if n not in missing]
    elif missing:
        raise SystemExit(
            f"no executed notebook in {executed}/ for: {', '.join(missing)}. "
            "Run `make run` (or `make book`, which runs it when build/notebooks/ is empty)."
        )
    results_dir = build_dir / "results"
    dest.mkdir(parents=True, exist_ok=True)
    for stale in (dest / "lectures").glob("*.ipynb") if (dest / "lectures").is_dir() else []:
        if stale.stem not in names:
            stale.unlink()
    titles = {n: prepare_lecture(n, executed / f"{n}.ipynb", results_dir, dest) for n in names}
    for f in ("_config.yml", "references.bib", "references.md"):
        write_if_changed(dest / f, (BOOK_SRC / f).read_text(encoding="utf-8"))
    write_if_changed(dest / "_toc.yml", toc_yaml(names))
    write_if_changed(dest / "intro.md", landing_page(names, titles, results_dir))
    write_if_changed(dest / "results.md", all_results_page(results_dir))
    page = comparison_page(results_dir, dest)
    write_if_changed(dest / "comparison.md", page)
    copy_mathjax(dest)
    return names


def build(dest: Path, strict: bool = True) -> None:
    cmd = [cli.console_script("jupyter-book"), "build", str(dest), "--builder", "html"]
    if strict:  # a warning (a broken cross-reference, a missing file) fails the build
        cmd += ["--warningiserror", "--keep-going"]
    subprocess.run(cmd, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--build-dir",
        type=Path,
        default=Path(os.environ.get("COURSE_BUILD_DIR", REPO / "build")),
        help="the run's build directory, with notebooks/ and results/ (default: $COURSE_BUILD_DIR or build/)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "build" / "book", help="default: build/book")
    parser.add_argument("--stage-only", action="store_true", help="write the sources, do not run Sphinx")
    parser.add_argument(
        "--allow-missing", action="store_true", help="leave out lectures that have no executed notebook"
    )
    parser.add_argument("--no-strict", action="store_true", help="do not turn Sphinx warnings into errors")
    args = parser.parse_args(argv)
    start = time.monotonic()
    names = stage(args.build_dir.resolve(), args.out.resolve(), args.allow_missing)
    if not args.stage_only:
        build(args.out.resolve(), strict=not args.no_strict)
    index = args.out / "_build" / "html" / "index.html"
    print(f"book: {len(names)} lectures from {args.build_dir}/notebooks in {time.monotonic() - start:.0f} s")
    print(f"open it with: python -m http.server -d {index.parent}  (then http://127.0.0.1:8000/)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
