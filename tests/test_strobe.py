"""The STROBE checklist: every item of the cohort version, each pointing at something that exists."""
from __future__ import annotations

import json
import re

import pytest

from cmprehab import config
from cmprehab.report import strobe

#: The items of the STROBE statement for cohort studies (von Elm et al. 2007), with sub-items.
STROBE_COHORT_ITEMS = ["1a", "1b", "2", "3", "4", "5", "6a", "6b", "7", "8", "9", "10", "11", "12a", "12b", "12c",
                       "12d", "12e", "13a", "13b", "13c", "14a", "14b", "14c", "15", "16a", "16b", "16c", "17", "18",
                       "19", "20", "21", "22"]
CHAPTERS = config.ROOT / "chapters"


def book_pages() -> set[str]:
    return {name.removeprefix("chapters/") for name, _ in config.toc_pages()}


def notebook_texts() -> list[tuple[str, dict]]:
    return [(path.stem, json.loads(path.read_text(encoding="utf-8"))) for path in sorted(CHAPTERS.glob("*.ipynb"))]


def defined_targets() -> dict[str, set[str]]:
    """Section labels, figure names and table names defined in the chapters."""
    found = {"ref": set(), "fig": set(), "tbl": set()}
    for _, notebook in notebook_texts():
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                found["ref"] |= set(re.findall(r"^\(([a-z0-9-]+)\)=$", source, re.MULTILINE))
            else:
                found["tbl"] |= set(re.findall(r"""["'](tbl-[a-z0-9-]+)["']""", source))
                figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name")
                if figure:
                    found["fig"].add(figure)
    return found


def test_every_item_of_the_cohort_checklist_is_there_once():
    assert [item.number for item in strobe.CHECKLIST] == STROBE_COHORT_ITEMS


@pytest.mark.parametrize("item", strobe.CHECKLIST, ids=[item.number for item in strobe.CHECKLIST])
def test_every_target_exists(item):
    pages, targets = book_pages(), defined_targets()
    assert item.targets, item.number
    for target in item.targets:
        kind, _, name = target.partition(":")
        if kind == "doc":
            assert name in pages, f"item {item.number}: page {name} is not in the book"
        elif kind in targets:
            assert name in targets[kind], f"item {item.number}: no {kind} named {name}"
        else:
            assert kind in ("na", "unavailable") and name.strip(), f"item {item.number}: {target!r}"


def test_the_methods_page_links_its_strobe_claim_to_the_checklist():
    methods = json.loads((CHAPTERS / "02_methods.ipynb").read_text(encoding="utf-8"))
    text = "".join("".join(c["source"]) for c in methods["cells"])
    assert "STROBE" in text and "{doc}`strobe`" in text
    assert "strobe" in book_pages()


def test_the_table_renders_links():
    table = strobe.table()
    assert len(table) == len(STROBE_COHORT_ITEMS)
    assert table["where in this book"].str.contains(r"\{(?:doc|ref|numref)\}`").sum() >= 25
