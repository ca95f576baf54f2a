"""The course book and the slides, checked page by page in a real browser.

Needs a built site (``make book``, and ``make slides`` for the deck test), Debian's ``chromium``
and Playwright for Python (``playwright`` from PyPI, driving ``/usr/bin/chromium``; Playwright's
own browsers are never downloaded). Not collected with the unit tests (its name does not start
with ``test_``); run it as::

    pytest -p no:cacheprovider tests/book/site_check.py

The site is served by ``http.server`` on 127.0.0.1 and every page reachable from the landing page
is opened at 1280×800. For each page: no console error, no page error, no failed request (or
HTTP error), no request to any host but the local server (such requests are aborted before they
leave the machine, and reported), every image in the article loaded, every lecture page shows
at least the figures its notebook drew, MathJax rendered every formula (typeset elements, no raw
``$$``/``\\begin``/``\\(``, no MathJax error), every internal link (and its #fragment) resolves.
The navigation must reach every lecture. A screenshot of each page goes to
``build/book/screenshots/``.

Each check is proven against a deliberately broken copy of the site (a deleted figure, a broken
link, an external script, raw math): ``test_the_checks_catch_*``.

Where things are: ``BOOK_DIR`` (default ``build/book``: the book's sources, with
``_build/html/``) and ``SLIDES_DIR`` (default ``build/slides``); ``CHROMIUM`` (default
``/usr/bin/chromium``).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
BOOK_DIR = Path(os.environ.get("BOOK_DIR", REPO / "build" / "book"))
HTML_DIR = BOOK_DIR / "_build" / "html"
SLIDES_DIR = Path(os.environ.get("SLIDES_DIR", REPO / "build" / "slides"))
SCREENSHOTS = BOOK_DIR / "screenshots"
#: Debian's chromium; on Windows (no /usr/bin) the first chromium or chrome on PATH.
CHROMIUM = os.environ.get("CHROMIUM") or (
    "/usr/bin/chromium"
    if os.name == "posix"
    else shutil.which("chromium") or shutil.which("chrome") or "chromium"
)
VIEWPORT = {"width": 1280, "height": 800}
LECTURES = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: The page and the deck that the checks are proven on (test_the_checks_*): the course tour, the
#: lightest lecture with figures and formulas (a browser check of a heavy page takes seconds).
PROVING_GROUND = LECTURES[0]
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
# Raw TeX that MathJax should have consumed (searched outside code blocks).
RAW_MATH = ("$$", "\\begin{", "\\(", "\\[")


# ---------------------------------------------------------------------------------------------
# serving and visiting


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) for the duration; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # shutdown() waits for serve_forever to poll again: every 0.5 s by default, every 20 ms here
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PageReport:
    url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    article_images: int = 0
    math_elements: int = 0
    typeset: int = 0
    math_errors: list[str] = field(default_factory=list)
    raw_math: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    folded: list[dict] = field(default_factory=list)

    def problems(self) -> list[str]:
        out = [f"console error: {m}" for m in self.console_errors]
        out += [f"page error: {m}" for m in self.page_errors]
        out += [f"failed request: {m}" for m in self.failed_requests]
        out += [f"request to another host: {m}" for m in self.external_requests]
        out += [f"image not loaded: {m}" for m in self.broken_images]
        out += [f"MathJax error: {m}" for m in self.math_errors]
        out += [f"raw math left: {m}" for m in self.raw_math]
        if self.math_elements and self.typeset < self.math_elements:
            out.append(f"MathJax typeset {self.typeset} of {self.math_elements} formulas")
        return out


# Runs in the page after load: waits for MathJax (when the page has it) and reports.
_INSPECT = """
async () => {
  if (document.querySelector('meta[http-equiv="Refresh" i]')) { return {redirect: true}; }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const article = document.querySelector('article') || document.body;
  const imgs = [...article.querySelectorAll('img')];
  for (const img of imgs) {            // wait for the last images to finish (or fail)
    if (!img.complete) { await new Promise(r => { img.onload = img.onerror = r; }); }
  }
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, textarea, mjx-container, .highlight')
       .forEach(e => e.remove());
  return {
    images: imgs.map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    math: document.querySelectorAll('article .math').length,
    typeset: document.querySelectorAll('article .math mjx-container, article mjx-container.MathJax')
             .length,
    mathErrors: [...document.querySelectorAll('mjx-merror, [data-mjx-error]')]
             .map(e => e.getAttribute('data-mjx-error') || e.textContent),
    text: clone.textContent,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    // the exercises' folded solutions (hide-input cells) and model answers (dropdowns):
    // open or closed, and whether what they hold is drawn on the page
    folded: [...article.querySelectorAll('details.hide.above-input, details.sd-dropdown')].map(d => ({
      kind: d.classList.contains('sd-dropdown') ? 'model answer' : 'solution',
      open: d.open,
      shown: [...d.children].filter(c => c.tagName !== 'SUMMARY').some(c => c.checkVisibility()),
    })),
  };
}
"""


class Browser:
    """One headless Chromium (Debian's), one fresh page per visit."""

    def __init__(self):
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        # No background traffic of Chromium's own (updates, sync, safe browsing): the only
        # requests are the page's, and those that leave 127.0.0.1 are aborted and reported.
        self.browser = self._pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--no-first-run",
                "--disable-gpu",
            ],
        )

    def close(self):
        self.browser.close()
        self._pw.stop()

    @contextmanager
    def page(self, base: str, report: PageReport):
        """A page that records errors and requests into ``report``; requests that would leave
        the machine are aborted (and recorded)."""
        origin = urlsplit(base).netloc
        context = self.browser.new_context(viewport=VIEWPORT)
        page = context.new_page()

        def route(r):
            if urlsplit(r.request.url).scheme in ("data", "blob", "about"):
                return r.continue_()
            if urlsplit(r.request.url).netloc != origin:
                report.external_requests.append(r.request.url)
                return r.abort("blockedbyclient")
            return r.continue_()

        page.route("**/*", route)
        page.on("console", lambda m: m.type == "error" and report.console_errors.append(_console(m)))
        page.on("pageerror", lambda e: report.page_errors.append(str(e)))
        page.on(
            "requestfailed",
            lambda r: (
                urlsplit(r.url).netloc == origin and report.failed_requests.append(f"{r.url} ({r.failure})")
            ),
        )
        page.on(
            "response", lambda r: r.status >= 400 and report.failed_requests.append(f"{r.url} ({r.status})")
        )
        try:
            yield page
        finally:
            context.close()

    def visit(self, base: str, url: str, screenshot: Path | None = None) -> PageReport:
        report = PageReport(url)
        with self.page(base, report) as page:
            page.goto(url, wait_until="load")
            for attempt in range(3):  # a redirect page (index.html -> intro.html) navigates on
                try:
                    got = page.evaluate(_INSPECT)
                except Exception as e:  # the redirect happened during the evaluation
                    if "context was destroyed" not in str(e) or attempt == 2:
                        raise
                    got = {"redirect": True}
                if not got.get("redirect"):
                    break
                page.wait_for_url(lambda u: u != url)
                page.wait_for_load_state("load")
            report.url = page.url
            page.wait_for_timeout(200)  # late console messages
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot))
        report.article_images = len(got["images"])
        report.broken_images = [i["src"][:120] for i in got["images"] if not i["ok"]]
        report.math_elements, report.typeset = got["math"], got["typeset"]
        report.math_errors = got["mathErrors"]
        text = got["text"]
        report.raw_math = [_around(text, s) for s in RAW_MATH if s in text]
        report.links = got["links"]
        report.folded = got["folded"]
        return report


def _console(msg) -> str:
    loc = msg.location or {}
    return f"{msg.text} ({loc.get('url', '')}:{loc.get('lineNumber', '')})"


def _around(text: str, needle: str, width: int = 60) -> str:
    i = text.index(needle)
    return repr(text[max(0, i - width) : i + width])


# ---------------------------------------------------------------------------------------------
# links and navigation


def page_path(html_dir: Path, base: str, url: str) -> Path | None:
    """The file a local URL names (``None`` for another host or a non-http URL)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or f"{parts.scheme}://{parts.netloc}/" != base:
        return None
    path = html_dir / unquote(parts.path).lstrip("/")
    return path / "index.html" if path.is_dir() else path


@functools.cache
def _ids(path: Path) -> frozenset[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return frozenset(re.findall(r'\b(?:id|name)="([^"]+)"', text))


def broken_links(html_dir: Path, base: str, links: list[str]) -> list[str]:
    """Internal links whose file is missing, or whose #fragment names no element there."""
    bad = []
    for url in sorted(set(links)):
        path = page_path(html_dir, base, url)
        if path is None:
            continue
        if not path.is_file():
            bad.append(f"{url} (no such file)")
            continue
        frag = unquote(urlsplit(url).fragment)
        if frag and path.suffix == ".html" and frag not in _ids(path):
            bad.append(f"{url} (no element with id {frag!r})")
    return bad


def crawl(browser: Browser, html_dir: Path, base: str, shots: Path | None) -> dict[str, PageReport]:
    """Every page reachable by links from the landing page, each visited once in the browser."""
    reports: dict[str, PageReport] = {}
    queue = [urljoin(base, "index.html")]
    while queue:
        url = queue.pop(0)
        rel = urlsplit(url).path.lstrip("/") or "index.html"
        if rel in reports:
            continue
        shot = shots / (rel.removesuffix(".html").replace("/", "_") + ".png") if shots else None
        reports[rel] = report = browser.visit(base, url, shot)
        landed = urlsplit(report.url).path.lstrip("/")
        if landed != rel:  # a redirect: the page it lands on is visited under its own name
            queue.insert(0, urljoin(base, landed))
        for link in report.links:
            path = page_path(html_dir, base, link)
            if path is None or path.suffix != ".html" or not path.is_file():
                continue
            target = urljoin(link, urlsplit(link).path)  # without the fragment
            if urlsplit(target).path.lstrip("/") not in reports:
                queue.append(target)
    return reports


def expected_figures(book_dir: Path, lecture: str) -> int:
    """How many image outputs the lecture's executed notebook holds (what its page must show)."""
    nb = json.loads((book_dir / "lectures" / f"{lecture}.ipynb").read_text(encoding="utf-8"))
    return sum(
        any(m in out.get("data", {}) for m in IMAGE_MIMES)
        for cell in nb["cells"]
        for out in cell.get("outputs", [])
    )


def page_problems(html_dir: Path, base: str, report: PageReport) -> list[str]:
    return report.problems() + [f"broken link: {b}" for b in broken_links(html_dir, base, report.links)]


# ---------------------------------------------------------------------------------------------
# the tests


def _require(path: Path, what: str) -> None:
    if not path.exists():
        pytest.fail(f"{path} not found: {what}", pytrace=False)


@pytest.fixture(scope="session")
def browser():
    _require(
        Path(CHROMIUM), "install Debian's chromium (apt-get install chromium), or set CHROMIUM to a browser"
    )
    b = Browser()
    yield b
    b.close()


@pytest.fixture(scope="session")
def site(browser):
    """The built book, served and crawled once: ``(base URL, {page: report})``."""
    _require(HTML_DIR / "index.html", "build the book first (make book)")
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    with serve(HTML_DIR) as base:
        yield base, crawl(browser, HTML_DIR, base, SCREENSHOTS)


def test_navigation_reaches_every_lecture(site):
    _, reports = site
    missing = [n for n in LECTURES if f"lectures/{n}.html" not in reports]
    assert not missing, f"no chain of links from the landing page reaches: {missing}"
    for extra in ("references.html", "results.html"):
        assert extra in reports, f"{extra} not reachable from the landing page"


def test_every_page_is_clean(site):
    base, reports = site
    problems = {rel: page_problems(HTML_DIR, base, r) for rel, r in reports.items()}
    problems = {rel: p for rel, p in problems.items() if p}
    assert not problems, "\n".join(f"{rel}:\n  " + "\n  ".join(p) for rel, p in problems.items())


@pytest.mark.parametrize("lecture", LECTURES)
def test_lecture_page_shows_its_figures_and_math(site, lecture):
    _, reports = site
    report = reports.get(f"lectures/{lecture}.html")
    assert report is not None, f"lectures/{lecture}.html was not reached"
    want = expected_figures(BOOK_DIR, lecture)
    assert want > 0, f"{lecture}'s executed notebook holds no figure"
    assert report.article_images >= want, f"{report.article_images} images on the page, notebook drew {want}"
    assert report.math_elements > 0 and report.typeset >= report.math_elements, (
        f"{report.typeset} of {report.math_elements} formulas typeset"
    )
    assert (SCREENSHOTS / f"lectures_{lecture}.png").is_file()


@pytest.mark.parametrize("lecture", LECTURES)
def test_exercise_solutions_are_folded(site, lecture):
    """Each lecture shows its exercises' solutions and model answers closed, their content not drawn
    until the reader unfolds it: at least three solutions of checked exercises per lecture."""
    _, reports = site
    folded = reports[f"lectures/{lecture}.html"].folded
    solutions = [f for f in folded if f["kind"] == "solution"]
    assert len(solutions) >= 3, f"{len(solutions)} folded solutions on the page, at least 3 expected"
    visible = [f for f in folded if f["open"] or f["shown"]]
    assert not visible, f"{len(visible)} of {len(folded)} solutions or model answers are open: {visible[:3]}"


def test_every_page_says_how_it_was_executed(site):
    for lecture in LECTURES:
        html = (HTML_DIR / "lectures" / f"{lecture}.html").read_text(encoding="utf-8")
        assert re.search(r"COURSE_SCALE=(smoke|lecture|full|untrained)</span>", html), lecture
        assert "at commit" in html, lecture


# --- the checks catch broken builds -------------------------------------------------------------


@pytest.fixture
def broken_copy(tmp_path):
    """A copy of the built site to break (images and MathJax included, so it stays offline)."""
    _require(HTML_DIR / "index.html", "build the book first (make book)")
    dest = tmp_path / "html"
    shutil.copytree(HTML_DIR, dest)
    return dest


def _check_one(browser, html_dir: Path, rel: str) -> list[str]:
    with serve(html_dir) as base:
        report = browser.visit(base, urljoin(base, rel))
        return page_problems(html_dir, base, report)


def _inject(path: Path, html: str, before: str = "</article>") -> None:
    text = path.read_text(encoding="utf-8")
    assert before in text
    path.write_text(text.replace(before, html + before, 1), encoding="utf-8")


def test_the_checks_pass_on_the_intact_copy(browser, broken_copy):
    assert _check_one(browser, broken_copy, f"lectures/{PROVING_GROUND}.html") == []


def test_the_folding_check_sees_an_open_solution(browser, broken_copy):
    rel = f"lectures/{PROVING_GROUND}.html"
    with serve(broken_copy) as base:
        closed = browser.visit(base, urljoin(base, rel)).folded
    assert closed and not any(f["open"] or f["shown"] for f in closed)
    page = broken_copy / rel
    page.write_text(
        page.read_text(encoding="utf-8").replace(
            '<details class="admonition hide above-input">',
            '<details class="admonition hide above-input" open>',
            1,
        ),
        encoding="utf-8",
    )
    with serve(broken_copy) as base:
        opened = browser.visit(base, urljoin(base, rel)).folded
    assert sum(f["open"] and f["shown"] for f in opened) == 1


def test_the_checks_catch_a_deleted_figure(browser, broken_copy):
    rel = f"lectures/{PROVING_GROUND}.html"
    image = re.search(r'<img[^>]+src="\.\./(_images/[^"]+)"', (broken_copy / rel).read_text(encoding="utf-8"))
    assert image, "the lecture page has no figure to delete"
    (broken_copy / image.group(1)).unlink()
    problems = _check_one(browser, broken_copy, rel)
    assert any(p.startswith("image not loaded") and image.group(1) in p for p in problems), problems
    assert any(p.startswith("failed request") for p in problems), problems


def test_the_checks_catch_a_broken_link(browser, broken_copy):
    _inject(broken_copy / "intro.html", '<p><a href="lectures/99_no_such_lecture.html">gone</a></p>')
    _inject(broken_copy / "intro.html", '<p><a href="references.html#no-such-anchor">gone</a></p>')
    problems = _check_one(browser, broken_copy, "intro.html")
    assert any("99_no_such_lecture.html (no such file)" in p for p in problems), problems
    assert any("no-such-anchor" in p for p in problems), problems


def test_the_checks_catch_an_external_script(browser, broken_copy):
    _inject(broken_copy / "intro.html", '<script src="https://cdn.example.org/lib.js"></script>', "</head>")
    problems = _check_one(browser, broken_copy, "intro.html")
    assert any(p.startswith("request to another host: https://cdn.example.org/lib.js") for p in problems), (
        problems
    )


def test_the_checks_catch_unrendered_math(browser, broken_copy):
    """MathJax missing from the site: formulas stay raw TeX, and the checks say so."""
    (broken_copy / "_static" / "mathjax" / "tex-mml-chtml.js").unlink()
    problems = _check_one(browser, broken_copy, f"lectures/{PROVING_GROUND}.html")
    assert any(p.startswith("MathJax typeset 0 of") for p in problems), problems
    assert any(p.startswith("failed request") and "tex-mml-chtml.js" in p for p in problems), problems


def test_the_checks_catch_raw_tex_in_the_text(browser, broken_copy):
    """Display math that the Markdown parser split (what `$$...$$` inside a paragraph became
    before myst_dmath_double_inline): MathJax typesets the middle, two `$` stay on the page."""
    formula = r'<span class="math notranslate nohighlight">\(d^2 = \lVert\mu\rVert^2\)</span>'
    _inject(broken_copy / "intro.html", f"<p>the distance ${formula}$ between</p>")
    problems = _check_one(browser, broken_copy, "intro.html")
    assert any(p.startswith("raw math left") and "$$" in p for p in problems), problems


# --- the slides ---------------------------------------------------------------------------------


def test_a_slide_deck_steps_through_offline(browser):
    decks = sorted(SLIDES_DIR.glob("*.slides.html"))
    _require(SLIDES_DIR, "build the slides first (make slides)")
    assert decks, f"no *.slides.html in {SLIDES_DIR}"
    deck = next((d for d in decks if d.name.startswith(PROVING_GROUND)), decks[0])
    report = PageReport(deck.name)
    # reveal.js is loaded through RequireJS (no global Reveal): slides are read from the DOM.
    leaves = (
        "[...document.querySelectorAll('.reveal .slides section')].filter(s => !s.querySelector('section'))"
    )
    at_end = f"(() => {{ const l = {leaves}; return l[l.length - 1].classList.contains('present'); }})()"
    with serve(SLIDES_DIR) as base, browser.page(base, report) as page:
        page.goto(urljoin(base, deck.name), wait_until="load")
        page.wait_for_function("document.querySelector('.reveal.ready') !== null")
        total = page.evaluate(f"{leaves}.length")
        assert total > 10, f"{deck.name} has {total} slides: is the slide metadata set?"
        page.wait_for_timeout(500)
        page.screenshot(path=str(_shot(SLIDES_DIR, deck.name + "-first")))
        steps = 0
        while not page.evaluate(at_end) and steps <= total:
            page.keyboard.press("Space")  # the next slide or sub-slide, as a presenter does
            page.wait_for_timeout(50)
            steps += 1
        assert page.evaluate(at_end), f"stepping {steps} times did not reach the last of {total} slides"
        assert steps >= total - 1, f"reached the end after {steps} steps, but the deck has {total} slides"
        page.wait_for_function("window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0")
        assert page.evaluate("document.querySelectorAll('.MathJax_CHTML').length") > 0, "no formula typeset"
        assert page.evaluate("document.querySelectorAll('.MathJax_Error, .mjx-error').length") == 0
        page.wait_for_timeout(1500)  # the slide transition
        page.screenshot(path=str(_shot(SLIDES_DIR, deck.name + "-last")))
    assert report.problems() == [], report.problems()


def _shot(folder: Path, name: str) -> Path:
    (folder / "screenshots").mkdir(exist_ok=True)
    return folder / "screenshots" / f"{name}.png"
