"""Sphinx extension: "Cite this", from CITATION.cff, the one place the citation is written.

At `builder-inited` it reads ``CITATION.cff`` (Citation File Format 1.2) at the book's root and
makes two entries: this report (the file's own title, authors and version) and the study it
reproduces (its ``preferred-citation``). Then

* the ``{cite-this}`` directive (chapters/references.md) shows both as text, with links to
  ``citation.bib`` (BibTeX) and ``citation.ris`` (RIS, for Zotero, EndNote, Mendeley);
* those two files are written at the root of the HTML site after every build;
* every page's footer links to the block (``_ext/templates/cite-this.html``).

A CITATION.cff that cannot be read, or lacks a title or authors, stops the build with a message
naming the file and the key.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parent.parent
CFF = ROOT / "CITATION.cff"
BIB, RIS = "citation.bib", "citation.ris"
#: The id of the section "Cite this" on the page that holds the block (the footer links there).
ANCHOR = "cite-this"
CITE_PAGE = "chapters/references"


@dataclass
class Work:
    """One citable work, as CITATION.cff describes it."""
    key: str
    kind: str                 # CFF type: software, article...
    title: str
    authors: list[dict]       # CFF persons ({family-names, given-names}) or entities ({name})
    fields: dict = field(default_factory=dict)   # journal, volume, start, year, doi, version, url

    def author_names(self, style: str) -> list[str]:
        """'Trulsson Schouenborg A' (text), 'Trulsson Schouenborg, A.' (bib, ris)."""
        names = []
        for person in self.authors:
            if "name" in person:
                names.append(str(person["name"]))
                continue
            family, given = str(person.get("family-names", "")), str(person.get("given-names", ""))
            if style == "text":
                names.append(f"{family} {given.replace('.', '').replace(' ', '')}".strip())
            else:
                names.append(f"{family}, {given}".strip(", "))
        return names


def _required(data: dict, key: str, where: str):
    value = data.get(key)
    if not value:
        raise ExtensionError(f"cite_this: {CFF}: {where}{key!r} is missing or empty; the citation needs it")
    return value


def read_cff(path: Path = CFF) -> list[Work]:
    """This report and the study it reproduces, from CITATION.cff."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ExtensionError(f"cite_this: cannot read {path}: {err}") from err
    if not isinstance(data, dict):
        raise ExtensionError(f"cite_this: {path}: not a CFF mapping of keys to values")
    works = [Work("cmprehab", str(data.get("type", "software")), str(_required(data, "title", "")),
                  list(_required(data, "authors", "")),
                  {k: data[k] for k in ("version", "doi", "url", "repository-code", "date-released") if data.get(k)})]
    preferred = data.get("preferred-citation")
    if preferred:
        authors = list(_required(preferred, "authors", "preferred-citation: "))
        year = preferred.get("year", "")
        first = str(authors[0].get("family-names") or authors[0].get("name", "work")).replace(" ", "")
        works.append(Work(f"{first}{year}", str(preferred.get("type", "article")),
                          str(_required(preferred, "title", "preferred-citation: ")), authors,
                          {k: preferred[k] for k in ("journal", "volume", "issue", "start", "end", "year", "doi", "url")
                           if preferred.get(k)}))
    return works


def as_text(work: Work) -> str:
    """Vancouver-like, as the book cites the study: authors. Title. Journal Year;Vol:Page. doi."""
    f = work.fields
    text = f"{', '.join(work.author_names('text'))}. {work.title}."
    if f.get("journal"):
        text += f" {f['journal']} {f.get('year', '')}".rstrip()
        if f.get("volume"):
            text += f";{f['volume']}"
            if f.get("start"):
                text += f":{f['start']}" + (f"–{f['end']}" if f.get("end") else "")
        text += "."
    elif f.get("version"):
        text += f" Version {f['version']}."
    if f.get("doi"):
        text += f" doi:{f['doi']}"
    return text


def _bib_value(value) -> str:
    return "{" + str(value).replace("{", "").replace("}", "") + "}"


def as_bibtex(works: list[Work]) -> str:
    entries = []
    for work in works:
        f = work.fields
        kind = "article" if work.kind == "article" else "software"
        names = [n if "," in n else "{" + n + "}" for n in work.author_names("bib")]  # an entity is one name
        lines = [f"  author = {{{' and '.join(names)}}}", f"  title = {_bib_value(work.title)}"]
        for key, bib in (("journal", "journal"), ("volume", "volume"), ("issue", "number"), ("year", "year"),
                         ("version", "version"), ("doi", "doi"), ("url", "url")):
            if f.get(key):
                lines.append(f"  {bib} = {_bib_value(f[key])}")
        if f.get("start"):
            lines.append(f"  pages = {_bib_value(str(f['start']) + ('--' + str(f['end']) if f.get('end') else ''))}")
        entries.append(f"@{kind}{{{work.key},\n" + ",\n".join(lines) + "\n}\n")
    return "\n".join(entries)


def as_ris(works: list[Work]) -> str:
    records = []
    for work in works:
        f = work.fields
        lines = [f"TY  - {'JOUR' if work.kind == 'article' else 'COMP'}"]
        lines += [f"AU  - {name}" for name in work.author_names("ris")]
        lines.append(f"TI  - {work.title}")
        for key, tag in (("journal", "JO"), ("volume", "VL"), ("issue", "IS"), ("start", "SP"), ("end", "EP"),
                         ("year", "PY"), ("version", "ET"), ("doi", "DO"), ("url", "UR")):
            if f.get(key):
                lines.append(f"{tag}  - {f[key]}")
        lines.append("ER  - ")
        records.append("\n".join(lines) + "\n")
    return "\n".join(records)


class cite_this_block(nodes.General, nodes.Element):
    """Placeholder for the block; rendered in HTML with links relative to its page."""


class CiteThis(SphinxDirective):
    """``{cite-this}``: this report and the study it reproduces, with BibTeX and RIS downloads."""

    def run(self):
        self.env.note_dependency(str(CFF))
        return [cite_this_block()]


def visit_block_html(self, node) -> None:
    works = read_cff()
    up = "../" * self.builder.current_docname.count("/")  # the files sit at the site's root
    items = "".join(f"<li>{html.escape(as_text(work))}</li>" for work in works)
    self.body.append(
        '<div class="cite-this">'
        "<p>Please cite this report and the study it reproduces (as <code>CITATION.cff</code> gives them):</p>"
        f'<ol class="cite-this__works">{items}</ol>'
        '<p class="cite-this__downloads">Both, for a reference manager: '
        f'<a href="{up}{BIB}" download="{BIB}">BibTeX ({BIB})</a> · '
        f'<a href="{up}{RIS}" download="{RIS}">RIS ({RIS})</a></p></div>')
    raise nodes.SkipNode


def depart_block_html(self, node) -> None:
    pass


def visit_block_other(self, node) -> None:
    """Text and LaTeX builders: the citations as paragraphs."""
    raise nodes.SkipNode


def write_files(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    works = read_cff()
    outdir = Path(app.outdir)
    (outdir / BIB).write_text(as_bibtex(works), encoding="utf-8")
    (outdir / RIS).write_text(as_ris(works), encoding="utf-8")


def check(app) -> None:
    read_cff()  # a broken CITATION.cff stops the build at once, not at the last page


def footer_link(app, pagename, templatename, context, doctree) -> None:
    if CITE_PAGE not in app.env.all_docs or "pathto" not in context:
        context["cite_this_href"] = ""
    elif pagename == CITE_PAGE:  # pathto() gives "#" for the page itself
        context["cite_this_href"] = f"#{ANCHOR}"
    else:
        context["cite_this_href"] = context["pathto"](CITE_PAGE) + f"#{ANCHOR}"


def setup(app):
    app.add_node(cite_this_block, html=(visit_block_html, depart_block_html),
                 latex=(visit_block_other, None), text=(visit_block_other, None))
    app.add_directive("cite-this", CiteThis)
    app.connect("builder-inited", check)
    app.connect("html-page-context", footer_link)
    app.connect("build-finished", write_files)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
