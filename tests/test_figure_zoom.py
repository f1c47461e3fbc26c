"""Tap to enlarge a figure (book_static/figure_zoom.js), as a reader on a phone and on a desktop does.

The default test book (tests/books.py) is served on 127.0.0.1 from a copy of its site; Debian's
Chromium opens the front page (one figure, the headline's) at a phone's and a desktop's width.
A tap (a click on the desktop) or Enter/Space on the figure opens it enlarged: the image is shown
larger than in the text, inside the screen or in a box that scrolls, with the figure's alt text
and caption; a tap, Escape or the Close button closes it and gives focus back to the figure.
axe-core audits the open view. Every wait is for a state (the dialog's open flag, the image
loaded), never for a time.
"""
from __future__ import annotations

import pytest

from browser_support import AXE_RUN_JS, SETTLED_JS, WIDTHS, axe_script, launched_chromium, new_context, served_default_book

PAGE = "chapters/00_overview.html"
FIGURE = "article figure"
OPENER = "article figure button.figure-zoom-open"
DIALOG = "dialog.figure-zoom"
FAILING_IMPACTS = {"serious", "critical"}

#: axe-core on the enlarged view and the figure that opens it (its rules as AXE_RUN_JS runs them).
AXE_ON_ZOOM_JS = AXE_RUN_JS.replace(
    "axe.run(document,", "axe.run({include: [['dialog.figure-zoom'], ['article figure']]},")

#: The dialog is open and its image has loaded.
OPEN_JS = """() => { const d = document.querySelector('dialog.figure-zoom'), img = d && d.querySelector('img');
  return !!d && d.open && img.complete && img.naturalWidth > 0; }"""
CLOSED_JS = "() => !document.querySelector('dialog.figure-zoom').open"

#: What a reader sees of the enlarged view: the image's size, whether the view fits the screen and,
#: where the image is larger than its box, whether that box scrolls to show the rest.
MEASURE_JS = """() => {
  const d = document.querySelector('dialog.figure-zoom'), img = d.querySelector('img');
  const box = img.parentElement, r = img.getBoundingClientRect(), b = box.getBoundingClientRect();
  const dr = d.getBoundingClientRect(), vw = document.documentElement.clientWidth, vh = innerHeight;
  const scrolls = s => ['auto', 'scroll'].includes(s);
  const style = getComputedStyle(box);
  return {width: r.width, height: r.height, alt: img.getAttribute('alt'),
          caption: d.querySelector('.figure-zoom__caption').textContent.trim(),
          visible: img.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}),
          viewInside: dr.left >= -1 && dr.top >= -1 && dr.right <= vw + 1 && dr.bottom <= vh + 1,
          boxInside: b.left >= -1 && b.top >= -1 && b.right <= vw + 1 && b.bottom <= vh + 1,
          fitsBox: box.scrollWidth <= box.clientWidth + 1 && box.scrollHeight <= box.clientHeight + 1,
          boxScrolls: (box.scrollWidth <= box.clientWidth + 1 || scrolls(style.overflowX))
                      && (box.scrollHeight <= box.clientHeight + 1 || scrolls(style.overflowY)),
          startsInView: r.left < vw && r.top < vh && r.right > 0 && r.bottom > 0,
          pageWidth: document.documentElement.scrollWidth, viewport: vw};
}"""

#: The focused element is the (button of the) figure of the page.
FOCUS_ON_FIGURE_JS = """() => { const f = document.activeElement && document.activeElement.closest('article figure');
  return !!f && document.activeElement.matches('button.figure-zoom-open'); }"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    yield from served_default_book(tmp_path_factory, "zoom")


@pytest.fixture(scope="module")
def browser():
    yield from launched_chromium()


@pytest.fixture(scope="module", params=list(WIDTHS))
def page(request, browser, served):
    """The front page at one width, its figure made a button, loaded once for the module's tests
    (each leaves the figure closed); offsite requests aborted and recorded."""
    context, offsite = new_context(browser, served, request.param)
    errors = []
    tab = context.new_page()
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(served.base + PAGE, wait_until="load")
    tab.wait_for_selector(OPENER)
    tab.evaluate(SETTLED_JS)
    tab.width, tab.offsite, tab.errors = request.param, offsite, errors
    yield tab
    context.close()


@pytest.fixture(autouse=True)
def closed_after(page):
    """Each test starts with the figure in the text (a failed one may leave it open)."""
    yield
    page.evaluate("() => { const d = document.querySelector('dialog.figure-zoom'); if (d && d.open) d.close(); }")


def tap(page, selector: str) -> None:
    """A finger on the phone, the mouse on the desktop."""
    target = page.locator(selector).first
    if WIDTHS[page.width].get("has_touch"):
        target.tap()
    else:
        target.click()


def figure_in_text(page) -> dict:
    return page.evaluate("""() => { const f = document.querySelector('article figure'), img = f.querySelector('img');
      const c = f.querySelector('figcaption').cloneNode(true); c.querySelectorAll('.headerlink').forEach(a => a.remove());
      const r = img.getBoundingClientRect();
      return {width: r.width, height: r.height, alt: img.getAttribute('alt'), caption: c.textContent.replace(/\\s+/g, ' ').trim()}; }""")


def test_a_tap_shows_the_figure_larger_in_view_with_its_alt_text_and_caption(page):
    before = figure_in_text(page)
    tap(page, OPENER)
    page.wait_for_function(OPEN_JS)
    shown = page.evaluate(MEASURE_JS)
    assert shown["visible"] and shown["startsInView"], shown
    assert shown["width"] > 1.2 * before["width"], (before, shown)  # a real enlargement, not the same size
    assert shown["viewInside"] and shown["boxInside"], f"the enlarged view sticks out of the screen: {shown}"
    assert shown["fitsBox"] or shown["boxScrolls"], f"the enlarged figure is cut off, its box does not scroll: {shown}"
    assert shown["pageWidth"] <= shown["viewport"], "the enlarged figure widens the page"
    assert shown["alt"] == before["alt"] and shown["alt"]
    assert shown["caption"] == before["caption"] and shown["caption"]
    assert page.offsite == [] and page.errors == []


def test_escape_closes_it_and_gives_focus_back_to_the_figure(page):
    page.locator(OPENER).first.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(OPEN_JS)
    page.keyboard.press("Escape")
    page.wait_for_function(CLOSED_JS)
    assert page.evaluate(FOCUS_ON_FIGURE_JS)
    assert not page.locator(DIALOG).is_visible()


def test_the_close_button_closes_it_and_gives_focus_back_to_the_figure(page):
    page.locator(OPENER).first.focus()
    page.keyboard.press("Space")
    page.wait_for_function(OPEN_JS)
    close = page.get_by_role("button", name="Close", exact=True)
    assert close.is_visible()
    tap(page, f"{DIALOG} button.figure-zoom__close")
    page.wait_for_function(CLOSED_JS)
    assert page.evaluate(FOCUS_ON_FIGURE_JS)


def test_a_tap_on_the_enlarged_figure_closes_it(page):
    tap(page, OPENER)
    page.wait_for_function(OPEN_JS)
    tap(page, f"{DIALOG} img")
    page.wait_for_function(CLOSED_JS)
    assert page.evaluate(FOCUS_ON_FIGURE_JS)
    assert not page.evaluate("() => document.documentElement.classList.contains('figure-zoom-active')")


def test_axe_finds_nothing_serious_with_the_figure_enlarged(page):
    tap(page, OPENER)
    page.wait_for_function(OPEN_JS)
    page.evaluate(SETTLED_JS)
    page.add_script_tag(content=axe_script())
    found = page.evaluate(AXE_ON_ZOOM_JS)
    serious = [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in found["violations"]
               if v["impact"] in FAILING_IMPACTS]
    assert serious == []
