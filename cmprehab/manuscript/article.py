"""The research article: which of the book's sections make it, in a journal's order, as pandoc Markdown.

The outline below is the only place that says what the manuscript holds. Each `Part` names a
section of a page of the book (by its heading), which of its paragraphs to take and which of the
tables and figures it displayed; the text and every number come from the build (`source`,
`myst`). Where the book and the manuscript say the same thing, the text is the book's: the
abstract's results are the landing page's summary, its conclusions the conclusions page's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .. import config
from . import FIGURES, ManuscriptError
from .myst import Converter, escape
from .source import Block, Build, Figure, Table

#: A paragraph that only pastes the note explaining the dagger: the manuscript says it once, on
#: its first page.
NOTE_ONLY = re.compile(r"^\{glue:text\}`unpublished_note`$")
#: Where the dagger's note is glued (every page glues the same text).
NOTE_PAGE = "chapters/00_overview"


@dataclass(frozen=True)
class Part:
    page: str
    #: The section's heading in the page ("" = the text before its first subheading).
    section: str
    #: Indexes of the section's paragraphs to take (None: every one).
    paragraphs: tuple[int, ...] | None = None
    #: Tables and figures of the section to show, by name (in the order the page shows them).
    items: tuple[str, ...] = ()
    #: Subheading in the manuscript (None: the section's own; "": none).
    heading: str | None = ""
    #: "synthetic" or "confidential": only on such data.
    only_on: str | None = None


ABSTRACT = (
    ("Background", (Part("chapters/01_aims", "The clinical problem", (0,)),)),
    ("Methods", (Part("chapters/02_methods", "Design and setting", (0,)),)),
    ("Results", (Part("chapters/00_overview", "", (0,)), Part("chapters/00_overview", "In more detail"))),
    ("Conclusions", (Part("chapters/10_conclusions", "", (0,)),)),
)

BODY = (
    ("Introduction", (
        Part("chapters/01_aims", "The clinical problem"),
        Part("chapters/01_aims", "The program"),
        Part("chapters/01_aims", "Aim"),
    )),
    ("Methods", (
        Part("chapters/02_methods", "Design and setting", heading=None),
        Part("chapters/02_methods", "Outcome measures", heading=None),
        Part("chapters/02_methods", "Minimal clinically important difference", heading=None),
        Part("chapters/02_methods", "Statistics", heading=None),
        Part("chapters/02_methods", "The data", (0,), heading=None),
        Part("chapters/02_methods", "The data", (1,), only_on="synthetic"),
        Part("chapters/02_methods", "Disclosure control", heading=None, only_on="confidential"),
    )),
    ("Results", (
        Part("chapters/03_baseline", "", (1, 2), ("tbl-baseline",), heading="Patients"),
        Part("chapters/04_interventions", "The ten categories", None, ("tbl-interventions", "fig-interventions"),
             heading="Interventions"),
        Part("chapters/04_interventions", "Sessions and program length", (0,)),
        Part("chapters/05_outcomes", "Who was measured", (0,), heading="Outcomes"),
        Part("chapters/05_outcomes", "Pain, disability and health over time", None, ("fig-outcomes-over-time",)),
        Part("chapters/05_outcomes", "Primary outcome: reaching the MCID", None, ("tbl-mcid", "fig-mcid"),
             heading=None),
    )),
    ("Discussion", (
        Part("chapters/10_conclusions", "", (1,)),
        Part("chapters/10_conclusions", "Limitations", heading=None),
    )),
    ("Conclusions", (
        Part("chapters/10_conclusions", "", (0,)),
    )),
)


@dataclass
class Article:
    title: str
    authors: list[str]
    #: The journal the study appeared in (the manuscript's target).
    journal: str
    #: The data notice, first thing after the title (Markdown).
    notice: str
    #: (label, Markdown) of the structured abstract.
    abstract: list[tuple[str, str]]
    #: The body, from the Introduction to the References (Markdown).
    body: str
    tables: list[Table]
    figures: list[Figure]


def citation(root: Path = config.ROOT) -> tuple[str, list[str], str]:
    """Title, authors and journal of the study, from CITATION.cff's preferred citation."""
    import yaml

    path = root / "CITATION.cff"
    try:
        preferred = yaml.safe_load(path.read_text(encoding="utf-8"))["preferred-citation"]
        authors = [f"{a['given-names']} {a['family-names']}" for a in preferred["authors"]]
        return preferred["title"], authors, preferred["journal"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as err:
        raise ManuscriptError(f"{path}: preferred-citation must give a title and authors with given-names and "
                              f"family-names, and a journal ({type(err).__name__}: {err})") from None


class Assembler:
    def __init__(self, build: Build):
        self.build = build
        kind = "synthetic" if build.synthetic else "confidential"
        self.parts = [part for _, parts in BODY for part in parts if part.only_on in (None, kind)]
        self.tables: list[Table] = []
        self.figures: list[Figure] = []
        numbers: dict[str, str] = {}
        for part in self.parts:
            for item in self._items(part):
                (self.tables if isinstance(item, Table) else self.figures).append(item)
                numbers[item.name] = (f"Table {len(self.tables)}" if isinstance(item, Table)
                                      else f"Figure {len(self.figures)}")
        wanted = {name for part in self.parts for name in part.items}
        missing = wanted - set(numbers)
        if missing:
            raise ManuscriptError(f"the build's pages show no {', '.join(sorted(missing))} where the manuscript's "
                                  "outline (cmprehab/manuscript/article.py) takes them")
        self.numbers = numbers
        self.converter = Converter(build.text, numbers, self._title, self._heading)

    def _title(self, docname: str) -> str:
        try:
            return self.build.page(docname).title
        except ManuscriptError:
            return docname.rsplit("/", 1)[-1]

    def _heading(self, label: str) -> str:
        folder = self.build.build_dir / "jupyter_execute" / "chapters"
        for path in sorted(folder.glob("*.ipynb")):
            labels = self.build.page(f"chapters/{path.stem}").labels
            if label in labels:
                return labels[label]
        return label

    def _section(self, part: Part) -> list[Block]:
        page = self.build.page(part.page)
        if part.section not in page.sections:
            raise ManuscriptError(f"{self.build.build_dir / 'jupyter_execute' / (part.page + '.ipynb')}: no section "
                                  f"{part.section!r}, which the manuscript's outline takes "
                                  f"(sections: {', '.join(repr(s) for s in page.sections)})")
        return page.sections[part.section]

    def _items(self, part: Part) -> list[Table | Figure]:
        """The part's tables and figures in the order it shows them: those of its section where they
        stand, then those the page shows elsewhere (a page's layout may change), in page order."""
        section = [block.item for block in self._section(part) if block.kind == "item"]
        page = [block.item for blocks in self.build.page(part.page).sections.values() for block in blocks
                if block.kind == "item"]
        return [item for item in section + [i for i in page if i not in section] if item.name in part.items]

    def text_of(self, part: Part) -> list[str]:
        """The Markdown blocks of a part: its paragraphs (converted), tables and figures, in page order."""
        blocks, out, index = self._section(part), [], -1
        items = self._items(part)
        shown = [item for item in items if any(block.item is item for block in blocks)]

        def show(item: Table | Figure) -> str:
            return self.table(item) if isinstance(item, Table) else self.figure(item)

        for position, block in enumerate(blocks):
            if block.kind == "item":
                if block.item in shown:
                    out.append(show(block.item))
                continue
            if block.kind == "fenced":
                continue  # the book's notes, code and file listings: not part of an article
            if block.kind == "text":
                if NOTE_ONLY.match(block.text.strip()):
                    continue
                index += 1
                if part.paragraphs is not None and index not in part.paragraphs:
                    continue
            text = block.text
            following = blocks[position + 1] if position + 1 < len(blocks) else None
            if following is not None and following.kind == "fenced" and text.rstrip().endswith(":"):
                # "This is the rule, exactly as the code applies it:" introduced a listing left out.
                text = re.sub(r"\s*[^.!?]*:\s*$", "", text)
            out.append(self.converter.convert(text, part.page))
        return out + [show(item) for item in items if item not in shown]

    def table(self, table: Table) -> str:
        note = f"\n\n{self.converter.convert(table.note, '')}" if table.note else ""
        return f"{table.pipe}\n\nTable: {self.numbers[table.name]}. {escape(table.caption)}{note}"

    def figure(self, figure: Figure) -> str:
        """The figure with its caption and the page's alt text (Word's description, JATS <alt-text>)."""
        alt = figure.alt.replace("\\", "\\\\").replace('"', '\\"')
        return (f"![{self.numbers[figure.name]}. {escape(figure.caption)}]({figure_file(figure)})"
                f'{{#{figure.name} alt="{alt}" width=100%}}')

    def body(self) -> str:
        kind = "synthetic" if self.build.synthetic else "confidential"
        out = []
        for title, parts in BODY:
            out.append(f"# {title}")
            for part in parts:
                if part.only_on not in (None, kind):
                    continue
                heading = part.section if part.heading is None else part.heading
                if heading:
                    out.append(f"## {escape(heading)}")
                out.extend(self.text_of(part))
        out += ["# References", "::: {#refs}\n:::"]
        return "\n\n".join(out) + "\n"

    def abstract(self) -> list[tuple[str, str]]:
        return [(label, "\n\n".join(text for part in parts for text in self.text_of(part))) for label, parts in ABSTRACT]

    def notice(self) -> str:
        note, _ = self.build.text(NOTE_PAGE, "unpublished_note")
        sha = self.build.sha256
        if not sha:
            raise ManuscriptError(f"{self.build.site / 'results.json'}: no data SHA-256 (data.sha256)")
        text = (f"**Data.** {escape(self.build.notice())} The full SHA-256 of the data file: `{sha}`. "
                "Every number, table and figure of this manuscript is the book's, from the same build.")
        return text + (f" {escape(note)}" if note else "")


def figure_file(figure: Figure) -> str:
    """Where a figure is put, relative to the manuscript (and in the MECA bundle)."""
    return f"{FIGURES}/{figure.name}{figure.path.suffix}"


def assemble(build: Build) -> Article:
    assembler = Assembler(build)
    title, authors, journal = citation()
    return Article(title, authors, journal, assembler.notice(), assembler.abstract(), assembler.body(),
                   assembler.tables, assembler.figures)


def front_matter(article: Article, with_abstract: bool) -> str:
    """Pandoc's YAML metadata block: title, authors, the journal and (for JATS) the abstract."""
    import yaml

    meta: dict = {"title": article.title, "author": article.authors, "lang": "en-GB",
                  "article": {"type": "research-article"}, "journal": {"title": article.journal}}
    text = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=10_000)
    if with_abstract:  # a literal block: its paragraphs stay paragraphs (<p> in <abstract>)
        abstract = "\n\n".join(f"**{label}:** {body}" for label, body in article.abstract)
        text += "abstract: |\n" + "\n".join(f"  {line}" if line else "" for line in abstract.splitlines()) + "\n"
    return "---\n" + text + "---\n\n"


def docx_markdown(article: Article) -> str:
    """For Word: the data notice on the first page, then the structured abstract, then the body."""
    abstract = "\n\n".join(f"**{label}:** {text}" for label, text in article.abstract)
    return front_matter(article, with_abstract=False) + f"{article.notice}\n\n# Abstract\n\n{abstract}\n\n{article.body}"


def jats_markdown(article: Article) -> str:
    """For JATS: the abstract in the front matter (<abstract>), the notice first in the body."""
    return front_matter(article, with_abstract=True) + f"{article.notice}\n\n{article.body}"
