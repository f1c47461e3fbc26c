"""The author's manuscript (cmprehab.manuscript, `make manuscript`): DOCX, JATS and MECA from a book's build.

The two test books (tests/books.py) are reused, not built again: the parts of a book's ``_build``
the manuscript reads are copied to a temporary folder and the manuscript is written there (so the
books' sites stay as the other modules expect them). Each number is checked against the build
itself: the results sentences against ``results.json``, the tables cell by cell against the
tables of the site's pages.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import types
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

import books
from cmprehab import config
from cmprehab.manuscript import DOCX, JATS, MARKDOWN, MECA, meca, myst, source

#: What a journal-style research article holds, in this order (the issue's specification).
HEADINGS = ["Abstract", "Introduction", "Methods", "Results", "Discussion", "Conclusions", "References"]
#: The manuscript's tables, and where the site shows each.
TABLES = {"Table 1": ("chapters/03_baseline", "tbl-baseline"),
          "Table 2": ("chapters/04_interventions", "tbl-interventions"),
          "Table 3": ("chapters/05_outcomes", "tbl-mcid")}
JATS_XLINK = "{http://www.w3.org/1999/xlink}href"
MECA_NS = "{https://manuscriptexchange.org/schema/manifest}"


def make_manuscript(book: Path, target: Path) -> Path:
    """Copy what the manuscript reads from `book`'s _build into `target`, write the manuscript there."""
    built, copy = book / "_build", target / "_build"
    for name in (".jupyter_cache", "jupyter_execute"):
        shutil.copytree(built / name, copy / name)
    shutil.copytree(built / "html", copy / "html", ignore=shutil.ignore_patterns("_static", "_sources", "_modules"))
    result = subprocess.run([sys.executable, "-m", "cmprehab.manuscript", "--output", str(target)], cwd=config.ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return copy / "manuscript"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    return make_manuscript(books.default_book(), tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="module")
def confidential(tmp_path_factory) -> Path:
    book, _ = books.perturbed_book()
    return make_manuscript(book, tmp_path_factory.mktemp("confidential"))


def results_of(folder: Path) -> dict:
    return json.loads((folder.parent / "html" / "results.json").read_text(encoding="utf-8"))


def page_texts(document: dict, page: str) -> dict[str, str]:
    return {row["name"]: row["text"] for row in document["results"] if row["page"] == page}


def docx_document(folder: Path):
    import docx

    return docx.Document(str(folder / DOCX))


def docx_tables(document) -> list[list[list[str]]]:
    return [[[cell.text.strip() for cell in row.cells] for row in table.rows] for table in document.tables]


def site_table(folder: Path, page: str, name: str) -> list[list[str]]:
    html = (folder.parent / "html" / f"{page}.html").read_text(encoding="utf-8")
    table = BeautifulSoup(html, "html.parser").find("table", id=name)
    assert table is not None, f"{page}.html has no table {name}"
    return [[" ".join(cell.get_text(" ").split()) for cell in row.find_all(["th", "td"])]
            for row in table.find_all("tr")]


def paragraph_starting(document, label: str) -> str:
    texts = [p.text for p in document.paragraphs if p.text.startswith(label)]
    assert len(texts) == 1, f"{len(texts)} paragraphs start with {label!r}"
    return texts[0]


def section_text(document, first: str, stop: str) -> str:
    """The paragraphs from the one starting with `first` to the one before the one starting with `stop`."""
    texts = [p.text for p in document.paragraphs]
    start = next(i for i, text in enumerate(texts) if text.startswith(first))
    end = next(i for i, text in enumerate(texts) if i > start and text.startswith(stop))
    return "\n".join(texts[start:end])


NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def landing_page_values(folder: Path) -> dict[str, str]:
    """The values the landing page's prose quotes (its glued values), as results.json has them."""
    import nbformat

    notebook = nbformat.read(folder.parent / "jupyter_execute" / "chapters/00_overview.ipynb", as_version=4)
    prose = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    quoted = set(re.findall(r"\{glue:text\}`([\w]+)`", prose)) - {"unpublished_note"}
    texts = page_texts(results_of(folder), "chapters/00_overview")
    assert quoted and quoted <= set(texts)
    return {name: texts[name] for name in quoted}


def typed_in_the_book(folder: Path, page: str) -> set[str]:
    """The numbers the page's own prose types (its Markdown without the glued values and references)."""
    import nbformat

    notebook = nbformat.read(folder.parent / "jupyter_execute" / f"{page}.ipynb", as_version=4)
    prose = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    return set(NUMBER.findall(re.sub(r"\{[a-z:]+\}`[^`]*`", " ", prose)))


def leftover_numbers(text: str, quoted: list[str], typed: set[str]) -> list[str]:
    """The numbers of `text` that neither a `quoted` value (longest first) nor the book's own prose accounts for."""
    for value in sorted(quoted, key=len, reverse=True):
        text = text.replace(value, " ")
    text = re.sub(r"\b(Table|Figure) \d+\b", " ", text)  # the manuscript's own numbering
    return [number for number in NUMBER.findall(text) if number not in typed]


# --- the Word file ------------------------------------------------------------------------------

def test_docx_is_a_research_article_in_journal_order(synthetic):
    document, results = docx_document(synthetic), results_of(synthetic)
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings == HEADINGS
    title = [p.text for p in document.paragraphs if p.style.name == "Title"]
    cff = (config.ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert len(title) == 1 and title[0] in cff
    # The data notice comes before the abstract, with the full SHA-256 of the data.
    texts = [p.text for p in document.paragraphs]
    notice = next(i for i, text in enumerate(texts) if text.startswith("Data."))
    assert notice < texts.index("Abstract")
    assert "Synthetic data" in texts[notice] and results["data"]["sha256"] in texts[notice]
    for label in ("Background:", "Methods:", "Results:", "Conclusions:"):
        paragraph_starting(document, label)


def test_docx_abstract_results_are_the_landing_pages_numbers(synthetic):
    document, quoted = docx_document(synthetic), landing_page_values(synthetic)
    abstract = section_text(document, "Results:", "Conclusions:")
    for name, text in quoted.items():
        assert text in abstract, f"the abstract does not quote {name} = {text!r}"
    assert leftover_numbers(abstract, list(quoted.values()), typed_in_the_book(synthetic, "chapters/00_overview")) == []


def test_docx_results_sentences_quote_results_json(synthetic):
    document, results = docx_document(synthetic), results_of(synthetic)
    body = "\n".join(p.text for p in document.paragraphs)
    outcomes = page_texts(results, "chapters/05_outcomes")
    for stem in ("nprs", "dri", "eqvas"):
        for time in ("discharge", "1y"):
            sentence = (f"{outcomes[f'mcid_{stem}_{time}_k']} of {outcomes[f'mcid_{stem}_{time}_n']}")
            assert outcomes[f"mcid_{stem}_{time}"] in body and sentence in body
    primary = [p.text for p in document.paragraphs if p.text.startswith(("At discharge,", "One year after discharge the"))]
    assert len(primary) == 2
    assert leftover_numbers(" ".join(primary), list(outcomes.values()),
                            typed_in_the_book(synthetic, "chapters/05_outcomes")) == []


def test_docx_tables_are_the_sites_tables_with_captions(synthetic):
    document = docx_document(synthetic)
    tables = docx_tables(document)
    assert len(tables) == len(TABLES)
    captions = [p.text for p in document.paragraphs if re.match(r"^Table \d\. ", p.text)]
    assert [c.split(".")[0] for c in captions] == list(TABLES)
    for cells, (number, (page, name)) in zip(tables, TABLES.items()):
        assert cells == site_table(synthetic, page, name), f"{number} differs from {name} on {page}"


def test_docx_has_the_figures_and_the_references(synthetic):
    document = docx_document(synthetic)
    assert len(document.inline_shapes) == 3
    figures = [p.text for p in document.paragraphs if re.match(r"^Figure \d\. ", p.text)]
    assert [f.split(".")[0] for f in figures] == ["Figure 1", "Figure 2", "Figure 3"]
    texts = [p.text for p in document.paragraphs]
    references = texts[texts.index("References") + 1:]
    assert any("Trulsson Schouenborg" in ref and "BMC Musculoskeletal Disorders" in ref for ref in references)
    assert not re.search(r"\{(glue|cite|doc|ref|numref)[:}]|\[@|\x00", "\n".join(texts))  # every role resolved


# --- JATS -----------------------------------------------------------------------------------------

def test_jats_holds_the_same_article(synthetic):
    root = ET.parse(synthetic / JATS).getroot()
    results = results_of(synthetic)
    assert root.tag == "article"
    assert " ".join(root.find(".//article-title").text.split()) in (config.ROOT / "CITATION.cff").read_text(encoding="utf-8")
    abstract = " ".join("".join(root.find(".//abstract").itertext()).split())
    for name, text in landing_page_values(synthetic).items():
        assert text in abstract, name
    wraps = root.findall(".//table-wrap")
    assert len(wraps) == len(TABLES) and len(root.findall(".//fig")) == 3
    for wrap, (number, (page, name)) in zip(wraps, TABLES.items()):
        assert "".join(wrap.find("caption").itertext()).strip().startswith(f"{number}. ")
        cells = [[" ".join("".join(cell.itertext()).split()) for cell in row] for row in wrap.iter("tr")]
        assert cells == site_table(synthetic, page, name)
    for fig in root.iter("fig"):  # the alt text the site's image has
        assert fig.find(".//alt-text") is not None and len(fig.find(".//alt-text").text) > 40
    refs = root.findall(".//ref-list/ref")
    cited = set(re.findall(r"@([\w-]+)", (synthetic / MARKDOWN).read_text(encoding="utf-8")))
    assert len(refs) == len(cited & set(re.findall(r"@\w+\{([\w-]+),", (config.ROOT / "references.bib").read_text(
        encoding="utf-8"))))
    body = " ".join("".join(root.find("body").itertext()).split())
    outcomes = page_texts(results, "chapters/05_outcomes")
    assert all(outcomes[f"mcid_{stem}_discharge"] in body for stem in ("nprs", "dri", "eqvas"))


# --- MECA -----------------------------------------------------------------------------------------

def test_meca_manifest_lists_every_file_of_the_zip(synthetic):
    with zipfile.ZipFile(synthetic / MECA) as bundle:
        names = set(bundle.namelist())
        root = ET.fromstring(bundle.read(meca.MANIFEST))
        jats = ET.fromstring(bundle.read(JATS))
        assert bundle.read(DOCX) == (synthetic / DOCX).read_bytes()
    assert root.tag == f"{MECA_NS}manifest" and root.get("manifest-version") == "1"
    listed = {instance.get(JATS_XLINK): item.get("item-type") for item in root.findall(f"{MECA_NS}item")
              for instance in item.findall(f"{MECA_NS}instance")}
    assert set(listed) == names - {meca.MANIFEST}
    assert listed[JATS] == "article-metadata" and listed[DOCX] == "manuscript"
    for name in (DOCX, JATS, MECA):  # beside the PDF in the site, where every page's footer links them
        assert (synthetic.parent / "html" / "_downloads" / name).read_bytes() == (synthetic / name).read_bytes()
    graphics = {graphic.get(JATS_XLINK) for graphic in jats.iter("graphic")}
    assert graphics and graphics <= names and all(listed[g] == "article-supporting-file" for g in graphics)


def test_meca_manifest_writer_lists_what_it_is_given():
    root = ET.fromstring(meca.manifest([("manuscript", "a.docx"), ("article-supporting-file", "figures/x y&.png")]))
    items = [(i.get("item-type"), i.find(f"{MECA_NS}instance").get(JATS_XLINK)) for i in root]
    assert items == [("manuscript", "a.docx"), ("article-supporting-file", "figures/x y&.png")]


# --- confidential data ----------------------------------------------------------------------------

def test_confidential_manuscript_keeps_the_sites_suppression_and_notice(confidential):
    document, results = docx_document(confidential), results_of(confidential)
    notice = paragraph_starting(document, "Data.")
    assert "Confidential data" in notice and results["data"]["sha256"] in notice
    assert "Synthetic" not in notice and "†" not in "\n".join(p.text for p in document.paragraphs)
    tables = docx_tables(document)
    for cells, (page, name) in zip(tables, TABLES.values()):
        assert cells == site_table(confidential, page, name)
    assert any("<5" in cell for table in tables for row in table for cell in row)
    abstract = section_text(document, "Results:", "Conclusions:")
    for name, text in landing_page_values(confidential).items():
        assert text in abstract, name


def test_nothing_in_the_manuscript_names_the_data_file_or_a_patient(confidential):
    leaks = [books.ID_PREFIX, "leakcheck", "secret", Path(books.COHORT_NAME).stem, str(books.PERTURBED)]
    files = [path for path in confidential.rglob("*") if path.is_file()]
    assert {path.name for path in files} >= {DOCX, JATS, MECA, MARKDOWN}
    for path in files:
        contents = [path.read_bytes()]
        if zipfile.is_zipfile(path):  # the DOCX and the MECA bundle: every member, uncompressed
            with zipfile.ZipFile(path) as archive:
                contents += [archive.read(name) for name in archive.namelist()]
        for content in contents:
            text = content.decode("utf-8", "replace").lower()
            for leak in leaks:
                assert leak.lower() not in text, f"{path.name} holds {leak!r}"


# --- pieces -----------------------------------------------------------------------------------------

def test_glued_values_stay_text_and_book_references_go():
    values = {("chapters/x", "n"): ("<5", False), ("chapters/x", "rule"): ("at least 2 points ({cite:p}`farrar2001`)", True)}
    converter = myst.Converter(lambda page, name: values[(page, name)], {"tbl-mcid": "Table 3"},
                               lambda doc: {"chapters/09_audit": "Reproduction audit"}[doc], lambda label: "Assumptions")
    text = converter.convert("{glue:text}`n` of them ({doc}`05_outcomes`), {glue:md}`rule:myst`; see "
                             "{numref}`tbl-mcid`. The {doc}`09_audit` checks (see {ref}`sec-assumptions`); "
                             "{ref}`sec-assumptions` lists them ({numref}`tbl-change`).", "chapters/x")
    assert text == ("\\<5 of them, at least 2 points ([@farrar2001]); see Table 3. "
                    "The *Reproduction audit* checks; *Assumptions* lists them.")


def test_markdown_blocks_keep_math_and_listings_whole():
    blocks = source.markdown_blocks("# T\n\n(sec-a)=\n## A\n\nOne\nline.\n\n$$\nx\n$$\n\n```{literalinclude} f\n\n:x:\n```\n- a\n- b")
    assert blocks == [("title", "T"), ("label", "sec-a"), ("heading", "A"), ("text", "One\nline."),
                      ("math", "$$\nx\n$$"), ("fenced", "```{literalinclude} f\n\n:x:\n```"), ("text", "- a\n- b")]


def test_the_sites_footer_links_the_manuscript_when_make_manuscript_builds_it(monkeypatch):
    import jinja2

    monkeypatch.syspath_prepend(str(config.ROOT / "_ext"))
    import book_site

    def footer() -> tuple[list[str], list[str]]:
        settings = types.SimpleNamespace(templates_path=[], html_theme_options={}, html_context={})
        book_site.configure(None, settings)
        template = jinja2.Environment(loader=jinja2.FileSystemLoader(book_site.TEMPLATES)).get_template("book-pdf.html")
        html = template.render(pathto=lambda path, _: f"../{path}", **settings.html_context)
        links = [a["href"] for a in BeautifulSoup(html, "html.parser").select("a.book-manuscript__link")]
        return settings.html_theme_options["footer_content_items"], links

    monkeypatch.delenv(config.PDF_ENV_VAR, raising=False)
    monkeypatch.delenv(config.MANUSCRIPT_ENV_VAR, raising=False)
    items, links = footer()
    assert "book-pdf.html" not in items and links == []  # `make book` alone: no link to a missing file
    monkeypatch.setenv(config.MANUSCRIPT_ENV_VAR, "yes")
    items, links = footer()
    assert "book-pdf.html" in items
    assert links == [f"../_downloads/{name}" for name in (DOCX, JATS, MECA)]


def test_without_a_build_it_says_what_is_missing(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cmprehab.manuscript", "--output", str(tmp_path)],
                            cwd=config.ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert str(tmp_path / "_build" / "html" / "results.json") in result.stderr and "make book" in result.stderr
    assert not (tmp_path / "_build" / "manuscript").exists()
