"""The site as readers meet it, in a real browser, and the whole book as one PDF.

The default book, made as `make pdf` makes it (`python -m cmprehab.build` with
$CMPREHAB_BOOK_PDF, then scripts/book_pdf.py) into `_build/test-book/` of the repository
(tests/books.py: built once for the modules that read it). With $CMPREHAB_SCREENSHOTS set, a
screenshot of every page at both widths is kept there: `_build/test-book/_build/screenshots/{390,1280}/<page>.png`.

A copy of that `_build/html` in a fresh folder, served on 127.0.0.1 (as on a machine with
no network), is visited page by page (the pages of _toc.yml, the index and the search page;
not the API reference's highlighted source pages, `_modules/`, which its links reach) by
Debian's Chromium through Playwright, at 390 px
(a phone, dark colour scheme) and at 1280 px (a desktop, light). Every request that does
not go to that server is aborted and recorded. On every page, at both widths:

* no console error, no failed request, no request to any other host;
* every image loads and has alt text (figures: a sentence);
* every collapsed code cell opens on a click and shows code; the data notice is visible;
* axe-core (as shipped by axe-playwright-python, its experimental rules on) finds nothing
  of impact serious or critical, with the code cells open, once the page has settled (fonts
  loaded, every transition ended: a check that waits for the state it measures, not for time);
* nothing is wider than the viewport except tables, which scroll inside their own box;
* no character lacks a glyph in the installed fonts (it would show as an empty box);
* then, as a reader (after the audit, each probe waiting for the state it checks): ☰ shows the
  chapter links and the contents button the page's sections; a table wider than its box shows a
  hint, a shadow on its hidden side and its row labels in view, and the shadow goes at its end;
  no traced number breaks across lines; the traced number furthest right, tapped or clicked,
  shows its tooltip inside the screen, the reader's sentence first; the banner links to the
  details and is one line on a phone; the code is gathered in one collapsed block.

At 1280 px: every internal link and anchor resolves. Then: the search page finds a known
term, lists the chapters before the API reference and shows no tooltip text in its snippets
(at both widths); the PDF holds every chapter title but the API reference's (the site's only),
the headline numbers as the site pastes them, every table and figure, page numbers and the data
notice on every page, at most 60 pages and none nearly empty; printed, no table is wider than
the page and no word in a table breaks across lines.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from books import PDF_NAME, BuildFailed, default_book
from browser_support import (AXE_RUN_JS, BROKEN_WORDS_JS, IMAGES_JS, LINKS_JS, OVERFLOW_JS,
                             RIGHTMOST_TRACED_JS, SETTLED_JS, SPLIT_NUMBERS_JS, TABLE_CUES_JS, TABLES_JS, TEXT_JS,
                             TOOLTIP_FITS_JS, VISIBLE_COUNT_JS, axe_script, describe, font_has, missing_glyphs,
                             WIDTHS, launched_chromium, new_context, pdf_images_per_page, pdf_pages_text, squeeze)
from cmprehab import config
from cmprehab.provenance import data_fingerprint
from scripts.book_pdf import SITE_ONLY_PAGES
from scripts.local_server import LocalServer
from site_html import Page, page_at

ROOT = config.ROOT

#: Impacts axe-core rates that fail the test.
FAILING_IMPACTS = {"serious", "critical"}
#: A word the search must find, and a page it must list (the word is checked to be on that page).
SEARCH_TERM, SEARCH_PAGE = "sensorimotor", "chapters/04_interventions"
#: An image file a PDF keeps as an image (an SVG is drawn as vector paths instead).
RASTER = re.compile(r"\.(png|jpe?g|gif|webp)(\?|$)", re.I)
#: The printable width of an A4 page with the margins of book_static/cmprehab.css (210 - 2 x 14 mm), in CSS px.
PRINT_WIDTH_PX = round((210 - 2 * 14) / 25.4 * 96)


#: Where screenshots go when $CMPREHAB_SCREENSHOTS is set (a reader's-eye record; off by default).
SCREENSHOTS = bool(os.environ.get("CMPREHAB_SCREENSHOTS"))
CHAPTERS = [name for name, _ in config.toc_pages()]
#: The chapters the PDF holds: not the pages only the site has (the API reference).
BOOK_CHAPTERS = [name for name in CHAPTERS if name not in SITE_ONLY_PAGES]
#: The API reference's module pages the browser visits: the package's page (autosummary's tables
#: of modules) and the two largest module pages (pydantic models and their fields; the most
#: functions). The others (about 45) come from the same template and stylesheet; every link of
#: every one of them is checked from the files (test_book_html.py), and visiting them all at both
#: widths would take longer than the rest of the browser tests.
API_SAMPLE = [f"{config.API_PAGE}/{module}" for module in ("cmprehab", "cmprehab.params", "cmprehab.report.results")]
#: Every page of the site the browser visits: the book's, the API sample, Sphinx's general index
#: and search page (index.html only redirects; the API's module index is not built, see _config.yml).
PAGES = CHAPTERS + API_SAMPLE + ["genindex", "search"]
NOTEBOOK_PAGES = [p for p in CHAPTERS if (ROOT / f"{p}.ipynb").is_file()]


# --- the build -------------------------------------------------------------------------------

@dataclass
class Book:
    output: Path

    @property
    def build(self) -> Path:
        return self.output / "_build"

    @property
    def site(self) -> Path:
        return self.build / "html"

    @property
    def pdf(self) -> Path:
        return self.build / "pdf" / PDF_NAME

    @property
    def book_page(self) -> Path:
        return self.build / "singlehtml" / "book.html"

    def screenshot(self, width: str, page: str) -> Path:
        return self.build / "screenshots" / width / f"{page}.png"


@pytest.fixture(scope="module")
def book() -> Book:
    """The site with its PDF, built as `make pdf` builds it, with the default data and parameters
    (tests/books.py: one build shared with the other modules that read it)."""
    try:
        made = Book(default_book())
    except BuildFailed as failure:
        pytest.fail(str(failure), pytrace=False)
    return made


@pytest.fixture(scope="module")
def served(book, tmp_path_factory):
    """A copy of the site in a fresh folder, served on 127.0.0.1: nothing outside it can be reached."""
    copy = tmp_path_factory.mktemp("offline") / "html"
    shutil.copytree(book.site, copy)
    with LocalServer(copy) as server:
        server.audits = []  # stretches (start, end) of server.log asked for by axe-core, not by the pages
        yield server


@pytest.fixture(scope="module")
def browser():
    yield from launched_chromium()


# --- one visit per page and width ---------------------------------------------------------------

@dataclass
class Visit:
    page: str
    width: str
    problems: list[str] = field(default_factory=list)   # console errors, failed requests, HTTP errors
    offsite: list[str] = field(default_factory=list)    # requests to any other host (aborted)
    images: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    notice: dict = field(default_factory=dict)
    code_cells: int = 0
    code_problems: list[str] = field(default_factory=list)
    overflow: list[str] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    axe: dict = field(default_factory=dict)
    title: str = ""
    pasted: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    pdf_links: list[str] = field(default_factory=list)
    icons: list[str] = field(default_factory=list)
    how_computed: dict = field(default_factory=dict)
    figure_sources: list = field(default_factory=list)   # (caption, image address) of each figure
    # What a reader does, probed after the audit (it opens and closes things): see probe_reader.
    menu: dict = field(default_factory=dict)
    contents: dict = field(default_factory=dict)
    table_cues: list[dict] = field(default_factory=list)
    scrolled_to_end: dict = field(default_factory=dict)
    split_numbers: list[str] = field(default_factory=list)
    tooltip: dict = field(default_factory=dict)
    banner: dict = field(default_factory=dict)


def overflow_report(page) -> list[str]:
    found = page.evaluate(OVERFLOW_JS, False)
    report = list(found["outside"])
    if found["scrollWidth"] > found["viewport"] + 1:
        report.insert(0, f"the page scrolls sideways: {found['scrollWidth']} px wide "
                         f"in a {found['viewport']} px viewport")
    return report


def visit_page(browser, served, book: Book, name: str, width: str, axe_js: str) -> Visit:
    visit = Visit(name, width)
    context, visit.offsite = new_context(browser, served, width)
    page = context.new_page()
    problems = visit.problems
    page.on("console", lambda m: problems.append(f"console error: {m.text} ({m.location.get('url', '')})")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    first = len(served.log)
    try:
        page.goto(served.base + f"{name}.html", wait_until="load")
        page.evaluate(SETTLED_JS)  # typeset, fonts loaded: no request of the page's own still to come

        visit.images = page.evaluate(IMAGES_JS)
        found = page.evaluate(LINKS_JS)
        visit.links, visit.icons = found["links"], found["icons"]
        visit.pdf_links = [a["url"] for a in visit.links if a["url"].endswith(f"/{PDF_NAME}")]
        notice = page.locator(".data-notice")
        visit.notice = {"count": notice.count()}
        if notice.count():
            box = notice.first.bounding_box()
            visit.notice.update(visible=notice.first.is_visible(), text=notice.first.inner_text(),
                                top=box["y"] if box else None, height=box["height"] if box else 0)
        visit.title = page.evaluate("""() => { const h = document.querySelector('article h1');
            if (!h) return ''; const c = h.cloneNode(true); c.querySelectorAll('.headerlink').forEach(a => a.remove());
            return c.textContent.trim(); }""")
        visit.pasted = page.eval_on_selector_all("span.pasted-text", "els => els.map(e => e.innerText)")
        visit.captions = page.eval_on_selector_all(
            "article table > caption, article figcaption",
            "els => els.map(e => { const c = e.cloneNode(true);"
            " c.querySelectorAll('.headerlink').forEach(a => a.remove()); return c.textContent.trim(); })")
        visit.figure_sources = [tuple(pair) for pair in page.eval_on_selector_all(
            "article figure", "els => els.map(f => { const c = f.querySelector('figcaption');"
            " const k = c ? c.cloneNode(true) : null; if (k) k.querySelectorAll('.headerlink').forEach(a => a.remove());"
            " const img = f.querySelector('img'); return [k ? k.textContent.trim() : '', img ? img.getAttribute('src') : ''];"
            " })")]
        visit.overflow = overflow_report(page)
        visit.tables = page.evaluate(TABLES_JS)
        visit.missing = missing_glyphs(page.evaluate(TEXT_JS))
        if SCREENSHOTS:
            shot = book.screenshot(width, name)
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)

        visit.how_computed = page.evaluate(HOW_COMPUTED_JS)
        gathered = page.locator("details.how-computed > summary")
        if gathered.count():  # the page's code, gathered in one collapsed block: open it first
            gathered.first.click()
        cells = page.locator("details.hide.above-input")
        visit.code_cells = cells.count()
        for i in range(visit.code_cells):
            cell = cells.nth(i)
            cell.locator("summary").click()
            code = cell.locator("pre").first
            if not cell.evaluate("d => d.open"):
                visit.code_problems.append(f"cell {i + 1}: still closed after a click on its summary")
            elif not code.count() or not code.is_visible() or not code.inner_text().strip():
                visit.code_problems.append(f"cell {i + 1}: open, but shows no code")
        page.evaluate(SETTLED_JS)  # the opened cells have finished fading in
        if visit.code_cells:  # opened code scrolls inside its own box too
            visit.overflow += [f"(code cells open) {line}" for line in overflow_report(page)]
        # What the server answered with an error while the page was in use (the favicon too,
        # which Chromium asks for outside the page's own requests).
        site_end = len(served.log)
        problems += [f"server answered {status} for {path}" for path, status in served.log[first:site_end]
                     if status >= 400]

        # axe-core last: its own fetches of the stylesheets are not the site's requests (it
        # resolves the theme's `@import "../basic.css"` against the page, not the stylesheet,
        # and asks for /basic.css); they are left out of the checks above, but not of `offsite`.
        before_axe = len(problems)
        page.evaluate(axe_js)
        visit.axe = page.evaluate(AXE_RUN_JS)
        del problems[before_axe:]
        served.audits.append((site_end, len(served.log)))
        probe_reader(page, visit)
    finally:
        context.close()
    return visit


#: The page's "How this was computed" blocks (_ext/book_site.py), whether one is open, and the code
#: toggles and "Made by" lines outside them.
HOW_COMPUTED_JS = """() => { const blocks = Array.from(document.querySelectorAll('details.how-computed'));
  return {blocks: blocks.length, open: blocks.some(d => d.open),
          outside: Array.from(document.querySelectorAll('details.hide.above-input, .cell-functions'))
              .filter(e => !e.closest('details.how-computed')).length}; }"""
#: The chapter links of the primary sidebar (moved into a dialog when it opens on a phone).
MENU_LINKS = ".bd-sidebar-primary nav.bd-docs-nav a.reference.internal"
#: Chapter links an opened menu shows at least, on a phone's first screen too.
MENU_LINKS_IN_VIEW = 8
#: The links of the page's contents (the secondary sidebar, or its dialog on a phone).
CONTENTS_LINKS = ".bd-sidebar-secondary nav a.nav-link"
#: How long a state may take to come (a maximum: every wait ends as soon as the state is there).
STATE_TIMEOUT_MS = 10_000


def wait_for_count(page, selector: str, predicate: str, before: int) -> int:
    """Wait until the number of visible `selector` elements satisfies `predicate` (JS, of n and
    before); the count then (or at the timeout)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"([s, before]) => {{ const n = ({VISIBLE_COUNT_JS})(s); return {predicate}; }}",
                               arg=[selector, before], timeout=STATE_TIMEOUT_MS)
    except PlaywrightTimeout:
        pass
    return page.evaluate(VISIBLE_COUNT_JS, selector)


def toggle_probe(page, button: str, links: str) -> dict:
    """Click the visible `button` and see whether it shows `links`: on a phone the first click opens
    them; on a desktop, where they show already, the first hides and the second shows them again."""
    buttons = page.locator(f"{button}:visible")
    found = {"buttons": buttons.count(), "links": page.locator(links).count(),
             "before": page.evaluate(VISIBLE_COUNT_JS, links), "shown_by_click": 0}
    if not found["buttons"]:
        return found
    buttons.first.click()
    found["after_first"] = wait_for_count(page, links, "n !== before", found["before"])
    if found["after_first"] > found["before"]:
        found["shown_by_click"] = found["after_first"]
        page.keyboard.press("Escape")  # close the dialog (a phone) for the probes that follow
        wait_for_count(page, links, "n < before", found["after_first"])
    elif found["after_first"] < found["before"]:
        buttons.first.click()
        found["shown_by_click"] = wait_for_count(page, links, "n > before", found["after_first"])
    return found


def tooltip_probe(page, width: str) -> dict:
    """Tap (phone) or click (desktop) the traced number that ends furthest right, and wait until
    its tooltip shows inside the viewport, the page no wider than the screen."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    index = page.evaluate(RIGHTMOST_TRACED_JS)
    if index < 0:
        return {}
    number = page.locator(".traced").nth(index)
    number.scroll_into_view_if_needed()
    box = number.bounding_box()
    # On the number's own text, not on its tooltip (which opens below it).
    point = {"x": box["x"] + box["width"] - 2, "y": box["y"] + box["height"] / 2}
    if WIDTHS[width].get("has_touch"):
        page.touchscreen.tap(point["x"], point["y"])
    else:
        page.mouse.click(point["x"], point["y"])
    try:
        page.wait_for_function(f"() => ({TOOLTIP_FITS_JS})().inside", timeout=STATE_TIMEOUT_MS)
    except PlaywrightTimeout:
        pass
    return page.evaluate(TOOLTIP_FITS_JS) | {"number": number.evaluate("n => n.firstChild.textContent")}


def probe_reader(page, visit: Visit) -> None:
    """What a reader does on the page, after the audit: the menu, the contents, wide tables, a
    traced number's tooltip, the data notice. Each probe waits for the state it checks."""
    visit.banner = page.evaluate("""() => { const n = document.querySelector('.data-notice');
        const link = document.querySelector('.data-notice__details');
        if (!n) return {};
        const size = parseFloat(getComputedStyle(n).fontSize);
        return {height: n.getBoundingClientRect().height, fontSize: size,
                details: link && link.checkVisibility() ? link.href : null}; }""")
    visit.table_cues = page.evaluate(TABLE_CUES_JS)
    wide = page.locator(".table-scroll-frame.table-more-right > .pst-scrollable-table-container")
    if wide.count():  # scrolled to its end, the table shows no more shadow there
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        table = wide.first.evaluate("box => { box.dataset.probe = 'end'; box.scrollLeft = box.scrollWidth;"
                                    " return box.querySelector('table').id; }")
        gone = "() => !document.querySelector('[data-probe=end]').parentElement.classList.contains('table-more-right')"
        try:
            page.wait_for_function(gone, timeout=STATE_TIMEOUT_MS)
        except PlaywrightTimeout:
            pass
        visit.scrolled_to_end = {"table": table, "shadow_gone": page.evaluate(gone)}
    visit.split_numbers = page.evaluate(SPLIT_NUMBERS_JS)
    visit.menu = toggle_probe(page, ".primary-toggle", MENU_LINKS)
    visit.contents = toggle_probe(page, ".secondary-toggle", CONTENTS_LINKS)
    visit.tooltip = tooltip_probe(page, visit.width)


@pytest.fixture(scope="module")
def visit(browser, served, book):
    """visit(page, width) -> Visit: each page is visited once per width, on first use."""
    done: dict[tuple[str, str], Visit] = {}
    axe_js = axe_script()

    def get(name: str, width: str) -> Visit:
        if (name, width) not in done:
            done[name, width] = visit_page(browser, served, book, name, width, axe_js)
        return done[name, width]

    return get


def where(v: Visit) -> str:
    return f"{v.page}.html at {v.width} px"


# --- every page, both widths ----------------------------------------------------------------------

every_page = pytest.mark.parametrize("name", PAGES)
#: The width whose visits this module checks page by page: the desktop's. The same checks run at
#: the phone's in tests/test_browser_phone.py, a module of its own so that the two halves of the
#: visits can run on two workers.
MODULE_WIDTHS = ["1280"]


def pytest_generate_tests(metafunc):
    """Every test with a `width` runs at each of this module's widths."""
    if "width" in metafunc.fixturenames:
        metafunc.parametrize("width", MODULE_WIDTHS)


def test_every_page_of_the_site_is_visited(book):
    """Every page but viewcode's highlighted source pages (_modules/, one per module of the package,
    made by Sphinx from the code: the [source] links of the API pages reach them, file and anchor,
    test_book_html.py) and the API module pages outside API_SAMPLE. Visiting the source pages (32
    long code pages, axe-core at both widths) took 7 minutes; the one-page API reference of before,
    axe-core at both widths, 90 s."""
    api = book.site / config.API_PAGE
    built = sorted(p.relative_to(book.site).with_suffix("").as_posix() for p in book.site.rglob("*.html")
                   if "_static" not in p.parts and p.parent.name != "_downloads" and "_modules" not in p.parts
                   and (p.parent != api or p.relative_to(book.site).with_suffix("").as_posix() in API_SAMPLE)
                   and 'http-equiv="Refresh"' not in p.read_text(encoding="utf-8"))
    assert built == sorted(PAGES), f"pages built but not visited: {sorted(set(built) - set(PAGES))}; " \
                                   f"visited but not built: {sorted(set(PAGES) - set(built))}"


@every_page
def test_no_console_error_and_no_failed_request(visit, name, width):
    v = visit(name, width)
    assert not v.problems, f"{where(v)}:\n  " + "\n  ".join(v.problems)


@every_page
def test_requests_go_to_the_local_server_only(visit, name, width):
    v = visit(name, width)
    assert not v.offsite, f"{where(v)} asked another host for (aborted): {v.offsite}"


@every_page
def test_every_image_loads_and_has_alt_text(visit, name, width):
    v = visit(name, width)
    problems = []
    for img in v.images:
        alt = (img["alt"] or "").strip()
        if not img["loaded"]:
            problems.append(f"{img['src']}: did not load")
        if not alt:
            problems.append(f"{img['src']}: no alt text")
        elif img["inFigure"] and (len(alt.split()) < 5 or re.search(r"\.(png|svg|jpe?g)$", alt, re.I)):
            problems.append(f"{img['src']}: alt text {alt!r} does not describe the figure")
    assert not problems, f"{where(v)}:\n  " + "\n  ".join(problems)


@every_page
def test_collapsed_code_cells_open_and_show_code(visit, name, width):
    v = visit(name, width)
    if name in NOTEBOOK_PAGES:
        assert v.code_cells > 0, f"{where(v)}: no collapsed code cell on a notebook page"
    assert not v.code_problems, f"{where(v)}:\n  " + "\n  ".join(v.code_problems)


@every_page
def test_data_notice_is_visible(visit, name, width):
    v = visit(name, width)
    fingerprint = data_fingerprint(config.DEFAULT_COHORT)
    assert v.notice.get("count") == 1, f"{where(v)}: {v.notice.get('count')} data notices"
    assert v.notice["visible"] and v.notice["height"] > 0, f"{where(v)}: the data notice is not visible"
    assert 0 <= v.notice["top"] < WIDTHS[width]["viewport"]["height"], \
        f"{where(v)}: the data notice is not in the first screen (top at {v.notice['top']} px)"
    text = " ".join(v.notice["text"].split())
    assert text.startswith("Synthetic data") and fingerprint.short in text, f"{where(v)}: notice reads {text!r}"


@every_page
def test_no_serious_or_critical_accessibility_violation(visit, name, width):
    v = visit(name, width)
    assert v.axe.get("version"), f"{where(v)}: axe-core did not run"
    failing = [x for x in v.axe["violations"] if x["impact"] in FAILING_IMPACTS]
    lines = [f"{x['id']} ({x['impact']}): {x['help']}\n      " + "\n      ".join(
        f"{n['target']}: {n['html']}" for n in x["nodes"][:5]) for x in failing]
    assert not failing, f"{where(v)}, axe-core {v.axe['version']}:\n  " + "\n  ".join(lines)


@every_page
def test_nothing_is_wider_than_the_viewport_but_tables_scroll_in_their_box(visit, name, width):
    v = visit(name, width)
    assert not v.overflow, f"{where(v)}:\n  " + "\n  ".join(v.overflow[:15])
    unboxed = [t["id"] for t in v.tables if t["wide"] and not t["scrolls"]]
    assert not unboxed, f"{where(v)}: tables wider than their box that do not scroll inside it: {unboxed}"


@every_page
def test_every_character_has_a_glyph(visit, name, width):
    v = visit(name, width)
    assert not v.missing, f"{where(v)}: no installed font draws {describe(v.missing)} (an empty box on screen)"


# --- what a reader does ------------------------------------------------------------------------------

@every_page
def test_the_menu_button_shows_the_chapter_links(visit, name, width):
    """☰: on a phone it opens the chapters; on a desktop, where they show, it hides and shows them."""
    v = visit(name, width)
    menu = v.menu
    assert menu["buttons"], f"{where(v)}: no visible ☰ button"
    # As many as a phone's screen holds (the menu scrolls for the rest).
    assert menu["shown_by_click"] >= MENU_LINKS_IN_VIEW, f"{where(v)}: clicking ☰ shows no chapter links: {menu}"


@every_page
def test_the_contents_button_shows_the_page_contents(visit, name, width):
    v = visit(name, width)
    contents = v.contents
    if not contents["links"]:
        return  # a page without sections has no contents
    if not contents["buttons"]:  # a wide screen shows them beside the page, with no button
        assert contents["before"] > 0, f"{where(v)}: the page's contents are neither shown nor a click away"
    else:
        assert contents["shown_by_click"] > 0, f"{where(v)}: clicking the contents button shows nothing: {contents}"


@every_page
def test_a_wide_table_shows_that_it_scrolls(visit, name, width):
    """A table wider than its box: a hint above it, a shadow on the edge that hides columns, the
    rows' labels kept in view; scrolled to its end, the shadow goes."""
    v = visit(name, width)
    unmarked = [t for t in v.table_cues if not t["fits"] and not (t["hint"] and t["shadow"] and t["labelsStay"])]
    assert not unmarked, f"{where(v)}: wide tables without a cue that they scroll: {unmarked}"
    if v.scrolled_to_end:
        assert v.scrolled_to_end["shadow_gone"], f"{where(v)}: scrolled to its end, {v.scrolled_to_end} still shades"


@every_page
def test_the_code_of_a_page_is_gathered_in_one_collapsed_block(visit, name, width):
    """No "Show code cell source" or "Made by" line between the results: all in one collapsed
    "How this was computed" (whose cells open, test_collapsed_code_cells_open_and_show_code)."""
    v = visit(name, width)
    if name in NOTEBOOK_PAGES:
        assert v.how_computed["blocks"] == 1 and not v.how_computed["open"], f"{where(v)}: {v.how_computed}"
    assert v.how_computed["outside"] == 0, f"{where(v)}: code toggles or 'Made by' lines outside it: {v.how_computed}"


@every_page
def test_a_traced_number_is_never_split_by_a_line_break(visit, name, width):
    v = visit(name, width)
    assert not v.split_numbers, f"{where(v)}: numbers split across two lines: {v.split_numbers}"


@every_page
def test_a_tapped_number_shows_its_tooltip_inside_the_screen_reader_first(visit, name, width):
    v = visit(name, width)
    tip = v.tooltip
    if not tip:
        return  # no traced number on this page
    assert tip["shown"], f"{where(v)}: tapping {tip.get('number')!r} shows no tooltip"
    assert tip["inside"], f"{where(v)}: the tooltip of {tip['number']!r} leaves the screen or widens the page: {tip}"
    assert re.match(r"(Published: .+, (reproduced|this build differs|reported by the study)|Not reported by the study"
                    r"|A setting of this book's analysis)",
                    tip["first"]), f"{where(v)}: the tooltip does not speak to readers first: {tip['text']!r}"
    assert tip["text"].index(tip["first"]) < tip["text"].index("computed by"), tip["text"]


@every_page
def test_the_data_notice_links_to_the_details_and_is_one_line_on_a_phone(visit, name, width):
    v = visit(name, width)
    banner = v.banner
    details = urlsplit(banner.get("details") or "").path
    assert details.endswith("/chapters/12_provenance.html"), f"{where(v)}: no visible link to the details: {banner}"
    if WIDTHS[width].get("is_mobile"):
        assert banner["height"] < 2 * banner["fontSize"] * 1.25, \
            f"{where(v)}: the data notice takes {banner['height']:.0f} px, more than one line"


def test_the_build_table_wraps_its_description_and_digest(visit):
    """The provenance page's table of this build: the data's description and its 64-letter SHA-256
    wrap in their cell instead of hiding behind a scroll."""
    for width in WIDTHS:
        cues = {t["id"]: t for t in visit("chapters/12_provenance", width).table_cues}
        assert cues["tbl-build"]["fits"], f"at {width} px the build table is wider than its box: {cues['tbl-build']}"


# --- links ----------------------------------------------------------------------------------------

def unresolved(links: list[dict], served) -> tuple[int, list[str]]:
    """(how many internal links, those whose file or anchor is not in the served site)."""
    broken, checked = [], 0
    for link in links:
        if not served.is_local(link["url"]):
            continue
        checked += 1
        parts = urlsplit(link["url"])
        target = served.root / unquote(parts.path).lstrip("/")
        if parts.path.endswith("/"):
            target = target / "index.html"
        label = f"{link['raw']!r} ({link['text'][:40]!r})"
        if not target.is_file():
            broken.append(f"{label}: no file {target.relative_to(served.root)}")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in page_at(target).anchors:
            broken.append(f"{label}: no id {unquote(parts.fragment)!r} in {target.relative_to(served.root)}")
    return checked, broken


@every_page
def test_every_internal_link_and_anchor_resolves(visit, served, name):
    v = visit(name, "1280")
    checked, broken = unresolved(v.links, served)
    assert checked, f"{where(v)}: no internal link at all"
    assert not broken, (f"{where(v)}: {len(broken)} of {checked} internal links do not resolve:\n  "
                        + "\n  ".join(broken))


def test_every_page_names_an_icon_that_exists(visit, served):
    """Without one, browsers ask for /favicon.ico (once per session, so a visit may not show the 404)."""
    problems = []
    for name in PAGES:
        icons = visit(name, "1280").icons
        if not icons:
            problems.append(f"{name}: no <link rel=icon>")
        problems += [f"{name}: icon {url} not in the site" for url in icons if not served.is_local(url)
                     or not (served.root / unquote(urlsplit(url).path).lstrip("/")).is_file()]
    assert not problems, "\n".join(problems)


def test_the_server_answered_every_request_of_the_site(visit, served, width):
    for name in PAGES:
        visit(name, width)
    audits = served.audits
    errors = [f"{status} {path}" for i, (path, status) in enumerate(served.log)
              if status >= 400 and not any(start <= i < end for start, end in audits)]
    assert not errors, f"requests the server could not answer during the visits: {errors}"


def test_every_page_links_to_the_pdf(visit, book, served):
    missing = [name for name in PAGES if not visit(name, "1280").pdf_links]
    assert not missing, f"pages without a link to {PDF_NAME}: {missing}"
    for url in visit(CHAPTERS[0], "1280").pdf_links:
        assert (served.root / unquote(urlsplit(url).path).lstrip("/")).is_file(), f"{url}: no PDF there"


def test_the_start_page_redirects_to_the_first_chapter(browser, served):
    context, offsite = new_context(browser, served, "1280")
    try:
        page = context.new_page()
        page.goto(served.base + "index.html")
        page.wait_for_url(f"**/{CHAPTERS[0]}.html")
    finally:
        context.close()
    assert not offsite


# --- traced numbers ------------------------------------------------------------------------------

TRACE_STATE_JS = """() => {
  const number = document.activeElement.closest('.traced');
  const tip = number && document.getElementById(number.getAttribute('aria-describedby'));
  return {focused: !!number, visible: !!tip && tip.checkVisibility(), text: tip ? tip.innerText : '',
          name: number ? number.firstChild.textContent : ''};
}"""


def test_a_number_shows_where_it_came_from_on_keyboard_focus_and_hover(browser, served):
    """Tab reaches a pasted number; its tooltip names the result and links the computing function
    to the API reference (a link that resolves); Escape hides it; the pointer shows it too."""
    context, offsite = new_context(browser, served, "1280")
    try:
        page = context.new_page()
        page.goto(served.base + f"{CHAPTERS[0]}.html")
        assert not page.locator(".traced .trace").first.is_visible(), "a tooltip is open before any focus"
        state = {"focused": False}
        for _ in range(300):   # Tab through the page's header and navigation to the first number
            page.keyboard.press("Tab")
            state = page.evaluate(TRACE_STATE_JS)
            if state["focused"]:
                break
        assert state["focused"], "Tab never reaches a traced number"
        assert state["visible"], "focusing a number does not show where it came from"
        assert "computed by" in state["text"] and "results.overview" in state["text"], state
        link = page.locator(".traced:focus .trace a").first
        href = link.get_attribute("href")
        assert href and "api/cmprehab.report.results.html#cmprehab.report.results." in href, href
        page.keyboard.press("Escape")
        assert not page.evaluate(TRACE_STATE_JS)["visible"], "Escape does not hide the tooltip"
        page.locator("body").click(position={"x": 5, "y": 5})
        second = page.locator(".traced").nth(1)
        second.hover()
        assert second.locator(".trace").is_visible(), "hovering a number does not show where it came from"
        page.goto(urljoin(page.url, href))
        anchor = href.split("#", 1)[1]
        assert page.locator(f'[id="{anchor}"]').count() == 1, f"the API reference has no entry {anchor}"
    finally:
        context.close()
    assert not offsite


def test_the_results_file_is_served_with_the_site(browser, served):
    context, offsite = new_context(browser, served, "1280")
    try:
        page = context.new_page()
        page.goto(served.base + "chapters/12_provenance.html")
        for name in ("results.json", "results.csv"):
            href = page.locator(f'a[href$="{name}"]').first.get_attribute("href")
            response = context.request.get(urljoin(page.url, href))
            assert response.ok, f"{name}: HTTP {response.status}"
            if name == "results.json":
                assert response.json()["format"] == "cmprehab-results/1"
    finally:
        context.close()
    assert not offsite


# --- search --------------------------------------------------------------------------------------

def test_search_finds_a_known_term(browser, served, book):
    assert SEARCH_TERM in (book.site / f"{SEARCH_PAGE}.html").read_text(encoding="utf-8").lower(), \
        f"{SEARCH_TERM!r} is no longer on {SEARCH_PAGE}: choose another search term"
    context, offsite = new_context(browser, served, "1280")
    try:
        page = context.new_page()
        page.goto(served.base + f"search.html?q={SEARCH_TERM}")
        page.wait_for_selector("#search-results ul.search li", timeout=20_000)
        hits = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(a => a.href)")
        summary = page.inner_text("#search-results > p, #search-results .search-summary") \
            if page.locator("#search-results > p").count() else ""
    finally:
        context.close()
    assert not offsite
    assert any(f"/{SEARCH_PAGE}.html" in url for url in hits), \
        f"searching {SEARCH_TERM!r} does not list {SEARCH_PAGE}: {hits} {summary!r}"


#: A word both the chapters and the API reference use many times.
RANKING_TERM = "mcid"


@pytest.mark.parametrize("search_width", list(WIDTHS))
def test_search_lists_the_chapters_before_the_api_reference_with_snippets_of_the_text(browser, served, search_width):
    """The API reference (every function's docstring) matches most words; a reader looks for the
    chapters. Each result's snippet is the page's text, without the tooltips of its numbers."""
    context, offsite = new_context(browser, served, search_width)
    try:
        page = context.new_page()
        page.goto(served.base + f"search.html?q={RANKING_TERM}")
        page.wait_for_selector("#search-results ul.search li", timeout=20_000)
        # The snippets come one by one (each page is fetched): wait until every result has its own
        # (an API entry has its kind, "(Python function in API reference)", instead).
        page.wait_for_function("() => { const items = document.querySelectorAll('#search-results ul.search li');"
                               " return document.querySelector('.search-summary') && items.length"
                               " && Array.from(items).every(li => li.querySelector('p.context, a + span')); }",
                               timeout=30_000)
        hits = page.eval_on_selector_all("#search-results ul.search li",
                                         "els => els.map(li => ({url: li.querySelector('a').href, snippet:"
                                         " (li.querySelector('p.context') || {textContent: ''}).textContent}))")
    finally:
        context.close()
    assert not offsite
    pages = [urlsplit(hit["url"]).path.removesuffix(".html").lstrip("/") for hit in hits]
    api = [i for i, p in enumerate(pages) if p == config.API_PAGE or p.startswith(config.API_PAGE + "/")]
    chapters = [i for i, p in enumerate(pages) if p in CHAPTERS and p != config.API_PAGE]
    assert api and chapters, f"searching {RANKING_TERM!r} should find chapters and the API reference: {pages}"
    assert max(chapters) < min(api), f"the API reference ranks above chapters: {pages}"
    tooltips = [hit for hit in hits if re.search(r"computed by|Not reported by the study|Published: ", hit["snippet"])]
    assert not tooltips, f"snippets that show tooltip text: {tooltips[:3]}"


# --- the glyph check can fail -------------------------------------------------------------------

def test_the_glyph_check_finds_an_emoji_without_a_font(browser):
    check = "\u2705"
    if font_has(check):
        pytest.skip("a font with emoji is installed here; the check cannot be shown to fail")
    page = browser.new_page()
    try:
        page.set_content(f"<p>Status: {check} succeeded</p>")
        text = page.evaluate(TEXT_JS)
    finally:
        page.close()
    assert missing_glyphs(text) == [check]


# --- the PDF -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pdf_pages(book) -> list[str]:
    assert book.pdf.is_file(), f"no PDF at {book.pdf}"
    pages = pdf_pages_text(book.pdf)
    assert pages, f"{book.pdf}: no text"
    return pages


def test_the_pdf_is_in_the_site(book):
    copy = book.site / "_downloads" / PDF_NAME
    assert copy.is_file(), f"no {copy}"
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(copy) == digest(book.pdf), f"{copy} is not {book.pdf}"


def test_the_pdf_has_every_chapter_title(visit, pdf_pages):
    text = squeeze("".join(pdf_pages))
    titles = {name: visit(name, "1280").title for name in BOOK_CHAPTERS}
    assert all(titles.values()), f"pages without a title: {[n for n, t in titles.items() if not t]}"
    missing = [f"{name}: {title!r}" for name, title in titles.items() if squeeze(title) not in text]
    assert not missing, "chapter titles not in the PDF:\n  " + "\n  ".join(missing)


#: The most pages the PDF of the book may have: 144 with the API reference, 58 without it; the
#: analyses added since (multiple imputation, deterioration, composite responders, the plain-language
#: page) made it 74 at 10 pt, 67 at 9.5 pt with figures at most 80 mm tall.
MAX_PDF_PAGES = 70
#: A page with less text than this (besides its page number; the running data notice counted in)
#: and no picture is nearly empty: a forced page break left it so.
NEARLY_EMPTY_CHARS = 150


def test_the_pdf_is_the_book_without_the_api_reference_or_empty_pages(visit, book, pdf_pages):
    squeezed = [squeeze(page) for page in pdf_pages]
    for name in SITE_ONLY_PAGES:
        # Its first paragraph (its title, "API reference", is a phrase the chapters use too).
        first = Page(book.site / f"{name}.html").soup.select_one("article section > p")
        opening = squeeze(" ".join(first.get_text().split()[:12]))
        assert not any(opening in page for page in squeezed), f"the PDF holds {name} ({opening!r})"
    # An entry of the API reference names a function with its module; the chapters' "Made by" lines are not printed.
    assert not any("cmprehab.report.tables.mcid" in page for page in squeezed), "the PDF holds API entries"
    assert len(pdf_pages) <= MAX_PDF_PAGES, f"{len(pdf_pages)} pages, more than {MAX_PDF_PAGES}"
    images = pdf_images_per_page(book.pdf)
    empty = [i for i, page in enumerate(squeezed[:-1], 1)
             if len(page) - len(squeeze(f"Page {i} of {len(pdf_pages)}")) < NEARLY_EMPTY_CHARS and not images[i - 1]]
    assert not empty, f"nearly empty pages (< {NEARLY_EMPTY_CHARS} characters, no figure): {empty}"


def test_the_pdf_has_the_headline_numbers_the_site_shows(visit, pdf_pages):
    pasted = visit(CHAPTERS[0], "1280").pasted
    assert len(pasted) >= 5, f"{CHAPTERS[0]}: only {len(pasted)} pasted values"
    text = squeeze("".join(pdf_pages))
    missing = [value for value in pasted if squeeze(value) not in text]
    assert not missing, f"values pasted on {CHAPTERS[0]} but not in the PDF: {missing}"


def test_the_pdf_has_every_table_and_figure_in_place(visit, book, pdf_pages):
    """Every caption is in the PDF; a raster figure (PNG) is an image on its caption's page. A vector
    figure (SVG) is drawn into the page's own content, which no PDF reader tells from text and
    rules: test_printed_tables_fit_the_page checks that each one is loaded and drawn in print."""
    captions = [c for name in CHAPTERS for c in visit(name, "1280").captions]
    assert any(c.startswith("Table") for c in captions) and any(c.startswith("Fig") for c in captions)
    raster = {c for name in CHAPTERS for c, src in visit(name, "1280").figure_sources
              if RASTER.search(src or "")}
    squeezed = [squeeze(page) for page in pdf_pages]
    images = pdf_images_per_page(book.pdf)
    problems = []
    for caption in captions:
        # Captions run to the end of the line in the PDF; their first words are enough to find them.
        start = squeeze(" ".join(caption.split()[:6]))
        found = [i for i, page in enumerate(squeezed) if start in page]
        if not found:
            problems.append(f"caption not in the PDF: {caption[:80]!r}")
        elif caption in raster and not any(images[i] for i in found):
            problems.append(f"no image on page {found[0] + 1} with {caption[:60]!r}")
    assert sum(images) >= len(raster), f"{sum(images)} images in the PDF, {len(raster)} raster figures in the site"
    assert not problems, "\n".join(problems)


def test_the_pdf_pages_are_numbered_and_name_the_data(pdf_pages):
    short = data_fingerprint(config.DEFAULT_COHORT).short
    total = len(pdf_pages)
    assert total >= len(CHAPTERS), f"only {total} pages for {len(CHAPTERS)} chapters"
    unnumbered = [i for i, page in enumerate(pdf_pages, 1) if f"Page {i} of {total}" not in " ".join(page.split())]
    unnamed = [i for i, page in enumerate(pdf_pages, 1) if f"data SHA-256 {short}" not in " ".join(page.split())]
    assert not unnumbered, f"pages without 'Page N of {total}': {unnumbered}"
    assert not unnamed, f"pages without the data notice (data SHA-256 {short}): {unnamed}"


def test_printed_tables_fit_the_page(browser, book):
    with LocalServer(book.book_page.parent) as server:
        context = browser.new_context(viewport={"width": PRINT_WIDTH_PX, "height": 1000})
        try:
            page = context.new_page()
            page.emulate_media(media="print")
            page.goto(server.base + book.book_page.name, wait_until="load")
            tables = page.evaluate(TABLES_JS)
            found = page.evaluate(OVERFLOW_JS, True)
            broken = page.evaluate(BROKEN_WORDS_JS)
            page.evaluate(SETTLED_JS)
            figures = page.evaluate("""() => Array.from(document.querySelectorAll('article figure img')).map(img => ({
                src: img.getAttribute('src'), loaded: img.complete && img.naturalWidth > 0,
                height: img.getBoundingClientRect().height, shown: img.checkVisibility()}))""")
        finally:
            context.close()
    undrawn = [f for f in figures if not (f["loaded"] and f["shown"] and f["height"] >= 50)]
    assert figures and not undrawn, f"printed figures not drawn: {undrawn}"
    assert len(tables) >= 10, f"only {len(tables)} tables on the printed page"
    assert not broken, f"printed table cells break words across lines: {sorted(set(broken))[:20]}"
    wide = [t["id"] for t in tables if t["wide"]]
    assert not wide, f"printed tables wider than the page ({PRINT_WIDTH_PX} px): {wide}"
    assert not found["outside"], "printed elements wider than the page:\n  " + "\n  ".join(found["outside"][:15])


# --- the checks can fail -------------------------------------------------------------------------

BROKEN_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Broken</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>
<h1>Broken</h1>
<p>Status: \u2705</p>
<img src="missing.png" alt="">
<img src="https://example.org/remote.png" alt="A remote picture">
<a href="other.html#nowhere">a link to an anchor that is not there</a>
<a href="gone.html">a link to a page that is not there</a>
<div style="width: 2000px">wider than any viewport</div>
<button aria-label="Go">Search everything</button>
<script>console.error("broken on purpose");</script>
</main></body></html>"""


def test_the_checks_find_what_is_wrong_on_a_broken_page(browser, tmp_path):
    """Each check of a visit, on a page made to fail it (a guard against checks that cannot fail)."""
    site = tmp_path / "_build" / "html"
    site.mkdir(parents=True)
    (site / "broken.html").write_text(BROKEN_PAGE, encoding="utf-8")
    (site / "other.html").write_text("<!DOCTYPE html><title>Other</title><p id='here'>here</p>", encoding="utf-8")
    with LocalServer(site) as server:
        server.audits = []
        v = visit_page(browser, server, Book(tmp_path), "broken", "1280", axe_script())
    problems = "\n".join(v.problems)
    assert "broken on purpose" in problems and "missing.png" in problems, problems
    assert v.offsite == ["https://example.org/remote.png"]
    assert {img["src"] for img in v.images if not img["loaded"]} >= {"missing.png", "https://example.org/remote.png"}
    assert any(not (img["alt"] or "").strip() for img in v.images)
    assert any("2000" in line or "div" in line for line in v.overflow), v.overflow
    assert "label-content-name-mismatch" in {x["id"] for x in v.axe["violations"]}, v.axe
    assert v.notice == {"count": 0}
    if not font_has("\u2705"):
        assert v.missing == ["\u2705"]
    checked, broken = unresolved(v.links, server)
    assert checked == 2 and len(broken) == 2, broken
    assert "no id 'nowhere' in other.html" in broken[0] and "no file gone.html" in broken[1], broken


#: A code cell that fades in for two seconds when opened: axe-core run at once would measure
#: grey-on-white text mid-fade (a contrast violation); run once the page has settled, none.
FADING_CELL_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Fading</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  @keyframes fade-in { from { opacity: 0; } to { opacity: 1; } }
  details[open] pre { animation: fade-in 2s linear; color: #000; background: #fff; }
</style></head><body><main><h1>Fading</h1>
<details class="hide above-input"><summary>Show code cell source</summary>
<pre>print("the code of the cell")</pre></details>
</main></body></html>"""


def test_the_audit_waits_for_an_opened_code_cell_to_finish_fading_in(browser, tmp_path):
    site = tmp_path / "_build" / "html"
    site.mkdir(parents=True)
    (site / "fading.html").write_text(FADING_CELL_PAGE, encoding="utf-8")
    with LocalServer(site) as server:
        server.audits = []
        v = visit_page(browser, server, Book(tmp_path), "fading", "1280", axe_script())
    assert v.code_cells == 1 and not v.code_problems, v.code_problems
    assert "color-contrast" not in {x["id"] for x in v.axe["violations"]}, v.axe["violations"]
