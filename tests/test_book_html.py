"""The built book: every number a reader sees is the number the package computes.

Reads the two books of a test run (tests/books.py):

* "default":   the committed synthetic cohort under the default parameters (the book the
               browser tests and nbval read too);
* "perturbed": a copy of the default book's `_build/` built again on a small confidential
               cohort under another MCID: its pages must follow the new data file and the
               new parameters, not the executed results it was built over.

Then reads the HTML with BeautifulSoup and compares it with cmprehab.report (results,
tables, audit) and cmprehab.provenance. Glued numbers are checked where they sit: the n-th
`{glue:text}` role of a chapter's Markdown is the n-th `<span class="pasted-text ...">` of its
page, and reads as the text `cmprehab.results` gives for that name.
"""
from __future__ import annotations

import csv
import importlib
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pytest

from books import CHANGED, BuildFailed, default_book, perturbed_book, perturbed_data
from cmprehab import compare, config, params
from cmprehab.data.cohort import load_cohort
from cmprehab.instruments import INSTRUMENTS
from cmprehab.provenance import DataFingerprint, data_fingerprint
from cmprehab.report import audit as reproduction
from cmprehab.report import plain_language, results, sensitivity, tables
from site_html import Page, page_at, plain_quotes, site_pages, text_of

ROOT = config.ROOT
#: Pages whose figures and tables must be numbered ("Table N.M", "Fig. N.M").
NUMBERED_PAGES = ["03_baseline", "04_interventions", "05_outcomes", "06_follow_up", "07_sensitivity",
                  "08_predictors"]
GLUE_TEXT = re.compile(r"\{glue:text\}`([^`]+)`")
ERROR_MARKERS = ["output_error", "Traceback", "output stderr", "Error in cell"]
def overview_and_summary(cohort):
    """The landing page glues the overview and its plain summary."""
    return {**results.overview(cohort), **plain_language.summary(cohort)}


def with_anchors(page):
    """A page that also pastes the anchors of the MCIDs in force (`sensitivity.anchors_page`)."""
    return lambda cohort: {**page(cohort), **sensitivity.anchors_page()}


PAGE_RESULTS = {"00_overview": overview_and_summary, "01_aims": results.aims,
                "02_methods": with_anchors(results.methods),
                "03_baseline": results.baseline, "04_interventions": results.interventions,
                "05_outcomes": lambda cohort: {**results.outcomes(cohort), **sensitivity.outcome_results(cohort)},
                "06_follow_up": results.follow_up,
                "07_sensitivity": lambda cohort: {**results.sensitivity(cohort), **sensitivity.sensitivity_results(cohort)},
                "08_predictors": results.predictors, "09_audit": results.audit, "10_conclusions": results.conclusions,
                "glossary": with_anchors(results.glossary), "plain_language": plain_language.page_results}


@dataclass
class Site:
    """One build: its HTML folder and what the package computes from its data file."""

    label: str
    root: Path
    data: Path
    cohort: object = field(repr=False)
    fingerprint: DataFingerprint
    set_values: str = ""   # study parameters changed for this build ($CMPREHAB_SET)
    log: str = ""          # what the build printed

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

    def page(self, name: str) -> Page:
        return page_at(self.root / "chapters" / f"{name}.html")

    def pages(self) -> list[Path]:
        return site_pages(self.root)


@pytest.fixture(scope="module")
def default_site() -> Site:
    try:
        root = default_book() / "_build" / "html"
    except BuildFailed as failure:
        pytest.fail(str(failure), pytrace=False)
    return Site("default", root, config.DEFAULT_COHORT, load_cohort(config.DEFAULT_COHORT),
                data_fingerprint(config.DEFAULT_COHORT))


@pytest.fixture(scope="module")
def perturbed_site() -> Site:
    """The default book's _build/ built again on a confidential cohort under another MCID."""
    try:
        output, log = perturbed_book()
    except BuildFailed as failure:
        pytest.fail(str(failure), pytrace=False)
    data = perturbed_data()
    return Site("perturbed", output / "_build" / "html", data, load_cohort(data), data_fingerprint(data),
                set_values=CHANGED, log=log)


@pytest.fixture(scope="module", params=["default", "perturbed"])
def site(request) -> Site:
    return request.getfixturevalue(f"{request.param}_site")


# --- reading notebooks ---------------------------------------------------------------------

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
    number = dict(config.toc_pages()).get(f"chapters/{name}")
    assert number is not None, f"{name} is not in a numbered part of _toc.yml"
    return number


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


def test_the_perturbed_book_follows_its_data_and_parameters_not_the_results_it_was_built_over(
        default_site, perturbed_site):
    """Built over a copy of the default book's executed results: the build must have dropped them
    (the data and the parameters changed) and its pages show the new cohort's numbers."""
    assert ("executed results dropped (changed: cohort path, cohort sha256, cohort sidecar, study parameters)"
            in perturbed_site.log)
    assert len(perturbed_site.cohort) != len(default_site.cohort)
    assert dict(glued(perturbed_site, "05_outcomes"))["n_patients"] == str(len(perturbed_site.cohort))
    keys = sorted(mcid_keys(times=("discharge",), stats=("", "_k", "_n")))

    def shown(s: Site) -> dict[str, str]:
        return {key: text for key, text in glued(s, "05_outcomes") if key in keys}

    default, perturbed = shown(default_site), shown(perturbed_site)
    assert set(default) == set(perturbed) == set(keys)
    assert default != perturbed, "the MCID results on the page did not change with the data file"
    assert default_site.fingerprint.sha256 != perturbed_site.fingerprint.sha256


def test_audit_counts_are_the_package_audit(site):
    counts = site.audit["status"].value_counts()
    expected = {"n_match", "n_differ", "n_assumed", "n_reported", "n_targets"}
    seen = check_glued(site, "09_audit", expected)
    assert seen["n_targets"] == str(len(site.audit))
    assert seen["n_match"] == str(int(counts.get(reproduction.STATUS_MATCH, 0)))
    if site.label == "default":
        assert seen["n_differ"] == "0", "the committed synthetic cohort must reproduce every published number"
    # The audit tables (one or more, #tbl-audit...) show one status per target, as the package finds.
    audit_tables = [t for name, t in site.page("09_audit").tables.items() if name.startswith("tbl-audit")]
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


def computed_by_a_page_function(dotted: str) -> bool:
    """A page function of the report layer (results.py's, or a page module's such as
    plain_language.page_results) that exists: the tooltip's link to the API reference names it."""
    module, _, function = dotted.rpartition(".")
    if not module.startswith("cmprehab.report."):
        return False
    try:
        return callable(getattr(importlib.import_module(module), function, None))
    except ImportError:
        return False


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
        found = site.page(name).traced
        expected = site.results(name)
        # Every {glue:text} number is traced (the tooltip names the value pasted in the role's place);
        # words and sentences (names, the † footnote) are not: there is nothing to trace.
        numbers = [key for key in glue_roles(name) if expected[key].value is not None]
        assert [key for _, key in found] == numbers, f"{site.label}, {name}: untraced or misnamed values"
        for text, key in found:
            traced += 1
            row = rows.get((f"chapters/{name}", key))
            if row is None:
                problems.append(f"{name}: {key} is not in results.json")
            elif not (text == plain_quotes(row["text"]) == plain_quotes(expected[key].text)):
                problems.append(f"{name}: {key} shows {text!r}, results.json says {row['text']!r}")
            elif not (computed_by_a_page_function(row["function"]) and row["source"]):
                problems.append(f"{name}: {key} has no computing function or source: {row}")
    assert traced > 100 and not problems, "\n".join(problems)


def test_a_pages_text_leaves_out_scripts_styles_and_comments_and_a_page_is_read_again_when_it_changes(tmp_path):
    """What the page checks read as a page's text (site_html: BeautifulSoup's get_text, which they
    rely on to leave these out), and the per-process parse cache keyed by the file's state."""
    path = tmp_path / "page.html"
    path.write_text("<html><body><p>shown<script>var hidden = 1;</script></p><style>p {}</style>"
                    "<!-- a comment --><div>also shown</div></body></html>", encoding="utf-8")
    first = page_at(path)
    assert first.text == "shown also shown" and page_at(path) is first
    path.write_text("<html><body><p>changed, and longer</p></body></html>", encoding="utf-8")
    assert page_at(path).text == "changed, and longer"


def test_the_dagger_footnote_and_names_are_not_traced_numbers(default_site):
    """The † footnote is a sentence, a category's name a word: pasted as text, with no tooltip."""
    page = default_site.page("05_outcomes")
    traced_text = [text for text, _ in page.traced]
    assert traced_text and not [t for t in traced_text if t.startswith(results.DAGGER) or not re.search(r"\d", t)]
    assert results.UNPUBLISHED_NOTE in page.pasted, "the † footnote is not pasted on the outcomes page"


def test_a_tooltip_speaks_to_readers_first(default_site):
    """'Published: 45 %, reproduced.' or 'Not reported by the study; on this synthetic cohort the value
    comes from the generator.', then the function and source."""
    rows = {row["name"]: row for row in results_file(default_site)["results"] if row["page"] == "chapters/00_overview"}
    tips = {span.find("span", class_="trace").select_one(".trace-name").get_text(): span.find("span", class_="trace")
            for span in default_site.page("00_overview").soup.select("span.pasted-text.traced")}
    assert tips, "no traced number on the first page"
    for name, tip in tips.items():
        reader = tip.select_one(".trace-reader").get_text()
        row = rows[name]
        if row["audit_status"] == reproduction.STATUS_MATCH:
            assert reader.startswith("Published: ") and reader.endswith(", reproduced."), (name, reader)
        elif row["published"] is None or row["audit_status"] == reproduction.STATUS_ASSUMED:
            assert reader.startswith("Not reported by the study; on this synthetic cohort the value comes from "
                                     "the generator"), (name, reader)
        assert tip.get_text().index(reader) < tip.get_text().index("computed by"), tip.get_text()


def test_a_setting_is_not_called_a_result_of_the_generator(default_site):
    """m = 20 imputed data sets, the events-per-coefficient bar and k are rules of the analysis:
    their tooltips say so, not 'the value comes from the generator'."""
    tips = {span.find("span", class_="trace").select_one(".trace-name").get_text():
            span.select_one(".trace-reader").get_text()
            for span in default_site.page("02_methods").soup.select("span.pasted-text.traced")}
    for name in ("mi_m", "epv_min", "suppression_k"):
        assert tips[name].startswith("A setting of this book's analysis"), (name, tips[name])
    assert any(tip.startswith("Not reported by the study") or tip.startswith("Published: ") for tip in tips.values())


def test_cite_this_is_made_from_citation_cff(default_site):
    """The references page cites this report and the study as CITATION.cff gives them, and its
    BibTeX and RIS files (at the root of the site) hold both."""
    import yaml

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    study = cff["preferred-citation"]
    page = default_site.page("references")
    block = page.soup.select_one("#cite-this .cite-this")
    assert block is not None, "no Cite this block on the references page"
    text = " ".join(block.get_text(" ").split())
    assert cff["title"] in text and study["title"] in text and f"doi:{study['doi']}" in text, text
    links = {a["href"].rsplit("/", 1)[-1]: a["href"] for a in block.select("a[download]")}
    assert set(links) == {"citation.bib", "citation.ris"}, links
    bib = (default_site.root / "citation.bib").read_text(encoding="utf-8")
    ris = (default_site.root / "citation.ris").read_text(encoding="utf-8")
    assert f"doi = {{{study['doi']}}}" in bib and f"title = {{{cff['title']}}}" in bib and "@article{" in bib
    assert f"DO  - {study['doi']}" in ris and f"TI  - {study['title']}" in ris and ris.count("ER  - ") == 2
    for person in study["authors"]:
        assert f"AU  - {person['family-names']}, {person['given-names']}" in ris, person
    # Every page's footer links to the block.
    footers = [p for p in ("00_overview", "05_outcomes") if default_site.page(p).soup.select_one(
        '.cite-this-link a[href$="references.html#cite-this"]') is None]
    assert not footers, f"pages without a link to Cite this: {footers}"


def test_the_results_file_joins_the_published_numbers_and_the_audit(site):
    rows = [row for row in results_file(site)["results"] if row["published_key"]]
    status = dict(zip(site.audit["key"], site.audit["status"]))
    published = dict(zip(site.audit["key"], site.audit["published"]))
    # the 1-year shares were never published (STUDY.md): they carry no published key
    assert {row["name"] for row in rows} >= {"n_patients", "mcid_nprs_discharge", "sessions_median", "women_pct"}
    assert not [row for row in rows if row["name"].startswith("mcid_") and row["name"].endswith("_1y")]
    for row in rows:
        assert row["published"] == published[row["published_key"]], row
        assert row["audit_status"] == status[row["published_key"]], row
    if site.label == "default":
        assert {row["audit_status"] for row in rows} <= {reproduction.STATUS_MATCH, reproduction.STATUS_ASSUMED,
                                                        reproduction.STATUS_REPORTED}


def test_the_results_csv_is_the_json(default_site):
    with (default_site.root / "results.csv").open(encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle))
    rows = results_file(default_site)["results"]
    assert [(r["page"], r["name"], r["text"]) for r in table] == [(r["page"], r["name"], r["text"]) for r in rows]


def test_comparing_the_two_builds_names_what_differs(default_site, perturbed_site, tmp_path, capsys):
    old, new = default_site.root / "results.json", perturbed_site.root / "results.json"
    assert compare.main([str(old), str(old)]) == 0
    capsys.readouterr()
    assert compare.main([str(old), str(new), "--csv", str(tmp_path / "moved.csv")]) == 1
    printed = capsys.readouterr().out
    with (tmp_path / "moved.csv").open(encoding="utf-8", newline="") as handle:
        moved = {(row["page"], row["name"]) for row in csv.DictReader(handle) if row["status"] == "changed"}
    assert ("chapters/05_outcomes", "mcid_nprs_discharge") in moved and "mcid_nprs_discharge" in printed
    assert default_site.fingerprint.short in printed and perturbed_site.fingerprint.short in printed


def test_interventions_table_is_the_package_table(site):
    expected = tables.interventions(site.cohort)
    rows = site.page("04_interventions").table("tbl-interventions")["rows"]
    header, body = rows[0], rows[1:]
    assert header[:4] == ["category", "n", "of", "%"]
    assert [r[0] for r in body] == list(config.INTERVENTIONS.values())
    def shown(cell) -> str:  # a share to one decimal, or what disclosure control shows instead ("withheld")
        return cell if isinstance(cell, str) else f"{cell:.1f}"

    assert [(r[1], r[2], r[3]) for r in body] == [
        (str(row.n), str(row.of), shown(row[3])) for row in expected.itertuples(index=False)]


# --- the data notice ----------------------------------------------------------------------

def test_every_page_names_the_synthetic_data_in_the_banner(default_site):
    fp = default_site.fingerprint
    assert fp.synthetic, f"{default_site.data} has no matching synthetic sidecar"
    assert fp.seed == config.DEFAULT_SEED
    pages = default_site.pages()
    assert len(pages) >= len(list((ROOT / "chapters").glob("*.ipynb")))
    problems = []
    for path in pages:
        banners = page_at(path).notices
        if len(banners) != 1:
            problems.append(f"{path.name}: {len(banners)} data-notice banners")
            continue
        text = text_of(banners[0])
        if banners[0].get("data-sha256") != fp.sha256 or fp.short not in text:
            problems.append(f"{path.name}: banner does not name SHA-256 {fp.short}: {text!r}")
        if f"seed {fp.seed}," not in text or f"n = {fp.n}" not in text:
            problems.append(f"{path.name}: banner does not name seed {fp.seed}, n = {fp.n}: {text!r}")
    assert not problems, "\n".join(problems)


def test_banner_sha_is_the_committed_file_hash(default_site):
    import hashlib

    digest = hashlib.sha256(config.DEFAULT_COHORT.read_bytes()).hexdigest()
    assert f"data SHA-256 {digest[:12]}" in default_site.page("00_overview").text


# --- the API reference -----------------------------------------------------------------------

def api_pages(site: Site) -> dict[str, Page]:
    """The API reference's module pages (generated by autosummary), by module name."""
    return {path.stem: page_at(path) for path in sorted((site.root / config.API_PAGE).glob("*.html"))}


def test_every_module_has_its_api_page_with_every_public_function(default_site):
    """autosummary's recursion, not a list, decides what the reference holds: every module of the
    package has its page, and every public function (as autodoc documents them) its anchor there,
    the anchor the book's "computed by" and "Made by" links point at."""
    from test_api_reference import MODULES, public_functions

    pages = api_pages(default_site)
    missing = [name for name in MODULES if name not in pages]
    assert not missing, f"modules without a page in {config.API_PAGE}/: {missing}"
    without = [f"{name}.{function}" for name in MODULES
               for function in public_functions(importlib.import_module(name))
               if f"{name}.{function}" not in pages[name].anchors]
    assert not without, f"functions without their anchor on their module's page: {without}"


def ids_in(path: Path) -> set[str]:
    """The ids of an HTML file, read from its text (Sphinx writes every id as id="..."; the
    highlighted source pages are too large to parse for each link)."""
    import html

    return {html.unescape(found) for found in re.findall(r'\bid="([^"]*)"', path.read_text(encoding="utf-8"))}


def test_every_link_of_the_api_pages_resolves(default_site):
    """The browser visits a sample of the module pages (tests/test_browser.py); every link of every
    one of them, to a page of the site and its anchor, is checked here from the files."""
    from urllib.parse import unquote, urlsplit

    broken, checked, anchors = [], 0, {}
    for name, page in api_pages(default_site).items():
        for link in page.soup.select("article a[href]"):
            parts = urlsplit(link["href"])
            if parts.scheme or parts.netloc:
                continue
            checked += 1
            target = (page.path.parent / unquote(parts.path)).resolve() if parts.path else page.path
            if not target.is_file():
                broken.append(f"{name}: {link['href']} (no file)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in (
                    anchors.get(target) or anchors.setdefault(target, ids_in(target))):
                broken.append(f"{name}: {link['href']} (no such anchor)")
    assert checked > 500, f"only {checked} links on the API pages"
    assert not broken, f"{len(broken)} of {checked} links do not resolve:\n  " + "\n  ".join(broken[:20])


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


def test_every_table_and_figure_number_names_one_page(default_site):
    """Across the whole book (the PDF is made from the same numbering): a chapter's tables are N.M,
    the front page's 0.M and a Reference page's by its letter (Table B.2), never "Table 2", which
    reads as chapter 2's or the paper's Table 2 (tests/test_table_numbers.py)."""
    from test_table_numbers import caption_numbers, collisions, expected_prefixes

    prefixes = expected_prefixes(config.toc_pages())
    numbers = {}
    for path in default_site.pages():
        page = path.relative_to(default_site.root).with_suffix("").as_posix()
        if page in prefixes:
            numbers[page] = caption_numbers(path.read_text(encoding="utf-8"))
    assert numbers.get("chapters/11_data_dictionary") and numbers.get("chapters/12_provenance"), sorted(numbers)
    assert collisions(numbers, prefixes) == []


def test_the_alt_text_of_every_figure_cell_is_on_its_page(default_site):
    """The browser test checks that every image has alt text; this, that it is the notebook's own."""
    for name in NUMBERED_PAGES + ["00_overview"]:
        alts = {img.get("alt") for img in default_site.page(name).images}
        for cell in notebook(name)["cells"]:
            alt = cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt")
            if alt:
                assert alt in alts, f"{name}: the alt text of a figure cell is not on the page"


def test_no_error_output_on_any_page(site):
    found = [(path.name, marker) for path in site.pages()
             for marker in ERROR_MARKERS if marker in path.read_text(encoding="utf-8")]
    assert not found, f"error or stderr output in the book: {found}"


# --- a changed study parameter (the perturbed book) ---------------------------------------------

def audit_rows(site: Site) -> dict[str, dict]:
    """Every row of the audit tables by its label: {label: {column: cell}}."""
    found = {}
    for name, table in site.page("09_audit").tables.items():
        if name.startswith("tbl-audit"):
            header = table["rows"][0]
            for row in table["rows"][1:]:
                found[row[0]] = dict(zip(header, row))
    return found


def test_a_changed_mcid_reaches_the_audit_with_its_reason(perturbed_site):
    """(That nothing else differs under the changed MCID is checked on the committed cohort,
    without a build: tests/test_published.py.)"""
    discharge = audit_rows(perturbed_site)["NPRS: reached MCID at discharge, %"]
    assert discharge["status"] == reproduction.STATUS_DIFF
    assert "mcid.nprs" in discharge["note"] and "1 point " in discharge["note"]


def test_a_changed_mcid_is_named_on_every_page_and_in_the_methods(perturbed_site, default_site):
    for path in perturbed_site.pages():
        banners = page_at(path).notices
        assert banners and "mcid.nprs.threshold = 1 (default 2)" in text_of(banners[0]), path.name
    assert "Study parameters changed" not in default_site.page("00_overview").text
    methods = perturbed_site.page("02_methods").text
    assert ("a decrease of at least 1 point (Salaffi et al. 2004: minimal improvement" in methods
            and "set in this build's study parameters (default 2 points)" in methods)
    provenance_rows = perturbed_site.page("12_provenance").table("tbl-parameters")["rows"]
    assert ["mcid.nprs.threshold", "1", "2", "yes"] in provenance_rows


def test_a_changed_mcid_changes_the_threshold_the_outcomes_page_states(perturbed_site, default_site):
    changed, default = dict(glued(perturbed_site, "05_outcomes")), dict(glued(default_site, "05_outcomes"))
    assert changed["threshold_nprs"] == "1 point" and default["threshold_nprs"] == "2 points"


def test_made_by_lines_name_what_computed_not_the_settings_read(default_site):
    """A caption reads the confidence level with params.current(); that is not what made the table."""
    named = {name: [line.get_text(" ", strip=True) for line in default_site.page(name).soup.select(".cell-functions")]
             for name in PAGE_RESULTS}
    assert sum(map(len, named.values())) > 10, "no 'Made by' lines found"
    assert not {name: lines for name, lines in named.items() if any("params.current" in line for line in lines)}


# --- search: the reader's words for the patients lost to follow-up ------------------------------

#: What readers type for the patients lost to follow-up (issue 19): each must find the follow-up chapter.
LOST_TO_FOLLOW_UP_QUERIES = ["dropout", "drop-out", "lost to follow-up", "attrition"]
FOLLOW_UP_CHAPTER = "chapters/06_follow_up"
#: What sets an index entry that is not a main one ('!') below every page matched otherwise.
NOT_MAIN_ENTRY = 1000


def search_index(root: Path) -> dict:
    """The built searchindex.js, read as the JSON inside `Search.setIndex(...)`."""
    text = (root / "searchindex.js").read_text(encoding="utf-8").strip()
    prefix = "Search.setIndex("
    assert text.startswith(prefix) and text.endswith(")"), f"{root / 'searchindex.js'}: not Search.setIndex(...)"
    return json.loads(text[len(prefix):-1])


def search_scores(index: dict, query: str) -> dict[str, int]:
    """The pages Sphinx 7.4's searchtools.js lists for `query`, each with its best score, by its three
    ways of matching: every word of the query (split, stop words dropped and stemmed as the script
    does) in the page's text (5) or titles (15); the query inside a section title (up to 15) or inside
    an index entry (up to 100; one not marked main is listed last), when it is at least half of it.
    Partial word matches are left out:
    the page must hold the reader's word itself."""
    from sphinx.search.en import SearchEnglish

    english = SearchEnglish({})
    docnames, scores = index["docnames"], {}

    def hit(doc: int, score: int) -> None:
        scores[docnames[doc]] = max(score, scores.get(docnames[doc], 0))

    def docs(found) -> list[int]:
        return [] if found is None else [found] if isinstance(found, int) else list(found)

    words = {english.stem(word) for word in re.split(r"[^\w]+", query.lower())
             if word and word not in english.stopwords and not word.isdigit()}
    per_word = [{doc: 15 if doc in docs(index["titleterms"].get(word)) else 5
                 for doc in docs(index["terms"].get(word)) + docs(index["titleterms"].get(word))} for word in words]
    for doc in set.intersection(*(set(found) for found in per_word)) if per_word else ():
        hit(doc, max(found[doc] for found in per_word))
    wanted = query.lower().strip()
    for title, places in index["alltitles"].items():
        if wanted in title.lower() and len(wanted) >= len(title) / 2:
            for doc, _anchor in places:
                hit(doc, round(15 * len(wanted) / len(title)))
    for entry, places in index["indexentries"].items():
        if wanted in entry and len(wanted) >= len(entry) / 2:
            for doc, _anchor, main in places:
                # an entry not marked main ('!') is listed after every other match, whatever its score
                hit(doc, round(100 * len(wanted) / len(entry)) - (0 if main else NOT_MAIN_ENTRY))
    return scores


@pytest.mark.parametrize("query", LOST_TO_FOLLOW_UP_QUERIES)
def test_the_readers_words_for_loss_to_follow_up_find_the_follow_up_chapter_first(default_site, query):
    index = search_index(default_site.root)
    in_text = search_scores({**index, "alltitles": {}, "indexentries": {}}, query)
    assert FOLLOW_UP_CHAPTER in in_text, f"the follow-up chapter's text lacks a word of {query!r}"
    scores = search_scores(index, query)
    best = max(scores.values())
    assert scores[FOLLOW_UP_CHAPTER] == best, f"{query!r}: {sorted(scores.items(), key=lambda s: -s[1])[:5]}"
