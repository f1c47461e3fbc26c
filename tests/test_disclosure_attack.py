"""A differencing attack on everything the perturbed (confidential) build releases (issue 17).

The perturbed book (tests/books.py) is built on the attacker fixture: 270 patients with rare
levels planted (3 men, 2 with generalized pain, 1 with upper-limb pain, 4 smokers). The attacker
reads what the build releases: the text of every page (figure captions and alt text included),
the text of every figure (SVG), the CSV downloads and results.json. (The perturbed build makes no
PDF: its text is the pages' text, printed; the PDF is attacked only by the leak scan of the
default book.)

It takes the *structure* from the build's output-check report (which released counts are cells of
a line with a total, which shares were computed from which counts), but every *value* it uses is
read from the released text: first the test checks that each logged released value appears in its
artefact. A population is identified by its true count, so every release of the same patients on
any table, page or figure constrains the same unknown (the attacker is, if anything, stronger
than a real one). It then solves, with integer programming (scipy.optimize.milp):

* each released count: an interval (rounded to a multiple of k: the k counts that round to it;
  "<k": 0 to k - 1; withheld: anything);
* each line: its cells add up to its total (partitions, complements, two-way tables, flows);
* each shown percentage p at its displayed precision as a share of two unknowns a of b:
  |100 a - p b| <= half a unit of the last digit × b, kept if the system stays solvable;

and minimises and maximises every true count from 1 to k - 1. The test fails if one is determined.
A second, structure-free check scans the released text for the fixture's small counts in a
count's context ("3 men", "n = 2", a table row of a rare level showing its count).
"""
from __future__ import annotations

import base64
import json
import os
import re
from functools import cached_property
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

import attack
from books import N_PATIENTS, RARE_LEVELS, BuildFailed, perturbed_book
from cmprehab.report import disclosure, output_check
from site_html import page_at, site_pages, text_of

DATA_URI = re.compile(r'href="data:text/(?:csv|plain);base64,([A-Za-z0-9+/=]+)"')
#: For a developer: read another build of the fixture instead of the test run's perturbed book.
OUTPUT_ENV_VAR = "CMPREHAB_ATTACK_OUTPUT"


class Release:
    """What a build releases, as text an attacker can read, by artefact."""

    def __init__(self, output: Path):
        self.site = output / "_build" / "html"
        self.report = json.loads((output / "_build" / output_check.REPORT_DIR / output_check.REPORT_JSON)
                                 .read_text(encoding="utf-8"))
        self.pages = {path: page_at(path) for path in site_pages(self.site)}

    @cached_property
    def tables(self) -> dict[str, str]:
        """{table name: the text of its HTML table and of its CSV download}."""
        found = {}
        for page in self.pages.values():
            for table in page.soup.find_all("table", id=True):
                text = text_of(table)
                after = table.find_next("a", class_="table-download")
                if after is not None and DATA_URI.search(str(after)):
                    text += "\n" + base64.b64decode(DATA_URI.search(str(after)).group(1)).decode("utf-8")
                found[table["id"]] = text
        return found

    @cached_property
    def figures(self) -> str:
        """The text drawn in every figure (SVG files and inline SVG)."""
        svgs = [path.read_text(encoding="utf-8") for path in self.site.rglob("*.svg") if "_static" not in path.parts]
        return "\n".join(re.sub(r"<[^>]+>", " ", svg) for svg in svgs)

    def page_text(self, page: str | None) -> str:
        """A results function's page (`baseline` -> chapters/03_baseline.html), with its downloads."""
        for path, parsed in self.pages.items():
            if page and re.fullmatch(rf"(\d+_)?{re.escape(page)}", path.stem):
                decoded = [base64.b64decode(p).decode("utf-8") for p in DATA_URI.findall(parsed.html)]
                return "\n".join([parsed.text, *decoded])
        return ""

    @cached_property
    def everything(self) -> str:
        """All released text: pages, downloads, figures, results.json."""
        parts = [self.page_text(None)]
        for parsed in self.pages.values():
            parts.append(parsed.text)
            parts += [base64.b64decode(p).decode("utf-8") for p in DATA_URI.findall(parsed.html)]
            parts += [f"{img.get('alt', '')} {img.get('title', '')}" for img in parsed.images]
        parts.append(self.figures)
        parts.append(self.results_json)
        return "\n".join(parts)

    def artefact_text(self, record: dict) -> str:
        """Where a logged value must be found: its table (HTML and CSV), else its page (figures'
        text included) and results.json (a page's calls are attributed to its artefacts by
        `output_check.attach`, exactly for tables shown as computed, approximately otherwise)."""
        name = record["artefact"]
        if name.startswith("tbl-") and name in self.tables:
            return self.tables[name]
        return "\n".join([self.page_text(record["page"]), self.figures, self.results_json])

    @cached_property
    def results_json(self) -> str:
        path = self.site / "results.json"
        return path.read_text(encoding="utf-8") if path.is_file() else ""


def number_pattern(text: str) -> re.Pattern:
    return re.compile(rf"(?<![\d.]){re.escape(text)}(?![\d]|\.\d)")


def shown_texts(value) -> list[str]:
    """How a released value may be printed: a count as it is, a share at 0 to 2 decimals."""
    if isinstance(value, str):
        return [value]
    if float(value).is_integer() and not isinstance(value, float):
        return [str(int(value))]
    return [f"{value:.{d}f}" for d in (0, 1, 2)]


def found_in(shown, text: str) -> str | None:
    """How a released value is printed in `text` ("175", "38.1", "<5"), or None if it is not."""
    for printed in shown_texts(shown):
        if printed in (WITHHELD, SMALL):
            if printed in text:
                return printed
        elif number_pattern(printed).search(text):
            return printed
    return None


def read_value(record: dict, release: Release):
    """(value as printed, decimals) of a logged release found in its artefact (a table's HTML and
    CSV; for glued numbers and figures, its page and results.json), else None."""
    printed = found_in(record["shown"], release.artefact_text(record))
    if printed is None:
        return None
    return printed, len(printed.split(".")[1]) if "." in printed else 0


WITHHELD = disclosure.WITHHELD


@pytest.fixture(scope="module")
def release() -> Release:
    given = os.environ.get(OUTPUT_ENV_VAR)
    if given:
        return Release(Path(given))
    try:
        return Release(perturbed_book()[0])
    except BuildFailed as failure:
        pytest.fail(str(failure), pytrace=False)


K = disclosure.Policy(active=True).k  # the fixture is built with the default k
SMALL = f"<{K}"


def count_interval(shown) -> tuple[int, int]:
    """Every true count a released count may stand for (tests/attack.py's reading of a release)."""
    inside = attack.interval(shown if shown in (SMALL, WITHHELD) else int(shown), N_PATIENTS)
    if not inside:  # no count rounds to it: a count released exactly (a defect the attacker takes)
        return int(shown), int(shown)
    return min(inside), max(inside)


def usable_records(release: Release) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """What the attacker can use: (counts, shares, lines) whose every value was read from the
    release, and the logged values not found where they were released (read once per release)."""
    if not hasattr(release, "usable"):
        release.usable = _read_records(release)
    return release.usable


def _read_records(release: Release) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    counts, shares, missing = [], [], []
    for record in release.report["records"]:
        if record["kind"] not in ("count", "share"):
            continue
        found = read_value(record, release)
        if found is None:
            missing.append(record)
            continue
        printed, decimals = found
        if record["kind"] == "count":
            counts.append({**record, "read": printed})
        elif printed not in (WITHHELD, SMALL):
            shares.append({**record, "read": float(printed), "decimals": decimals})
    # A line's cells as its artefact shows them: what count() released for them there (the line's
    # own note says what the rule would release), each with the percentage printed beside it.
    released_there = {(r["page"], r["artefact"], r["true"]): r["read"] for r in counts}
    lines = []
    for line in release.report["records"]:
        if line["kind"] != "line":
            continue
        text = release.artefact_text(line)
        read = [released_there.get((line["page"], line["artefact"], true)) or found_in(shown, text)
                for true, shown in zip(line["cells"], line["shown"])]
        if None in read:
            continue
        percents = []
        for value in read:
            beside = re.search(rf"(?<![\d.]){re.escape(value)}\s*\((\d+(?:\.\d+)?)\)", text) if value.isdigit() else None
            percents.append(beside.group(1) if beside else None)
        lines.append({**line, "shown": read, "percents": percents})
    return counts, shares, lines, missing


class Attacker:
    """Integer unknowns and the constraints the release gives.

    A population of at least k patients is one unknown wherever it is released (identified by its
    true count: "measured at 1 year" on the flow, the trajectories, the follow-up table and the
    predictors' n are one unknown); so is each line's total. A cell below k is an unknown of its
    own line (two small cells of the same size are not taken for the same patients).
    """

    def __init__(self, counts: list[dict], lines: list[dict]):
        self.low: list[float] = []
        self.high: list[float] = []
        self.population: dict[int, int] = {}
        self.rows, self.row_low, self.row_high = [], [], []
        self.small_cells: list[tuple[int, int, str]] = []  # (unknown, true count, where)
        for record in counts:
            if record["true"] >= K:
                self._narrow(self._of(record["true"]), record["read"])
        terms = []
        for line in lines:
            cells = []
            for true, shown in zip(line["cells"], line["shown"]):
                i = self._new()
                if 0 < true < K:
                    self.small_cells.append((i, true, f"{line['page']}/{line['artefact']}"))
                self._narrow(i, shown)
                cells.append(i)
            total = sum(line["cells"])
            terms.append((cells, self._of(total) if total >= K else self._new()))
        for cells, total in terms:
            row = {}
            for i in cells:
                row[i] = row.get(i, 0) + 1
            row[total] = row.get(total, 0) - 1
            self._add(row, 0, 0)
        for line, (cells, _) in zip(lines, terms):
            self._line_percents(line, cells)

    def _line_percents(self, line: dict, cells: list[int]) -> None:
        """A cell printed "n (p)": p % of the line's patients with a value (every cell but the
        missing one), unless the released counts explain p (a share of released counts)."""
        if not any(line.get("percents", [])):
            return
        valid = [i for position, i in enumerate(cells) if position not in line.get("missing", [])]
        denominator = self._new()
        self._add({**{i: 1 for i in valid}, denominator: -1}, 0, 0)
        low = sum(self.low[i] for i in valid)
        high = sum(self.high[i] for i in valid)
        released_denominators = [d for d in range(int(low), int(high) + 1) if d and d % K == 0]
        for i, shown, percent in zip(cells, line["shown"], line["percents"]):
            if percent is None:
                continue
            p, half = float(percent), 0.5 * 10 ** -(len(percent.split(".")[1]) if "." in percent else 0)
            if any(abs(100 * int(shown) / d - p) <= half + 1e-9 for d in released_denominators):
                continue  # a share of released counts: nothing more
            self._add({i: 100, denominator: -(p + half)}, -np.inf, 0)
            self._add({i: 100, denominator: -(p - half)}, 0, np.inf)
            if not self.feasible():
                del self.rows[-2:], self.row_low[-2:], self.row_high[-2:]

    def _new(self) -> int:
        self.low.append(0)
        self.high.append(100 * N_PATIENTS)  # a line may add up several measures' counts
        return len(self.low) - 1

    def _of(self, true: int) -> int:
        if true not in self.population:
            self.population[true] = self._new()
        return self.population[true]

    def _narrow(self, i: int, shown) -> None:
        a, b = count_interval(shown)
        self.low[i], self.high[i] = max(self.low[i], a), min(self.high[i], b)

    def _add(self, row: dict, lo, hi) -> None:
        self.rows.append(row)
        self.row_low.append(lo)
        self.row_high.append(hi)

    def _solve(self, objective):
        matrix = np.zeros((len(self.rows), len(self.low)))
        for r, row in enumerate(self.rows):
            for i, coefficient in row.items():
                matrix[r, i] = coefficient
        constraints = [LinearConstraint(matrix, self.row_low, self.row_high)] if self.rows else []
        return milp(objective, integrality=np.ones(len(self.low)), bounds=Bounds(self.low, self.high),
                    constraints=constraints)

    def feasible(self) -> bool:
        return self._solve(np.zeros(len(self.low))).status == 0

    def add_share(self, share: dict) -> bool:
        """|100 a - p b| <= h b for a share p of a (numerator) in b; kept only if still solvable.

        A percentage that the released counts explain (the rule: shares of released counts) says
        nothing more; one they do not explain is taken as a share of the true counts."""
        a, b = share["numerator"], share["denominator"]
        if a not in self.population or b not in self.population or a == b:
            return False
        ra, rb = (disclosure.released(n, disclosure.Policy(active=True, k=K)) for n in (a, b))
        half = 0.5 * 10 ** -share["decimals"]
        if isinstance(ra, int) and isinstance(rb, int) and rb and abs(100 * ra / rb - share["read"]) <= half + 1e-9:
            return False
        a, b, half = self.population[a], self.population[b], 0.5 * 10 ** -share["decimals"]
        self._add({a: 100, b: -(share["read"] + half)}, -np.inf, 0)
        self._add({a: 100, b: -(share["read"] - half)}, 0, np.inf)
        if self.feasible():
            return True
        del self.rows[-2:], self.row_low[-2:], self.row_high[-2:]
        return False

    def range_of(self, i: int) -> tuple[int, int]:
        objective = np.zeros(len(self.low))
        objective[i] = 1
        smallest, largest = self._solve(objective), self._solve(-objective)
        assert smallest.status == 0 and largest.status == 0, "the attacker's system has no solution"
        return round(smallest.fun), round(-largest.fun)


def unique(records: list[dict], key) -> list[dict]:
    """One of each: the same line or share released on several artefacts is one relation."""
    seen = {}
    for record in records:
        seen.setdefault(key(record), record)
    return list(seen.values())


def determined_small_counts(release: Release) -> list[str]:
    counts, shares, lines, _ = usable_records(release)
    lines = unique(lines, lambda r: (tuple(r["cells"]), tuple(r["shown"])))
    attacker = Attacker(counts, lines)
    assert attacker.feasible(), "the released counts contradict each other"
    for share in unique(shares, lambda r: (r["numerator"], r["denominator"], r["read"], r["decimals"])):
        attacker.add_share(share)
    found = []
    for i, true, where in attacker.small_cells:
        low, high = attacker.range_of(i)
        if low == high == true:
            found.append(f"a count of {true} is determined ({where})")
    return sorted(set(found))


def test_the_report_covers_the_confidential_build(release):
    assert not release.report["synthetic"]
    kinds = {line["kind"] for line in release.report["artefacts"]}
    assert {"table", "figure", "glued numbers"} <= kinds, kinds
    records = release.report["records"]
    assert any(r["kind"] == "line" for r in records) and any(r["kind"] == "share" for r in records)
    # The fixture's rare levels are under the released counts (the attack has something to find).
    assert {1, 2, 3, 4} <= {r["true"] for r in records if r["kind"] == "count"}


def test_the_attacker_reads_its_values_from_the_release(release):
    """Every value the attacker uses was read from the released text (usable_records). Every hidden
    cell the log has ("<k" or withheld: what the attack is after) must be found where it was
    released. A page also logs counts it uses without printing them (the denominator of its
    percentages, the rounded published numbers of the audit, a histogram's bars): the attacker
    cannot read those, and meets them only through what is printed (a percentage)."""
    counts, shares, lines, missing = usable_records(release)
    assert counts and shares and lines
    hidden = [r for r in missing if r["kind"] == "count" and r["shown"] in (SMALL, WITHHELD)]
    assert not hidden, f"hidden cells logged but not found where they were released: {hidden[:10]}"
    # Each value the attacker uses was read (usable_records): a line is used only if every cell was.
    for record in counts:
        assert found_in(record["read"], release.artefact_text(record)) == record["read"]


def test_no_small_count_is_determined_by_the_released_arithmetic(release):
    found = determined_small_counts(release)
    assert not found, "\n".join(found)


#: How the text would name the fixture's rare levels next to their counts.
RARE_WORDS = {"sex": r"m(e|a)n|males?", "pain_distribution": r"generali[sz]ed", "main_pain_location": r"upper[ _-]?limb",
              "smoker": r"smok(ers?|ing|e)"}


def test_no_small_count_of_the_fixture_is_printed_in_a_counts_context(release):
    text = release.everything
    found = []
    for column, _, how_many, _ in RARE_LEVELS:
        words = RARE_WORDS[column]
        for pattern in (rf"(?<![\d.]){how_many}\s+(patients?\s+)?({words})\b",
                        rf"\b({words})\b[^\n\d<]{{0,12}}(?<![\d.]){how_many}(?![\d]|\.\d|\s*%)"):
            found += [match.group(0) for match in re.finditer(pattern, text, flags=re.IGNORECASE)]
        with_counts = {line["artefact"] for line in release.report["artefacts"] if line["smallest_count"] is not None}
        for name, table in release.tables.items():
            if name not in with_counts:  # the data dictionary's row numbers, the STROBE items ...
                continue
            for line in table.splitlines():
                if re.search(words, line, flags=re.IGNORECASE) and re.search(rf"(^|[,|]\s*){how_many}\s*([,(|]|$)", line):
                    found.append(f"{name}: {line[:80]}")
    found += [m.group(0) for m in re.finditer(r"\bn\s*=\s*[1-4](?![\d.])", text)]
    assert not found, f"small counts printed: {found[:10]}"
