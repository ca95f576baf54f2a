"""Slide metadata from the headings, and the lectures as offline reveal.js decks.

    python book/slides.py check notebooks/[0-9][0-9]_*.py    # exit 1 if `apply` would change a file
    python book/slides.py apply notebooks/[0-9][0-9]_*.py    # set the metadata (.py, then its .ipynb)
    python book/slides.py render                             # build/notebooks -> build/slides

**The rule** (the same for every lecture, so nobody sets slide types by hand):

- the title cell (``# …``) and every ``## …`` section start a **slide**;
- a ``### …`` subsection starts a **sub-slide** (reveal.js: below, reached with the space bar);
- a long derivation (a Markdown cell with two or more display equations, an environment such as
  ``\\begin{aligned}``, or more than 12 lines), a figure (a code cell that draws with matplotlib
  or ``lib.plotting``) and a long code cell (more than 20 lines) start a **sub-slide** too, when
  the current slide already holds some content (8 lines or more), so that a heading stays with
  the figure or derivation that follows it;
- every other cell continues the current slide: it carries no ``slideshow`` metadata.

The metadata lives in the ``.py`` source as ``# %% [markdown] slideshow={"slide_type": "slide"}``
(jupytext keeps ``tags`` and ``slideshow``, see ``[tool.jupytext]`` in pyproject.toml) and in the
paired ``.ipynb``, where JupyterLab's RISE (``jupyterlab-rise``) reads it for a live slideshow.

**render** applies the same rule to the executed notebooks of the last ``make run`` (so decks
are right even before ``apply`` ran), turns progress-bar widgets into text, and calls
``python -m nbconvert --to slides`` (``jupyter nbconvert``) with ``--reveal-prefix`` and the
jQuery, RequireJS and MathJax URLs pointing at local copies from ``node_modules`` (``npm ci``):
reveal.js 4 (the major version of nbconvert's template), MathJax 2 (the template's
``MathJax.Hub`` API), so that the decks work with the network off. Open
``build/slides/index.html``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from lib import cli

REPO = Path(__file__).resolve().parent.parent
NODE = REPO / "node_modules"
TEMPLATES = Path(__file__).resolve().parent / "templates"

SLIDE, SUBSLIDE = "slide", "subslide"
LONG_MARKDOWN = 12  # lines
LONG_CODE = 20  # lines
MIN_BEFORE_SUBSLIDE = 8  # lines already on the current (sub-)slide before a figure may break it
FIGURE = re.compile(r"\bplt\.|\bplotting\.\w+\(|\.imshow\(|\bfig(, *\w+)? *= *|\.savefig\(|animation\.")
DISPLAY_MATH = re.compile(r"\$\$|\\begin\{")


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _lines(cell: dict[str, Any]) -> int:
    return len([line for line in _source(cell).splitlines() if line.strip()])


def slide_types(cells: list[dict[str, Any]]) -> list[str | None]:
    """The slide type the rule gives each cell (``None``: continues the current slide)."""
    out: list[str | None] = []
    weight = 0  # non-blank lines on the current (sub-)slide so far
    for cell in cells:
        src = _source(cell).lstrip()
        kind: str | None = None
        if cell["cell_type"] == "markdown" and re.match(r"#{1,2} ", src):
            kind = SLIDE
        elif cell["cell_type"] == "markdown" and src.startswith("### "):
            kind = SUBSLIDE
        elif weight >= MIN_BEFORE_SUBSLIDE:
            if cell["cell_type"] == "markdown":
                long = (
                    len(DISPLAY_MATH.findall(src)) >= 4 or "\\begin{" in src or _lines(cell) > LONG_MARKDOWN
                )
            else:
                long = bool(FIGURE.search(src)) or _lines(cell) > LONG_CODE
            kind = SUBSLIDE if long else None
        weight = _lines(cell) if kind else weight + _lines(cell)
        out.append(kind)
    return out


def set_metadata(cells: list[dict[str, Any]]) -> int:
    """Set each cell's ``slideshow`` metadata by the rule (in place); return how many changed."""
    changed = 0
    for cell, kind in zip(cells, slide_types(cells)):
        meta = cell.setdefault("metadata", {})
        want = {"slide_type": kind} if kind else None
        if meta.get("slideshow") != want:
            changed += 1
            if want:
                meta["slideshow"] = want
            else:
                meta.pop("slideshow", None)
    return changed


# --- the sources: check and apply -----------------------------------------------------------------


def _rewritten(path: Path) -> tuple[str, str, int]:
    """(current text, text with the rule's metadata, cells changed) of a jupytext .py notebook."""
    import jupytext

    text = path.read_text(encoding="utf-8")
    nb = jupytext.reads(text, fmt="py:percent")
    changed = set_metadata(nb.cells)
    return text, jupytext.writes(nb, fmt="py:percent"), changed


def check(paths: list[Path]) -> int:
    bad = []
    for path in paths:
        text, new, changed = _rewritten(path)
        if new != text:
            bad.append(f"{path}: {changed} cells would change")
    for line in bad:
        print(line)
    if bad:
        print("slide metadata out of date: run `python book/slides.py apply notebooks/[0-9][0-9]_*.py`")
        return 1
    print(f"slide metadata up to date in {len(paths)} notebooks")
    return 0


def apply(paths: list[Path]) -> int:
    for path in paths:
        text, new, changed = _rewritten(path)
        if new == text:
            continue
        path.write_text(new, encoding="utf-8")
        # `python -m jupytext`, not the `jupytext` script beside python: on Windows scripts live in
        # Scripts\ (and are .exe files), not beside the interpreter.
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(path)], check=True)
        print(f"{path}: {changed} cells changed (and its .ipynb synced)")
    return 0


# --- the decks ------------------------------------------------------------------------------------

# What the decks load, copied from node_modules into <out>/_static/ (MathJax 2 only in the parts
# that the CommonHTML output of the TeX-AMS_CHTML-full configuration loads).
ASSETS = {
    "reveal.js/dist": "reveal.js/dist",
    "reveal.js/plugin/notes": "reveal.js/plugin/notes",
    "jquery/dist/jquery.min.js": "jquery.min.js",
    "requirejs/require.js": "require.js",
    "mathjax2/MathJax.js": "mathjax2/MathJax.js",
    "mathjax2/config/TeX-AMS_CHTML-full.js": "mathjax2/config/TeX-AMS_CHTML-full.js",
    "mathjax2/config/Safe.js": "mathjax2/config/Safe.js",
    "mathjax2/extensions": "mathjax2/extensions",
    "mathjax2/jax/input/TeX": "mathjax2/jax/input/TeX",
    "mathjax2/jax/output/CommonHTML": "mathjax2/jax/output/CommonHTML",
    "mathjax2/jax/element": "mathjax2/jax/element",
    "mathjax2/fonts/HTML-CSS/TeX/woff": "mathjax2/fonts/HTML-CSS/TeX/woff",
    "mathjax2/localization/en": "mathjax2/localization/en",
}


def copy_assets(out: Path) -> None:
    for src, dst in ASSETS.items():
        source, target = NODE / src, out / "_static" / dst
        if not source.exists():
            raise SystemExit(f"{source} not found: run `npm ci` in {REPO}")
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)


def nbconvert_command(notebooks: list[Path], out: Path) -> list[str]:
    """``python -m nbconvert --to slides`` (what ``jupyter nbconvert`` runs) of ``notebooks``
    into ``out``, with the course's template and the assets of :func:`copy_assets`. Run by this
    interpreter as a module, so that no script path is assumed (``bin/`` or ``Scripts\\``)."""
    return [
        sys.executable,
        "-m",
        "nbconvert",
        "--to",
        "slides",
        f"--TemplateExporter.extra_template_basedirs={TEMPLATES}",
        "--template",
        "course-reveal",
        "--reveal-prefix",
        "_static/reveal.js",
        "--HTMLExporter.jquery_url=_static/jquery.min.js",
        "--HTMLExporter.require_js_url=_static/require.js",
        "--HTMLExporter.mathjax_url=_static/mathjax2/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
        "--SlidesExporter.reveal_scroll=True",
        # "white" uses reveal.js's own fonts; the default ("simple") loads two from a font CDN.
        "--SlidesExporter.reveal_theme=white",
        "--output-dir",
        str(out),
        "--log-level=ERROR",
        *[str(p) for p in notebooks],
    ]


def render(build_dir: Path, out: Path) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from build import lecture_names, short_title, static_outputs, title_of

    executed = build_dir / "notebooks"
    names = [n for n in lecture_names() if (executed / f"{n}.ipynb").is_file()]
    if not names:
        raise SystemExit(f"no executed notebooks in {executed}/: run `make run` first")
    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    titles = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            nb = json.loads((executed / f"{name}.ipynb").read_text(encoding="utf-8"))
            nb = copy.deepcopy(nb)
            static_outputs(nb)
            set_metadata(nb["cells"])
            titles[name] = title_of(nb)
            (Path(tmp) / f"{name}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
        cmd = nbconvert_command([Path(tmp) / f"{n}.ipynb" for n in names], out)
        subprocess.run(cmd, check=True)
    items = "\n".join(f'<li><a href="{n}.slides.html">{short_title(titles[n])}</a></li>' for n in names)
    (out / "index.html").write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Lecture slides</title></head>\n'
        f'<body><h1>Lecture slides</h1>\n<p>Space: next slide; Esc: overview; S: speaker notes.</p>\n<ol start="0">\n{items}\n</ol></body></html>\n',
        encoding="utf-8",
    )
    print(f"slides: {len(names)} decks in {out}/ (open {out}/index.html)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("check", "apply"):
        p = sub.add_parser(name)
        p.add_argument("paths", nargs="+", type=Path, help="jupytext .py notebooks")
    p = sub.add_parser("render")
    p.add_argument("--build-dir", type=Path, default=Path(os.environ.get("COURSE_BUILD_DIR", REPO / "build")))
    p.add_argument("--out", type=Path, default=REPO / "build" / "slides")
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(cli.expand_globs(args.paths))
    if args.command == "apply":
        return apply(cli.expand_globs(args.paths))
    return render(args.build_dir.resolve(), args.out.resolve())


if __name__ == "__main__":
    raise SystemExit(main())
