"""Sphinx extension: the site as readers and reviewers meet it, beyond the theme's defaults.

Each change here fixes something a browser test found (tests/test_browser.py):

* **Accessible names match visible labels** (axe-core `label-content-name-mismatch`,
  WCAG 2.5.3): the theme's search buttons and colour-mode switch, and myst-nb's
  "Show code cell source" toggles, carried an `aria-label` that did not contain their
  visible text. Templates in `_ext/templates/` replace the theme's two components;
  the toggle is rendered here without the label, so its name is the text it shows.
* **Citation list roles** (axe-core `aria-required-children`, critical): docutils marks
  each reference `role="doc-biblioentry"` (deprecated, and not a list item) inside a
  `role="list"` container. Here each one is a `listitem`.
* **Execution status as words**: myst-nb's execution-statistics table (Provenance page)
  shows ✅/❌, which render as empty boxes where no emoji font is installed. Here the
  cell reads "succeeded" or "failed".
* **Site stylesheet** `book_static/cmprehab.css` (captions on a phone, print layout with
  page numbers) and, in print, the data notice repeated at the top of every page.
* **Link to the whole book as one PDF**, in every page's footer, when the build is told
  the PDF's name in $CMPREHAB_BOOK_PDF (`make pdf` does; scripts/book_pdf.py prints it and
  puts it at `_downloads/<name>` in the site). Without it no link is shown, so a site
  built by `make book` alone never links to a missing file.

* **The ☰ and contents buttons work**: pydata-sphinx-theme 0.17 fills its top navbar with a
  search field unless told otherwise, and that navbar brings its own ☰ and contents buttons,
  hidden by sphinx-book-theme but first in the page, so both themes' scripts bound those. Here
  the navbar is left empty (`navbar_persistent: []`), and the visible buttons are the bound ones.
* **Wide tables say they scroll** (`book_static/tables.js`): a hint above, a shadow on the edge
  that hides columns, the rows' labels kept in view.
* **Search ranks the chapters above the API reference** (`_ext/search_scorer.js`).
* **Figures enlarge on a tap** (`book_static/figure_zoom.js`): a click, tap, Enter or Space opens a
  figure over the whole screen with its alt text and caption; a tap, Escape or Close returns.
* **"How this was computed"**: a page's collapsed code cells and their "Made by" lines are
  gathered at its end, in one collapsed block (`gather_computation`), so the reading flow holds
  results only.
* **One number per table and figure in the whole book** (`number_unnumbered_pages`): Sphinx
  numbers the tables of a page outside the numbered chapters "Table 1", "Table 2" ... with one
  counter for all such pages, which reads like chapter 1's table or the paper's Table 1. Here the
  front page's are numbered 0.1, 0.2 ... and each Reference page's by its letter in that part
  (A for its first page, B for the second ...): "Table B.2", in captions and in {numref} alike.

The favicon and the colour mode are plain configuration (`_config.yml`).
"""
from __future__ import annotations

import html
import os
import re
import string
from pathlib import Path

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

from cmprehab import config

#: Environment variable naming the PDF of the whole book (a file name, no folder).
PDF_ENV_VAR = config.PDF_ENV_VAR
#: Where the PDF sits inside the HTML site.
PDF_FOLDER = "_downloads"
TEMPLATES = Path(__file__).resolve().parent / "templates"
SEARCH_SCORER = Path(__file__).resolve().parent / "search_scorer.js"
STATUS_WORDS = {"\u2705": "succeeded", "\u274c": "failed"}


# --- configuration -----------------------------------------------------------------------

def pdf_site_path() -> str:
    """The PDF's path inside the site ('' when this build has no PDF)."""
    name = os.environ.get(PDF_ENV_VAR, "").strip()
    if not name:
        return ""
    if "/" in name or "\\" in name or not name.endswith(".pdf"):
        raise ValueError(f"${PDF_ENV_VAR} must be a file name ending in .pdf, not {name!r}")
    return f"{PDF_FOLDER}/{name}"


def manuscript_links() -> list[tuple[str, str]]:
    """(label, path inside the site) of the manuscript's files, beside the PDF, when `make manuscript`
    builds the site (it sets $CMPREHAB_BOOK_MANUSCRIPT, then writes them: cmprehab.manuscript)."""
    if not os.environ.get(config.MANUSCRIPT_ENV_VAR, "").strip():
        return []
    return [(label, f"{PDF_FOLDER}/{name}") for label, name in config.MANUSCRIPT_LINKS]


def configure(app, config) -> None:
    # Our templates come before the themes' components (they append theirs later).
    config.templates_path = [str(TEMPLATES), *[p for p in config.templates_path if p != str(TEMPLATES)]]
    options = dict(config.html_theme_options or {})
    # pydata-sphinx-theme 0.17 puts its search field in the top navbar unless told otherwise
    # (overriding sphinx-book-theme's empty navbar). That navbar then also renders its own
    # ☰ and contents buttons, hidden by sphinx-book-theme's CSS but first in the page, and both
    # themes' scripts bind `querySelector(".primary-toggle")`: the hidden one. With no navbar
    # items the navbar is empty and the visible buttons of the article header are the ones bound.
    options.setdefault("navbar_persistent", [])
    # The sidebar lists the book's pages, not the API reference's generated module pages (its
    # own page lists them): a page with children gets a toggle without a name (axe-core: summary-name).
    options.setdefault("max_navbar_depth", 1)
    # Search results: the chapters above the API reference (_ext/search_scorer.js).
    config.html_search_scorer = str(SEARCH_SCORER)
    config.html_theme_options = options
    pdf = pdf_site_path()
    context = dict(config.html_context or {})
    context["book_pdf"] = pdf
    manuscript = manuscript_links()
    context["book_manuscript"] = manuscript
    config.html_context = context
    options = dict(config.html_theme_options or {})
    items = options.get("footer_content_items") or [
        "author.html", "copyright.html", "last-updated.html", "extra-footer.html"]
    if isinstance(items, str):
        items = [item.strip() for item in items.split(",") if item.strip()]
    # Every page links to "Cite this" (_ext/cite_this.py), and to the PDF and the manuscript when there are.
    options["footer_content_items"] = [*items, "cite-this.html", *(["book-pdf.html"] if pdf or manuscript else [])]
    config.html_theme_options = options


def print_notice_css(config) -> str:
    """`@page` rule that repeats the data notice at the top of every printed page."""
    banner = (config.html_theme_options or {}).get("announcement") or ""
    kind = re.search(r'data-notice--(\w+)', banner)
    digest = re.search(r'data-sha256="([0-9a-f]{12})', banner)
    if not (kind and digest):
        return ""
    text = f"{kind.group(1).capitalize()} data \u00b7 data SHA-256 {digest.group(1)}"
    return ("<style media=\"print\">@page { @top-center { content: \"%s\"; } }</style>"
            % text.replace("\\", "\\\\").replace('"', '\\"'))


def page_context(app, pagename, templatename, context, doctree) -> None:
    css = print_notice_css(app.config)
    if css:
        context["metatags"] = context.get("metatags", "") + "\n" + css


# --- rendering ----------------------------------------------------------------------------

def visit_hide_cell(self, node) -> None:
    """myst-nb's hidden-input toggle, without an aria-label: its name is its visible text."""
    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n<summary>\n')
    self.body.append(f'<p class="collapsed admonition-title">{html.escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{html.escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def depart_hide_cell(self, node) -> None:
    self.body.append("</details>\n")


def visit_citation(self, node) -> None:
    """docutils' citation, as a list item of the citation list it opens."""
    if not isinstance(node.previous_sibling(), type(node)):
        self.body.append('<div role="list" class="citation-list">\n')
    self.body.append(self.starttag(node, "div", classes=[node.tagname], role="listitem"))


def depart_citation(self, node) -> None:
    self.body.append("</div>\n")
    if not isinstance(node.next_node(descend=False, siblings=True), type(node)):
        self.body.append("</div>\n")


class how_computed(nodes.General, nodes.Element):
    """A page's code cells and their "Made by" lines, gathered in one collapsed block."""


def visit_how_computed(self, node) -> None:
    self.body.append('<details class="how-computed">\n<summary>How this was computed</summary>\n'
                     '<p class="how-computed__intro">The code behind this page\'s tables, figures and numbers, '
                     "cell by cell in the order it runs, with the package functions each cell calls "
                     "(linked to the API reference, with their source).</p>\n")


def depart_how_computed(self, node) -> None:
    self.body.append("</details>\n")


def skip_node(self, node) -> None:
    raise nodes.SkipNode


def gather_computation(app, doctree: nodes.document, docname: str) -> None:
    """Move every collapsed code cell of a page, with the line that links the functions it calls
    (_ext/traced_numbers.py), out of the reading flow into one collapsed "How this was computed" at
    the end of the page: a reader meets results, not a "Show code" toggle under every paragraph.
    The single-page build of the PDF keeps them in place (print hides them)."""
    from myst_nb.sphinx_ import HideCodeCellNode

    if app.builder.name != "html":
        return
    steps = []
    for cell in list(doctree.findall(nodes.container)):
        if cell.get("nb_element") != "cell_code":
            continue
        moved = [child for child in cell.children
                 if (isinstance(child, HideCodeCellNode) and "above-input" in child["classes"])
                 or "cell-functions" in child.get("classes", [])]
        for child in moved:
            cell.remove(child)
        if moved:
            steps.append(moved)
    if not steps:
        return
    block = how_computed()
    for moved in steps:
        step = nodes.container(classes=["how-computed__step"])
        step.extend(moved)
        block += step
    top = next(iter(doctree.findall(nodes.section)), doctree)
    top += block


class RubricHeadingLevels(SphinxPostTransform):
    """A rubric with Sphinx's ``:heading-level:`` as a heading (the API reference's module pages,
    _ext/templates/autosummary/module.rst): MyST replaces Sphinx's HTML rubric with its own,
    which reads the level from ``level`` and writes a <p> styled as a heading without it
    (axe-core: p-as-heading)."""

    default_priority = 10
    formats = ("html",)

    def run(self, **kwargs) -> None:
        for rubric in self.document.findall(nodes.rubric):
            if "heading-level" in rubric:
                rubric["level"] = rubric["heading-level"]


class ExecutionStatusWords(SphinxPostTransform):
    """The Status column of myst-nb's execution-statistics table in words, not emoji."""

    default_priority = 9  # right after myst-nb builds the table (8)
    formats = ("html",)

    def run(self, **kwargs) -> None:
        for table in self.document.findall(nodes.table):
            head = [entry.astext().strip() for entry in table.findall(nodes.entry)
                    if isinstance(entry.parent.parent, nodes.thead)]
            if not head or head[0] != "Document" or head[-1] != "Status":
                continue
            for text in list(table.findall(nodes.Text)):
                word = STATUS_WORDS.get(text.astext().strip())
                if word:
                    text.parent.replace(text, nodes.Text(word))


# --- numbers of tables and figures outside the numbered chapters --------------------------------

#: The prefix of the front page's tables and figures (its file is 00_overview).
FRONT_PAGE_PREFIX = 0


def pages_in_order(env) -> list[str]:
    """Every page of the book in the order of its table of contents, the front page first."""
    order: list[str] = []

    def walk(docname: str) -> None:
        if docname in order:
            return
        order.append(docname)
        for child in env.toctree_includes.get(docname, []):
            walk(child)

    walk(env.config.root_doc)
    return order


def page_prefixes(env) -> dict[str, int | str]:
    """The prefix of each page without a chapter number: 0 for the front page, then A, B, C ...
    for the other pages in the order of the table of contents (every one lettered, so that a
    page's letter does not change when another page gains or loses a table)."""
    root, *pages = pages_in_order(env)
    # Not the API reference's generated module pages (chapters/api/...): they hold no table or figure.
    unnumbered = [page for page in pages if not env.toc_secnumbers.get(page)
                  and not page.startswith(config.API_PAGE + "/")]
    if len(unnumbered) > len(string.ascii_uppercase):
        raise ValueError(f"{len(unnumbered)} pages outside the numbered chapters: more than there are letters")
    return {root: FRONT_PAGE_PREFIX, **dict(zip(unnumbered, string.ascii_uppercase))}


def number_unnumbered_pages(app, env) -> list[str]:
    """Renumber the tables and figures of the pages outside the numbered chapters: "Table B.2",
    not Sphinx's "Table 2" (counted across all such pages, so it reads like a chapter's number).
    Runs after Sphinx has numbered everything (env-get-updated); returns the pages to rewrite."""
    changed = []
    for page, prefix in page_prefixes(env).items():
        for numbers in env.toc_fignumbers.get(page, {}).values():
            # Sphinx's counter runs across pages: number each page's own items from 1, in its order.
            ordered = sorted(numbers, key=lambda target: numbers[target])
            numbers.update({target: (prefix, position) for position, target in enumerate(ordered, start=1)})
            changed.append(page)
    return sorted(set(changed))


def setup(app):
    from myst_nb.sphinx_ import HideCodeCellNode

    app.setup_extension("myst_nb")  # its node must be registered before we override it
    app.add_node(HideCodeCellNode, override=True, html=(visit_hide_cell, depart_hide_cell))
    app.add_node(nodes.citation, override=True, html=(visit_citation, depart_citation))
    app.add_post_transform(ExecutionStatusWords)
    app.add_post_transform(RubricHeadingLevels)
    app.add_node(how_computed, html=(visit_how_computed, depart_how_computed),
                 latex=(skip_node, None), text=(skip_node, None))
    # After _ext/traced_numbers.py has added the "Made by" lines (doctree-resolved, priority 500).
    app.connect("doctree-resolved", gather_computation, priority=900)
    app.add_css_file("cmprehab.css")
    app.add_js_file("tables.js")
    app.add_js_file("figure_zoom.js")
    app.connect("config-inited", configure)
    # After Sphinx's own numbering (TocTreeCollector, priority 500).
    app.connect("env-get-updated", number_unnumbered_pages, priority=900)
    app.connect("html-page-context", page_context)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
