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
            assert kind in ("na", "unavailable", "notdone") and name.strip(), f"item {item.number}: {target!r}"


def test_the_methods_page_links_its_strobe_claim_to_the_checklist():
    methods = json.loads((CHAPTERS / "02_methods.ipynb").read_text(encoding="utf-8"))
    text = "".join("".join(c["source"]) for c in methods["cells"])
    assert "STROBE" in text and "{doc}`strobe`" in text
    assert "strobe" in book_pages()


def test_the_table_renders_links():
    table = strobe.table()
    assert len(table) == len(STROBE_COHORT_ITEMS)
    assert table["where in this book"].str.contains(r"\{(?:doc|ref|numref)\}`").sum() >= 25


# --------------------------------------------------------------------------
# Each target addresses its item: the item's key term is in the target's text
# --------------------------------------------------------------------------

#: A term (regular expression, case-insensitive) that the text of every target of an item must hold:
#: what a reader following the link must find there. Written from the STROBE item, not from the pages.
KEY_TERMS = {
    "1a": r"cohort study", "1b": r"control group", "2": r"chronic musculoskeletal pain", "3": r"\baims?\b",
    "4": r"cohort", "5": r"unit|setting", "6a": r"consecutive|inclu|lost|follow", "6b": r"match",
    "7": r"outcome|intervention|predictor", "8": r"measure|column", "9": r"bias|lost|loss",
    "10": r"consecutive|size", "11": r"threshold|MCID|per 10|continuous", "12a": r"regression|interval|statistic",
    "12b": r"subgroup|interaction", "12c": r"missing", "12d": r"lost|loss|missing", "12e": r"sensitivity|missing",
    "13a": r"flow|stage", "13b": r"reason", "13c": r"flow", "14a": r"baseline|characteristic",
    "14b": r"missing|measured|valid|with a value|with data", "14c": r"after discharge|follow-up",
    "15": r"MCID|outcome", "16a": r"risk ratio", "16b": r"split|per 10|cut|categor", "16c": r"absolute risk",
    "17": r"sensitivity|missing", "18": r"conclu", "19": r"limitation", "20": r"conclu",
    "21": r"settings|centre|generali", "22": r"fund|not in the published",
}


def _caption_calls(source: str) -> str:
    """Captions a code cell takes from the predictors page's caption helper, as text."""
    from cmprehab.report import who_benefits
    return " ".join(who_benefits.caption(key) for key in re.findall(r"""who_benefits\.caption\(["'](\w+)["']\)""",
                                                                      source))


def page_text(stem: str) -> list[str]:
    """A page as lines: Markdown, code and the captions of its tables and figures."""
    lines = []
    for cell in dict(notebook_texts())[stem]["cells"]:
        source = "".join(cell["source"])
        lines += source.splitlines()
        if cell["cell_type"] == "code":
            lines.append(_caption_calls(source))
            lines.append(cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("caption", ""))
    return lines


def target_text(target: str) -> str:
    """The text a reader finds at a target: a page, a section (to the next section of its level or a
    label), the cell of a table or figure with its caption, or the reason given in words."""
    kind, _, name = target.partition(":")
    if kind not in ("doc", "ref", "tbl", "fig"):
        return name
    for stem, notebook in notebook_texts():
        if kind == "doc":
            if stem == name:
                return "\n".join(page_text(stem))
            continue
        lines = page_text(stem)
        if kind == "ref" and f"({name})=" in lines:
            start = lines.index(f"({name})=")
            level = next((len(m.group(1)) for line in lines[start + 1:] if (m := re.match(r"^(#+) ", line))), 6)
            end = next((i for i in range(start + 2, len(lines))
                        if re.match(r"^\([a-z0-9-]+\)=$", lines[i]) or
                        ((m := re.match(r"^(#+) ", lines[i])) and len(m.group(1)) <= level)), len(lines))
            return "\n".join(lines[start:end])
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
            if (kind == "tbl" and re.search(rf"""["']{name}["']""", source)) or (kind == "fig" and figure.get("name") == name):
                return "\n".join([source, _caption_calls(source), figure.get("caption", "")])
    raise AssertionError(f"no {kind} named {name}")


def test_every_item_has_a_key_term():
    assert set(KEY_TERMS) == set(STROBE_COHORT_ITEMS)


@pytest.mark.parametrize("item", strobe.CHECKLIST, ids=[item.number for item in strobe.CHECKLIST])
def test_every_target_addresses_its_item(item):
    for target in item.targets:
        text = target_text(target)
        assert re.search(KEY_TERMS[item.number], text, re.IGNORECASE), (
            f"item {item.number} ({item.recommendation}): {target} does not contain {KEY_TERMS[item.number]!r}")


def test_an_item_not_done_says_so():
    assert "not done: " in strobe.role("notdone:no subgroup analyses")
    item = {i.number: i for i in strobe.CHECKLIST}["12b"]
    assert all(t.startswith("notdone:") for t in item.targets)


def test_the_checklist_page_numbers_no_table():
    """A numbered table on a reference page reads "Table 6", as if it belonged to chapter 6."""
    page = dict(notebook_texts())["strobe"]
    code = "".join("".join(c["source"]) for c in page["cells"] if c["cell_type"] == "code")
    assert "show_table" not in code and ":::{table}" not in code and "strobe.CAPTION" in code
