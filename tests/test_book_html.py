"""The built book: every number a reader sees is the number the package computes.

Reads three builds of the book:

* "default": the committed synthetic cohort under the default parameters, the book the browser
             tests read too (tests/default_book.py, in `_build/test-book/`): built with --jobs 1,
             so jupyter-book executes the notebooks; the other builds pre-execute them in parallel;
* "other":   a cohort generated with another seed and size, named by $CMPREHAB_DATA,
             to show the pages follow the data file rather than stale outputs;
* "changed": the committed cohort under another MCID, to show the pages follow the parameters.

"other" and "changed" are built here, each into its own temporary folder with
`python -m cmprehab.build --output TMP` (never touching the repository's _build/).

Then parses the HTML with the standard library and compares it with
cmprehab.report (results, tables, audit) and cmprehab.provenance.
Glued numbers are checked where they sit: the n-th `{glue:text}` role of a
chapter's Markdown is the n-th `<span class="pasted-text ...">` of its page, and reads
as the text `cmprehab.results` gives for that name.
"""
from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from cmprehab import config, params
from cmprehab.data.cohort import load_cohort
from cmprehab.instruments import INSTRUMENTS
from cmprehab.provenance import DataFingerprint, data_fingerprint
from cmprehab.report import audit as reproduction
from cmprehab.report import results, tables
from conftest import BUILD_ENV
from default_book import BuildFailed, default_book

ROOT = config.ROOT
OTHER_SEED, OTHER_N = 7, 300
BUILD_TIMEOUT = 900
#: Pages whose figures and tables must be numbered ("Table N.M", "Fig. N.M").
NUMBERED_PAGES = ["03_baseline", "04_interventions", "05_outcomes", "06_follow_up", "07_sensitivity",
                  "08_predictors"]
GLUE_TEXT = re.compile(r"\{glue:text\}`([^`]+)`")
#: A pasted value's text: up to its tooltip (_ext/traced_numbers.py) or the end of its span.
PASTED = re.compile(r'<span [^>]*?class="pasted-text[^"]*"[^>]*>(.*?)(?=<span class="trace"|</span>)', re.DOTALL)
#: A traced value: its tooltip's id, its text, and the result name its tooltip gives.
TRACED = re.compile(r'<span aria-describedby="([^"]+)" class="pasted-text traced" tabindex="0">(.*?)'
                    r'<span class="trace" role="tooltip" id="\1"><span class="trace-name">([^<]+)</span>', re.DOTALL)
ERROR_MARKERS = ["output_error", "Traceback", "output stderr", "Error in cell"]
PAGE_RESULTS = {"00_overview": results.overview, "01_aims": results.aims, "02_methods": results.methods,
                "03_baseline": results.baseline, "04_interventions": results.interventions,
                "05_outcomes": results.outcomes,
                "06_follow_up": results.follow_up, "07_sensitivity": results.sensitivity,
                "08_predictors": results.predictors, "09_audit": results.audit, "10_conclusions": results.conclusions,
                "glossary": results.glossary}


# --- building -----------------------------------------------------------------------

def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def run(args: list[str], data: Path | None, timeout: int, set_values: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in BUILD_ENV}
    if data is not None:
        env[config.DATA_ENV_VAR] = str(data)
    if set_values:
        env[params.SET_ENV_VAR] = set_values
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def build_book(output: Path, data: Path | None, set_values: str = "", jobs: int | None = None) -> Path:
    """`python -m cmprehab.build`; `jobs` as its --jobs (default: one per core; 1: jupyter-book executes)."""
    args = ["cmprehab.build", "--output", str(output)] + ([] if jobs is None else ["--jobs", str(jobs)])
    result = run(args, data, BUILD_TIMEOUT, set_values)
    if result.returncode != 0:
        pytest.fail(f"book build (data: {data or 'default'}) exited {result.returncode}\n"
                    f"--- stdout (tail) ---\n{tail(result.stdout)}\n--- stderr (tail) ---\n{tail(result.stderr)}",
                    pytrace=False)
    # After the parallel pre-execution jupyter-book must only render: a cache key it did not
    # match would have executed that notebook a second time.
    assert "jupyter-book re-executed" not in result.stdout, tail(result.stdout)
    site = output / "_build" / "html"
    assert (site / "chapters" / "00_overview.html").is_file(), f"no site in {site}"
    return site


@dataclass
class Site:
    """One build: its HTML folder and what the package computes from its data file."""

    label: str
    root: Path
    data: Path
    cohort: object = field(repr=False)
    fingerprint: DataFingerprint
    set_values: str = ""   # study parameters changed for this build ($CMPREHAB_SET)

    @contextmanager
    def parameters(self):
        """The study parameters of this build, for computing what its pages should show."""
        saved = os.environ.get(params.SET_ENV_VAR)
        os.environ[params.SET_ENV_VAR] = self.set_values
        try:
            yield params.current()
        finally:
            os.environ.pop(params.SET_ENV_VAR)
            if saved is not None:
                os.environ[params.SET_ENV_VAR] = saved

    def results(self, page: str) -> dict:
        """What cmprehab.results gives for a chapter (by its file stem)."""
        with self.parameters():
            return PAGE_RESULTS[page](self.cohort)

    @cached_property
    def audit(self):
        with self.parameters():
            return reproduction.audit(self.cohort)

    def page(self, name: str) -> "Page":
        return Page(self.root / "chapters" / f"{name}.html")

    def pages(self) -> list[Path]:
        """Every HTML page of the site except JB1's redirect stubs (index.html)."""
        return sorted(p for p in self.root.rglob("*.html")
                      if "_static" not in p.parts and 'http-equiv="Refresh"' not in p.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def default_site() -> Site:
    try:
        root = default_book() / "_build" / "html"
    except BuildFailed as failure:
        pytest.fail(str(failure), pytrace=False)
    return Site("default", root, config.DEFAULT_COHORT, load_cohort(config.DEFAULT_COHORT),
                data_fingerprint(config.DEFAULT_COHORT))


@pytest.fixture(scope="module")
def other_site(tmp_path_factory) -> Site:
    data = tmp_path_factory.mktemp("cohort-other") / "cohort.csv"
    made = run(["cmprehab.synth", "--seed", str(OTHER_SEED), "--n", str(OTHER_N), "--out", str(data)], None, 300)
    assert made.returncode == 0, f"cmprehab.synth failed:\n{tail(made.stdout)}\n{tail(made.stderr)}"
    root = build_book(tmp_path_factory.mktemp("book-other"), data=data)
    return Site("other", root, data, load_cohort(data), data_fingerprint(data))


#: The changed study parameter of the third build.
CHANGED = "mcid.nprs.threshold=1"


@pytest.fixture(scope="module")
def changed_site(tmp_path_factory) -> Site:
    """The committed cohort under another MCID: the pages must follow the parameter."""
    root = build_book(tmp_path_factory.mktemp("book-changed"), data=None, set_values=CHANGED)
    return Site("changed", root, config.DEFAULT_COHORT, load_cohort(config.DEFAULT_COHORT),
                data_fingerprint(config.DEFAULT_COHORT), set_values=CHANGED)


@pytest.fixture(scope="module", params=["default", "other", "changed"])
def site(request) -> Site:
    return request.getfixturevalue(f"{request.param}_site")


# --- reading HTML and notebooks ---------------------------------------------------------

def plain_quotes(text: str) -> str:
    """Sphinx typesets ' and " as curly quotes; compare text without that typography."""
    return text.translate(str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}))


def strip_tags(fragment: str) -> str:
    without = re.sub(r"<(script|style)\b.*?</\1>", " ", fragment, flags=re.DOTALL | re.IGNORECASE)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", without))).strip()


class Elements(HTMLParser):
    """Tables (id, caption, rows of cell text), img/script/link attributes and the banner."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, dict] = {}
        self.images: list[dict] = []
        self.resources: list[tuple[str, str]] = []
        self._table = self._row = self._cell = self._caption = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(attrs)
        elif tag == "script" and "src" in attrs:
            self.resources.append(("script", attrs["src"]))
        elif tag == "link" and "href" in attrs:
            self.resources.append(("link", attrs["href"]))
        elif tag == "table":
            self._table = {"id": attrs.get("id", ""), "caption": "", "rows": []}
            self.tables[self._table["id"]] = self._table
        elif self._table is not None:
            if tag == "caption":
                self._caption = []
            elif tag == "tr":
                self._row = []
            elif tag in ("td", "th"):
                self._cell = []

    def handle_endtag(self, tag):
        if self._table is None:
            return
        if tag == "caption" and self._caption is not None:
            self._table["caption"] = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table["rows"].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        for part in (self._cell, self._caption):
            if part is not None:
                part.append(data)


class Page:
    def __init__(self, path: Path):
        assert path.is_file(), f"page not built: {path}"
        self.path = path
        self.html = path.read_text(encoding="utf-8")
        self.text = strip_tags(self.html)
        self.pasted = [plain_quotes(strip_tags(m)) for m in PASTED.findall(self.html)]
        self.elements = Elements(self.html)

    def table(self, name: str) -> dict:
        assert name in self.elements.tables, f"no table #{name} on {self.path.name}"
        return self.elements.tables[name]


def notebook(name: str) -> dict:
    return json.loads((ROOT / "chapters" / f"{name}.ipynb").read_text(encoding="utf-8"))


def cells(name: str, kind: str) -> list[str]:
    return ["".join(c["source"]) for c in notebook(name)["cells"] if c["cell_type"] == kind]


def glue_roles(name: str) -> list[str]:
    """The key of every {glue:text} role of a chapter, in page order (values are glued as text, no spec)."""
    roles = []
    for text in cells(name, "markdown"):
        for content in GLUE_TEXT.findall(text):
            assert ":" not in content.split("::")[-1], f"{name}: {content!r} has a format spec; format in cmprehab.results"
            roles.append(content.split("::")[-1])
    return roles


def glued(site: Site, name: str) -> list[tuple[str, str]]:
    """(key, text on the page) for every {glue:text} role of a chapter."""
    roles, page = glue_roles(name), site.page(name)
    assert len(roles) == len(page.pasted), (
        f"{name}: {len(roles)} {{glue:text}} roles in the notebook but {len(page.pasted)} pasted values on the page")
    return list(zip(roles, page.pasted))


def check_glued(site: Site, name: str, required: set[str]) -> dict[str, str]:
    """Every glued value of chapter `name` reads as cmprehab.results gives it for the site's data."""
    expected = site.results(name)
    seen, wrong = {}, []
    for key, text in glued(site, name):
        if key in expected:
            seen[key] = text
            if text != expected[key].text:
                wrong.append(f"{key} shows {text!r}, package gives {expected[key].text!r}")
    assert not wrong, f"{site.label} build, {name}: " + "; ".join(wrong)
    assert required <= set(seen), f"{name}: keys not glued on the page: {sorted(required - set(seen))}"
    return seen


def mcid_keys(times=("discharge", "1y"), stats=("",)) -> set[str]:
    return {f"mcid_{stem}_{time}{stat}" for stem in INSTRUMENTS for time in times for stat in stats}


def chapter_number(name: str) -> int:
    """The section number Sphinx gives a chapter: its place in the numbered part of _toc.yml."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    for part in toc.get("parts", []):
        files = [Path(c["file"]).with_suffix("").as_posix() for c in part.get("chapters", [])]
        if part.get("numbered") and f"chapters/{name}" in files:
            return files.index(f"chapters/{name}") + 1
    raise AssertionError(f"{name} is not in a numbered part of _toc.yml")


# --- glued numbers --------------------------------------------------------------------

@pytest.mark.parametrize("name, required", [
    ("00_overview", {"n_patients", "n_1y"} | mcid_keys(times=("1y",))),
    ("05_outcomes", {"n_patients", "n_discharge", "n_1y"} | mcid_keys(stats=("", "_k", "_n"))),
    ("03_baseline", {"n_patients", "women_pct", "age_range"}),
    ("02_methods", {"n_patients", "data_description", "data_sha"}),
    ("04_interventions", {"first_pct", "sessions_median"}),
    ("10_conclusions", {"n_1y", "about_half"}),
])
def test_glued_numbers_are_the_package_results(site, name, required):
    seen = check_glued(site, name, required)
    if "n_patients" in seen:
        assert seen["n_patients"] == str(len(site.cohort))


@pytest.mark.parametrize("name", sorted(PAGE_RESULTS))
def test_every_pasted_value_is_a_result_of_its_page(default_cohort, name):
    """Without a build: each {glue:text} role of a chapter names a value its results function gives."""
    roles = set(glue_roles(name))
    assert roles, f"{name}: no glued values"
    missing = roles - set(PAGE_RESULTS[name](default_cohort))
    assert not missing, f"{name} pastes values cmprehab.results does not give: {sorted(missing)}"


def test_the_other_cohort_gives_other_numbers(default_site, other_site):
    """The second build follows its data file: 300 patients and its own MCID shares."""
    assert len(other_site.cohort) == OTHER_N
    assert dict(glued(other_site, "05_outcomes"))["n_patients"] == str(OTHER_N)
    keys = sorted(mcid_keys(stats=("", "_k", "_n")))

    def shown(s: Site) -> dict[str, str]:
        return {key: text for key, text in glued(s, "05_outcomes") if key in keys}

    default, other = shown(default_site), shown(other_site)
    assert set(default) == set(other) == set(keys)
    assert default != other, "the MCID results on the page did not change with the data file"
    assert default_site.fingerprint.sha256 != other_site.fingerprint.sha256


def test_audit_counts_are_the_package_audit(site):
    counts = site.audit["status"].value_counts()
    expected = {"n_match", "n_differ", "n_assumed", "n_reported", "n_targets"}
    seen = check_glued(site, "09_audit", expected)
    assert seen["n_targets"] == str(len(site.audit))
    assert seen["n_match"] == str(int(counts.get(reproduction.STATUS_MATCH, 0)))
    if site.label == "default":
        assert seen["n_differ"] == "0", "the committed synthetic cohort must reproduce every published number"
    # The audit tables (one or more, #tbl-audit...) show one status per target, as the package finds.
    audit_tables = [t for name, t in site.page("09_audit").elements.tables.items() if name.startswith("tbl-audit")]
    assert audit_tables, "no #tbl-audit... table on 09_audit"
    statuses = []
    for table in audit_tables:
        header, body = table["rows"][0], table["rows"][1:]
        statuses += [row[header.index("status")] for row in body]
    assert len(statuses) == len(site.audit)
    assert {s: statuses.count(s) for s in set(statuses)} == {s: int(n) for s, n in counts.items()}


# --- the results file and traced numbers ---------------------------------------------------


def results_file(site: Site) -> dict:
    path = site.root / "results.json"
    assert path.is_file(), f"{site.label} build wrote no results file at {path}"
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_results_file_holds_every_traced_number_as_shown(site):
    """Each pasted number carries its record (tooltip), and results.json holds the same record
    with the text the page shows; the file names the build's data and changed parameters."""
    written = results_file(site)
    assert written["format"] == "cmprehab-results/1"
    assert written["data"]["sha256"] == site.fingerprint.sha256
    assert (written["parameters_changed"] == "none") == (not site.set_values)
    rows = {(row["page"], row["name"]): row for row in written["results"]}
    assert len(rows) == len(written["results"]), "a (page, name) pair appears twice in results.json"
    problems, traced = [], 0
    for name in PAGE_RESULTS:
        page = site.page(name)
        found = TRACED.findall(page.html)
        # Every {glue:text} value is traced; the tooltip names the value pasted in the role's place.
        assert [key for _, _, key in found] == glue_roles(name), f"{site.label}, {name}: untraced or misnamed values"
        expected = site.results(name)
        for _, text, key in found:
            traced += 1
            row = rows.get((f"chapters/{name}", key))
            if row is None:
                problems.append(f"{name}: {key} is not in results.json")
            elif not (plain_quotes(strip_tags(text)) == plain_quotes(row["text"]) == plain_quotes(expected[key].text)):
                problems.append(f"{name}: {key} shows {text!r}, results.json says {row['text']!r}")
            elif not row["function"].startswith("cmprehab.report.results.") or not row["source"]:
                problems.append(f"{name}: {key} has no computing function or source: {row}")
    assert traced > 100 and not problems, "\n".join(problems)


def test_the_results_file_joins_the_published_numbers_and_the_audit(site):
    rows = [row for row in results_file(site)["results"] if row["published_key"]]
    status = dict(zip(site.audit["key"], site.audit["status"]))
    published = dict(zip(site.audit["key"], site.audit["published"]))
    assert {row["name"] for row in rows} >= {"n_patients", "mcid_nprs_1y", "sessions_median", "women_pct"}
    for row in rows:
        assert row["published"] == published[row["published_key"]], row
        assert row["audit_status"] == status[row["published_key"]], row
    if site.label == "default":
        assert {row["audit_status"] for row in rows} <= {reproduction.STATUS_MATCH, reproduction.STATUS_ASSUMED,
                                                        reproduction.STATUS_REPORTED}


def test_the_results_csv_is_the_json(default_site):
    import csv

    with (default_site.root / "results.csv").open(encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle))
    rows = results_file(default_site)["results"]
    assert [(r["page"], r["name"], r["text"]) for r in table] == [(r["page"], r["name"], r["text"]) for r in rows]


def test_comparing_two_builds_lists_the_numbers_a_changed_mcid_moved(default_site, changed_site, tmp_path,
                                                                      capsys):
    from cmprehab import compare

    old, new = default_site.root / "results.json", changed_site.root / "results.json"
    assert compare.main([str(old), str(old)]) == 0
    capsys.readouterr()
    assert compare.main([str(old), str(new), "--csv", str(tmp_path / "moved.csv")]) == 1
    printed = capsys.readouterr().out
    import csv

    with (tmp_path / "moved.csv").open(encoding="utf-8", newline="") as handle:
        moved = {(row["page"], row["name"]) for row in csv.DictReader(handle) if row["status"] == "changed"}
    # The NPRS threshold moved the NPRS shares on the outcomes page, and nothing about the DRI.
    assert ("chapters/05_outcomes", "mcid_nprs_1y") in moved and "mcid_nprs_1y" in printed
    assert ("chapters/05_outcomes", "mcid_dri_1y") not in moved


def test_interventions_table_is_the_package_table(site):
    expected = tables.interventions(site.cohort)
    rows = site.page("04_interventions").table("tbl-interventions")["rows"]
    header, body = rows[0], rows[1:]
    assert header[:4] == ["category", "n", "of", "%"]
    assert [r[0] for r in body] == list(config.INTERVENTIONS.values())
    assert [(r[1], r[2], r[3]) for r in body] == [
        (str(row.n), str(row.of), f"{row[3]:.1f}") for row in expected.itertuples(index=False)]


# --- the data notice ----------------------------------------------------------------------

def test_every_page_names_the_data_in_the_banner(site):
    fp = site.fingerprint
    assert fp.synthetic, f"{site.data} has no matching synthetic sidecar"
    assert fp.seed == (OTHER_SEED if site.label == "other" else config.DEFAULT_SEED)
    pages = site.pages()
    assert len(pages) >= len(list((ROOT / "chapters").glob("*.ipynb")))
    problems = []
    for path in pages:
        banners = re.findall(r'<div class="data-notice\b.*?</div>', path.read_text(encoding="utf-8"), re.DOTALL)
        if len(banners) != 1:
            problems.append(f"{path.name}: {len(banners)} data-notice banners")
            continue
        banner, text = banners[0], strip_tags(banners[0])
        if f'data-sha256="{fp.sha256}"' not in banner or fp.short not in text:
            problems.append(f"{path.name}: banner does not name SHA-256 {fp.short}: {text!r}")
        if f"seed {fp.seed}," not in text or f"n = {fp.n}" not in text:
            problems.append(f"{path.name}: banner does not name seed {fp.seed}, n = {fp.n}: {text!r}")
    assert not problems, "\n".join(problems)


def test_banner_sha_is_the_committed_file_hash(default_site):
    import hashlib

    digest = hashlib.sha256(config.DEFAULT_COHORT.read_bytes()).hexdigest()
    assert f"data SHA-256 {digest[:12]}" in strip_tags(default_site.page("00_overview").html)


# --- structure, accessibility, offline -------------------------------------------------------

@pytest.mark.parametrize("name", NUMBERED_PAGES)
def test_tables_and_figures_are_numbered(default_site, name):
    page, chapter = default_site.page(name), chapter_number(name)
    code = "\n".join(cells(name, "code"))
    table_names = re.findall(r"""show_table\([^"']*?["'](tbl-[a-z0-9-]+)["']""", code, re.DOTALL)
    figure_names = [c["metadata"]["mystnb"]["figure"]["name"] for c in notebook(name)["cells"]
                    if c.get("metadata", {}).get("mystnb", {}).get("figure")]
    assert table_names and figure_names, f"{name}: expected tables and figures"
    table_numbers = re.findall(r'<span class="caption-number">Table (\d+)\.(\d+)', page.html)
    figure_numbers = re.findall(r'<span class="caption-number">Fig\. (\d+)\.(\d+)', page.html)
    assert table_numbers == [(str(chapter), str(i)) for i in range(1, len(table_names) + 1)]
    assert figure_numbers == [(str(chapter), str(i)) for i in range(1, len(figure_names) + 1)]
    for label in table_names:
        assert page.table(label)["caption"].startswith(f"Table {chapter}."), label
    for label in figure_names:
        assert re.search(rf'<figure[^>]*id="{label}"', page.html), f"no figure #{label} on {name}"
    # In-text references resolve to the numbers, not to "??" or the raw label.
    assert "??" not in page.text and "{numref}" not in page.text


def test_every_chapter_image_has_alt_text(default_site):
    images = []
    for path in sorted((default_site.root / "chapters").glob("*.html")):
        images += [(path.name, img) for img in Page(path).elements.images]
    assert images, "no images in the chapters"
    missing = [(page, img.get("src")) for page, img in images if not img.get("alt", "").strip()]
    assert not missing, f"<img> without alt text: {missing}"
    alts = {img["alt"] for _, img in images}
    for name in NUMBERED_PAGES + ["00_overview"]:
        for cell in notebook(name)["cells"]:
            alt = cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt")
            if alt:
                assert alt in alts, f"{name}: the alt text of a figure cell is not on the page"


def test_no_page_loads_anything_from_the_network(default_site):
    remote = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
    found = [(path.relative_to(default_site.root).as_posix(), tag, url)
             for path in default_site.pages()
             for tag, url in Elements(path.read_text(encoding="utf-8")).resources if remote.match(url)]
    assert not found, f"remote <script src>/<link href>: {found}"


def test_no_error_output_on_any_page(site):
    found = [(path.name, marker) for path in site.pages()
             for marker in ERROR_MARKERS if marker in path.read_text(encoding="utf-8")]
    assert not found, f"error or stderr output in the book: {found}"


# --- a changed study parameter -----------------------------------------------------------

def audit_rows(site: Site) -> dict[str, dict]:
    """Every row of the audit tables by its label: {label: {column: cell}}."""
    found = {}
    for name, table in site.page("09_audit").elements.tables.items():
        if name.startswith("tbl-audit"):
            header = table["rows"][0]
            for row in table["rows"][1:]:
                found[row[0]] = dict(zip(header, row))
    return found


def test_a_changed_mcid_reaches_the_audit_with_its_reason(changed_site, default_site):
    rows = audit_rows(changed_site)
    discharge = rows["NPRS: reached MCID at discharge, %"]
    assert discharge["status"] == reproduction.STATUS_DIFF
    assert "mcid.nprs" in discharge["note"] and "1 points" in discharge["note"]
    assert discharge["computed"] != audit_rows(default_site)["NPRS: reached MCID at discharge, %"]["computed"]
    # What the parameter does not touch still matches.
    for section in ("baseline", "interventions"):
        table = changed_site.page("09_audit").table(f"tbl-audit-{section}")
        header = table["rows"][0]
        assert {row[header.index("status")] for row in table["rows"][1:]} == {reproduction.STATUS_MATCH}, section
    for measure in ("DRI", "EQ-VAS"):
        assert rows[f"{measure}: reached MCID at discharge, %"]["status"] == reproduction.STATUS_MATCH


def test_a_changed_mcid_is_named_on_every_page_and_in_the_methods(changed_site, default_site):
    for path in changed_site.pages():
        banner = re.findall(r'<div class="data-notice\b.*?</div>', path.read_text(encoding="utf-8"), re.DOTALL)
        assert banner and "mcid.nprs.threshold = 1 (default 2)" in strip_tags(banner[0]), path.name
    assert "Study parameters changed" not in strip_tags(default_site.page("00_overview").html)
    methods = plain_quotes(changed_site.page("02_methods").text)
    assert "a decrease of at least 1 points, set in this build's study parameters" in methods
    provenance_rows = changed_site.page("12_provenance").table("tbl-parameters")["rows"]
    assert ["mcid.nprs.threshold", "1", "2", "yes"] in provenance_rows


def test_a_changed_mcid_changes_the_outcome_shares(changed_site, default_site):
    changed, default = dict(glued(changed_site, "05_outcomes")), dict(glued(default_site, "05_outcomes"))
    assert changed["threshold_nprs"] == "1 points" and default["threshold_nprs"] == "2 points"
    assert changed["mcid_nprs_discharge"] != default["mcid_nprs_discharge"]
    assert changed["mcid_dri_discharge"] == default["mcid_dri_discharge"]
