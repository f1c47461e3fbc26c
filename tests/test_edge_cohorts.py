"""Valid but awkward files: every table, figure and quoted value copes, in both disclosure modes.

The schema allows an optional column to be entirely empty and a cohort to be small;
a chapter must then say so in a sentence, never stop with a traceback. The perturbed test
book (tests/books.py: 40 patients, empty columns, no 1-year values) is such a file, built whole.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from cmprehab.instruments import INSTRUMENTS, TIMEPOINTS  # noqa: E402
from cmprehab import params  # noqa: E402
from cmprehab.report import audit as reproduction  # noqa: E402
from cmprehab.report import figures, follow_up, plain_language, results, sensitivity, tables, who_benefits  # noqa: E402

OUTCOME_COLUMNS = [f"{stem}_{time}" for stem in INSTRUMENTS for time in TIMEPOINTS]
RESULT_PAGES = [results.overview, results.aims, results.methods, results.baseline, results.interventions,
                results.outcomes, results.follow_up, results.sensitivity, results.predictors, results.audit,
                results.conclusions]


def empty(cohort: pd.DataFrame, *columns: str) -> pd.DataFrame:
    out = cohort.copy()
    for column in columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = pd.Categorical([None] * len(out), categories=out[column].cat.categories, ordered=True)
        else:
            out[column] = np.nan
    return out


EDGES = {
    # Every optional baseline column empty, and two categories nobody received: each breaks other
    # rows, tables and models, so one file covers them all (a failure names the page and result).
    "no physical activity, pain distribution, location or pain management; nobody received two categories":
        lambda c: empty(c, "physically_active", "pain_distribution", "main_pain_location",
                        "pain_management").assign(iv_act=0, iv_body_awareness=0),
    "no 1-year values": lambda c: empty(c, *[f"{s}_1y" for s in INSTRUMENTS]),
    "no discharge values": lambda c: empty(c, *[f"{s}_discharge" for s in INSTRUMENTS]),
    "no NPRS at all": lambda c: empty(c, *[f"nprs_{t}" for t in TIMEPOINTS]),
    "no outcome at all": lambda c: empty(c, *OUTCOME_COLUMNS),
    "the smallest allowed cohort": lambda c: c.iloc[:params.DEFAULTS.disclosure.min_patients].reset_index(drop=True),
}


@pytest.fixture(params=["synthetic", "real"])
def mode(request):
    return request.param


@pytest.fixture(params=list(EDGES))
def edge(request, default_cohort, mode):
    cohort = EDGES[request.param](default_cohort)
    if mode == "real":
        cohort.attrs = {**cohort.attrs, "fingerprint": _as_real(default_cohort.attrs["fingerprint"])}
    return cohort


def _as_real(fingerprint):
    from dataclasses import replace

    return replace(fingerprint, synthetic=False, seed=None, n=None)


def test_every_page_copes(edge):
    """Every quoted value has a text, every table builds and every figure draws (one test per
    file and mode: the pages share their computations)."""
    for page in RESULT_PAGES:
        for result in page(edge).values():
            if result.name == "unpublished_note":  # empty on real data: nothing there is invented
                continue
            assert result.text and "nan" not in result.text.lower().split(), (page.__name__, result)
    baseline = tables.baseline_table(edge)
    assert len(baseline) >= len(tables.BASELINE_ROWS)
    for make in (tables.interventions_per_patient, tables.program, tables.outcomes_over_time, tables.change_tests,
                 tables.follow_up, sensitivity.transitions, sensitivity.paired, who_benefits.cooccurrence,
                 who_benefits.top_combinations):
        make(edge)
    reproduction.formatted(reproduction.audit(edge))
    try:
        for fig in (figures.baseline_distributions(edge), figures.program(edge),
                    figures.interventions(tables.interventions(edge)), figures.mcid(tables.mcid(edge)),
                    figures.outcomes_over_time(tables.outcomes_over_time(edge)),
                    figures.at_a_glance(tables.mcid(edge), plain_language.published_discharge_shares()),
                    figures.participant_flow(follow_up.flow(edge)), figures.missing_data(follow_up.missing_data(edge)),
                    figures.threshold_curves(sensitivity.curves(edge), sensitivity.literature(edge)),
                    figures.trajectories(sensitivity.trajectories(edge)),
                    figures.cooccurrence(who_benefits.cooccurrence(edge), len(edge)),
                    figures.combinations(who_benefits.top_combinations(edge)),
                    figures.risk_ratios(who_benefits.risk_ratios(edge))):
            fig.canvas.draw()
    finally:
        plt.close("all")


def test_an_empty_column_is_named_as_such_in_the_baseline_table(default_cohort):
    frame = tables.baseline_table(empty(default_cohort, "physically_active"))
    row = frame[frame["Characteristic"].str.startswith("Physically active")].iloc[0]
    assert row.iloc[-1] == tables.NO_VALUES and row["Missing"] == len(default_cohort)


def test_no_one_year_values_read_as_not_available(default_cohort):
    quoted = results.overview(empty(default_cohort, *[f"{s}_1y" for s in INSTRUMENTS]))
    assert quoted["n_1y"].text == "0"
    assert quoted["mcid_nprs_1y"].text.startswith(results.NOT_AVAILABLE)
    assert quoted["mcid_1y_min"].text == results.NOT_AVAILABLE
