"""The book built on a file that is not the generator's own: confidential mode, end to end.

One cohort stands in for real data: distinctive patient ids, one patient with planted
extreme values, optional columns left empty and no 1-year values at all. The book is
built from it twice, each time into a clean folder, and then:

* no file anywhere under _build/ (pages, downloads, search index, executed notebooks,
  the execution cache, Sphinx's doctrees) holds a patient id, a planted extreme value
  or a patient's row;
* every page says the data are confidential, and none names the file;
* every chapter built, saying in words what could not be computed;
* the two builds (one serial, one executing notebooks in parallel) quote the same values,
  write the same results file and offer the same CSV downloads.
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from cmprehab.instruments import INSTRUMENTS
from cmprehab import config
from cmprehab.report import results
from cmprehab.data.cohort import load_cohort
from test_book_html import PAGE_RESULTS, PASTED, build_book, glue_roles, plain_quotes, strip_tags

ID_PREFIX = "LEAKCHECK-"
N_PATIENTS = 40
#: One patient's planted values: rare enough that finding them anywhere means a leak.
PLANTED = {"age": "97", "bmi": "67.9", "pain_duration_days": "31417", "n_sessions": "83", "program_days": "1733"}
#: The planted values as they could be printed, as whole tokens (not inside a hash or another number).
PLANTED_TEXTS = [re.compile(rf"(?<![\w.]){re.escape(v)}(?![\w]|\.\d)") for v in ("31417", "1733", "67.9")]
EMPTIED = ["physically_active", "pain_distribution"] + [f"{stem}_1y" for stem in INSTRUMENTS]
DATA_URI = re.compile(r"data:([a-z/+-]+);base64,([A-Za-z0-9+/=]+)")


@pytest.fixture(scope="module")
def confidential_file(tmp_path_factory) -> Path:
    raw = pd.read_csv(config.DEFAULT_COHORT, dtype=str, keep_default_na=False).head(N_PATIENTS)
    raw["patient_id"] = [f"{ID_PREFIX}{i:04d}-Q" for i in range(len(raw))]
    for column, value in PLANTED.items():
        raw.loc[7, column] = value
    for column in EMPTIED:
        raw[column] = ""
    path = tmp_path_factory.mktemp("private") / "secret <img src=x onerror=alert(1)> `cohort`.csv"
    raw.to_csv(path, index=False, lineterminator="\n")
    return path


@pytest.fixture(scope="module")
def builds(confidential_file, tmp_path_factory) -> list[Path]:
    """Two clean builds of the same file: their output folders (each holding _build/).
    The first executes its notebooks serially (--jobs 1), the second two at a time."""
    outputs = []
    for i, jobs in enumerate((1, 2)):
        output = tmp_path_factory.mktemp(f"book-confidential-{i}")
        build_book(output, data=confidential_file, jobs=jobs)
        outputs.append(output)
    return outputs


@pytest.fixture(scope="module")
def cohort(confidential_file):
    return load_cohort(confidential_file)


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
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": [{"outputs": [{"data": {"text/plain": "bmi 67.9"}}]}]}))
    (tmp_path / "ok.html").write_text('<img src="_images/31417abc.png"> 1733.5 and 0.1733 are other numbers')
    (tmp_path / "row.txt").write_text("45,female,25.1,0")
    found = leaks_in(sorted(tmp_path.iterdir()), ["45,female,25.1,0"], tmp_path)
    assert sorted(found) == sorted([("page.html", ID_PREFIX), ("page.html", PLANTED_TEXTS[0].pattern),
                                    ("nb.ipynb", PLANTED_TEXTS[2].pattern), ("row.txt", "a patient row")])


def test_the_file_is_valid_and_treated_as_confidential(cohort):
    assert len(cohort) == N_PATIENTS and not cohort.attrs["fingerprint"].synthetic


def test_nothing_under_build_holds_a_patient_id_value_or_row(builds, cohort, confidential_file):
    raw = pd.read_csv(confidential_file, dtype=str, keep_default_na=False)
    rows = [",".join(row[1:]) for row in raw.itertuples(index=False)]  # a row without its id
    # _static/ holds the theme's and MathJax's own files, copied as they are: nothing from the data.
    files = [p for p in (builds[0] / "_build").rglob("*") if p.is_file() and "_static" not in p.parts]
    assert len(files) > 50, "the scan found too few files to mean anything"
    kinds = {p.suffix for p in files}
    assert {".html", ".ipynb", ".doctree"} <= kinds, f"expected pages, executed notebooks and doctrees: {kinds}"
    leaks = leaks_in(files, rows, builds[0])
    assert not leaks, f"patient data under _build/: {leaks[:20]}"


def test_every_page_says_confidential_and_never_names_the_file(builds, confidential_file):
    site = builds[0] / "_build" / "html"
    pages = [p for p in site.rglob("*.html") if "_static" not in p.parts
             and 'http-equiv="Refresh"' not in p.read_text(encoding="utf-8")]
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        banner = re.findall(r'<div class="data-notice\b.*?</div>', html, re.DOTALL)
        assert len(banner) == 1 and "Confidential data" in strip_tags(banner[0]), page.name
        for fragment in ("secret", "onerror", confidential_file.parent.name):
            assert fragment not in html, f"{page.name} names the file ({fragment!r})"


def test_pages_quote_the_confidential_results(builds, cohort):
    """Every pasted value reads as cmprehab.results gives it under disclosure control."""
    site = builds[0] / "_build" / "html" / "chapters"
    for name, make in PAGE_RESULTS.items():
        expected = make(cohort)
        pasted = [plain_quotes(strip_tags(m)) for m in PASTED.findall((site / f"{name}.html").read_text(encoding="utf-8"))]
        roles = glue_roles(name)
        assert len(pasted) == len(roles), name
        wrong = [(key, text, expected[key].text) for key, text in zip(roles, pasted) if text != expected[key].text]
        assert not wrong, f"{name}: {wrong}"
    outcomes = results.outcomes(cohort)
    assert outcomes["n_1y"].text == "<5" or outcomes["n_1y"].text == "0"
    assert outcomes["mcid_nprs_1y"].text.startswith((results.NOT_AVAILABLE, "withheld"))


def test_two_clean_builds_quote_the_same_values_and_downloads(builds):
    def quoted(output: Path) -> dict[str, list[str]]:
        site = output / "_build" / "html"
        found = {}
        for page in sorted(site.rglob("*.html")):
            html = page.read_text(encoding="utf-8")
            found[page.relative_to(site).as_posix()] = [strip_tags(m) for m in PASTED.findall(html)] + [
                payload for kind, payload in DATA_URI.findall(html) if kind == "text/csv"]
        return found

    first, second = quoted(builds[0]), quoted(builds[1])
    assert first.keys() == second.keys()
    assert sum(len(v) for v in first.values()) > 50
    assert first == second


def test_serial_and_parallel_builds_write_the_same_results(builds):
    """The results file of the serial build is the parallel build's, record for record."""
    def written(output: Path) -> list[dict]:
        return json.loads((output / "_build" / "html" / "results.json").read_text(encoding="utf-8"))["results"]

    serial, parallel = written(builds[0]), written(builds[1])
    assert len(serial) > 100
    assert serial == parallel
