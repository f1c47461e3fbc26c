"""Every number in the prose traceable: where it came from, on the page and in a results file.

Each chapter glues its results' record (`cmprehab.report.book.glue_results`: name, value,
text, the page function and the table or statistic behind it, the published value and the
audit status). This extension

* pastes {glue:text}`name` as a number a reader can focus (keyboard), tap or hover to see that
  record in a tooltip: first what a reader needs (published and reproduced, or not reported by
  the study and, on synthetic data, made up by the generator), then the computing function,
  linked to the API reference, and its source; Escape hides it, and it is kept inside the
  viewport (`traced.js`); print and search (its snippets too) see only the number. Words and
  sentences the pages glue (names, the † footnote) are pasted as plain text;
* under every code cell, links each package function the cell calls (the table, figure or
  result it made) to its entry and source in the API reference;
* writes every page's records, with the page and the data they come from, into
  ``results.json`` and ``results.csv`` at the root of the site on every build, so a reviewer
  can download them (the provenance page links them) and compare two builds
  (``python -m cmprehab.compare``).
"""
from __future__ import annotations

import ast
import csv
import html
import importlib
import inspect
import io
import json
import re
from functools import cache
from pathlib import Path

from docutils import nodes
from myst_nb.ext.glue.roles import PasteTextRole
from myst_nb.ext.glue.utils import RetrievalError, retrieve_glue_data
from myst_nb.sphinx_ext import OUTPUT_FOLDER
from sphinx.util import logging

from cmprehab.config import RESULTS_COLUMNS, RESULTS_FORMAT, RESULTS_RECORD
from cmprehab.files import write_atomically

logger = logging.getLogger(__name__)

#: The API reference page, whose anchors are the functions' dotted names.
API_PAGE = "chapters/api"
RESULTS_JSON, RESULTS_CSV = "results.json", "results.csv"


class traced_number(nodes.inline):
    """A pasted number that carries its record (shown in a tooltip in HTML)."""


def page_record(document: nodes.document) -> dict[str, dict]:
    """The page's glued record, by result name ({} when the page glues none); parsed once per
    page and kept on the document while it is read."""
    if "cmprehab_record" not in document:
        try:
            glued = retrieve_glue_data(document, RESULTS_RECORD)
            rows = json.loads(ast.literal_eval(glued.data["text/plain"]))
        except RetrievalError:
            rows = []
        document["cmprehab_record"] = {row["name"]: row for row in rows}
    return document["cmprehab_record"]


class TracedPasteTextRole(PasteTextRole):
    """{glue:text}`name` as myst-nb pastes it, wrapped in a `traced_number` when the page's
    record knows the name and holds a number there (`is_traced`)."""

    def run(self):
        pasted, messages = super().run()
        key = self.text.rsplit(":", 1)[0]
        row = page_record(self.document).get(key)
        if len(pasted) != 1 or not isinstance(pasted[0], nodes.inline) or row is None or not is_traced(row):
            return pasted, messages
        env = self.document.settings.env
        node = traced_number("", *pasted[0].children, classes=["pasted-text", "traced"])
        node["record"] = row
        # Unique also in the single-page build of the whole book (the PDF's source).
        page = "".join(c if c.isalnum() else "-" for c in env.docname)
        node["tip_id"] = f"trace-{page}-{env.new_serialno('traced')}"
        self.set_source_info(node)
        return [node], messages


#: How the audit's verdict on a published number reads to a reader (cmprehab.report.audit).
READER_STATUS = {"matches": "reproduced", "differs": "this build differs",
                 "reported (not in the data)": "reported by the study (not something the data can show)"}


def _shown(value: float, text: str) -> str:
    """A published value as a reader reads it: 45 -> '45 %' where the pasted text is a share."""
    shown = f"{value:g}"
    return f"{shown}\u00a0%" if "%" in text else shown


#: A pasted number is a setting, not a result, when it comes from the study parameters, an
#: instrument's record or a constant of the code (an UPPER_CASE name): e.g. m = 20 imputations.
SETTING_SOURCES = ("params.", "instruments.")
SETTING = "A setting of this book's analysis (a study parameter or a rule of the code), not a result from the data."


def is_setting(row: dict) -> bool:
    source = row.get("source") or ""
    return source.startswith(SETTING_SOURCES) or source.rsplit(".", 1)[-1].isupper()


def reader_sentence(row: dict, synthetic: bool | None) -> str:
    """What a reader needs first: was this number published, and where does this one come from?
    (`synthetic`: the build's data, None when unknown.)"""
    published, status = row.get("published"), row.get("audit_status") or ""
    if published is None and is_setting(row):
        return SETTING
    if published is None or status == "not published (assumption)":
        first = "Not reported by the study"
        if synthetic:
            first += "; on this synthetic cohort the value comes from the generator"
            if published is not None:
                first += f", which assumed {_shown(published, row.get('text') or '')}"
        elif synthetic is False:
            first += "; computed from the data this book was built from"
        return first + "."
    said = READER_STATUS.get(status, "not compared")
    return f"Published: {_shown(published, row.get('text') or '')}, {said}."


def is_traced(row: dict) -> bool:
    """A number (or a withheld count's label) is traced; words and sentences the pages glue
    (names, the † footnote, definitions) are not: a reader has nothing to trace there."""
    value = row.get("value")
    return value is not None and not isinstance(value, bool)


def _function_link(translator, function: str) -> str:
    """The computing function, linked to its entry in the API reference when the book has one."""
    label = html.escape(function.removeprefix("cmprehab."))
    if API_PAGE not in translator.builder.env.all_docs or not function:
        return f"<code>{label}</code>"
    uri = translator.builder.get_relative_uri(translator.builder.current_docname, API_PAGE)
    return f'<a href="{html.escape(uri)}#{html.escape(function)}"><code>{label}</code></a>'


def _synthetic() -> bool | None:
    from data_notice import FINGERPRINT  # set by _ext/data_notice.py at config-inited

    return None if FINGERPRINT is None else bool(FINGERPRINT.synthetic)


def visit_traced_html(self, node: traced_number) -> None:
    self.body.append(self.starttag(node, "span", "", tabindex="0", **{"aria-describedby": node["tip_id"]}))


def depart_traced_html(self, node: traced_number) -> None:
    """The tooltip: the reader's sentence first, then (smaller) the result's name, the function that
    computed it and its source, for those who check."""
    row = node["record"]
    source = f" from <code>{html.escape(row['source'])}</code>" if row.get("source") else ""
    tip = (f'<span class="trace" role="tooltip" id="{node["tip_id"]}">'
           f'<span class="trace-reader">{html.escape(reader_sentence(row, _synthetic()))}</span> '
           f'<span class="trace-code">Result <span class="trace-name">{html.escape(row["name"])}</span>, '
           f'computed by {_function_link(self, row.get("function", ""))}{source}.</span></span>')
    self.body.append(tip + "</span>")


def visit_traced_plain(self, node: traced_number) -> None:
    """Other builders (text, LaTeX): the number alone."""
    self.visit_inline(node)


def depart_traced_plain(self, node: traced_number) -> None:
    self.depart_inline(node)


#: A call such as `tables.mcid(` in a code cell.
CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\s*\(")
#: Where the package's modules live; a cell names them by their last part (`tables`, `stats`).
PACKAGES = ("cmprehab.report", "cmprehab.analysis", "cmprehab.data", "cmprehab")
#: Plumbing every page calls (loading, gluing, showing): not what made a table or a figure.
PLUMBING = "cmprehab.report.book"
#: Functions a cell calls to read a setting (a caption's confidence level): they compute nothing.
READERS = {"cmprehab.params.current"}


@cache
def package_function(module: str, name: str) -> str | None:
    """`tables`, `mcid` -> 'cmprehab.report.tables.mcid' when that is a function of the package."""
    for package in PACKAGES:
        try:
            found = importlib.import_module(f"{package}.{module}")
        except ImportError:
            continue
        function = getattr(found, name, None)
        if inspect.isfunction(function) and function.__module__ == found.__name__ != PLUMBING:
            return f"{found.__name__}.{name}"
    return None


def cell_functions(code: str) -> list[str]:
    """The package functions a cell's code calls, in order, each once."""
    found = [package_function(module, name) for module, name in CALL.findall(code)]
    return list(dict.fromkeys(f for f in found if f and f not in READERS))


def link_cells_to_functions(app, doctree: nodes.document, docname: str) -> None:
    """Below each code cell, the package functions it calls, linked to the API reference."""
    if app.builder.format != "html" or API_PAGE not in app.env.all_docs:
        return
    uri = app.builder.get_relative_uri(docname, API_PAGE)
    for cell in list(doctree.findall(nodes.container)):
        if cell.get("nb_element") != "cell_code":
            continue
        code = "".join(block.astext() for source in cell.findall(nodes.container)
                       if source.get("nb_element") == "cell_code_source"
                       for block in source.findall(nodes.literal_block))
        functions = cell_functions(code)
        if not functions:
            continue
        line = nodes.paragraph("", "Made by ", classes=["cell-functions"])
        for i, function in enumerate(functions):
            if i:
                line += nodes.Text(", ")
            link = nodes.reference("", "", internal=True, refuri=f"{uri}#{function}")
            link += nodes.literal(function, function.removeprefix("cmprehab."))
            line += link
        line += nodes.Text(" (API reference, with the source).")
        cell += line


def _data_description(app) -> dict:
    from data_notice import FINGERPRINT  # set by _ext/data_notice.py at config-inited

    if FINGERPRINT is None:
        return {"kind": None, "sha256": None}
    return {"kind": "synthetic" if FINGERPRINT.synthetic else "confidential", "sha256": FINGERPRINT.sha256}


def collect(app) -> list[dict]:
    """Every page's record, read from the executed notebooks' glue files (myst-nb writes one per
    page into jupyter_execute/ on every read), in table-of-contents order."""
    glue_folder = Path(app.outdir).parent / OUTPUT_FOLDER
    rows = []
    for docname in _ordered_docs(app):
        path = glue_folder.joinpath(*f"{docname}.glue.json".split("/"))
        if not path.is_file():
            continue
        glued = json.loads(path.read_text(encoding="utf-8"))
        if RESULTS_RECORD not in glued:
            continue
        for row in json.loads(ast.literal_eval(glued[RESULTS_RECORD]["data"]["text/plain"])):
            rows.append({column: row.get(column) for column in RESULTS_COLUMNS} | {"page": docname})
    return rows


def _ordered_docs(app) -> list[str]:
    """The documents in reading order (the toctree's), then any others."""
    env = app.env
    ordered, seen = [], set()

    def walk(docname: str) -> None:
        if docname in seen:
            return
        seen.add(docname)
        ordered.append(docname)
        for child in env.toctree_includes.get(docname, []):
            walk(child)

    walk(app.config.root_doc)
    return ordered + sorted(set(env.found_docs) - seen)


def write_results(app, exception) -> None:
    """results.json and results.csv at the root of the site, after a successful build."""
    if exception is not None or app.builder.format != "html":
        return
    from cmprehab import params

    rows = collect(app)
    document = {"format": RESULTS_FORMAT, "data": _data_description(app),
                "parameters_changed": params.current().describe_changes() or "none", "results": rows}
    outdir = Path(app.outdir)
    text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    write_atomically(outdir / RESULTS_JSON, lambda out: out.write(text))
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=RESULTS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(outdir / RESULTS_CSV, lambda out: out.write(table.getvalue()))
    logger.info("traced_numbers: %d results of %d pages written to %s", len(rows),
                len({row["page"] for row in rows}), RESULTS_JSON)


def setup(app):
    app.setup_extension("myst_nb")  # the glue domain must exist before its role is replaced
    app.add_node(traced_number, html=(visit_traced_html, depart_traced_html),
                 latex=(visit_traced_plain, depart_traced_plain), text=(visit_traced_plain, depart_traced_plain))
    app.add_role_to_domain("glue", "text", TracedPasteTextRole(), override=True)
    app.add_js_file("traced.js")
    # The parsed record is needed only while the page is read; the stored doctree need not keep it.
    app.connect("doctree-read", lambda app, doctree: doctree.attributes.pop("cmprehab_record", None))
    app.connect("doctree-resolved", link_cells_to_functions)
    app.connect("build-finished", write_results)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
