"""Disclosure control on confidential data, proved on small hand-made cohorts.

A cohort without the generator's fingerprint is real data: every count below k shows
as "<k", what could reveal it is withheld, and no single patient's value is shown.
The synthetic cohort shows everything.
"""
from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import attack  # noqa: E402
from cmprehab import config, params  # noqa: E402
from cmprehab.data import targets  # noqa: E402
from cmprehab.report import audit as reproduction, disclosure, figures, results, tables  # noqa: E402
from cmprehab.report.disclosure import MISSING, WITHHELD, Policy  # noqa: E402

K = params.DEFAULTS.disclosure.k
SMALL = f"<{K}"
ON = Policy(active=True)


@pytest.fixture
def real(default_cohort):
    """Thirty patients of the committed cohort, without its fingerprint: treated as real data."""
    cohort = default_cohort.iloc[:30].copy().reset_index(drop=True)
    cohort.attrs = {}
    return cohort


# --- the rule itself -------------------------------------------------------------------------

def test_a_cohort_without_fingerprint_is_treated_as_real(default_cohort, real):
    assert not disclosure.policy(default_cohort).active
    assert disclosure.policy(real).active and disclosure.policy(real).k == K


def test_small_counts_are_hidden_and_the_others_rounded():
    assert disclosure.protect({"a": 3, "b": 40, "c": 25}, ON) == {"a": SMALL, "b": None, "c": None}
    assert disclosure.protect({"a": 0, "b": 30}, ON) == {"a": SMALL, "b": None}  # zero is a count too
    assert [disclosure.released(n, ON) for n in (0, 1, 4, 5, 7, 8, 12, 13, 272, 274)] == \
        [0, SMALL, SMALL, 5, 5, 10, 10, 15, 270, 275]
    assert disclosure.count(40, None, ON) == 40 and disclosure.count(3, SMALL, ON) == SMALL


def test_no_missing_value_is_not_a_small_count():
    assert disclosure.protect({"x": 30, MISSING: 0}, ON) == {"x": None, MISSING: None}
    assert disclosure.protect({"x": 27, MISSING: 3}, ON) == {"x": None, MISSING: SMALL}


def test_synthetic_data_show_everything():
    assert set(disclosure.protect({"a": 1, "b": 2}, disclosure.SHOW_ALL).values()) == {None}
    assert disclosure.released(3, disclosure.SHOW_ALL) == 3


def test_shares_are_computed_from_the_released_counts():
    p = disclosure.share(75, 171, ON, 0.95)
    assert (p.k, p.n) == (75, 170) and p.pct == pytest.approx(100 * 75 / 170)
    assert disclosure.share(3, 171, ON, 0.95) is None and disclosure.percent(3, 171, ON) == WITHHELD
    assert disclosure.percent(102, 268, ON) == pytest.approx(100 * 100 / 270)


def test_no_hidden_cell_follows_from_its_partition_and_total():
    """Every partition of three cells, attacked as the totals and complements allow (tests/attack.py):
    every count from 1 to k - 1 must keep at least two possible values."""
    for counts in itertools.product(range(0, 3 * K + 1), repeat=3):
        labels = disclosure.protect(dict(enumerate(counts)), ON)
        shown = [disclosure.count(n, labels[i], ON) for i, n in enumerate(counts)]
        found = attack.possible(shown, disclosure.released(sum(counts), ON))
        for i, n in enumerate(counts):
            assert not 0 < n < K or len(found[i]) >= 2, (counts, shown)


# --- tables, downloads and the audit ------------------------------------------------------

def test_interventions_hide_small_counts_and_their_shares(real):
    real["iv_act"] = 0
    real.loc[:2, "iv_act"] = 1           # 3 of 30: small
    real["iv_education"] = 1
    real.loc[0, "iv_education"] = 0      # 29 of 30: rounded to 30 of 30
    table = tables.interventions(real).set_index("category")
    act, education = table.loc[config.INTERVENTIONS["iv_act"]], table.loc[config.INTERVENTIONS["iv_education"]]
    assert act["n"] == SMALL and act["%"] == act["CI low"] == act["CI high"] == WITHHELD
    assert education["n"] == 30 and education["of"] == 30 and education["%"] == 100
    assert "<5" in table.to_csv() and ",3," not in table.to_csv() and ",29," not in table.to_csv()
    # The synthetic cohort would show them.
    shown = tables.interventions(real, policy=disclosure.SHOW_ALL).set_index("category")
    assert shown.loc[config.INTERVENTIONS["iv_act"], "n"] == 3


def test_patients_per_number_of_categories_is_a_protected_partition(real):
    table = tables.interventions_per_patient(real)
    counts = tables.interventions_per_patient(real, policy=disclosure.SHOW_ALL)
    assert table["categories received"].tolist() == list(range(len(config.INTERVENTIONS) + 1))
    for n, shown in zip(counts["patients"], table["patients"]):
        assert shown in (SMALL if n < K else disclosure.released(n, ON), WITHHELD)


def baseline_cell(frame, characteristic_start, level=""):
    rows = frame.index[frame["Characteristic"].str.startswith(characteristic_start)]
    start = rows[0]
    end = next((i for i in frame.index if i > start and frame.loc[i, "Characteristic"]), len(frame))
    block = frame.loc[start:end - 1]
    return block[block["Level"] == level].iloc[0] if level else block.iloc[0]


def test_the_baseline_table_hides_small_cells_and_extremes(real):
    real["smoker"] = 0
    real.loc[:1, "smoker"] = 1
    real["pain_distribution"] = pd.Categorical(["localized"] * 13 + ["regional"] * 14 + ["generalized"] * 2
                                               + [None], categories=config.CATEGORIES["pain_distribution"])
    frame = tables.baseline_table(real)
    value = frame.columns[-1]
    assert baseline_cell(frame, "Smokers")[value] == SMALL
    assert baseline_cell(frame, "Pain distribution", "Generalized")[value] == SMALL
    # One missing value (<5) and two generalized; 13 localized of 29 shown as 15 of 30 (the released counts).
    assert baseline_cell(frame, "Pain distribution")["Missing"] == SMALL
    assert baseline_cell(frame, "Pain distribution", "Localized")[value] == "15 (50.0)"
    assert value == "All patients (n = 30)"
    age = baseline_cell(frame, "Age range")
    assert "5th–95th percentile" in age["Characteristic"]
    low, high = real["age"].quantile([0.05, 0.95])
    assert age[value] == f"{low:.0f}–{high:.0f}"
    # A required column has no missing values by the schema: nothing to count, nothing shown.
    assert baseline_cell(frame, "BMI")["Missing"] == ""


def test_the_audit_never_shows_what_the_baseline_table_hides(real):
    real["pain_distribution"] = pd.Categorical(["localized"] * 13 + ["regional"] * 14 + ["generalized"] * 2
                                               + [None], categories=config.CATEGORIES["pain_distribution"])
    audit = reproduction.audit(real).set_index("key")
    assert audit.loc["generalized_n", "shown as"] == SMALL
    assert audit.loc["generalized_pct", "status"] == reproduction.STATUS_WITHHELD
    # Counts as the baseline table releases them (rounded), never the exact 29 or 13.
    assert audit.loc["pain_distribution_valid", "computed"] == 30 and audit.loc["localized_n", "computed"] == 15
    assert reproduction.ROUNDED_NOTE in audit.loc["localized_n", "note"]
    assert audit.loc["regional_n", "status"] in (reproduction.STATUS_MATCH, reproduction.STATUS_DIFF)
    for key in ("age_min", "age_max"):  # single patients' values
        assert audit.loc[key, "status"] == reproduction.STATUS_WITHHELD
    assert audit.loc[audit["status"] == reproduction.STATUS_WITHHELD, "computed"].isna().all()


def test_mcid_rows_of_few_patients_are_withheld_whole(real):
    real.loc[3:, "nprs_1y"] = np.nan    # at most 3 patients measured at one year
    table = tables.mcid(real).set_index(["stem", "timepoint"])
    row = table.loc[("nprs", "1y")]
    assert row["of"] == SMALL and row["reached"] == row["%"] == row["CI low"] == WITHHELD
    over_time = tables.outcomes_over_time(real)
    nprs_1y = over_time[(over_time["measure"] == "NPRS") & (over_time["time"] == "1 year")].iloc[0]
    assert nprs_1y["n"] == SMALL and nprs_1y["median"] == WITHHELD
    assert tables.follow_up(real).loc["NPRS", "1 year"] == SMALL
    assert tables.change_tests(real).iloc[1]["pairs"] == SMALL


def test_glued_text_never_quotes_a_small_count(real):
    real["physically_active"] = np.nan
    real.loc[:2, "physically_active"] = 1.0    # answered by 3 patients
    real.loc[3:, "nprs_1y"] = np.nan
    quoted = {**results.baseline(real), **results.outcomes(real)}
    assert quoted["active_valid"].text in (SMALL, WITHHELD)
    assert quoted["mcid_nprs_1y"].text.startswith(WITHHELD) and quoted["mcid_nprs_1y_n"].text == SMALL
    assert quoted["age_range"].text.startswith("5th–95th percentile")
    assert str(int(real["age"].min())) not in quoted["age_range"].text.split()[-1].split("–")


# --- figures ----------------------------------------------------------------------------------

@pytest.fixture
def close_figures():
    yield
    plt.close("all")


@pytest.mark.usefixtures("close_figures")
def test_histograms_leave_out_bins_of_fewer_than_k_patients(real, default_cohort):
    for make in (figures.baseline_distributions, figures.program):
        for ax in make(real).axes:
            heights = [p.get_height() for p in ax.patches]
            assert all(h >= K for h in heights), (make.__name__, ax.get_xlabel(), heights)
    # The synthetic cohort draws its small bins too.
    heights = [p.get_height() for ax in figures.program(default_cohort).axes for p in ax.patches]
    assert min(heights) < K


@pytest.mark.usefixtures("close_figures")
def test_figures_write_the_label_of_a_withheld_share(real):
    real.loc[3:, "nprs_1y"] = np.nan
    fig = figures.mcid(tables.mcid(real))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert f"n={SMALL}" in texts
    assert not any(t.endswith(f"n={int(real['nprs_1y'].notna().sum())}") for t in texts)


@pytest.mark.usefixtures("close_figures")
def test_histogram_edges_do_not_depend_on_the_extremes(default_cohort):
    """An extreme value moves no bin edge: it is counted in the top-coded last bar."""
    extreme = default_cohort.copy()
    extreme.loc[0, "n_sessions"] = 97
    before = [p.get_x() for p in figures.program(default_cohort).axes[0].patches]
    after = [p.get_x() for p in figures.program(extreme).axes[0].patches]
    assert before == after
