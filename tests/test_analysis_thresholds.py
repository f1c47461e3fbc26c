"""Tests of cmprehab.analysis.thresholds: responder shares across MCID thresholds."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cmprehab.analysis import stats as S
from cmprehab.analysis import thresholds as T
from cmprehab.instruments import INSTRUMENTS, LATER, TIMEPOINTS
from cmprehab.params import DEFAULTS, McidRule
from cohort_builders import outcomes

CONFIDENCE = 0.95
pytestmark = pytest.mark.filterwarnings("error")
NA = np.nan


# NPRS improvements at discharge (start - later): 2, 0, -1, 4, -1 (start 0, worse), one without discharge.
HAND = outcomes(nprs_start=[8, 8, 6, 5, 0, 7], nprs_discharge=[6, 8, 7, 1, 1, NA])


def curve(cohort, **kwargs):
    return T.threshold_curve(cohort, CONFIDENCE, **kwargs)


@pytest.fixture(scope="module")
def committed_curve(default_cohort):
    return curve(default_cohort)


def test_absolute_curve_by_hand():
    rows = curve(HAND, stems=["nprs"], times=["discharge"]).query("kind == 'absolute'")
    assert list(rows["threshold"]) == [float(t) for t in range(1, 11)]
    assert list(rows["k"]) == [2, 2, 1, 1, 0, 0, 0, 0, 0, 0]
    assert (rows["n"] == 5).all() and (rows["unit"] == "points").all()
    first = rows.iloc[0]
    low, high = S.wilson_ci(2, 5, CONFIDENCE)
    assert (first["%"], first["CI low"], first["CI high"]) == pytest.approx((40.0, 100 * low, 100 * high))


def test_percent_curve_by_hand():
    # In percent of the start value: 25 %, 0 %, -16.7 %, 80 %; from a start of 0 a worsening is no gain.
    rows = curve(HAND, stems=["nprs"], times=["discharge"]).query("kind == 'percent'").set_index("threshold")
    assert len(rows) == 100 and rows.index[0] == 1.0 and rows.index[-1] == 100.0
    assert rows.loc[25.0, "k"] == 2 and rows.loc[26.0, "k"] == 1
    assert rows.loc[80.0, "k"] == 1 and rows.loc[81.0, "k"] == 0
    assert (rows["unit"] == "%").all()


def test_a_gain_from_zero_reaches_every_percent_threshold():
    rows = curve(outcomes(eqvas_start=[0.0, 50.0], eqvas_1y=[1.0, 100.0]), stems=["eqvas"], times=["1y"])
    percent = rows.query("kind == 'percent'")
    assert (percent["k"] == 2).all()  # +inf from 0, +100 % from 50


def test_grids():
    dri = T.threshold_grid("dri", "absolute")
    assert len(dri) == 1000 and dri[0] == 0.1 and dri[-1] == 100.0 and 10.0 in dri and 8.8 in dri
    assert list(T.threshold_grid("nprs", "absolute")) == list(range(1, 11))
    assert len(T.threshold_grid("eqvas", "absolute")) == 100
    assert list(T.threshold_grid("nprs", "percent", percent_step=25)) == [25, 50, 75, 100]
    with pytest.raises(ValueError):
        T.threshold_grid("nprs", "relative")
    with pytest.raises(ValueError):
        T.threshold_grid("nprs", "percent", percent_step=0)


def test_dri_threshold_despite_float_error():
    # 32.3 - 22.3 is 9.999999999999996 in binary; on the 0.1 mm grid it is 10 and reaches 10.
    rows = curve(outcomes(dri_start=[32.3, 32.3], dri_1y=[22.3, 22.4]), stems=["dri"], times=["1y"])
    absolute = rows.query("kind == 'absolute'").set_index("threshold")
    assert absolute.loc[10.0, "k"] == 1 and absolute.loc[9.9, "k"] == 2 and absolute.loc[10.1, "k"] == 0


def test_nobody_measured_later():
    rows = curve(outcomes(nprs_start=[5, 6]), stems=["nprs"], times=["1y"])
    assert (rows["n"] == 0).all() and (rows["k"] == 0).all()
    assert rows[["%", "CI low", "CI high"]].isna().all().all()


def test_curve_agrees_with_mcid_reached_on_committed_cohort(default_cohort, committed_curve):
    table = committed_curve
    sizes = table.groupby(["stem", "timepoint", "kind"]).size()
    assert sizes[("dri", "1y", "absolute")] == 1000 and sizes[("nprs", "1y", "absolute")] == 10
    assert (sizes.xs("percent", level="kind") == 100).all()
    for (stem, time, kind), rows in table.groupby(["stem", "timepoint", "kind"]):
        start, later = default_cohort[f"{stem}_start"], default_cohort[f"{stem}_{time}"]
        assert (rows["n"] == (start.notna() & later.notna()).sum()).all()
        assert (np.diff(rows["k"].to_numpy()) <= 0).all()  # a higher threshold never adds responders
        assert (rows["CI low"] <= rows["%"]).all() and (rows["%"] <= rows["CI high"]).all()
        # an independent route at every 7th threshold (a step prime to the grids' round numbers)
        for _, row in rows.iloc[::7].iterrows():
            reached = S.mcid_reached(start, later, stem, row["threshold"], kind)
            assert row["k"] == int(reached.sum()), (stem, time, kind, row["threshold"])


def test_curve_matches_the_mcid_in_force(default_cohort, committed_curve):
    table = committed_curve
    for stem, rule in DEFAULTS.mcid.items():
        for time in LATER:
            row = table.query("stem == @stem and timepoint == @time and kind == @rule.definition "
                              "and threshold == @rule.threshold").iloc[0]
            summary = S.mcid_summary(default_cohort[f"{stem}_start"], default_cohort[f"{stem}_{time}"], stem,
                                     rule.threshold, CONFIDENCE, rule.definition)
            assert (row["k"], row["n"]) == (summary.k, summary.n)


# --------------------------------------------------------------------------
# Literature thresholds
# --------------------------------------------------------------------------

def test_literature_shares_by_hand():
    # DRI start values 10, 20, 30, 40: SD = 12.909944; half of it 6.454972 mm.
    cohort = outcomes(dri_start=[10, 20, 30, 40], dri_1y=[3.5, 13.6, 30, NA],
                      nprs_start=[8, 8, 6, 5], nprs_1y=[6, 8, 4, 1])
    items = {"dri": (T.LiteratureThreshold(0.5, "sd", "half SD", "minimal"),),
             "nprs": (T.LiteratureThreshold(2, "absolute", "Farrar", "much improved"), T.LiteratureThreshold(50, "percent", "x", "substantial"))}
    table = T.literature_shares(cohort, items, CONFIDENCE, times=["1y"]).set_index("label")
    sd = np.std([10, 20, 30, 40], ddof=1)
    dri = table.iloc[0]
    assert dri["threshold"] == pytest.approx(sd / 2)
    assert "computed from these data" in dri["basis"] and "n = 4" in dri["basis"]
    assert (dri["k"], dri["n"]) == (1, 3)  # improvements 6.5 (reaches 6.45), 6.4 (does not), 0
    assert table.loc["2 points", "k"] == 3 and table.loc["2 points", "basis"] == "published"
    assert table.loc["50 %", "k"] == 1  # 25 %, 0 %, 33 %, 80 %
    low, high = S.wilson_ci(3, 4, CONFIDENCE)
    assert (table.loc["2 points", "CI low"], table.loc["2 points", "CI high"]) == pytest.approx(
        (100 * low, 100 * high))


def test_literature_sd_undefined_with_one_start_value():
    cohort = outcomes(dri_start=[30], dri_1y=[20])
    row = T.literature_shares(cohort, {"dri": (T.LiteratureThreshold(0.5, "sd", "half SD", "minimal"),)}, CONFIDENCE,
                              times=["1y"]).iloc[0]
    assert math.isnan(row["threshold"]) and math.isnan(row["%"]) and row["n"] == 1
    assert "nan" not in row["label"].lower() and row["label"].startswith("0.5 SD")


def test_literature_threshold_validation():
    with pytest.raises(ValueError):
        T.LiteratureThreshold(1, "relative", "x", "minimal")
    with pytest.raises(ValueError):
        T.LiteratureThreshold(0, "absolute", "x", "minimal")
    with pytest.raises(ValueError, match="anchor"):
        T.LiteratureThreshold(1, "absolute", "x", "clinically important")


def test_literature_defaults_on_committed_cohort(default_cohort):
    table = T.literature_shares(default_cohort, T.LITERATURE, CONFIDENCE)
    assert len(table) == 2 * sum(len(v) for v in T.LITERATURE.values())
    dri = table[table["stem"] == "dri"]
    assert dri["threshold"].to_list() == pytest.approx([0.5 * default_cohort["dri_start"].std(ddof=1)] * 2)
    # The NPRS shares fall as the absolute threshold rises from 1 to 2 points.
    nprs = table[(table["stem"] == "nprs") & (table["definition"] == "absolute")]
    for time in LATER:
        k = nprs[nprs["timepoint"] == time]["k"].to_list()
        assert k[0] >= k[1]
    assert table["n"].isin([int((default_cohort[f"{s}_start"].notna() & default_cohort[f"{s}_{t}"].notna()).sum())
                            for s in INSTRUMENTS for t in LATER]).all()


# --------------------------------------------------------------------------
# Responders at discharge by responders at 1 year
# --------------------------------------------------------------------------

def test_transitions_by_hand():
    # NPRS, MCID 2 points. Improvements (discharge, 1 year): (3, 2) kept, (2, 1) lost, (0, 2) late,
    # (1, 0) never, (-1, -1) never; a patient without 1-year value is left out.
    cohort = outcomes(nprs_start=[8, 8, 8, 8, 8, 8], nprs_discharge=[5, 6, 8, 7, 9, 4], nprs_1y=[6, 7, 6, 8, 9, NA])
    mcid = {**DEFAULTS.mcid, "nprs": McidRule(threshold=2)}
    table = T.responder_transitions(cohort, mcid, CONFIDENCE, stems=["nprs"]).set_index("pattern")
    assert table["n"].to_dict() == {"kept": 1, "lost": 1, "late response": 1, "never": 2}
    assert (table["of"] == 5).all() and table["%"].sum() == pytest.approx(100.0)
    assert table.loc["late response", "at discharge"] == "no" and table.loc["late response", "at 1 year"] == "yes"
    assert table.loc["kept", "MCID"] == "2 points"


def test_transitions_with_nobody_complete():
    cohort = outcomes(eqvas_start=[50, 60], eqvas_discharge=[70, NA], eqvas_1y=[NA, 80])
    table = T.responder_transitions(cohort, DEFAULTS.mcid, CONFIDENCE, stems=["eqvas"])
    assert (table["of"] == 0).all() and (table["n"] == 0).all() and table["%"].isna().all()


def test_transitions_on_committed_cohort(default_cohort):
    table = T.responder_transitions(default_cohort, DEFAULTS.mcid, CONFIDENCE)
    for stem, rows in table.groupby("stem"):
        complete = default_cohort[[f"{stem}_start", f"{stem}_discharge", f"{stem}_1y"]].notna().all(axis=1)
        assert (rows["of"] == complete.sum()).all() and rows["n"].sum() == complete.sum()
        rule = DEFAULTS.mcid[stem]
        at_1y = S.mcid_reached(default_cohort[f"{stem}_start"], default_cohort[f"{stem}_1y"], stem,
                               rule.threshold)[complete]
        assert rows.set_index("pattern").loc[["kept", "late response"], "n"].sum() == int(at_1y.sum())
