"""The author's manuscript from the book's own build: Word (DOCX), JATS XML and a MECA bundle.

``make manuscript`` (``python -m cmprehab.manuscript [--output DIR]``) reads what a book build
left under ``DIR/_build`` and writes ``DIR/_build/manuscript/``; nothing is computed again and no
number is typed:

* the prose is the book's own: chosen sections of the executed notebooks (`source`), their MyST
  roles turned into pandoc Markdown (`myst`), each ``{glue:text}`` value taken from the site's
  ``results.json`` (the text a reader of the page sees, released under disclosure control);
* Tables 1–3 are the pipe tables the pages displayed (the same cells as the site and its CSV
  downloads), read from the build's execution cache; the figures are the site's image files;
* the data notice (synthetic, or confidential with the full SHA-256) is the site's banner text.

`article` assembles one Markdown file; pandoc (bundled by pypandoc-binary, so nothing is
downloaded) makes ``manuscript.docx`` and ``manuscript.xml`` (JATS 1.3 archiving) from it, citing
``references.bib`` in the vendored BioMed Central CSL style (``manuscript/biomed-central.csl``);
`meca` packs both with the figures into ``manuscript-meca.zip`` (MECA 1.0). The three files are
also put beside the PDF under the site's ``_downloads/``, where every page's footer links them
when the site was built with $CMPREHAB_BOOK_MANUSCRIPT (``make manuscript`` sets it).
"""
from __future__ import annotations

from .. import config

#: Folder under ``_build/`` that receives the manuscript.
FOLDER = "manuscript"
#: The three files, named once (the site's footer links them by these names).
DOCX, JATS, MECA = (name for _, name in config.MANUSCRIPT_LINKS)
#: The Markdown pandoc reads (kept: an author can see exactly what was converted).
MARKDOWN = "manuscript.md"
#: Folder of the figures, beside the JATS file (and inside the MECA bundle).
FIGURES = "figures"


class ManuscriptError(Exception):
    """The build cannot give a manuscript (missing or unreadable output); the message says which file."""
