"""On a phone, a wide table's row labels (its first column, kept in view while the rest scrolls:
book_static/tables.js and cmprehab.css) stay inside their cells.

That column is narrow on a phone; a label with no space to break at ("pain_duration_days",
"mcid.nprs.threshold", "Regional/generalized") ran on under the next column, and the two texts
were printed over each other. Debian's Chromium opens the two pages with the most such labels at
390 px and measures every label cell of a scrolling table. Every wait is for a state.
"""
from __future__ import annotations

import pytest

from browser_support import SETTLED_JS, launched_chromium, new_context, served_default_book

PAGES = ["chapters/11_data_dictionary.html", "chapters/12_provenance.html"]
PHONE = "390"

#: Every row label of a table that scrolls sideways whose text is wider than its cell.
OVERFLOWING_LABELS_JS = """() => Array.from(document.querySelectorAll(
    'article .pst-scrollable-table-container.table-scrolls > table > * > tr > :first-child'))
  .filter(cell => cell.scrollWidth > cell.clientWidth + 1)
  .map(cell => `${cell.innerText.trim()} (${cell.scrollWidth} px in ${cell.clientWidth} px)`)"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    yield from served_default_book(tmp_path_factory, "labels")


@pytest.fixture(scope="module")
def browser():
    yield from launched_chromium()


@pytest.mark.parametrize("page_path", PAGES)
def test_row_labels_of_wide_tables_stay_inside_their_cells_on_a_phone(browser, served, page_path):
    context, offsite = new_context(browser, served, PHONE)
    try:
        page = context.new_page()
        page.goto(served.base + page_path, wait_until="load")
        page.evaluate(SETTLED_JS)
        page.wait_for_selector("article .pst-scrollable-table-container.table-scrolls")
        assert page.evaluate(OVERFLOWING_LABELS_JS) == []
        assert offsite == []
    finally:
        context.close()
