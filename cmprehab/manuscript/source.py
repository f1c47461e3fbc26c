"""What a book build left, read back for the manuscript: nothing here computes a result.

* ``_build/html/results.json``: every glued value of every page, as the page shows it;
* ``_build/jupyter_execute/chapters/*.ipynb``: the notebooks as that build read them (their
  Markdown is the prose; myst-nb writes them without outputs) and ``_build/.jupyter_cache``:
  their executed outputs, matched on the same code (the tables as displayed, the figures);
* ``_build/html/_images/``: the figure files the site shows (SVG or PNG, named by their SHA-256);
* ``_build/html/index.html``: the data notice of the banner.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import ManuscriptError

#: MyST target label line, ``(sec-mcid)=``.
LABEL = re.compile(r"^\(([A-Za-z0-9_-]+)\)=\s*$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
TABLE_DIRECTIVE = re.compile(r"^:::\{table\}\s*(?P<caption>.*)$")


@dataclass
class Table:
    name: str
    caption: str
    #: The pipe table exactly as the page displayed it.
    pipe: str
    #: The note under it ("<5: fewer than 5 patients; ..."), when the table has withheld cells.
    note: str = ""


@dataclass
class Figure:
    name: str
    caption: str
    alt: str
    #: The site's image file (``_build/html/_images/<sha256>.svg``, or ``.png``).
    path: Path


@dataclass
class Block:
    """A paragraph or list (`kind` "text"), display math ("math"), a fenced block ("fenced"),
    or a table or figure the code displayed."""

    kind: str
    text: str = ""
    item: Table | Figure | None = None


@dataclass
class Page:
    docname: str
    title: str
    #: Section heading -> its blocks, in order; the text before the first subheading is under "".
    sections: dict[str, list[Block]] = field(default_factory=dict)
    #: Target label -> the heading it stands before.
    labels: dict[str, str] = field(default_factory=dict)


def markdown_blocks(source: str) -> list[tuple[str, str]]:
    """A Markdown cell as (kind, text) blocks: "title" (the page's H1), "heading" (a subheading's
    text), "label", "text" (a paragraph or list), "math" ($$ display), "fenced" (code or directive)."""
    blocks: list[tuple[str, str]] = []
    current: list[str] = []
    fence: str | None = None

    def flush(kind: str = "text") -> None:
        if current:
            blocks.append((kind, "\n".join(current)))
            current.clear()

    for line in source.splitlines():
        stripped = line.strip()
        if fence is not None:
            current.append(line)
            if stripped == fence or (fence == "```" and stripped == "```"):
                flush("math" if fence == "$$" else "fenced")
                fence = None
            continue
        if stripped.startswith("```") or stripped.startswith(":::") or stripped == "$$":
            flush()
            fence = "$$" if stripped == "$$" else stripped[:3]
            current.append(line)
            continue
        if not stripped:
            flush()
        elif HEADING.match(line):
            flush()
            level, text = HEADING.match(line).groups()
            blocks.append(("title" if len(level) == 1 else "heading", text))
        elif LABEL.match(stripped):
            flush()
            blocks.append(("label", LABEL.match(stripped).group(1)))
        else:
            current.append(line)
    flush("math" if fence == "$$" else "fenced" if fence else "text")
    return blocks


def parse_table(markdown: str) -> Table | None:
    """The table a page displayed with `report.book.show_table` (MyST `table` directive), or None."""
    lines = markdown.splitlines()
    if not lines or not TABLE_DIRECTIVE.match(lines[0]):
        return None
    caption = TABLE_DIRECTIVE.match(lines[0]).group("caption").strip()
    end = lines.index(":::", 1)
    options = {m.group(1): m.group(2).strip() for m in (re.match(r"^:(\w+):(.*)$", line) for line in lines[1:end]) if m}
    pipe = "\n".join(line for line in lines[1:end] if line.startswith("|"))
    rest = [line for line in lines[end + 1:] if line.strip() and not line.lstrip().startswith("<a ")]
    return Table(options.get("name", ""), caption, pipe, "\n".join(rest).strip())


class Build:
    """One book build's outputs (``<output>/_build``), read back."""

    def __init__(self, output: Path):
        self.output = Path(output)
        self.build_dir = self.output / "_build"
        self.site = self.build_dir / "html"
        results_file = self.site / "results.json"
        try:
            self.results_document = json.loads(results_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ManuscriptError(f"{results_file}: not found; build the book first (make book, or "
                                  f"python -m cmprehab.build --output {self.output})") from None
        except (OSError, ValueError) as err:
            raise ManuscriptError(f"{results_file}: cannot be read as JSON ({err})") from None
        self.results: dict[str, dict[str, dict]] = {}
        for row in self.results_document.get("results", []):
            self.results.setdefault(row["page"], {})[row["name"]] = row
        self._pages: dict[str, Page] = {}
        self._cache = None

    # --- the data --------------------------------------------------------------------------

    @property
    def synthetic(self) -> bool:
        return self.results_document.get("data", {}).get("kind") == "synthetic"

    @property
    def sha256(self) -> str:
        return self.results_document.get("data", {}).get("sha256") or ""

    def notice(self) -> str:
        """The banner's text, as every page of the site shows it (``data-notice``), read on the first
        page of the results (the site's index.html only redirects there)."""
        from bs4 import BeautifulSoup

        first = next(iter(self.results), "index")
        index = self.site / f"{first}.html"
        try:
            soup = BeautifulSoup(index.read_text(encoding="utf-8"), "html.parser")
        except OSError as err:
            raise ManuscriptError(f"{index}: cannot be read ({err.strerror or err})") from None
        banner = soup.select_one("div.data-notice")
        if banner is None:
            raise ManuscriptError(f"{index}: no data notice (div.data-notice) in the page")
        for short_hash in banner.select(".data-notice__hash"):  # the manuscript gives the whole SHA-256
            short_hash.decompose()
        return " ".join(banner.get_text(" ").split())

    def text(self, docname: str, name: str) -> tuple[str, bool]:
        """(text, is MyST Markdown) of one glued value of a page, from results.json."""
        try:
            row = self.results[docname][name]
        except KeyError:
            raise ManuscriptError(f"{self.site / 'results.json'}: page {docname!r} has no result {name!r}") from None
        # Markdown results (the MCID rules with their citations) are the ones whose source is a *_markdown function.
        return row["text"], str(row.get("source", "")).endswith("_markdown")

    # --- the pages -------------------------------------------------------------------------

    def page(self, docname: str) -> Page:
        if docname not in self._pages:
            self._pages[docname] = self._read_page(docname)
        return self._pages[docname]

    def _executed(self, docname: str):
        import nbformat

        path = self.build_dir / "jupyter_execute" / f"{docname}.ipynb"
        try:
            source = nbformat.read(path, as_version=4)
        except FileNotFoundError:
            raise ManuscriptError(f"{path}: not found; build the book first (make book)") from None
        if not any(cell.cell_type == "code" for cell in source.cells):
            return source, source
        if self._cache is None:
            from jupyter_cache import get_cache

            self._cache = get_cache(self.build_dir / ".jupyter_cache")
        try:
            record = self._cache.match_cache_notebook(source)
        except KeyError:
            raise ManuscriptError(f"{self.build_dir / '.jupyter_cache'}: no executed result for {docname} "
                                  "(the cache was cleared or is another build's); build the book again") from None
        return source, self._cache.get_cache_bundle(record.pk).nb

    def _read_page(self, docname: str) -> Page:
        source, executed = self._executed(docname)
        outputs = iter([cell for cell in executed.cells if cell.cell_type == "code"])
        page, heading, label = Page(docname, docname.rsplit("/", 1)[-1]), "", None
        page.sections[""] = []
        for cell in source.cells:
            if cell.cell_type == "markdown":
                for kind, text in markdown_blocks(cell.source):
                    if kind == "title":
                        page.title = text
                    elif kind == "heading":
                        heading = text
                        page.sections.setdefault(heading, [])
                        if label:
                            page.labels[label] = heading
                            label = None
                    elif kind == "label":
                        label = text
                    else:
                        page.sections[heading].append(Block(kind, text))
            elif cell.cell_type == "code":
                executed_cell = next(outputs)
                for item in self._displayed(docname, cell, executed_cell):
                    page.sections[heading].append(Block("item", item=item))
        return page

    def _displayed(self, docname: str, cell, executed_cell) -> list[Table | Figure]:
        items: list[Table | Figure] = []
        figure = (cell.metadata.get("mystnb") or {}).get("figure")
        for output in executed_cell.get("outputs", []):
            data = output.get("data", {})
            if "text/markdown" in data:
                table = parse_table(data["text/markdown"])
                if table is not None:
                    items.append(table)
            elif figure and ("image/svg+xml" in data or "image/png" in data):
                # The site names each image by the SHA-256 of its bytes (an SVG's text, a PNG's decoded bytes).
                if "image/svg+xml" in data:
                    digest, suffix = hashlib.sha256(data["image/svg+xml"].encode("utf-8")).hexdigest(), ".svg"
                else:
                    digest, suffix = hashlib.sha256(base64.b64decode(data["image/png"])).hexdigest(), ".png"
                path = self.site / "_images" / f"{digest}{suffix}"
                if not path.is_file():
                    raise ManuscriptError(f"{path}: the site has no file for figure {figure.get('name')} of {docname}")
                alt = ((cell.metadata.get("mystnb") or {}).get("image") or {}).get("alt", "")
                items.append(Figure(figure.get("name", ""), figure.get("caption", ""), alt, path))
        return items

    def titles(self, docnames: list[str]) -> dict[str, str]:
        return {docname: self.page(docname).title for docname in docnames}
