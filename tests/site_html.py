"""A built page as the tests read it, through BeautifulSoup: its text, pasted values, traced
numbers, tables, images, resources, anchors and the data notice."""
from __future__ import annotations

import functools
from functools import cached_property
from pathlib import Path

from bs4 import BeautifulSoup, Tag


def squash(text: str) -> str:
    """Whitespace runs as one space, ends trimmed (what a reader sees of a text's spacing)."""
    return " ".join(text.split())


def plain_quotes(text: str) -> str:
    """Sphinx typesets ' and " as curly quotes; compare text without that typography."""
    return text.translate(str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}))


def text_of(element: Tag) -> str:
    """The visible text of an element: BeautifulSoup's get_text leaves out scripts, styles and comments."""
    return squash(element.get_text(" "))


def own_text(span: Tag) -> str:
    """A pasted value's text: what precedes its tooltip (_ext/traced_numbers.py)."""
    parts = []
    for child in span.children:
        if isinstance(child, Tag) and "trace" in child.get("class", []):
            break
        parts.append(child.get_text() if isinstance(child, Tag) else str(child))
    return plain_quotes(squash("".join(parts)))


def is_redirect(path: Path) -> bool:
    """JB1's index.html only redirects to the first page."""
    return 'http-equiv="Refresh"' in path.read_text(encoding="utf-8")


def site_pages(root: Path) -> list[Path]:
    """Every HTML page of a built site but static files, downloads, highlighted source and redirects."""
    return sorted(p for p in root.rglob("*.html")
                  if not {"_static", "_downloads", "_modules"} & set(p.relative_to(root).parts) and not is_redirect(p))


def page_at(path: Path) -> "Page":
    """The page at `path`, parsed once per test process while the file is unchanged: several tests
    read the same pages, and parsing is most of their time (the tests read pages, never change them)."""
    assert path.is_file(), f"page not built: {path}"
    stat = path.stat()
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=None)
def _parsed(path: Path, mtime_ns: int, size: int) -> "Page":
    return Page(path)


class Page:
    def __init__(self, path: Path):
        assert path.is_file(), f"page not built: {path}"
        self.path = path
        self.html = path.read_text(encoding="utf-8")
        self.soup = BeautifulSoup(self.html, "html.parser")

    @cached_property
    def text(self) -> str:
        return plain_quotes(text_of(self.soup.body or self.soup))

    @cached_property
    def pasted(self) -> list[str]:
        """The text of every pasted value ({glue:text}), in page order."""
        return [own_text(span) for span in self.soup.select("span.pasted-text")]

    @cached_property
    def traced(self) -> list[tuple[str, str]]:
        """(text, result name its tooltip gives) of every traced value whose tooltip is its own."""
        found = []
        for span in self.soup.select("span.pasted-text.traced"):
            tip = span.find("span", class_="trace", recursive=False)
            if tip is not None and tip.get("id") == span.get("aria-describedby") and tip.get("role") == "tooltip":
                found.append((own_text(span), tip.select_one(".trace-name").get_text(strip=True)))
        return found

    @cached_property
    def tables(self) -> dict[str, dict]:
        """{id: {"caption": text, "rows": [[cell text, ...], ...]}} of every table."""
        found = {}
        for table in self.soup.find_all("table"):
            caption = table.find("caption")
            rows = [[squash(cell.get_text()) for cell in tr.find_all(["td", "th"])] for tr in table.find_all("tr")]
            found[table.get("id", "")] = {"caption": squash(caption.get_text()) if caption else "", "rows": rows}
        return found

    def table(self, name: str) -> dict:
        assert name in self.tables, f"no table #{name} on {self.path.name}"
        return self.tables[name]

    @cached_property
    def images(self) -> list[dict]:
        return [{k: v or "" for k, v in img.attrs.items()} for img in self.soup.find_all("img")]

    @cached_property
    def resources(self) -> list[tuple[str, str]]:
        """(tag, address) of every script and stylesheet or other linked resource."""
        return ([("script", s["src"]) for s in self.soup.find_all("script", src=True)]
                + [("link", link["href"]) for link in self.soup.find_all("link", href=True)])

    @cached_property
    def anchors(self) -> set[str]:
        """Every id, and every name of an <a>: what a #fragment can point at."""
        return ({e["id"] for e in self.soup.find_all(id=True)}
                | {a["name"] for a in self.soup.find_all("a", attrs={"name": True})})

    @cached_property
    def notices(self) -> list[Tag]:
        """The data notices (banners) of the page."""
        return self.soup.select("div.data-notice")
