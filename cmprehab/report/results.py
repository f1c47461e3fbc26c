"""The numbers the prose quotes: one function per page, every value as the text a reader sees.

A chapter calls its function once (``results.outcomes(cohort)``) and glues what it
returns (``book.glue_results``); its Markdown pastes each value with
``{glue:text}`name```. Formatting happens here, once, so that

* a count withheld by disclosure control reads "<5" or "withheld" wherever it is quoted;
* a value that cannot be computed (no patient with both values, a column with no
  value at all) reads "not available", never a traceback or "nan";
* the same quantity is taken from the same table function on every page.

Each `Result` keeps the computed value and the function that made it, for tests and
for a machine-readable results file.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from .. import markdown
from .. import params as study
from ..config import INTERVENTIONS, LOW_PAIN_MANAGEMENT_MAX
from ..analysis.derive import derive
from ..data import targets
from ..instruments import INSTRUMENTS
from ..analysis import predictors as predictors_analysis
from . import audit as audit_report
from . import disclosure, fidelity, tables
from . import follow_up as follow_up_report
from . import sensitivity as sensitivity_report
from . import who_benefits as who_benefits_report
from .disclosure import WITHHELD

NOT_AVAILABLE = "not available"


@dataclass(frozen=True)
class Result:
    """One quoted value: its name, the value computed (None if withheld or unavailable), its text.

    `markdown` results (only ever built from the project's own records, never from the data)
    may hold MyST roles such as citations; they are pasted with {glue:md}`name:myst`.
    """

    name: str
    value: object
    text: str
    source: str
    markdown: bool = False
    #: The page function that quoted it (``cmprehab.report.results.overview``).
    function: str = ""
    #: The key in data/published.csv of the number it quotes, where its name does not say (a ranked share).
    published_key: str = ""


def _missing(value) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, float) and math.isnan(value))


def _plain(value):
    """A Python number (glue and JSON need plain values, not numpy scalars)."""
    return value.item() if hasattr(value, "item") else value


#: Marks a value the publications never reported, when it comes from the synthetic cohort.
DAGGER = "†"
#: What the dagger means, wherever it is shown (glued as `unpublished_note`, added to captions).
UNPUBLISHED_NOTE = (f"{DAGGER} Not published by the study: on the synthetic cohort these values are invented "
                    "by the generator, not reproduced.")


class Page:
    """Collects the results of one page. On synthetic data, a value the publications never
    reported is marked with a dagger (`unpublished=True`), explained by the page's note."""

    def __init__(self, cohort: pd.DataFrame | None, function):
        self.results: dict[str, Result] = {}
        # The page function creating this page (overview, outcomes, ...), named in the results file.
        self.function = f"{function.__module__}.{function.__qualname__}"
        fingerprint = None if cohort is None else cohort.attrs.get("fingerprint")
        self.synthetic = bool(getattr(fingerprint, "synthetic", False))
        # Confidential data: the results file holds a value as the page shows it (its 16 digits could
        # give a withheld count back), and counts of patients are released (disclosure.released).
        self.policy = disclosure.SHOW_ALL if cohort is None else disclosure.policy(cohort)

    def mark(self, text: str, unpublished: bool) -> str:
        return f"{text}{DAGGER}" if unpublished and self.synthetic else text

    def unpublished_note(self) -> None:
        self.add("unpublished_note", None, UNPUBLISHED_NOTE if self.synthetic else "", "results.UNPUBLISHED_NOTE")

    def add(self, name: str, value, text: str, source: str, markdown: bool = False) -> None:
        if name in self.results:
            raise ValueError(f"result {name!r} defined twice")
        self.results[name] = Result(name, None if _missing(value) else _plain(value), text, source, markdown,
                                    self.function)

    def quotes(self, name: str, key: str) -> None:
        """Record that result `name` quotes the published number `key` (data/published.csv)."""
        self.results[name] = replace(self.results[name], published_key=key)

    def number(self, name: str, value, fmt: str, source: str, unit: str = "", unpublished: bool = False) -> None:
        """A number at `fmt`; a label ("<5", "withheld") passes through; NaN reads "not available"."""
        if isinstance(value, str):
            text = value
        elif _missing(value):
            text = NOT_AVAILABLE
        else:
            text = self.mark(f"{value:{fmt}}{unit}", unpublished)
            if self.policy.active:
                value = int(value) if fmt == "d" else float(f"{value:{fmt}}")
        self.add(name, value, text, source)

    def count(self, name: str, value, source: str, unpublished: bool = False) -> None:
        """A count of anything but patients (of tables, of published numbers, ...)."""
        self.number(name, value, "d", source, unpublished=unpublished)

    def patients(self, name: str, value, source: str, unpublished: bool = False) -> None:
        """A count of patients, as released (`disclosure.released`); a label passes through."""
        shown = value if isinstance(value, str) or _missing(value) else disclosure.released(value, self.policy)
        self.number(name, shown, "d", source, unpublished=unpublished)

    def pct(self, name: str, value, source: str, unpublished: bool = False) -> None:
        self.number(name, value, ".0f", source, unit=" %", unpublished=unpublished)

    def text(self, name: str, text: str, source: str) -> None:
        self.add(name, text, text, source)

    def share(self, name: str, row: dict, source: str, unpublished: bool = False) -> None:
        """A share with its confidence interval: "45 % (95 % CI 38–52 %)", or why it is not shown."""
        pct, low, high = row["%"], row["CI low"], row["CI high"]
        if isinstance(pct, str):
            text = f"{WITHHELD} (disclosure control)"
        elif _missing(pct):
            text = f"{NOT_AVAILABLE} (no patient with both values)"
        else:
            text = self.mark(f"{pct:.0f} %", unpublished) + f" ({study.current().ci_label} {low:.0f}–{high:.0f} %)"
            pct = float(f"{pct:.0f}") if self.policy.active else pct
        self.add(name, pct, text, source)


#: Results quoting a published number under another name (the others share the name of their
#: key in data/published.csv, or quote nothing published).
PUBLISHED_AS = {"n_patients": "cohort_n", "n_discharge": "discharge_n", "n_1y": "followup_n",
               "published_sessions": "sessions_median", "published_months": "program_months_median",
                "months_median": "program_months_median", "months_q1": "program_months_q1",
                "months_q3": "program_months_q3", "low_pm_pct": "low_pain_management_pct",
                **{f"mcid_{stem}_{time}": f"{stem}_mcid_{time}_pct" for stem in INSTRUMENTS
                   for time in ("discharge", "1y")}}


def published_key(name: str, keys) -> str | None:
    """The key in data/published.csv of the number a result quotes, if it quotes one."""
    key = PUBLISHED_AS.get(name, name)
    return key if key in keys else None


def records(results: dict[str, Result], audit_table: pd.DataFrame | None = None) -> list[dict]:
    """A page's results for the machine-readable results file (the build adds the page): each value
    with its text, the functions behind it and, where it quotes a published number, that number
    and its audit status."""
    published = targets.load_targets().set_index("key")
    status = {} if audit_table is None else dict(zip(audit_table["key"], audit_table["status"]))
    rows = []
    for result in results.values():
        key = result.published_key or published_key(result.name, published.index)
        # A row of data/published.csv that is this project's assumption (source X) was never published.
        assumed = key is not None and bool(published.at[key, "assumption"])
        row = {**asdict(result), "published_key": None if assumed else key,
               "published": None if key is None or assumed else float(published.at[key, "value"]),
               "audit_status": None if assumed else status.get(key)}
        rows.append(row)
    return rows


def _n_with_any(cohort: pd.DataFrame, time: str, policy) -> int | str:
    """Patients with at least one outcome value at `time` (or its disclosure label)."""
    n = int(cohort[[f"{stem}_{time}" for stem in INSTRUMENTS]].notna().any(axis=1).sum())
    return disclosure.shown(n, disclosure.protect_measured(n, len(cohort), policy))


def _range_of_shares(page: Page, prefix: str, shares: pd.Series, source: str, unpublished: bool) -> None:
    """Lowest and highest of several shares (those that could be shown)."""
    numbers = disclosure.numeric(shares).dropna()
    page.pct(f"{prefix}_min", float(numbers.min()) if len(numbers) else math.nan, source, unpublished)
    page.pct(f"{prefix}_max", float(numbers.max()) if len(numbers) else math.nan, source, unpublished)


def _program(page: Page, cohort: pd.DataFrame) -> None:
    program = tables.program(cohort)
    page.number("sessions_median", program.loc["Sessions", "median"], ".0f", "tables.program")
    page.number("program_months_median", program.loc["Program length, months", "median"], ".1f",
                "tables.program")


def _top_interventions(page: Page, cohort: pd.DataFrame, count: int) -> pd.DataFrame:
    table = tables.interventions(cohort)
    ranked = table.assign(share=disclosure.numeric(table["%"])).nlargest(count, "share")
    for rank, row in enumerate(ranked.to_dict("records"), start=1):
        page.text(f"top{rank}_name", row["category"].lower(), "tables.interventions")
        page.pct(f"top{rank}_pct", row["%"], "tables.interventions")
        page.quotes(f"top{rank}_pct", _intervention_key(row["category"]))
    return ranked


def _intervention_key(category: str) -> str:
    """The published share of an intervention category (data/published.csv), by its label."""
    column = {label: column for column, label in INTERVENTIONS.items()}[category]
    return f"{column}_pct"


def _all_patients(page: Page, cohort: pd.DataFrame) -> pd.DataFrame:
    """The 1-year share counted over all patients (non-responder, best case, weighted): ranges."""

    missing = follow_up_report.missing_data(cohort)
    for method, key in (("non-responder imputation", "nri"), ("best case", "best"),
                        ("inverse probability weighting", "ipw")):
        _share_range(page, f"{key}_range", missing[missing["method"] == method], "follow_up.missing_data")
    return missing


def overview(cohort: pd.DataFrame) -> dict[str, Result]:
    page, policy = Page(cohort, overview), disclosure.policy(cohort)
    page.patients("n_patients", len(cohort), "len(cohort)")
    _program(page, cohort)
    _top_interventions(page, cohort, 4)
    page.patients("n_1y", _n_with_any(cohort, "1y", policy), "results._n_with_any")
    one_year = tables.mcid(cohort)
    one_year = one_year[one_year["timepoint"] == "1y"]
    for row in one_year.to_dict("records"):
        page.share(f"mcid_{row['stem']}_1y", row, "tables.mcid", unpublished=True)
    _range_of_shares(page, "mcid_1y", one_year["%"], "tables.mcid", unpublished=True)
    _all_patients(page, cohort)
    page.unpublished_note()
    return page.results


def aims(cohort: pd.DataFrame) -> dict[str, Result]:
    page = Page(cohort, aims)
    page.patients("n_patients", len(cohort), "len(cohort)")
    _inclusion_years(page)
    return page.results


def _inclusion_years(page: Page) -> None:
    for key in ("inclusion_first_year", "inclusion_last_year"):
        page.number(key, targets.value(key), ".0f", "targets.value")


def methods(cohort: pd.DataFrame) -> dict[str, Result]:
    page, policy = Page(cohort, methods), disclosure.policy(cohort)
    fingerprint = cohort.attrs["fingerprint"]
    page.patients("n_patients", len(cohort), "len(cohort)")
    _inclusion_years(page)
    params = study.current()
    for stem, instrument in INSTRUMENTS.items():
        page.text(f"mcid_{stem}", params.mcid[stem].describe(instrument.unit), "params.mcid")
        rule = mcid_rule_markdown(stem, params)
        page.add(f"mcid_{stem}_rule", rule, rule, "results.mcid_rule_markdown", markdown=True)
        instrument_facts(page, stem)
    page.number("low_pm_max", LOW_PAIN_MANAGEMENT_MAX, "d", "LOW_PAIN_MANAGEMENT_MAX")
    page.number("confidence_pct", 100 * params.confidence, "g", "params.confidence")
    page.number("suppression_k", policy.k, "d", "params.disclosure")
    page.number("min_patients", params.disclosure.min_patients, "d", "params.disclosure")
    page.text("params_changes", params.describe_changes() or "none: every study parameter has its default value",
              "params.Params.describe_changes")
    page.text("data_description", fingerprint.description, "provenance.DataFingerprint")
    page.text("data_sha", fingerprint.short, "provenance.DataFingerprint")
    page.text("disclosure_policy", policy.describe(), "disclosure.Policy")
    return page.results


def instrument_facts(page: Page, stem: str) -> None:
    """What a page says of an instrument, from its record: name, construct, scale and direction."""
    instrument = INSTRUMENTS[stem]
    unit = f" {instrument.unit}" if instrument.unit == "mm" else ""
    page.text(f"{stem}_name", instrument.name, "instruments.INSTRUMENTS")
    page.text(f"{stem}_construct", instrument.construct, "instruments.INSTRUMENTS")
    page.text(f"{stem}_scale", f"from {instrument.lo:g} = {instrument.lo_means} to {instrument.hi:g}{unit} = "
                               f"{instrument.hi_means}", "instruments.INSTRUMENTS")
    page.text(f"{stem}_better", f"{instrument.better.capitalize()} is better", "instruments.INSTRUMENTS")


def glossary(cohort: pd.DataFrame | None = None) -> dict[str, Result]:
    """The instrument facts the glossary states, from the instrument records (the cohort is not used)."""
    page = Page(None, glossary)
    for stem in INSTRUMENTS:
        instrument_facts(page, stem)
    return page.results


def mcid_rule_markdown(stem: str, params) -> str:
    """The MCID in force, in words, with where it comes from and its citation (MyST), e.g.
    'a decrease of at least 2 points: the change rated "much improved" ... {cite:p}`farrar2001`'."""
    instrument, rule, default = INSTRUMENTS[stem], params.mcid[stem], study.DEFAULTS.mcid[stem]
    source, key = instrument.mcid_basis(rule.threshold, rule.definition)
    basis = f"{source} {{cite:p}}`{key}`" if key else source
    amount = (f"{rule.threshold:g} % of the start value" if rule.definition == "percent"
              else rule.describe(instrument.unit))
    said = f"a{'n' if instrument.improvement[0] in 'aeiou' else ''} {instrument.improvement} of at least {amount}"
    if rule == default:
        return f"{said} ({basis})"
    return f"{said} ({basis}), **set in this build's study parameters** (default {default.describe(instrument.unit)})"


def baseline(cohort: pd.DataFrame) -> dict[str, Result]:
    page, policy = Page(cohort, baseline), disclosure.policy(cohort)
    data = derive(cohort)
    page.patients("n_patients", len(cohort), "len(cohort)")
    sex = tables.variable_labels(data, "sex", policy)["female"]
    women = data["sex"].astype(object).eq("female").sum()
    page.pct("women_pct", disclosure.shown(disclosure.percent(women, len(data), policy), sex and WITHHELD),
             "tables.variable_labels")
    page.number("age_mean", data["age"].mean(), ".0f", "pandas mean")
    page.number("age_sd", data["age"].std(), ".1f", "pandas std")
    low, high, what = disclosure.value_range(data["age"], policy)
    page.text("age_range", f"{what} {low:.0f}–{high:.0f}", "disclosure.value_range")
    for column, fmt in (("pain_duration_years", ".1f"), ("nprs_start", "g"), ("dri_start", "g"),
                        ("eqvas_start", "g")):
        values = data[column]
        median = values.median() if not disclosure.too_few(int(values.notna().sum()), policy) else WITHHELD
        page.number(f"{column}_median", median, fmt, "pandas median")
    labels = tables.variable_labels(data, "low_pain_management", policy)
    low_pm = data["low_pain_management"].dropna()
    page.pct("low_pm_pct", disclosure.shown(disclosure.percent(int(low_pm.sum()), len(low_pm), page.policy),
                                            labels[1.0] and WITHHELD), "tables.variable_labels")
    valid = int(data["physically_active"].notna().sum())
    page.patients("active_valid", valid,
               "tables.variable_labels")
    return page.results


def interventions(cohort: pd.DataFrame) -> dict[str, Result]:
    page = Page(cohort, interventions)
    table = tables.interventions(cohort)
    first, last = table.iloc[0], table.iloc[-1]
    page.text("first_category", first["category"].lower(), "tables.interventions")
    page.pct("first_pct", first["%"], "tables.interventions")
    page.quotes("first_pct", _intervention_key(first["category"]))
    page.text("last_category", last["category"].lower(), "tables.interventions")
    page.pct("last_pct", last["%"], "tables.interventions")
    page.quotes("last_pct", _intervention_key(last["category"]))
    page.count("n_categories", len(table), "tables.interventions")
    program = tables.program(cohort)
    for name, row, fmt in (("sessions", "Sessions", ".0f"), ("months", "Program length, months", ".1f"),
                           ("categories", "Intervention categories received", ".0f")):
        for stat in ("median", "Q1", "Q3"):
            # Only the medians of sessions and program length were published.
            unpublished = name == "categories" or stat != "median"
            page.number(f"{name}_{stat.lower()}", program.loc[row, stat], fmt, "tables.program",
                        unpublished=unpublished)
    per_patient = tables.interventions_per_patient(cohort)
    _no_category(page, per_patient)
    four_or_more = per_patient[per_patient["categories received"] >= 4]
    # A sum of shares is itself withheld when any share in it is.
    withheld = any(isinstance(v, str) for v in four_or_more["%"])
    page.pct("four_or_more_pct", WITHHELD if withheld else float(four_or_more["%"].sum()),
             "tables.interventions_per_patient", unpublished=True)
    _poster_four(page, cohort)

    top = who_benefits_report.top_combinations(cohort, top=1)
    first = top.iloc[0]
    page.text("top_combination", first["combination"] if len(first["members"]) else NOT_AVAILABLE,
              "who_benefits.top_combinations")
    page.pct("top_combination_pct", first["%"] if len(first["members"]) else WITHHELD,
             "who_benefits.top_combinations", unpublished=True)
    page.unpublished_note()
    return page.results


def _no_category(page: Page, per_patient: pd.DataFrame) -> None:
    """Patients with none of the ten categories, and how many the publications allow: they give
    each category's share only, so up to 100 % minus the most common category's share may have none."""
    none = per_patient[per_patient["categories received"] == 0].iloc[0]
    page.patients("no_category_patients", none["patients"], "tables.interventions_per_patient", unpublished=True)
    # To one decimal, as the table gives it: one patient in 274 is 0.4 %, not "0 %".
    page.number("no_category_pct", none["%"], ".1f", "tables.interventions_per_patient", unit=" %",
                unpublished=True)
    published = {column: targets.value(f"{column}_pct") for column in INTERVENTIONS}
    top = max(published, key=published.get)
    page.text("published_top_category", INTERVENTIONS[top].lower(), "config.INTERVENTIONS")
    page.pct("published_top_pct", published[top], "targets.value")
    page.quotes("published_top_pct", f"{top}_pct")
    # A bound read off a published share, so not traced as a number (its tooltip would call it the
    # generator's); the sentence around it gives the share it comes from.
    page.text("no_category_possible_pct", f"{100 - published[top]:.0f} %", "targets.value")
    page.text("no_category_generator",
              "On this synthetic cohort the generator gives each category to its published share of the patients "
              "without requiring at least one category per patient, so this count is the generator's own."
              if page.synthetic else "On this build's data the count is the records' own.", "results.Page.synthetic")


def outcomes(cohort: pd.DataFrame) -> dict[str, Result]:
    page, policy = Page(cohort, outcomes), disclosure.policy(cohort)
    page.patients("n_patients", len(cohort), "len(cohort)")
    page.patients("n_discharge", _n_with_any(cohort, "discharge", policy), "results._n_with_any", unpublished=True)
    page.patients("n_1y", _n_with_any(cohort, "1y", policy), "results._n_with_any")
    params = study.current()
    for stem, instrument in INSTRUMENTS.items():
        page.text(f"threshold_{stem}", params.mcid[stem].describe(instrument.unit), "params.mcid")
    for row in tables.mcid(cohort).to_dict("records"):
        prefix = f"mcid_{row['stem']}_{row['timepoint']}"
        # Published: the discharge shares; not published: the 1-year shares and every count.
        page.share(prefix, row, "tables.mcid", unpublished=row["timepoint"] == "1y")
        page.patients(f"{prefix}_k", row["reached"], "tables.mcid", unpublished=True)
        page.patients(f"{prefix}_n", row["of"], "tables.mcid", unpublished=True)
    change = tables.change_tests(cohort)
    p_values = disclosure.numeric(change["p"]).dropna()
    alpha = 1 - params.confidence
    page.number("alpha_pct", round(100 * alpha, 6), "g", "params.confidence")
    if p_values.empty:
        verdict = "No change could be tested (no patient has both values)"
    elif len(p_values) < len(change):
        verdict = "Not every change could be tested or shown; of those shown, " + (
            "every one is" if (p_values < alpha).all() else "not every one is") + \
            " statistically significant"
    elif (p_values < alpha).all():
        verdict = "Every change is statistically significant"
    else:
        verdict = "Not every change is statistically significant"
    page.text("change_verdict", verdict, "tables.change_tests")
    # "p < 0.0001" or "p = 0.03": the sentence reads "(largest p < 0.0001)", never "p = 6.5e-16".
    largest = p_values.max() if len(p_values) else math.nan
    page.add("p_max", largest, NOT_AVAILABLE if _missing(largest) else page.mark(
        "p " + (text if (text := markdown.p_text(largest)).startswith("<") else f"= {text}"), True),
        "tables.change_tests")
    r = disclosure.numeric(change["rank-biserial r"]).abs().dropna()
    page.number("r_abs_min", r.min() if len(r) else math.nan, ".2f", "tables.change_tests", unpublished=True)
    page.number("r_abs_max", r.max() if len(r) else math.nan, ".2f", "tables.change_tests", unpublished=True)
    page.unpublished_note()
    return page.results


def audit(cohort: pd.DataFrame) -> dict[str, Result]:
    page = Page(cohort, audit)
    table = audit_report.audit(cohort)
    counts = table["status"].value_counts()
    for status, name in ((audit_report.STATUS_MATCH, "n_match"), (audit_report.STATUS_DIFF, "n_differ"),
                         (audit_report.STATUS_ASSUMED, "n_assumed"), (audit_report.STATUS_REPORTED, "n_reported"),
                         (audit_report.STATUS_WITHHELD, "n_withheld")):
        page.count(name, int(counts.get(status, 0)), "audit.audit")
    page.count("n_targets", len(table), "audit.audit")
    page.count("n_follow_on", int(counts.get(audit_report.STATUS_FOLLOW_ON, 0)), "audit.audit")
    page.text("fidelity_summary", _fidelity_summary(cohort), "fidelity.fidelity_report")
    checked = table[table["section"].isin(["baseline", "interventions"])]
    page.count("n_checked_baseline", len(checked), "audit.audit")
    page.count("n_match_baseline", int((checked["status"] == audit_report.STATUS_MATCH).sum()), "audit.audit")
    page.text("reproduction_summary", _reproduction_summary(cohort, counts) if page.synthetic else
              "This build does not run on the synthetic cohort: the audit above sets the data's own numbers beside "
              "the published ones.",
              "audit.audit, who_benefits.beside_published")
    return page.results


def _reproduction_summary(cohort: pd.DataFrame, counts: pd.Series) -> str:
    """How much of the publications the synthetic cohort reproduces: the audit's matches, and the
    follow-on risk ratios, approximated with stand-ins (the one furthest from its published value)."""
    matched, differ = int(counts.get(audit_report.STATUS_MATCH, 0)), int(counts.get(audit_report.STATUS_DIFF, 0))
    text = (f"The synthetic cohort matches {matched} of the {matched + differ} published numbers the audit computes "
            f"from the data ({differ} differ).")
    beside = who_benefits_report.beside_published(cohort)
    estimated = beside[disclosure.numeric(beside["RR"]).notna()]
    if len(estimated):
        published_rr = estimated["published RR (95 % CI)"].str.split(" ").str[0].astype(float)
        furthest = estimated.iloc[int((np.log(estimated["RR"].astype(float)) - np.log(published_rr)).abs().argmax())]
        text += (" The follow-on paper's risk ratios are approximated, not reproduced: each is expressed with a "
                 f"stand-in outcome, and the furthest from its published value is {furthest['RR']:.2f} "
                 f"({furthest['CI low']:.2f}–{furthest['CI high']:.2f}) against the published "
                 f"{furthest['published RR (95 % CI)']} ({furthest['predictor (reference)'].lower()}).")
    return text


def _fidelity_summary(cohort: pd.DataFrame) -> str:

    if not fidelity.applies(cohort):
        return ("This build does not run on the generator's synthetic cohort, so its fidelity report does not "
                "apply: the numbers on these pages are the data's own.")
    met = fidelity.fidelity_report(cohort)["met"]
    expressible = met.dropna()
    return (f"On this synthetic cohort {int(expressible.sum())} of {len(expressible)} calibration targets are met; "
            f"{int(met.isna().sum())} published results cannot be expressed on this schema.")


def conclusions(cohort: pd.DataFrame) -> dict[str, Result]:
    page, policy = Page(cohort, conclusions), disclosure.policy(cohort)
    page.number("published_sessions", targets.value("sessions_median"), ".0f", "targets.value")
    page.number("published_months", targets.value("program_months_median"), ".0f", "targets.value")
    page.patients("n_patients", len(cohort), "len(cohort)")
    _program(page, cohort)
    page.patients("n_1y", _n_with_any(cohort, "1y", policy), "results._n_with_any")
    top = _top_interventions(Page(cohort, conclusions), cohort, 4)["category"].str.lower().tolist()
    page.text("most_used", ", ".join(top[:-1]) + " and " + top[-1], "tables.interventions")
    one_year = tables.mcid(cohort)
    one_year = one_year[one_year["timepoint"] == "1y"]
    _range_of_shares(page, "mcid_1y", one_year["%"], "tables.mcid", unpublished=True)
    bounds = pd.DataFrame({c: disclosure.numeric(one_year[c]) for c in ("CI low", "CI high")}).dropna()
    page.text("about_half", tables.describe_share(list(bounds.itertuples(index=False, name=None))),
              "tables.describe_share")
    missing = _all_patients(page, cohort)
    weighted = missing[missing["method"] == "inverse probability weighting"]
    weighted = pd.DataFrame({c: disclosure.numeric(weighted[c]) for c in ("CI low", "CI high")}).dropna()
    all_patients = tables.describe_share(list(weighted.itertuples(index=False, name=None))).replace(
        "patients measured", "patients, weighted for who was lost")
    # The verdict is quoted again only where weighting changes it (the same sentence twice says nothing).
    page.text("about_half_all", "with the same verdict"
              if all_patients == page.results["about_half"].text else all_patients, "tables.describe_share")

    page.count("n_imbalanced", len(follow_up_report.imbalanced(follow_up_report.attrition(cohort))), "follow_up.imbalanced",
               unpublished=True)
    _poster_four(page, cohort)
    _limitations(page, cohort)
    page.unpublished_note()
    return page.results


def _limitations(page: Page, cohort: pd.DataFrame) -> None:
    """The numbers the limitations are written from."""

    measured, everyone = page.results["n_1y"].value, page.results["n_patients"].value  # as released
    page.pct("lost_pct", 100 * (everyone - measured) / everyone if isinstance(measured, int) else WITHHELD,
             "results._n_with_any")
    oldham = who_benefits_report.oldham(cohort)
    values = disclosure.numeric(oldham["r"]).dropna()
    page.text("oldham_range", (page.mark(f"{values.min():.2f} to {values.max():.2f}", True) if len(values)
                               else NOT_AVAILABLE), "who_benefits.oldham")
    page.count("oldham_excluding_zero", int(sum(isinstance(lo, float) and (lo > 0 or hi < 0) for lo, hi in
                                                zip(oldham["CI low"], oldham["CI high"]))),
               "who_benefits.oldham", unpublished=True)
    page.text("generator_relation", "On the synthetic cohort this relation is the generator's: it was built in, "
              "not observed." if page.synthetic else "This relation is the data's own.", "results.Page.synthetic")
    literature = sensitivity_report.literature(cohort)
    nprs_1y = literature[(literature["measure"] == "NPRS") & (literature["time"] == "1 year")]
    _share_range(page, "literature_nprs_range", nprs_1y, "sensitivity.literature")
    page.text("literature_nprs_anchors", sensitivity_report.anchors_of(nprs_1y), "sensitivity.anchors_of")
    page.patients("n_discharge", _n_with_any(cohort, "discharge", disclosure.policy(cohort)), "results._n_with_any",
                  unpublished=True)
    discharge = page.results["n_discharge"].value
    page.patients("no_discharge", everyone - discharge if isinstance(discharge, int) else WITHHELD,
                  "results._n_with_any", unpublished=True)
    params = study.current()
    univariable = who_benefits_report.risk_ratios(cohort, params)
    adjusted = who_benefits_report.risk_ratios(cohort, params, model=predictors_analysis.MODEL_ADJUSTED)
    _multiplicity(page, univariable, adjusted)
    beside = who_benefits_report.beside_published(cohort, params)
    page.count("published_expressible", int((beside["stand-in outcome"] != "not expressible").sum()),
               "who_benefits.beside_published")
    page.count("published_total", len(beside), "who_benefits.beside_published")
    page.text("mcid_vs_sdc", _mcid_vs_sdc(params), "instruments.INSTRUMENTS")


def _mcid_vs_sdc(params) -> str:
    """Each measure's MCID beside its smallest detectable change from the literature, where one is known."""
    known, unknown = [], []
    for stem, instrument in INSTRUMENTS.items():
        sdc = getattr(instrument, "detectable", None)
        rule = params.mcid[stem]
        if sdc is None:
            unknown.append(instrument.short)
            continue
        unit = instrument.unit
        relation = ("larger than" if rule.definition == "absolute" and rule.threshold > sdc.value else
                    "equal to" if rule.definition == "absolute" and rule.threshold == sdc.value else
                    "not larger than" if rule.definition == "absolute" else "not comparable in units with")
        known.append(f"the {instrument.short} MCID in force ({rule.describe(unit)}) is {relation} its smallest "
                     f"detectable change ({sdc.value:g} {unit}; {sdc.source})")
    text = "; ".join(known) if known else "no smallest detectable change was found for any measure"
    if known and unknown:
        text += f"; for {_in_words(unknown)} none was found, so it is unknown how much of their MCID is noise"
    return text


def _share_range(page: Page, name: str, table: pd.DataFrame, source: str, unpublished: bool = True) -> None:
    """'28–38 %': lowest and highest share of several rows (those shown), or why there is none."""
    shares = disclosure.numeric(table["%"]).dropna()
    if shares.empty:
        page.add(name, None, NOT_AVAILABLE, source)
        return
    low, high = float(shares.min()), float(shares.max())
    text = f"{low:.0f} %" if round(low) == round(high) else f"{low:.0f}–{high:.0f} %"
    page.add(name, low, page.mark(text, unpublished), source)


def follow_up(cohort: pd.DataFrame) -> dict[str, Result]:
    """The follow-up chapter: flow, attrition, the 1-year share under four ways of counting the lost."""
    page = Page(cohort, follow_up)
    params = study.current()
    page.patients("n_patients", len(cohort), "len(cohort)")
    flow = follow_up_report.flow(cohort).set_index("stem").loc["any"]
    page.patients("n_discharge", flow["discharge"], "follow_up.flow", unpublished=True)
    page.patients("n_1y", flow["one_year"], "follow_up.flow")
    page.patients("n_lost_1y", flow["not_one_year"], "follow_up.flow")
    page.patients("n_1y_not_discharge", flow["one_year_only"], "follow_up.flow", unpublished=True)
    page.number("smd_flag", params.follow_up.smd_flag, "g", "params.follow_up")
    flagged = follow_up_report.imbalanced(follow_up_report.attrition(cohort), params)
    page.text("imbalanced", follow_up_report.imbalanced_text(flagged, page.mark), "follow_up.imbalanced")
    page.count("n_imbalanced", len(flagged), "follow_up.imbalanced", unpublished=True)
    missing = follow_up_report.missing_data(cohort, params)
    for method, key in (("complete cases", "cc"), ("non-responder imputation", "nri"), ("best case", "best"),
                        ("inverse probability weighting", "ipw")):
        rows = missing[missing["method"] == method]
        _share_range(page, f"{key}_range", rows, "follow_up.missing_data")
        for row in rows.to_dict("records"):
            stem = next(s for s, i in INSTRUMENTS.items() if i.short == row["measure"])
            page.share(f"{key}_{stem}", row, "follow_up.missing_data", unpublished=True)
    page.text("ipw_model", follow_up_report.model_note(cohort, params), "follow_up.model_note")
    follow_up_report.quote(page, cohort, params)  # imputation, tipping point, the weights' diagnostics
    page.unpublished_note()
    return page.results


def sensitivity(cohort: pd.DataFrame) -> dict[str, Result]:
    """The sensitivity chapter: the share across literature thresholds, transitions, paired change."""

    page = Page(cohort, sensitivity)
    page.text("ci_level", f"{100 * study.current().confidence:g} %", "params.confidence")
    literature = sensitivity_report.literature(cohort)
    for stem, instrument in INSTRUMENTS.items():
        rows = literature[(literature["measure"] == instrument.short) & (literature["time"] == "1 year")]
        _share_range(page, f"literature_{stem}_1y", rows, "sensitivity.literature")
        page.count(f"literature_{stem}_count", len(rows), "instruments.INSTRUMENTS", unpublished=False)
    transitions = sensitivity_report.transitions(cohort)
    for stem, instrument in INSTRUMENTS.items():
        rows = transitions[transitions["measure"] == instrument.short].set_index("pattern")
        kept, lost = rows.loc["kept", "patients"], rows.loc["lost", "patients"]
        value = (100 * kept / (kept + lost) if not isinstance(kept, str) and not isinstance(lost, str)
                 and kept + lost else (WITHHELD if isinstance(kept, str) or isinstance(lost, str) else math.nan))
        page.pct(f"kept_{stem}", value, "sensitivity.transitions", unpublished=True)
    paired = sensitivity_report.paired(cohort)
    for row in paired[paired["time"] == "1 year"].to_dict("records"):
        stem = next(s for s, i in INSTRUMENTS.items() if i.short == row["measure"])
        unit = INSTRUMENTS[stem].unit
        if any(isinstance(row[k], str) for k in ("HL estimate", "HL low", "HL high")):
            text = f"{WITHHELD} (disclosure control)"
        elif any(pd.isna(row[k]) for k in ("HL estimate", "HL low", "HL high")):
            text = NOT_AVAILABLE
        else:
            text = page.mark(f"{row['HL estimate']:+g} {unit}", True) + (
                f" ({study.current().ci_label} {row['HL low']:+g} to {row['HL high']:+g})")
        page.add(f"hl_{stem}_1y", None if isinstance(row["HL estimate"], str) else row["HL estimate"], text,
                 "sensitivity.paired")
    page.unpublished_note()
    return page.results


def predictors(cohort: pd.DataFrame) -> dict[str, Result]:
    """The predictors chapter: how many patients the models use, and the comparison with the
    follow-on paper's published risk ratios."""

    page, params = Page(cohort, predictors), study.current()
    univariable = who_benefits_report.risk_ratios(cohort, params)
    adjusted = who_benefits_report.risk_ratios(cohort, params, model=predictors_analysis.MODEL_ADJUSTED)
    for name, table in (("univariable", univariable), ("adjusted", adjusted)):
        patients = disclosure.numeric(table["patients"]).dropna()
        page.patients(f"{name}_patients_max", int(patients.max()) if len(patients) else WITHHELD,
                   "who_benefits.risk_ratios", unpublished=True)
    page.count("adjusted_predictors", len(params.predictors.adjusted_for), "params.predictors")
    page.count("candidate_predictors", len(predictors_analysis.PREDICTORS), "analysis.predictors.PREDICTORS")
    page.count("n_outcomes", len(INSTRUMENTS), "instruments.INSTRUMENTS")
    _predictor_coding(page)
    beside = who_benefits_report.beside_published(cohort, params)
    expressible = beside[beside["stand-in outcome"] != "not expressible"]
    inside = expressible["inside the published CI"]
    page.count("published_expressible", len(expressible), "who_benefits.beside_published")
    page.count("published_total", len(beside), "who_benefits.beside_published")
    page.count("published_inside", int((inside == "yes").sum()) if not (inside == WITHHELD).any() else WITHHELD,
               "who_benefits.beside_published", unpublished=True)
    published = targets.risk_ratios()
    page.count("published_reaching_one", sum(1.0 in (round(r.low, 2), round(r.high, 2)) for r in published),
               "targets.risk_ratios")
    page.count("follow_on_candidates", int(targets.value("follow_on_candidates")), "targets.value")
    page.count("follow_on_significant", int(targets.value("follow_on_significant")), "targets.value")
    _adjusted_model(page, cohort, params)
    _multiplicity(page, univariable, adjusted)
    page.pct("anxiety_depression_pct", tables_share(cohort, "anxiety_depression"), "results.tables_share")
    page.pct("anxiety_depression_published", targets.value("anxiety_depression_pct"), "targets.value")
    page.quotes("anxiety_depression_published", "anxiety_depression_pct")
    page.count("anxiety_depression_published_n", int(targets.value("anxiety_depression_n")), "targets.value")
    page.quotes("anxiety_depression_published_n", "anxiety_depression_n")
    page.text("anxiety_depression_agreement",
              "the synthetic cohort was generated to reproduce that share, so the two agree by construction, "
              "not as a check of the cut-off" if page.synthetic else
              "this build's data are counted with the cut-off above", "results.Page.synthetic")
    page.text("generator_estimates", "On this synthetic cohort every estimate marked † was made by the generator: "
              "it describes how the generator was written, not the patients. Only the risk ratios of the follow-on "
              "paper's stand-ins (the unmarked ones) were calibrated to published numbers." if page.synthetic else
              "On this build's data every estimate is the data's own: no generator made any of them.",
              "results.Page.synthetic")
    page.unpublished_note()
    return page.results


def _predictor_coding(page: Page) -> None:
    """The steps and cut-points of the predictors as the models code them (analysis.predictors),
    so that the Method's prose follows a changed constant. Each source names its constant: a
    reader's tooltip then says it is a rule of the code, not a value from the data."""
    def source(constant: str) -> str:
        return f"analysis.predictors.{constant}"

    def unit(value: float, singular: str) -> str:
        return f" {singular}" if value == 1 else f" {singular}s"

    age = predictors_analysis.AGE_STEP
    page.number("age_step", age, "g", source("AGE_STEP"), unit=unit(age, "year"))
    page.number("bmi_step", predictors_analysis.BMI_STEP, "g", source("BMI_STEP"), unit=" kg/m²")
    page.number("mm_step", predictors_analysis.MM_STEP, "g", source("MM_STEP"), unit=" mm")
    for name, constant in (("short_pain", "SHORT_PAIN_YEARS"), ("long_pain", "LONG_PAIN_YEARS")):
        years = getattr(predictors_analysis, constant)
        page.number(name, years, "g", source(constant), unit=unit(years, "year"))
    page.number("severe_nprs", predictors_analysis.SEVERE_NPRS, "g", source("SEVERE_NPRS"))


def tables_share(cohort: pd.DataFrame, column: str) -> float | str:
    """The share of patients with a 0/1 characteristic (of those with a value), as released."""
    values = pd.to_numeric(cohort[column]).dropna()
    return disclosure.percent(int((values == 1).sum()), len(values), disclosure.policy(cohort))


def _in_words(values: list[str]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def _adjusted_model(page: Page, cohort: pd.DataFrame, params) -> None:
    """What the adjusted model can bear: events per coefficient, risks above 1, the log-binomial check."""
    check = who_benefits_report.adjusted_check(cohort, params)
    page.count("adjusted_coefficients", int(check["coefficients"].max()), "who_benefits.adjusted_check")
    epv = disclosure.numeric(check["events per coefficient"]).dropna()
    page.number("epv_min", epv.min() if len(epv) else math.nan, ".1f", "who_benefits.adjusted_check", unpublished=True)
    page.number("epv_max", epv.max() if len(epv) else math.nan, ".1f", "who_benefits.adjusted_check", unpublished=True)
    page.count("epv_rule", predictors_analysis.EVENTS_PER_COEFFICIENT_MIN,
               "analysis.predictors.EVENTS_PER_COEFFICIENT_MIN")  # a rule of the code (its tooltip says so)
    low = check[disclosure.numeric(check["events per coefficient"]) < predictors_analysis.EVENTS_PER_COEFFICIENT_MIN]
    page.text("epv_verdict", (f"below {predictors_analysis.EVENTS_PER_COEFFICIENT_MIN} for "
                              f"{_in_words(low['outcome'].tolist())}: read its adjusted estimates as unstable"
                              if len(low) else f"at least {predictors_analysis.EVENTS_PER_COEFFICIENT_MIN} for every "
                              "outcome"), "who_benefits.adjusted_check")
    above = [f"{page.mark(str(n), True)} ({outcome})" for outcome, n in
             zip(check["outcome"], check["predicted risk above 1 (patients)"]) if n != 0]
    page.text("risk_above_one", ("The adjusted model predicts a risk above 1 for " + _in_words(above)
                                 + " patients, a known limit of the log link: the risk ratios are still consistent, "
                                 "but those patients' fitted risks are impossible")
              if above else "The adjusted model predicts no risk above 1", "who_benefits.adjusted_check")
    converged = check[check["log-binomial fit"] == "converged"]
    difference = disclosure.numeric(converged["largest difference of log RR"]).dropna()
    if converged.empty:
        text = "did not converge inside the parameter space for any outcome, so no check was possible"
    else:
        largest = (page.mark(f"{100 * (math.exp(difference.max()) - 1):.0f} %", True) if len(difference)
                   else NOT_AVAILABLE)
        text = (f"converged for {_in_words(converged['outcome'].tolist())}, where its RRs differ from the modified "
                f"Poisson ones by at most {largest}")
        if len(converged) < len(check):
            text += ("; for " + _in_words(check.loc[check["log-binomial fit"] != "converged", "outcome"].tolist())
                     + " it did not converge inside the parameter space")
    page.text("log_binomial_check", text, "who_benefits.adjusted_check")


def _multiplicity(page: Page, univariable: pd.DataFrame, adjusted: pd.DataFrame) -> None:
    """How many tests the page runs, and how many stand after Benjamini-Hochberg, at the level
    1 - confidence of the study parameters (0.05 by default; the keys keep that name)."""
    alpha = 1 - study.current().confidence
    page.number("test_alpha", round(alpha, 6), "g", "params.confidence")
    page.number("test_alpha_pct", round(100 * alpha, 6), "g", "params.confidence", unit=" %")
    for name, table in (("univariable", univariable), ("adjusted", adjusted)):
        p, q = disclosure.numeric(table["p"]).dropna(), disclosure.numeric(table["q (BH)"]).dropna()
        page.count(f"{name}_tests", len(p), "who_benefits.risk_ratios")
        page.count(f"{name}_p05", int((p < alpha).sum()), "who_benefits.risk_ratios", unpublished=True)
        page.count(f"{name}_q05", int((q < alpha).sum()), "who_benefits.risk_ratios", unpublished=True)


def _poster_four(page: Page, cohort: pd.DataFrame) -> None:

    row = who_benefits_report.all_four(cohort)
    page.share("all_four", row, "who_benefits.all_four", unpublished=True)
