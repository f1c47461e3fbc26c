"""Static checks of the chapter notebooks as they are in the working tree (no execution).

Executing them is the book build's job (tests/test_book_html.py); nbval runs the executed
notebooks afresh and compares their outputs (tests/test_fresh_execution.py).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
NOTEBOOKS = sorted(CHAPTERS.glob("*.ipynb"))
#: A code cell makes a table or a figure when it calls one of these (book.show_table,
#: book.show_figure, cmprehab.figures.*, matplotlib/seaborn) or is a myst-nb figure cell.
MAKES_OUTPUT = re.compile(r"\b(show_table|show_figure|figures\.\w+|plt\.\w+|sns\.\w+)\s*\(")
HIDDEN_INPUT_TAGS = {"remove-input", "remove-cell"}
TABLE_NAME = re.compile(r"""show_table\([^"']*?["'](tbl-[^"']*)["']""", re.DOTALL)

ids = [nb.name for nb in NOTEBOOKS]


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def figure_meta(cell: dict) -> dict | None:
    return cell.get("metadata", {}).get("mystnb", {}).get("figure")


def test_there_are_chapter_notebooks():
    assert len(NOTEBOOKS) >= 2, f"no chapter notebooks found in {CHAPTERS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_is_valid_nbformat(path):
    nbformat.validate(nbformat.read(path, as_version=nbformat.NO_CONVERT))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_is_stored_without_outputs_or_execution_counts(path):
    offending = [(i, "outputs" if c.get("outputs") else "execution_count")
                 for i, c in enumerate(load(path)["cells"])
                 if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not offending, (f"{path.name}: cells (index, what) {offending} carry execution results; "
                           "clear them (e.g. `jupyter nbconvert --clear-output --inplace`)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_cells_that_make_tables_or_figures_show_their_code(path):
    problems = []
    for i, cell in enumerate(code_cells(load(path))):
        if not (MAKES_OUTPUT.search(source(cell)) or figure_meta(cell) is not None):
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if "hide-input" not in tags:
            problems.append(f"cell {i}: no 'hide-input' tag (tags: {sorted(tags)})")
        if tags & HIDDEN_INPUT_TAGS:
            problems.append(f"cell {i}: input removed by {sorted(tags & HIDDEN_INPUT_TAGS)}")
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_some_cells_make_tables_and_figures():
    """Guards the check above against a pattern that silently matches nothing."""
    cells = [c for p in NOTEBOOKS for c in code_cells(load(p))]
    assert any("show_table(" in source(c) for c in cells)
    assert any(figure_meta(c) is not None for c in cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_figure_cells_have_name_caption_and_alt_text(path):
    problems = []
    for i, cell in enumerate(code_cells(load(path))):
        figure = figure_meta(cell)
        if figure is None:
            continue
        mystnb = cell["metadata"]["mystnb"]
        if not re.fullmatch(r"fig-[a-z0-9-]+", str(figure.get("name", ""))):
            problems.append(f"cell {i}: figure name {figure.get('name')!r} (want 'fig-...')")
        if not str(figure.get("caption", "")).strip():
            problems.append(f"cell {i}: empty or missing figure caption")
        if not str(mystnb.get("image", {}).get("alt", "")).strip():
            problems.append(f"cell {i}: missing mystnb.image.alt")
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_figure_and_table_names_are_unique_across_the_book():
    names = []
    for path in NOTEBOOKS:
        for cell in code_cells(load(path)):
            if (figure := figure_meta(cell)) is not None:
                names.append(figure.get("name"))
            names += TABLE_NAME.findall(source(cell))
    assert names
    duplicated = sorted({n for n in names if names.count(n) > 1})
    assert not duplicated, f"labels used twice (numref targets must be unique): {duplicated}"
