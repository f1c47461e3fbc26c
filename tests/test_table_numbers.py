"""Every table and figure has a number no other in the book has, and that names one page only.

Sphinx numbers the tables of a chapter "Table 4.1", "Table 4.2" ..., but those of a page outside
the numbered chapters (the front page, the Reference part) "Table 1", "Table 2" ... with one
counter across all such pages: the data dictionary's "Table 2" reads as chapter 2's, or as the
paper's Table 2. `_ext/book_site.py` (`number_unnumbered_pages`) numbers them 0.1 on the front
page and B.1, C.2 ... on the Reference pages. Here a small Sphinx project, built in a second,
is numbered with and without that hook; tests/test_book_html.py applies the same rules to the
built book.
"""
from __future__ import annotations

import re
import string
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))

import book_site  # noqa: E402

CAPTION_NUMBER = re.compile(r'<span class="caption-number">(Table|Fig\.) ([^ <]+) ')
REFERENCE = re.compile(r'<span class="std std-numref">(Table|Fig\.) ([^ <]+)</span>')


def caption_numbers(html: str) -> list[tuple[str, str]]:
    """(kind, number) of every numbered caption of a page: ("Table", "B.2")."""
    return CAPTION_NUMBER.findall(html)


def expected_prefixes(pages: list[tuple[str, int | None]]) -> dict[str, str]:
    """The prefix each page's numbers must carry, from the table of contents ((page, chapter) in
    reading order, the front page first): the chapter's number, 0 on the front page, else the
    page's letter among the pages outside the numbered chapters."""
    (front, _), *rest = pages
    letters = iter(string.ascii_uppercase)
    return {front: "0", **{page: str(chapter) if chapter else next(letters) for page, chapter in rest}}


def collisions(numbers: dict[str, list[tuple[str, str]]], prefixes: dict[str, str]) -> list[str]:
    """What makes a table or figure number ambiguous: a number without the page's prefix ("Table 2"
    reads as chapter 2's), a prefix another page uses, or the same number twice."""
    problems, seen = [], {}
    for page, found in numbers.items():
        for kind, number in found:
            prefix, _, position = number.partition(".")
            if prefix != prefixes[page] or not position.isdigit():
                problems.append(f"{page}: {kind} {number} does not read as {kind} {prefixes[page]}.<n>")
            if (kind, number) in seen:
                problems.append(f"{kind} {number} on {seen[kind, number]} and on {page}")
            seen[kind, number] = page
    return problems


# --- a small book: a front page, two chapters, three Reference pages --------------------------

def _table(name: str) -> str:
    return textwrap.dedent(f"""
        .. table:: The table {name}.
           :name: {name}

           ===  ===
           a    b
           ===  ===
           1    2
           ===  ===
        """)


def _figure(name: str) -> str:
    return f"\n.. figure:: dot.svg\n   :name: {name}\n\n   The figure {name}.\n"


PAGES = {
    "index": ("Front", _table("tbl-front") + _figure("fig-front") + textwrap.dedent("""
        .. toctree::
           :numbered:
           :caption: The study

           ch1
           ch2

        .. toctree::
           :caption: Reference

           ref1
           ref2
           ref3
        """)),
    "ch1": ("Chapter one", _table("tbl-c1a") + _table("tbl-c1b")),
    "ch2": ("Chapter two", _table("tbl-c2a") + _figure("fig-c2a")),
    "ref1": ("Glossary", "No table here.\n"),
    "ref2": ("Dictionary", _table("tbl-r2a") + _table("tbl-r2b") + "\nThe rules are in :numref:`tbl-r2b`.\n"),
    "ref3": ("Provenance", _table("tbl-r3a") + _figure("fig-r3a")),
}
TOC = [("index", None), ("ch1", 1), ("ch2", 2), ("ref1", None), ("ref2", None), ("ref3", None)]


def build_small_book(folder: Path, renumber: bool, builder: str = "html") -> dict[str, str]:
    """Build the small book with Sphinx (with or without the hook); the HTML of each page (of the
    one page, for the "singlehtml" builder the book's PDF is printed from)."""
    from sphinx.application import Sphinx

    source = folder / "source"
    source.mkdir(parents=True)
    hook = "    app.connect('env-get-updated', book_site.number_unnumbered_pages, priority=900)\n" if renumber else ""
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / '_ext')!r})\nimport book_site\n"
        "numfig = True\nroot_doc = 'index'\n\ndef setup(app):\n" + hook + "    pass\n", encoding="utf-8")
    (source / "dot.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"/>',
                                    encoding="utf-8")
    for page, (title, body) in PAGES.items():
        (source / f"{page}.rst").write_text(f"{title}\n{'=' * len(title)}\n{body}", encoding="utf-8")
    out = folder / "html"
    app = Sphinx(str(source), str(source), str(out), str(folder / "doctrees"), builder, status=None,
                 warning=None, freshenv=True)
    app.build()
    assert app.statuscode == 0
    if builder == "singlehtml":
        return {"index": (out / "index.html").read_text(encoding="utf-8")}
    return {page: (out / f"{page}.html").read_text(encoding="utf-8") for page in PAGES}


@pytest.fixture(scope="module")
def renumbered(tmp_path_factory) -> dict[str, str]:
    return build_small_book(tmp_path_factory.mktemp("renumbered"), renumber=True)


def test_sphinx_alone_numbers_a_reference_page_like_a_chapter(tmp_path):
    """Without the hook the rules below find the collision (so they can fail): ref2's tables are
    "Table 2" and "Table 3", read as chapter 2's and chapter 3's."""
    html = build_small_book(tmp_path, renumber=False)
    problems = collisions({page: caption_numbers(text) for page, text in html.items()}, expected_prefixes(TOC))
    assert any("ref2: Table 2 " in problem for problem in problems), problems


def test_every_number_names_one_page(renumbered):
    numbers = {page: caption_numbers(text) for page, text in renumbered.items()}
    assert collisions(numbers, expected_prefixes(TOC)) == []
    # Each page counts its own tables and figures from 1, in page order.
    assert numbers["index"] == [("Table", "0.1"), ("Fig.", "0.1")]
    assert numbers["ch1"] == [("Table", "1.1"), ("Table", "1.2")]
    assert numbers["ref2"] == [("Table", "B.1"), ("Table", "B.2")]
    assert numbers["ref3"] == [("Table", "C.1"), ("Fig.", "C.1")]


def test_a_reference_to_a_lettered_table_reads_its_number(renumbered):
    assert REFERENCE.findall(renumbered["ref2"]) == [("Table", "B.2")]


def test_the_single_page_of_the_pdf_has_the_same_numbers(tmp_path, renumbered):
    single = caption_numbers(build_small_book(tmp_path, renumber=True, builder="singlehtml")["index"])
    assert single == [number for page in PAGES for number in caption_numbers(renumbered[page])]
    assert ("Table", "B.2") in single


def test_every_page_outside_the_chapters_has_its_own_letter():
    """The book's own table of contents: a letter for each page outside the numbered chapters."""
    from cmprehab import config

    prefixes = expected_prefixes(config.toc_pages())
    assert prefixes["chapters/00_overview"] == "0"
    assert prefixes["chapters/11_data_dictionary"] != prefixes["chapters/12_provenance"]
    assert len(set(prefixes.values())) == len(prefixes)
