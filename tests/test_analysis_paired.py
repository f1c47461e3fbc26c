"""Tests of cmprehab.analysis.paired: trajectories and paired change on the same patients."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from cmprehab.analysis import paired as P
from cmprehab.analysis import stats as S
from cmprehab.instruments import INSTRUMENTS, LATER, TIMEPOINTS
from cohort_builders import outcomes

CONFIDENCE = 0.95
pytestmark = pytest.mark.filterwarnings("error")
NA = np.nan


# --------------------------------------------------------------------------
# Trajectories
# --------------------------------------------------------------------------

def test_trajectories_by_hand():
    # Patients 0-2 have all three NPRS values; 3 has start and discharge; 4 start only.
    cohort = outcomes(nprs_start=[8, 6, 4, 9, 10], nprs_discharge=[6, 5, 4, 2, NA], nprs_1y=[7, 3, 2, NA, NA])
    table = P.trajectories(cohort, stems=["nprs"]).set_index(["patients", "timepoint"])
    same = table.loc[P.COMPLETE]
    assert (same["n"] == 3).all()
    assert same.loc["start", "median"] == 6 and same.loc["discharge", "median"] == 5
    assert same.loc["1y", "median"] == 3
    assert (same.loc["start", "Q1"], same.loc["start", "Q3"]) == (5.0, 7.0)
    everyone = table.loc[P.MEASURED]
    assert everyone["n"].to_list() == [5, 4, 3]
    assert everyone.loc["start", "median"] == 8 and everyone.loc["discharge", "median"] == 4.5


def test_trajectories_with_nobody_at_one_year():
    table = P.trajectories(outcomes(dri_start=[40, 50], dri_discharge=[30, NA]), stems=["dri"])
    same = table[table["patients"] == P.COMPLETE]
    assert (same["n"] == 0).all() and same["median"].isna().all()
    one_year = table[(table["patients"] == P.MEASURED) & (table["timepoint"] == "1y")].iloc[0]
    assert one_year["n"] == 0 and math.isnan(one_year["median"])


def test_trajectories_on_committed_cohort(default_cohort):
    table = P.trajectories(default_cohort)
    assert len(table) == len(INSTRUMENTS) * len(TIMEPOINTS) * 2
    for stem, rows in table.groupby("stem"):
        same = rows[rows["patients"] == P.COMPLETE]
        complete = default_cohort[[f"{stem}_{t}" for t in TIMEPOINTS]].notna().all(axis=1).sum()
        assert (same["n"] == complete).all()
        measured = rows[rows["patients"] == P.MEASURED].set_index("timepoint")
        for t in TIMEPOINTS:
            assert measured.loc[t, "n"] == default_cohort[f"{stem}_{t}"].notna().sum()
            assert measured.loc[t, "median"] == default_cohort[f"{stem}_{t}"].median()
        assert (rows["Q1"] <= rows["median"]).all() and (rows["median"] <= rows["Q3"]).all()


# --------------------------------------------------------------------------
# Paired change
# --------------------------------------------------------------------------

def test_paired_change_by_hand():
    # NPRS (lower is better): changes at 1 year -2, 0, +2, -3, -1, -4, -2; one patient without 1-year value.
    start = [8, 6, 5, 7, 4, 9, 6, 7]
    later = [6, 6, 7, 4, 3, 5, 4, NA]
    cohort = outcomes(nprs_start=start, nprs_1y=later)
    row = P.paired_change(cohort, CONFIDENCE, stems=["nprs"], times=["1y"]).iloc[0]
    d = np.array([-2, 0, 2, -3, -1, -4, -2], dtype=float)
    assert (row["pairs"], row["improved"], row["unchanged"], row["worse"]) == (7, 5, 1, 1)
    assert row["better"] == "lower"
    assert (row["median start"], row["median later"], row["median change"]) == (6.0, 5.0, -2.0)
    # Walsh averages by brute force
    i, j = np.triu_indices(len(d))
    assert row["HL change"] == np.median((d[i] + d[j]) / 2)
    hl = S.hodges_lehmann(d, CONFIDENCE)
    assert (row["HL low"], row["HL high"], row["HL method"]) == (hl.low, hl.high, "exact")
    # Wilcoxon: zeros dropped ("wilcox"), and Pratt for comparison
    assert row["nonzero"] == 6
    assert row["p"] == pytest.approx(scipy_stats.wilcoxon(d, zero_method="wilcox").pvalue)
    assert row["p (Pratt)"] == pytest.approx(scipy_stats.wilcoxon(d, zero_method="pratt").pvalue)
    assert row["rank-biserial r"] < 0


def test_higher_is_better_and_decimals():
    # EQ-VAS: an increase is an improvement. DRI: 0.1 + 0.2 - 0.3 is not 0 in binary, but is on the scale.
    eq = P.paired_change(outcomes(eqvas_start=[50, 50, 50], eqvas_1y=[60, 40, 50]), CONFIDENCE,
                         stems=["eqvas"], times=["1y"]).iloc[0]
    assert (eq["improved"], eq["unchanged"], eq["worse"], eq["better"]) == (1, 1, 1, "higher")
    dri = P.paired_change(outcomes(dri_start=[0.3, 32.3, 20.0], dri_discharge=[0.1 + 0.2, 22.3, 20.1]), CONFIDENCE,
                          stems=["dri"], times=["discharge"]).iloc[0]
    assert (dri["improved"], dri["unchanged"], dri["worse"]) == (1, 1, 1)
    assert dri["nonzero"] == 2


def test_paired_change_without_pairs_and_all_unchanged():
    table = P.paired_change(outcomes(nprs_start=[5, 6, 7], nprs_discharge=[5, 6, 7]), CONFIDENCE, stems=["nprs"])
    discharge, one_year = table.iloc[0], table.iloc[1]
    assert (discharge["pairs"], discharge["unchanged"], discharge["nonzero"]) == (3, 3, 0)
    assert discharge["HL change"] == 0.0 and discharge["median change"] == 0.0
    assert all(math.isnan(discharge[c]) for c in ("W", "p", "p (Pratt)", "rank-biserial r"))
    assert one_year["pairs"] == 0 and (one_year["improved"], one_year["unchanged"], one_year["worse"]) == (0, 0, 0)
    assert all(math.isnan(one_year[c]) for c in ("median change", "HL change", "HL low", "p"))


def test_paired_change_rejects_bad_input():
    with pytest.raises(ValueError):
        P.paired_change(outcomes(nprs_start=[1.0]), 1.5)
    with pytest.raises(KeyError):
        P.paired_change(outcomes(nprs_start=[1.0]), CONFIDENCE, stems=["vas"])
    assert list(P.paired_change(outcomes(nprs_start=[1.0]), CONFIDENCE, stems=[]).columns) == P.PAIRED_COLUMNS


def test_paired_change_on_committed_cohort(default_cohort):
    table = P.paired_change(default_cohort, CONFIDENCE)
    assert len(table) == len(INSTRUMENTS) * len(LATER)
    assert (table["improved"] + table["unchanged"] + table["worse"] == table["pairs"]).all()
    assert (table["nonzero"] <= table["pairs"]).all()
    assert (table["HL low"] <= table["HL high"]).all() and (table["HL method"] == "normal").all()
    assert ((table["HL coverage"] - CONFIDENCE).abs() < 0.005).all()
    assert table[["p", "p (Pratt)"]].notna().all().all()
    for _, row in table.iterrows():
        start, later = default_cohort[f"{row['stem']}_start"], default_cohort[f"{row['stem']}_{row['timepoint']}"]
        w = S.wilcoxon_change(start, later)
        assert (row["pairs"], row["nonzero"], row["p"]) == (w.n_pairs, w.n_nonzero, w.p_value)
        # the HL estimate lies within the range of the changes and agrees in sign with the test's direction
        change = (later - start).dropna()
        assert change.min() <= row["HL change"] <= change.max()
        assert np.sign(row["HL change"]) == np.sign(row["rank-biserial r"]) or row["HL change"] == 0


def test_improvement_by_start_is_positive_when_the_worse_improve_more(default_cohort):
    """Hand-made: on the NPRS (lower is better) the patient who starts at 9 gains most."""
    cohort = default_cohort.iloc[:6].copy()
    cohort["nprs_start"] = [9.0, 7.0, 5.0, 3.0, 8.0, 4.0]
    cohort["nprs_1y"] = [3.0, 4.0, 4.0, 3.0, 4.0, 4.0]       # gains 6, 3, 1, 0, 4, 0
    cohort["eqvas_start"] = [20.0, 40.0, 60.0, 80.0, 30.0, 70.0]
    cohort["eqvas_1y"] = [70.0, 70.0, 70.0, 80.0, 65.0, 70.0]  # gains 50, 30, 10, 0, 35, 0
    table = P.improvement_by_start(cohort).set_index("stem")
    assert table.loc["nprs", "n"] == 6 and table.loc["nprs", "rho"] > 0.9
    assert table.loc["eqvas", "rho"] > 0.9   # worse start = lower EQ-VAS
    rho = scipy_stats.spearmanr([9, 7, 5, 3, 8, 4], [6, 3, 1, 0, 4, 0]).statistic
    assert table.loc["nprs", "rho"] == pytest.approx(rho)
