"""Plumbing shared by the chapter notebooks: setup, gluing numbers, showing tables and figures.

`setup()` loads the cohort once per page and remembers which data it is, so that every
figure and CSV download of the page carries the data's mark (synthetic or confidential,
and its SHA-256), and captions can flag values the publications never reported.
"""
from __future__ import annotations

import base64
import json
import re
import warnings

import pandas as pd
from IPython.display import Markdown, display

from .. import config, markdown
from .. import params as study
from ..data import targets
from ..data.cohort import load_cohort
from . import audit, disclosure, output_check
from .figures import set_style
from .results import DAGGER, UNPUBLISHED_NOTE, records


#: The data this page shows (`provenance.DataFingerprint`), set by `setup()`.
_fingerprint = None
#: The cohort this page shows, set by `setup()` (for the audit status in the results record).
_cohort = None


def setup() -> pd.DataFrame:
    """Style every figure, silence known third-party deprecations, load and validate the cohort."""
    global _fingerprint, _cohort
    # tableone 0.9.6 on pandas 3 warns about its own internals.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="tableone")
    warnings.filterwarnings("ignore", category=FutureWarning, module="tableone")
    pd.set_option("display.precision", 1)
    set_style()
    cohort = load_cohort()
    _fingerprint = cohort.attrs["fingerprint"]
    _cohort = cohort
    return cohort


def data_mark() -> str:
    """'Synthetic data, SHA-256 8db2ef4a589f' (or 'Confidential data, ...'): carried by figures and downloads."""
    if _fingerprint is None:
        return "Data not loaded with book.setup()"
    kind = "Synthetic data" if _fingerprint.synthetic else "Confidential data"
    return f"{kind}, SHA-256 {_fingerprint.short}"


def unpublished(caption: str) -> str:
    """A caption flagged, on synthetic data, as showing values the publications never reported."""
    if _fingerprint is not None and _fingerprint.synthetic:
        return f"{caption} {UNPUBLISHED_NOTE}"
    return caption



def published_count(key: str) -> int:
    """A published count (data/published.csv) as a caption quotes it: the one place it is typed."""
    return int(targets.value(key))


def glue_results(results: dict) -> None:
    """Glue every value of a page (`cmprehab.results`) as its text: paste with {glue:text}`name`,
    or, for the few Markdown results (citations), with {glue:md}`name:myst`.

    The page's record (`results.records`: value, computing functions, published value and audit
    status of each) is glued too, as JSON under `config.RESULTS_RECORD`: the build writes it into the site's
    results file, and each pasted number shows it on hover or focus.
    """
    from myst_nb import glue as _glue

    functions = [result.function for result in results.values() if getattr(result, "function", None)]
    if functions:
        output_check.set_page(functions[0].rsplit(".", 1)[-1])
    output_check.attach("glued numbers", "glued numbers of the page", keep_empty=False)
    for result in results.values():
        if result.markdown:
            _glue(result.name, Markdown(result.text), display=False)
        else:
            glue(result.name, result.text)
    rows = records(results)
    if _cohort is not None and any(row["published_key"] for row in rows):
        rows = records(results, audit.audit(_cohort))  # with the audit's verdict on each published number
    glue(config.RESULTS_RECORD, json.dumps(rows, ensure_ascii=False, allow_nan=False))


def glue(name: str, value) -> None:
    """Glue one number (as a plain Python value, never a numpy scalar) for the prose."""
    from myst_nb import glue as _glue

    if hasattr(value, "item"):
        value = value.item()
    output_check.attach("glued number", name, keep_empty=False)
    _glue(name, value, display=False)


class ShownNumber(str):
    """A number as a table shows it ('< 0.0001') that keeps the number (`value`) for downloads."""

    value: float

    def __new__(cls, text: str, value: float):
        shown = super().__new__(cls, text)
        shown.value = value
        return shown


def format_p(p: float) -> str:
    """A p-value as journals print it: two significant digits, '< 0.0001' below that (labels pass through).
    The text keeps the number, so a table's CSV download holds p as a number (`show_table`)."""
    if isinstance(p, str):
        return p
    if p is None or pd.isna(p):
        return ""
    return ShownNumber(markdown.p_text(p), float(p))


def show_table(table: pd.DataFrame, name: str, caption: str, decimals: dict[str, int] | int = 1,
               csv: bool = True) -> None:
    """Display a numbered, captioned table (MyST `table` directive) with a CSV download link.

    A table with withheld cells (disclosure control) gets a note saying what the labels mean.
    """
    if not re.fullmatch(r"tbl-[a-z0-9-]+", name):
        raise ValueError(f"table name {name!r} must look like 'tbl-some-name'")
    text = f":::{{table}} {caption}\n:name: {name}\n:align: left\n\n{markdown.table(table, decimals)}\n:::\n"
    if _has_labels(table):
        k = study.current().disclosure.k
        text += (f"\n*<{k}: fewer than {k} patients; {disclosure.WITHHELD}: not shown so that a small count "
                 "cannot be derived (disclosure control on confidential data).*\n")
    if csv:
        # A tidy CSV (a header line first, every column named, numbers as numbers) that says which
        # data it comes from in its name; what it is, in a README beside it (a spreadsheet would
        # take a comment line for data). A table not made from the data (the data dictionary) has
        # no README.
        stem = name.removeprefix("tbl-")
        if _fingerprint is None:
            content, filename = _tidy(table).to_csv(index=False), f"{stem}.csv"
        elif _fingerprint.synthetic:
            content, filename = _tidy(table).to_csv(index=False), f"{stem}-synthetic-{_fingerprint.short}.csv"
        else:  # confidential: what the page shows, not the digits behind it (W and r to 16 digits give n back)
            content = markdown.formatted(table, decimals).to_csv(index=False)
            filename = f"{stem}-confidential-{_fingerprint.short}.csv"
        text += "\n" + _download_link("table-download", filename, "text/csv", content, f"Download {filename}")
        if _fingerprint is not None:
            readme = _csv_readme(filename, caption)
            text += " \u00b7 " + _download_link("table-download-readme", f"{filename.removesuffix('.csv')}-README.txt",
                                                 "text/plain", readme, "About this file (README)")
        text += "\n"
    output_check.attach("table", name, table=table)
    display(Markdown(text))


def _download_link(css_class: str, filename: str, mime: str, content: str, label: str) -> str:
    payload = base64.b64encode(content.encode("utf-8")).decode("ascii")
    return f'<a class="{css_class}" download="{filename}" href="data:{mime};base64,{payload}">{label}</a>'


def _tidy(table: pd.DataFrame) -> pd.DataFrame:
    """The table as a download: its row labels a named first column (none for a plain 0, 1, 2...
    index), column names as text, and a value shown as text for a number (a p-value's '< 0.0001')
    as that number."""
    frame = table.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [" ".join(str(part) for part in column if str(part)) for column in frame.columns]
    labelled = not (isinstance(frame.index, pd.RangeIndex) and frame.index.name is None)
    if labelled:
        names = [name if name is not None else ("row" if frame.index.nlevels == 1 else f"row {i + 1}")
                 for i, name in enumerate(frame.index.names)]
        frame = frame.rename_axis(names).reset_index()
    frame.columns = [str(column) for column in frame.columns]
    return frame.apply(lambda column: column.map(lambda v: v.value if isinstance(v, ShownNumber) else v))


def _csv_readme(filename: str, caption: str) -> str:
    """What a downloaded table is: which data, which table, how its values are written."""
    lines = [filename, "", f"Table: {caption}", f"Data: {data_mark()}.", ""]
    if _fingerprint.synthetic:
        lines += [f"The patients are synthetic. {UNPUBLISHED_NOTE}",
                  "Values are as computed (not rounded); p-values are numbers."]
    else:
        k = study.current().disclosure.k
        lines += ["Values are as the page shows them (rounded). Disclosure control: "
                  f"'<{k}' is a count below {k}; '{disclosure.WITHHELD}' a value not shown so that a small "
                  "count cannot be derived. Share this file only as the data owner allows."]
    return "\n".join(lines) + "\n"


def _has_labels(table: pd.DataFrame) -> bool:
    labels = {disclosure.WITHHELD, f"<{study.current().disclosure.k}"}
    return bool(table.isin(labels).any().any())


def stamp(fig, unpublished: str = "") -> None:
    """Mark a figure with the data it shows, in a footer below everything it draws, so that the
    mark hides no bar, label or legend. `unpublished` names what the figure shows that the
    publications never reported; on synthetic data the mark says so."""
    mark = data_mark()
    if unpublished and _fingerprint is not None and _fingerprint.synthetic:
        mark += f"\n{DAGGER} not published, invented by the generator: {unpublished}"
    fig.draw_without_rendering()  # legends and tick labels find their places only when drawn
    renderer = fig.canvas.get_renderer()
    drawn = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)  # in pixels
    left, bottom = fig.transFigure.inverted().transform((drawn.x0, drawn.y0))
    gap = 4 / 72 * fig.dpi  # 4 points
    _, below = fig.transFigure.inverted().transform((0, drawn.y0 - gap))
    fig.text(max(left, 0), below, _wrap_lines(mark, fig, STAMP_SIZE), ha="left", va="top", fontsize=STAMP_SIZE,
             color="0.3")


#: The stamp's text size in points: as small as a figure's smallest text (`figures.TEXT_SIZE`).
STAMP_SIZE = 10


def _wrap_lines(text: str, fig, size: float) -> str:
    """Wrap each line of a footer to the figure's width (at most 0.6 em per character), so that
    the stamp never makes the figure wider, and so smaller on a phone."""
    import textwrap

    chars = max(30, int(fig.get_figwidth() * 72 / (size * 0.6)))
    return "\n".join(part for line in text.split("\n") for part in textwrap.wrap(line, chars))


def figure_svg(fig) -> str:
    """The figure as SVG with its text as text (legible at any zoom, searchable), scaling to the
    width of the column: the fixed width and height go, the viewBox keeps the proportions."""
    import io

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buffer.getvalue()
    return re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', r'\1 width="100%"', svg, count=1)


def show_figure(fig, unpublished: str = "") -> None:
    """Display a figure as SVG, marked with the data it shows, once, and free it (the cell's metadata
    gives its caption and alt text)."""
    import matplotlib.pyplot as plt
    from IPython.display import SVG

    stamp(fig, unpublished)
    output_check.attach("figure")
    display(SVG(figure_svg(fig)))
    plt.close(fig)
