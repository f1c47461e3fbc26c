"""The book built on a file that is not the generator's own: confidential mode, end to end.

The perturbed book of a test run (tests/books.py) stands in for real data: distinctive patient
ids, one patient with planted extreme values, rare levels planted (issue 17's attacker fixture)
and one optional column left empty, built over a copy of the default book's `_build/`. Then:

* no file anywhere under _build/ (pages, downloads, search index, executed notebooks,
  the execution cache, Sphinx's doctrees) holds a patient id, a planted extreme value
  or a patient's row;
* every page says the data are confidential, and none names the file;
* every chapter built, saying in words what could not be computed;
* the output-check report for the data controller is beside the site, never in it, holds no
  patient id, row or file name, and finds every rare level hidden (the default book's report
  says that disclosure control is off on synthetic data).
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from books import (CHANGED, COHORT_NAME, ID_PREFIX, N_PATIENTS, RARE_LEVELS, BuildFailed, default_book,
                   perturbed_book, perturbed_data)
from cmprehab import params
from cmprehab.data.cohort import load_cohort
from cmprehab.report import disclosure, output_check, results
from site_html import page_at, site_pages, text_of
from test_book_html import PAGE_RESULTS, glue_roles

#: The planted values as they could be printed, as whole tokens (not inside a hash or another number).
PLANTED_TEXTS = [re.compile(rf"(?<![\w.]){re.escape(v)}(?![\w]|\.\d)") for v in ("31417", "1733", "66.85")]
DATA_URI = re.compile(r"data:([a-z/+-]+);base64,([A-Za-z0-9+/=]+)")


@pytest.fixture(scope="module")
def output() -> Path:
    """The perturbed book's output folder (holding _build/)."""
    try:
        return perturbed_book()[0]
    except BuildFailed as failure:
        pytest.fail(str(failure), pytrace=False)


@pytest.fixture(scope="module")
def cohort(output):
    return load_cohort(perturbed_data())


def readable_text(path: Path) -> str:
    """A build file as the text someone could read from it: images left out, downloads decoded."""
    data = path.read_bytes()
    if path.suffix == ".png":
        return ""
    text = data.decode("utf-8", errors="replace") if path.suffix in (".html", ".js", ".ipynb", ".json", ".txt",
                                                                    ".csv", ".md") else data.decode("latin-1")
    if path.suffix == ".ipynb":
        notebook = json.loads(text)
        for cell in notebook.get("cells", []):
            for output in cell.get("outputs", []):
                output.get("data", {}).pop("image/png", None)
        text = json.dumps(notebook, ensure_ascii=False)
    decoded = [base64.b64decode(payload).decode("utf-8", errors="replace")
               for kind, payload in DATA_URI.findall(text) if kind.startswith("text/")]
    return "\n".join([DATA_URI.sub("data:", text), *decoded])


def leaks_in(files: list[Path], rows: list[str], root: Path) -> list[tuple[str, str]]:
    """(file, what) for every id prefix, planted value or patient row found in the files' readable text."""
    found = []
    for path in files:
        text, where = readable_text(path), path.relative_to(root).as_posix()
        found += [(where, ID_PREFIX)] if ID_PREFIX in text else []
        found += [(where, value.pattern) for value in PLANTED_TEXTS if value.search(text)]
        found += [(where, "a patient row")] if any(row in text for row in rows) else []
    return found


def test_the_scan_finds_what_it_looks_for(tmp_path):
    """The leak scan itself: a CSV download, a notebook output and plain text are all read."""
    csv = base64.b64encode(f"id,x\n{ID_PREFIX}0001-Q,1\n".encode()).decode()
    (tmp_path / "page.html").write_text(f'<a href="data:text/csv;base64,{csv}">x</a> 31417 days')
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": [{"outputs": [{"data": {"text/plain": "bmi 66.85"}}]}]}))
    (tmp_path / "ok.html").write_text('<img src="_images/31417abc.png"> 1733.5 and 0.1733 are other numbers')
    (tmp_path / "row.txt").write_text("45,female,25.1,0")
    found = leaks_in(sorted(tmp_path.iterdir()), ["45,female,25.1,0"], tmp_path)
    assert sorted(found) == sorted([("page.html", ID_PREFIX), ("page.html", PLANTED_TEXTS[0].pattern),
                                    ("nb.ipynb", PLANTED_TEXTS[2].pattern), ("row.txt", "a patient row")])


def test_the_file_is_valid_and_treated_as_confidential(cohort):
    assert len(cohort) == N_PATIENTS and not cohort.attrs["fingerprint"].synthetic


def test_nothing_under_build_holds_a_patient_id_value_or_row(output):
    raw = pd.read_csv(perturbed_data(), dtype=str, keep_default_na=False)
    rows = [",".join(row[1:]) for row in raw.itertuples(index=False)]  # a row without its id
    # _static/ holds the theme's and MathJax's own files, copied as they are: nothing from the data.
    files = [p for p in (output / "_build").rglob("*") if p.is_file() and "_static" not in p.parts]
    assert len(files) > 50, "the scan found too few files to mean anything"
    kinds = {p.suffix for p in files}
    assert {".html", ".ipynb", ".doctree"} <= kinds, f"expected pages, executed notebooks and doctrees: {kinds}"
    leaks = leaks_in(files, rows, output)
    assert not leaks, f"patient data under _build/: {leaks[:20]}"


def test_every_page_says_confidential_and_never_names_the_file(output):
    pages = site_pages(output / "_build" / "html")
    assert pages
    for path in pages:
        page = page_at(path)
        assert len(page.notices) == 1 and "Confidential data" in text_of(page.notices[0]), path.name
        for fragment in ("secret", "onerror", "leakcheck", perturbed_data().parent.name):
            assert fragment not in page.html, f"{path.name} names the file ({fragment!r})"


def test_pages_quote_the_confidential_results(output, cohort, monkeypatch):
    """Every pasted value reads as cmprehab.results gives it under disclosure control."""
    monkeypatch.setenv(params.SET_ENV_VAR, CHANGED)
    site = output / "_build" / "html" / "chapters"
    for name, make in PAGE_RESULTS.items():
        expected = make(cohort)
        pasted = page_at(site / f"{name}.html").pasted
        roles = glue_roles(name)
        assert len(pasted) == len(roles), name
        wrong = [(key, text, expected[key].text) for key, text in zip(roles, pasted) if text != expected[key].text]
        assert not wrong, f"{name}: {wrong}"
    # The fixture keeps its 1-year values (issue 17: every page attackable): released rounded to k.
    outcomes, k = results.outcomes(cohort), params.DEFAULTS.disclosure.k
    measured = int(cohort["nprs_1y"].notna().sum())
    assert int(outcomes["n_1y"].text) % k == 0 and abs(int(outcomes["n_1y"].text) - measured) <= k // 2


def report_of(output: Path) -> tuple[dict, str]:
    folder = output / "_build" / output_check.REPORT_DIR
    return (json.loads((folder / output_check.REPORT_JSON).read_text(encoding="utf-8")),
            (folder / output_check.REPORT_HTML).read_text(encoding="utf-8"))


def test_the_output_check_report_is_beside_the_site_and_holds_no_patient_data(output):
    made, page = report_of(output)
    site = output / "_build" / "html"
    # The API reference and its highlighted sources name the report (escaped, as code); the report's
    # own page is the one whose title it is.
    assert not list(site.rglob(output_check.REPORT_JSON)) and not any(
        "output-check" in path.as_posix() or "<title>Output check for the data controller</title>" in
        path.read_text(errors="replace") for path in site.rglob("*.html")), "the controller's report reached the site"
    text = json.dumps(made) + page
    for fragment in (ID_PREFIX, COHORT_NAME, "secret", perturbed_data().parent.name, "31417", "66.85"):
        assert fragment not in text, fragment
    kinds = {line["kind"] for line in made["artefacts"]}
    assert {"table", "figure", "glued numbers"} <= kinds
    assert all(line["verdict"].startswith("pass") for line in made["artefacts"]), made["summary"]


def test_the_output_check_finds_every_rare_level_under_a_release_and_hidden(output):
    """The report's true counts: each planted rare level is a count underneath some release, and
    wherever it is, it was hidden ("<k" or withheld), never printed."""
    made, _ = report_of(output)
    counts = [r for r in made["records"] if r["kind"] == "count"]
    for _, _, how_many, _ in RARE_LEVELS:
        under = [r for r in counts if r["true"] == how_many]
        assert under, f"no release counts {how_many} patients"
        assert {r["rule"] for r in under} <= {disclosure.RULE_SMALL, disclosure.RULE_WITHHELD}, under[:3]
    assert min(line["smallest_count"] for line in made["artefacts"] if line["smallest_count"] is not None) <= 1


def test_the_default_books_output_check_says_synthetic():
    made, page = report_of(default_book())
    assert made["synthetic"] and made["artefacts"]
    assert {line["verdict"] for line in made["artefacts"]} == {output_check.SYNTHETIC_VERDICT}
    assert output_check.SYNTHETIC_VERDICT in page
