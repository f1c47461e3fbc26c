"""Tests of cmprehab.analysis.attrition: baseline of patients with and without 1-year data."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cmprehab import config
from cmprehab.analysis import attrition as A
from cmprehab.data.cohort import load_cohort
from cmprehab.instruments import INSTRUMENTS
from cohort_builders import small_cohort

pytestmark = pytest.mark.filterwarnings("error")
NA = np.nan


@pytest.fixture(scope="module")
def template():
    return load_cohort(config.DEFAULT_COHORT)


def with_one_year(template, measured: list[bool], **columns) -> pd.DataFrame:
    """A cohort whose patients have 1-year values exactly where `measured` says (every measure)."""
    n = len(measured)
    cohort = small_cohort(template, n, **columns)
    for stem in INSTRUMENTS:
        cohort[f"{stem}_1y"] = np.where(measured, cohort[f"{stem}_start"], np.nan)
    return cohort


def smd_continuous(a, b):
    return (np.mean(a) - np.mean(b)) / math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)


def smd_binary(p1, p2):
    """Signed, measured (p1) - lost (p2)."""
    return (p1 - p2) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)


MEASURED = [True] * 6 + [False] * 4
AGE = [30, 40, 50, 60, 70, 80, 20, 25, 30, 35]
SMOKER = [1, 0, 0, 0, 0, 0, 1, 1, 0, 0]


@pytest.fixture
def hand(template):
    return with_one_year(template, MEASURED, age=AGE, smoker=SMOKER)


def row(table, variable, level=None):
    rows = table[table["variable"] == variable]
    return rows.iloc[0] if level is None else rows[rows["level"] == level].iloc[0]


def test_group_sizes_and_smd_by_hand(hand):
    table = A.attrition_table(hand)
    n = table.iloc[0]
    assert (n["characteristic"], n[A.WITH], n[A.WITHOUT]) == ("n", "6", "4")
    age = row(table, "age")
    # with: 30..80, mean 55; without: 20..35, mean 27.5; positive = older with 1-year data
    assert age["SMD"] == pytest.approx(smd_continuous(AGE[:6], AGE[6:]))
    assert age["SMD"] > 0 and age[A.WITH] == "55.0 (18.7)" and age[A.WITHOUT] == "27.5 (6.5)"
    smoker = row(table, "smoker")
    assert smoker["level"] == "Yes" and smoker[A.WITH] == "1 (16.7)" and smoker[A.WITHOUT] == "2 (50.0)"
    # fewer smokers among the measured (1 of 6 vs 2 of 4): negative, measured - lost
    assert smoker["SMD"] == pytest.approx(smd_binary(1 / 6, 2 / 4)) and smoker["SMD"] < 0
    assert (smoker["missing with"], smoker["missing without"]) == (0, 0)


def test_every_characteristic_has_its_rows(hand):
    table = A.attrition_table(hand)
    assert list(table.columns) == A.COLUMNS
    shown = table["variable"].iloc[1:].unique().tolist()
    assert shown == [column for column, _, _ in A.ATTRITION_ROWS]
    assert {"n_sessions", "program_months"} <= set(shown)
    # every level of a category is listed, even one nobody in these ten patients has
    locations = table[table["variable"] == "main_pain_location"]
    assert len(locations) == len(config.CATEGORIES["main_pain_location"])
    # the SMD sits on the first row of a characteristic only
    assert locations["SMD"].iloc[1:].isna().all()


def test_a_level_nobody_has(template):
    cohort = with_one_year(template, MEASURED, main_pain_location=["neck"] * 5 + ["lower_limb"] * 5)
    table = A.attrition_table(cohort)
    upper = row(table, "main_pain_location", config.CATEGORY_LABELS["upper_limb"])
    assert (upper[A.WITH], upper[A.WITHOUT]) == ("0 (0.0)", "0 (0.0)")
    neck = row(table, "main_pain_location", "Neck")
    assert (neck[A.WITH], neck[A.WITHOUT]) == ("5 (83.3)", "0 (0.0)")
    # a category of several levels: Yang & Dalton's SMD, unsigned (here two levels used: |binary SMD|)
    assert neck["SMD"] == pytest.approx(abs(smd_binary(5 / 6, 0.0)))


def test_all_missing_characteristic(hand):
    cohort = hand.copy()
    cohort["physically_active"] = NA
    active = row(A.attrition_table(cohort), "physically_active")
    assert (active[A.WITH], active[A.WITHOUT]) == (A.NO_VALUES, A.NO_VALUES) and math.isnan(active["SMD"])
    assert (active["missing with"], active["missing without"]) == (6, 4)


def test_characteristic_missing_in_one_group(hand):
    cohort = hand.copy()
    cohort["physically_active"] = [1.0, 0.0, 1.0, 1.0, NA, 0.0, NA, NA, NA, NA]
    active = row(A.attrition_table(cohort), "physically_active")
    assert active[A.WITH] == "3 (60.0)" and active[A.WITHOUT] == A.NO_VALUES
    assert math.isnan(active["SMD"]) and (active["missing with"], active["missing without"]) == (1, 4)


@pytest.mark.parametrize("measured,empty", [([True] * 10, A.WITHOUT), ([False] * 10, A.WITH)])
def test_an_empty_group(template, measured, empty):
    full = A.WITH if empty == A.WITHOUT else A.WITHOUT
    cohort = with_one_year(template, measured, age=AGE)
    table = A.attrition_table(cohort)
    assert table.iloc[0][empty] == "0" and table.iloc[0][full] == "10"
    assert (table[empty].iloc[1:] == A.NO_PATIENTS).all()
    assert table["SMD"].isna().all()
    assert row(table, "age")[full] == f"{np.mean(AGE):.1f} ({np.std(AGE, ddof=1):.1f})"
    assert A.imbalanced(table, 0.1).empty


def test_groups_can_be_passed(hand):
    # e.g. measured at discharge instead of at 1 year
    measured = pd.Series([True] * 3 + [False] * 7)
    table = A.attrition_table(hand, measured=measured)
    assert (table.iloc[0][A.WITH], table.iloc[0][A.WITHOUT]) == ("3", "7")
    assert row(table, "age")["SMD"] == pytest.approx(smd_continuous(AGE[:3], AGE[3:]))


def test_unknown_kind(hand):
    with pytest.raises(ValueError, match="kind"):
        A.attrition_table(hand, rows=[("age", "Age", "range")])


def test_women_and_programme_rows_are_signed_measured_minus_lost(template):
    # more women and more sessions among the measured: positive; more anxious among the lost: negative
    cohort = with_one_year(template, MEASURED, sex=["female"] * 5 + ["male"] + ["female"] + ["male"] * 3,
                           n_sessions=[12, 10, 9, 14, 8, 11, 3, 4, 2, 5],
                           anxiety_depression=[0, 0, 0, 0, 0, 1, 1, 1, 0, 1])
    table = A.attrition_table(cohort)
    women, anxious, sessions = (row(table, v)["SMD"] for v in ("sex", "anxiety_depression", "n_sessions"))
    assert women == pytest.approx(smd_binary(5 / 6, 1 / 4)) and women > 0
    assert anxious == pytest.approx(smd_binary(1 / 6, 3 / 4)) and anxious < 0
    assert sessions == pytest.approx(smd_continuous([12, 10, 9, 14, 8, 11], [3, 4, 2, 5])) and sessions > 0


def test_imbalanced_sorted_by_absolute_smd():
    table = pd.DataFrame({"variable": ["", "a", "b", "c", "c", "d"], "characteristic": ["n", "A", "B", "C", "C", "D"],
                          "SMD": [NA, -0.35, 0.12, 0.5, NA, 0.05]})
    out = A.imbalanced(table, 0.1)
    assert out["variable"].to_list() == ["c", "a", "b"]
    assert out["SMD"].to_list() == [0.5, -0.35, 0.12] and out["|SMD|"].to_list() == [0.5, 0.35, 0.12]
    assert A.imbalanced(table, 0.6).empty and list(A.imbalanced(table, 0.6).columns) == list(out.columns)
    with pytest.raises(ValueError):
        A.imbalanced(table, -1)


def test_committed_cohort(default_cohort):
    table = A.attrition_table(default_cohort)
    with_data = default_cohort[[f"{s}_1y" for s in INSTRUMENTS]].notna().any(axis=1)
    assert (table.iloc[0][A.WITH], table.iloc[0][A.WITHOUT]) == (str(with_data.sum()), str((~with_data).sum()))
    age = row(table, "age")
    assert age["SMD"] == pytest.approx(smd_continuous(default_cohort["age"][with_data],
                                                      default_cohort["age"][~with_data]))
    smoker = row(table, "smoker")
    p1, p2 = default_cohort["smoker"][with_data].mean(), default_cohort["smoker"][~with_data].mean()
    assert smoker["SMD"] == pytest.approx(smd_binary(p1, p2))
    nprs = row(table, "nprs_start")  # a median row: the SMD still uses means and SDs
    assert nprs["SMD"] == pytest.approx(smd_continuous(default_cohort["nprs_start"][with_data],
                                                       default_cohort["nprs_start"][~with_data]))
    first_rows = table.drop_duplicates("variable").iloc[1:]
    assert first_rows["SMD"].notna().all() and len(first_rows) == len(A.ATTRITION_ROWS)
    flagged = A.imbalanced(table, 0.1)
    assert (flagged["|SMD|"] > 0.1).all() and flagged["|SMD|"].is_monotonic_decreasing
    assert set(flagged["variable"]) == set(first_rows[first_rows["SMD"].abs() > 0.1]["variable"])
