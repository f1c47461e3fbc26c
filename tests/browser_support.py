"""What tests/test_browser.py uses to look at the site: Debian's Chromium under Playwright, the
JavaScript it runs in the pages, font coverage and PDF text (the site is served by
scripts/local_server.py)."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import unicodedata
from pathlib import Path

#: Debian's Chromium (`make system-deps`); Playwright cannot download a browser of its own here.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: As root (no sandbox), nothing of Chromium's own on the network (updates, sync...), and not
#: relying on a large /dev/shm. Playwright adds --headless.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]


# --- JavaScript run in the pages ----------------------------------------------------------------

#: Every <img>: whether it loaded, and its alt text.
IMAGES_JS = """() => Array.from(document.images).map(img => ({
    src: img.getAttribute('src'), alt: img.getAttribute('alt'),
    loaded: img.complete && img.naturalWidth > 0,
    inFigure: !!img.closest('figure, .cell_output')}))"""

#: Every link (resolved URL and as written) and every id/name an anchor can point at.
LINKS_JS = """() => ({
    links: Array.from(document.querySelectorAll('a[href]')).map(a => ({
        url: a.href, raw: a.getAttribute('href'), text: (a.innerText || a.getAttribute('aria-label') || '').trim()})),
    anchors: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name')),
    icons: Array.from(document.querySelectorAll('link[rel~="icon"]')).map(l => l.href)})"""

#: Elements that stick out of the viewport sideways, unless a scroll box that itself fits holds them
#: (`strict`: none may, as on paper).
OVERFLOW_JS = """(strict) => {
  const width = document.documentElement.clientWidth, out = [];
  const fits = r => r.left >= -1 && r.right <= width + 1;
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
      + (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || fits(r)) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.position === 'fixed') continue;
    let box = el.parentElement, held = false;
    while (box && box !== document.documentElement) {
      if (!strict && getComputedStyle(box).overflowX !== 'visible') { held = fits(box.getBoundingClientRect()); break; }
      box = box.parentElement;
    }
    if (!held) out.push(`${name(el)} spans ${Math.round(r.left)}..${Math.round(r.right)} px`);
  }
  return {viewport: width, scrollWidth: document.documentElement.scrollWidth, outside: out};
}"""

#: Tables wider than their own box, and whether that box scrolls sideways.
TABLES_JS = """() => Array.from(document.querySelectorAll('article table')).map(t => {
  const box = t.parentElement, style = getComputedStyle(box);
  return {id: t.id || (t.querySelector('caption') || {}).innerText || '(no id)',
          wide: t.getBoundingClientRect().width > box.clientWidth + 1,
          scrolls: ['auto', 'scroll'].includes(style.overflowX) && box.scrollWidth > box.clientWidth,
          boxWidth: box.getBoundingClientRect().width};
})"""

#: How many elements matching a selector a reader can see: rendered, not hidden, inside the viewport.
VISIBLE_COUNT_JS = """(selector) => Array.from(document.querySelectorAll(selector)).filter(e => {
  if (!e.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) return false;
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && r.right > 0 && r.left < innerWidth && r.bottom > 0 && r.top < innerHeight;
}).length"""

#: Every table of the article in its scroll box: whether it fits, else which cues say it scrolls
#: (book_static/tables.js): the hint above it, the shadow on the edge that hides columns, the rows'
#: labels kept in view.
TABLE_CUES_JS = """() => Array.from(document.querySelectorAll('article .pst-scrollable-table-container > table')).map(t => {
  const box = t.parentElement, frame = box.parentElement, hint = frame.previousElementSibling;
  const label = t.querySelector('tbody > tr > :first-child');
  return {id: t.id || '(no id)', fits: box.scrollWidth <= box.clientWidth + 1,
          hint: !!hint && hint.classList.contains('table-scroll-hint') && hint.checkVisibility(),
          shadow: frame.classList.contains('table-more-right') && getComputedStyle(frame, '::after').opacity === '1',
          labelsStay: !!label && getComputedStyle(label).position === 'sticky'};
})"""

#: Traced numbers (_ext/traced_numbers.py) a reader can see that a line break splits in two.
SPLIT_NUMBERS_JS = """() => Array.from(document.querySelectorAll('article .traced')).filter(n => n.checkVisibility())
  .map(n => ({text: n.firstChild ? n.firstChild.textContent : '', lines: new Set(Array.from(n.getClientRects())
      .filter(r => r.width > 0).map(r => Math.round(r.top))).size}))
  .filter(n => n.lines > 1).map(n => n.text)"""

#: The index of the visible traced number that ends furthest right (its tooltip the likeliest to stick out).
RIGHTMOST_TRACED_JS = """() => { let best = -1, right = -Infinity;
  document.querySelectorAll('.traced').forEach((n, i) => { if (!n.checkVisibility()) return;
    const r = n.getBoundingClientRect(); if (r.right > right) { right = r.right; best = i; } });
  return best; }"""

#: The open tooltip of the focused traced number, and whether it and the page fit the viewport.
TOOLTIP_FITS_JS = """() => {
  const number = document.activeElement && document.activeElement.closest('.traced');
  const tip = number && number.querySelector(':scope > .trace');
  if (!tip || !tip.checkVisibility()) return {shown: false};
  const r = tip.getBoundingClientRect(), width = document.documentElement.clientWidth;
  return {shown: true, left: Math.round(r.left), right: Math.round(r.right), bottom: Math.round(r.bottom),
          viewport: width, height: innerHeight, pageWidth: document.documentElement.scrollWidth,
          inside: r.left >= 0 && r.right <= width && r.bottom <= innerHeight + 1
                  && document.documentElement.scrollWidth <= width,
          text: tip.innerText, first: (tip.querySelector('.trace-reader') || {}).innerText || ''};
}"""

#: Words of printed table cells that a line break cuts in two ("Ed-uca-tion").
BROKEN_WORDS_JS = """() => { const broken = [];
  for (const cell of document.querySelectorAll('article td, article th')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.textContent.matchAll(/[A-Za-z\u00c0-\u024f]{4,}/g)) {
        const range = document.createRange();
        range.setStart(node, match.index); range.setEnd(node, match.index + match[0].length);
        const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken; }"""

#: The text a reader sees (innerText leaves out what is not rendered).
TEXT_JS = "() => document.body.innerText"

#: Resolves when the page has settled: MathJax has typeset it (loading what it needs), its fonts
#: are loaded and every animation and transition (a code cell fading in as it opens) has finished.
#: What axe-core measures (contrast above all) is then what a reader sees, however busy the machine.
SETTLED_JS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;
  for (let round = 0; round < 10; round++) {
    const running = document.getAnimations().filter(a => a.playState !== 'finished'
        && !(a.effect && a.effect.getComputedTiming().endTime === Infinity));  // a spinner never ends
    if (!running.length) return round;
    await Promise.all(running.map(a => a.finished.catch(() => null)));
  }
  throw new Error('animations still running after 10 rounds');
}"""

#: axe-core with its default rules (WCAG 2.x A and AA, best practices) plus its experimental
#: ones, which include label-content-name-mismatch; no rule is turned off.
AXE_RUN_JS = """async () => {
  const experimental = axe.getRules(['experimental']).map(r => r.ruleId);
  const rules = Object.fromEntries(experimental.map(id => [id, {enabled: true}]));
  const result = await axe.run(document, {resultTypes: ['violations'], rules});
  return {version: axe.version, violations: result.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 200)}))}))};
}"""



def launched_chromium():
    """Debian's Chromium under Playwright, for a module's `browser` fixture (a generator: it yields
    the browser and closes it). Fails with what to do when there is no Chromium."""
    import pytest

    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make system-deps` (Debian's chromium) or set $CHROMIUM",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield launched
    launched.close()
    playwright.stop()


#: The two readers the browser tests are: a phone in dark mode and a desktop in light mode.
WIDTHS = {
    "390": dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=1,
                color_scheme="dark"),
    "1280": dict(viewport={"width": 1280, "height": 800}, device_scale_factor=1, color_scheme="light"),
}


def served_default_book(tmp_path_factory, name: str):
    """The default test book's site (tests/books.py), copied to a fresh folder and served on
    127.0.0.1, for a module's `served` fixture (a generator: it yields the server and stops it).
    Fails the test with the build's output when the book cannot be built."""
    import pytest

    from books import BuildFailed, default_book
    from scripts.local_server import LocalServer

    try:
        site = default_book() / "_build" / "html"
    except BuildFailed as failure:
        pytest.fail(str(failure), pytrace=False)
    copy = tmp_path_factory.mktemp(name) / "html"
    shutil.copytree(site, copy)
    with LocalServer(copy) as server:
        yield server


def new_context(browser, served, width: str):
    """A browser context at `width` in which every request to another host than `served` is aborted
    and recorded; returns the context and the list of those requests."""
    context = browser.new_context(**WIDTHS[width])
    context.set_default_timeout(30_000)
    offsite: list[str] = []

    def only_local(route):
        if served.is_local(route.request.url):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", only_local)
    return context, offsite

def axe_script() -> str:
    """axe-core as shipped by axe-playwright-python."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe().axe_script


# --- glyphs -----------------------------------------------------------------------------------

SKIPPED_CATEGORIES = {"Zs", "Zl", "Zp", "Cc", "Cf"}  # spaces, controls, format characters


@functools.cache
def font_has(char: str) -> bool:
    """Whether any font fontconfig knows (the fonts Chromium falls back on) has a glyph for `char`."""
    out = subprocess.run(["fc-list", f":charset={ord(char):x}", "family"], capture_output=True, text=True,
                         check=True).stdout
    return bool(out.strip())


def missing_glyphs(text: str) -> list[str]:
    """Characters of `text` that no installed font can draw (a browser shows them as empty boxes)."""
    chars = {c for c in text if ord(c) > 0x7E and unicodedata.category(c) not in SKIPPED_CATEGORIES
             and not 0xFE00 <= ord(c) <= 0xFE0F}
    return sorted(c for c in chars if not font_has(c))


def describe(chars: list[str]) -> str:
    return ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, '?')} ({c})" for c in chars)


# --- PDF ----------------------------------------------------------------------------------------

def pdf_pages_text(pdf: Path) -> list[str]:
    """The text of each page, by pdftotext (poppler-utils), which ends every page with a form feed."""
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext not found: install Debian's poppler-utils (make system-deps)"
    out = subprocess.run([pdftotext, "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = out.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def pdf_images_per_page(pdf: Path) -> list[int]:
    """How many images each page draws (image XObjects, also inside form XObjects)."""
    from pypdf import PdfReader

    def count(resources, seen) -> int:
        found = 0
        for ref in (resources or {}).get("/XObject", {}).values():
            obj = ref.get_object()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.get("/Subtype") == "/Image":
                found += 1
            elif obj.get("/Subtype") == "/Form":
                found += count(obj.get("/Resources"), seen)
        return found

    return [count(page.get("/Resources"), set()) for page in PdfReader(pdf).pages]


def squeeze(text: str) -> str:
    """Text without any whitespace (PDF text breaks lines where the page does)."""
    return "".join(text.split())
