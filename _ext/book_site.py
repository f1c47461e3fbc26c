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

The favicon and the colour mode are plain configuration (`_config.yml`).
"""
from __future__ import annotations

import html
import os
import re
from pathlib import Path

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

from cmprehab import config

#: Environment variable naming the PDF of the whole book (a file name, no folder).
PDF_ENV_VAR = config.PDF_ENV_VAR
#: Where the PDF sits inside the HTML site.
PDF_FOLDER = "_downloads"
TEMPLATES = Path(__file__).resolve().parent / "templates"
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
    pdf = pdf_site_path()
    context = dict(config.html_context or {})
    context["book_pdf"] = pdf
    manuscript = manuscript_links()
    context["book_manuscript"] = manuscript
    config.html_context = context
    if pdf or manuscript:
        options = dict(config.html_theme_options or {})
        items = options.get("footer_content_items") or [
            "author.html", "copyright.html", "last-updated.html", "extra-footer.html"]
        if isinstance(items, str):
            items = [item.strip() for item in items.split(",") if item.strip()]
        options["footer_content_items"] = [*items, "book-pdf.html"]
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


def setup(app):
    from myst_nb.sphinx_ import HideCodeCellNode

    app.setup_extension("myst_nb")  # its node must be registered before we override it
    app.add_node(HideCodeCellNode, override=True, html=(visit_hide_cell, depart_hide_cell))
    app.add_node(nodes.citation, override=True, html=(visit_citation, depart_citation))
    app.add_post_transform(ExecutionStatusWords)
    app.add_css_file("cmprehab.css")
    app.connect("config-inited", configure)
    app.connect("html-page-context", page_context)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
