"""The book's MyST prose as pandoc Markdown, with every glued value put in from the build's results.

Roles, as the manuscript reads them:

* ``{glue:text}`name``` (and ``{glue}``): the page's value from results.json, as the page shows
  it, escaped so that pandoc reads it as text ("<5" stays "<5"); ``{glue:md}`name:myst```: the
  value's MyST, converted in turn (the MCID rules carry citations);
* ``{cite}``, ``{cite:p}``: ``[@key1; @key2]``; ``{cite:t}``: ``@key`` (pandoc's citeproc numbers them);
* ``{numref}`` of a table or figure the manuscript holds: "Table 2", "Figure 1";
* ``{doc}``, ``{ref}`` and any other ``{numref}`` point into the book: a parenthesis that holds
  nothing else is dropped ("(see {ref}`sec-assumptions`)"), elsewhere the page or section title
  is named in italics;
* ``{term}`label <Entry>```: the label.
"""
from __future__ import annotations

import re
from typing import Callable

ROLE = re.compile(r"\{(?P<role>[a-z]+(?::[a-z]+)?)\}`(?P<content>[^`]*)`")
#: A reference into the book, held until the parentheses around it are looked at.
HELD = "\x00"
HELD_REF = re.compile(HELD + r"(?P<kind>doc|ref|numref):(?P<target>[^" + HELD + r"]*)" + HELD)
_ANY_HELD = HELD + "[^" + HELD + "]*" + HELD
ONLY_REFS = re.compile(r"\s?\((?:see (?:also )?)?" + _ANY_HELD + r"(?:(?:,\s*|;\s*|\s+and\s+)" + _ANY_HELD + r")*\)")
#: Characters pandoc's Markdown gives a meaning to; a glued value is text, so each is escaped.
SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|$@~^])")


def escape(text: str) -> str:
    """A value as literal text in pandoc Markdown ("<5" stays "<5", "p < 0.05" no tag, no citation)."""
    return SPECIAL.sub(r"\\\1", text)


class Converter:
    """Turns one page's MyST into pandoc Markdown.

    `value(docname, name)` gives (text, is_myst) of a glued value; `numbers` maps a table or
    figure name to its number in the manuscript ("Table 1"); `titles(docname)` and
    `headings(label)` name a page and a section of the book.
    """

    def __init__(self, value: Callable[[str, str], tuple[str, bool]], numbers: dict[str, str],
                 titles: Callable[[str], str], headings: Callable[[str], str]):
        self.value, self.numbers, self.titles, self.headings = value, numbers, titles, headings

    def convert(self, text: str, docname: str) -> str:
        text = ROLE.sub(lambda match: self._role(match, docname), text)
        text = ONLY_REFS.sub("", text)
        return HELD_REF.sub(lambda match: self._book_ref(match.group("kind"), match.group("target"), docname), text)

    def _role(self, match: re.Match, docname: str) -> str:
        role, content = match.group("role"), match.group("content")
        if role in ("glue", "glue:text", "glue:md"):
            name = content.split("::")[-1]
            page = content.split("::")[0] if "::" in content else docname
            if role == "glue:md":
                name = name.rsplit(":", 1)[0]
            text, is_myst = self.value(page, name)
            return self.convert(text, page) if is_myst else escape(text)
        if role in ("cite", "cite:p", "cite:ps"):
            return "[" + "; ".join(f"@{key.strip()}" for key in content.split(",")) + "]"
        if role in ("cite:t", "cite:ts"):
            return " and ".join(f"@{key.strip()}" for key in content.split(","))
        if role == "term":
            return content.split("<")[0].strip() if "<" in content else content
        if role == "numref" and content in self.numbers:
            return self.numbers[content]
        if role in ("doc", "ref", "numref"):
            return f"{HELD}{role}:{content}{HELD}"
        if role == "math":
            return f"${content}$"
        return escape(content)

    def _book_ref(self, kind: str, target: str, docname: str) -> str:
        label = re.match(r"^(?P<text>.*?)\s*<(?P<target>[^>]+)>$", target)
        if label:  # {doc}`the audit <09_audit>`
            return escape(label.group("text"))
        if kind == "doc":
            folder = docname.rsplit("/", 1)[0] + "/" if "/" in docname else ""
            return f"*{escape(self.titles(folder + target))}*"
        if kind == "ref":
            return f"*{escape(self.headings(target))}*"
        return "a table of the book" if target.startswith("tbl-") else "a figure of the book"
