"""Tests of cmprehab.analysis.imputation: chained equations, Rubin's rules, delta adjustment, tipping point."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from cmprehab.analysis.derive import derive
from cmprehab.analysis import imputation as I
from cmprehab.analysis import stats as S
from cmprehab.instruments import INSTRUMENTS
from cmprehab.params import DEFAULTS

CONFIDENCE = 0.95
pytestmark = pytest.mark.filterwarnings("error")


def test_rubins_rules_by_hand():
    # Three imputations: 0.4, 0.5, 0.6, each with variance 0.01.
    # Q = 0.5; W = 0.01; B = ((-0.1)^2 + 0 + 0.1^2) / 2 = 0.01; T = W + (1 + 1/3) B = 0.02333...
    # df = (m - 1) (1 + W / ((1 + 1/m) B))^2 = 2 * (1 + 0.75)^2 = 6.125
    pooled = I.rubin([0.4, 0.5, 0.6], [0.01] * 3, CONFIDENCE)
    assert pooled.estimate == pytest.approx(0.5)
    assert (pooled.within, pooled.between) == pytest.approx((0.01, 0.01))
    assert pooled.variance == pytest.approx(0.07 / 3)
    assert pooled.df == pytest.approx(6.125)
    half = scipy_stats.t.ppf(0.975, 6.125) * math.sqrt(0.07 / 3)
    assert (pooled.low, pooled.high) == pytest.approx((0.5 - half, 0.5 + half))
    # identical imputations: no between variance, a normal interval of the within variance
    same = I.rubin([0.3, 0.3], [0.0004, 0.0004], CONFIDENCE)
    assert same.between == 0 and math.isinf(same.df)
    assert same.high - same.estimate == pytest.approx(1.959963985 * 0.02)
    with pytest.raises(ValueError, match="at least 2"):
        I.rubin([0.5], [0.01], CONFIDENCE)


@pytest.mark.parametrize("k_pmm", [5, 30])
def test_chained_equations_are_statsmodels_micedata(k_pmm):
    # The NumPy steps give the very values statsmodels' MICEData gives with the same generator
    # (k_pmm = 30: fewer observed values than 2 k_pmm, so every donor window runs past both ends).
    from statsmodels.imputation.mice import MICEData

    rng = np.random.default_rng(3)
    x = rng.normal(size=80)
    y = 2 * x + rng.normal(size=80)
    frame = pd.DataFrame({"x": x, "y": np.round(y, 1), "z": x - y + rng.normal(size=80)})
    frame.loc[rng.random(80) < 0.3, "y"] = np.nan
    frame.loc[rng.random(80) < 0.2, "z"] = np.nan
    mine = I.chained_equations(frame, 3, 2, 2, np.random.default_rng(7), k_pmm=k_pmm)
    reference = MICEData(frame.copy(), k_pmm=k_pmm, rng=np.random.default_rng(7))
    reference.update_all(2)
    for completed in mine:
        reference.update_all(2)
        np.testing.assert_allclose(completed.to_numpy(), reference.data.to_numpy(), rtol=0, atol=1e-12)
        assert completed.notna().all().all()
        # predictive mean matching: every imputed y is an observed y
        assert set(completed["y"]) <= set(frame["y"].dropna())


def test_kept_columns_are_those_of_the_whole_copies(default_cohort):
    frame = I._model_frame(derive(default_cohort))
    whole = I.chained_equations(frame, 3, 2, 2, np.random.default_rng(5))
    some = I.chained_equations(frame, 3, 2, 2, np.random.default_rng(5), keep=["nprs_1y", "dri_1y"])
    for a, b in zip(whole, some):
        assert list(b.columns) == ["nprs_1y", "dri_1y"]
        pd.testing.assert_frame_equal(a[["nprs_1y", "dri_1y"]], b)
    assert not some[0].equals(some[1])  # each copy its own values, not a view of the last


def test_the_same_seed_gives_the_same_numbers(default_cohort):
    first = I.mi_share(default_cohort, DEFAULTS.mcid, CONFIDENCE)
    I.imputed_one_year.cache_clear()
    I.mi_share.cache_clear()
    again = I.mi_share(default_cohort, DEFAULTS.mcid, CONFIDENCE)
    pd.testing.assert_frame_equal(first, again)
    other = I.mi_share(default_cohort, DEFAULTS.mcid, CONFIDENCE, seed=I.SEED + 1)
    assert not np.allclose(first["%"], other["%"])
    assert (first["m"] >= 20).all()


def test_observed_values_are_kept_and_every_lost_value_imputed(default_cohort):
    completed = I.imputed_one_year(default_cohort)
    for stem in INSTRUMENTS:
        observed = default_cohort[f"{stem}_1y"].notna()
        frame = completed[stem]
        assert frame.shape == (len(default_cohort), I.M)
        for j in frame.columns:
            np.testing.assert_array_equal(frame.loc[observed, j], default_cohort.loc[observed, f"{stem}_1y"])
        assert frame.notna().all().all()
        # imputed values are values the scale records (predictive mean matching)
        assert set(np.unique(frame.to_numpy())) <= set(default_cohort[f"{stem}_1y"].dropna())


def test_pooled_share_equals_complete_cases_when_missing_completely_at_random(default_cohort):
    # Only the patients measured at 1 year, then a third of them lose every 1-year value at random
    # (MCAR): imputation and complete cases estimate the same share, and both cover the full data's.
    measured = default_cohort[default_cohort["nprs_1y"].notna()].copy()
    full = {stem: S.mcid_summary(measured[f"{stem}_start"], measured[f"{stem}_1y"], stem,
                                 DEFAULTS.mcid[stem].threshold, CONFIDENCE, DEFAULTS.mcid[stem].definition)
            for stem in INSTRUMENTS}
    lose = np.random.default_rng(11).random(len(measured)) < 1 / 3
    for stem in INSTRUMENTS:
        measured.loc[lose, f"{stem}_1y"] = np.nan
    pooled = I.mi_share(measured, DEFAULTS.mcid, CONFIDENCE).set_index("stem")
    for stem in INSTRUMENTS:
        rule = DEFAULTS.mcid[stem]
        cc = S.mcid_summary(measured[f"{stem}_start"], measured[f"{stem}_1y"], stem, rule.threshold, CONFIDENCE,
                            rule.definition)
        row = pooled.loc[stem]
        assert abs(row["%"] - cc.pct) < 5, (stem, row["%"], cc.pct)
        assert row["CI low"] < full[stem].pct < row["CI high"]
        # the imputation adds information (the discharge values): its interval is no wider than complete cases'
        assert row["CI high"] - row["CI low"] < cc.high - cc.low


@pytest.mark.parametrize("stem,definition,threshold", [("nprs", "absolute", 2), ("nprs", "percent", 30),
                                                       ("eqvas", "absolute", 8), ("eqvas", "percent", 15)])
def test_delta_shares_are_mcid_reached_on_the_shifted_values(default_cohort, stem, definition, threshold):
    # The counted critical shifts against mcid_reached itself on values shifted and kept within the scale.
    rule = DEFAULTS.mcid[stem].model_copy(update={"threshold": threshold, "definition": definition})
    completed = I.imputed_one_year(default_cohort)[stem]
    cohort = default_cohort.copy()
    cohort.loc[cohort.index[:3], f"{stem}_start"] = INSTRUMENTS[stem].lo  # starts at the scale's ends
    cohort.loc[cohort.index[3:6], f"{stem}_start"] = INSTRUMENTS[stem].hi
    instrument = INSTRUMENTS[stem]
    deltas = np.array([-instrument.hi, -7.5, -1, -0.5, 0, 0.5, 1, 2, 3.25, instrument.hi])
    shares = I._shares(cohort, stem, rule, completed, deltas)
    lost = cohort[f"{stem}_1y"].isna().to_numpy()
    worse = -1 if instrument.higher_is_better else 1
    for i, delta in enumerate(deltas):
        for j in (0, 7):
            values = completed[j].to_numpy() + np.where(lost, worse * delta, 0.0)
            later = pd.Series(np.clip(values, instrument.lo, instrument.hi), index=cohort.index)
            reached = S.mcid_reached(cohort[f"{stem}_start"], later, stem, rule.threshold, rule.definition)
            assert shares[i, j] == pytest.approx(float(reached.fillna(False).mean())), (delta, j)


def test_the_curve_runs_between_the_bounds_and_the_tipping_point(default_cohort):
    curve = I.delta_curve(default_cohort, DEFAULTS.mcid, CONFIDENCE)
    tipping = I.tipping_point(curve).set_index("stem")
    for stem, block in curve.groupby("stem"):
        block = block.sort_values("delta")
        assert block["%"].is_monotonic_decreasing  # worse lost patients: fewer responders
        rule = DEFAULTS.mcid[stem]
        reached = S.mcid_reached(default_cohort[f"{stem}_start"], default_cohort[f"{stem}_1y"], stem, rule.threshold,
                                 rule.definition)
        k, n = int(reached.fillna(False).sum()), int(default_cohort[f"{stem}_start"].notna().sum())
        lost = int(reached.isna().sum())
        assert block["%"].iloc[-1] == pytest.approx(100 * k / n)  # all lost worse: the non-responder bound
        assert 100 * k / n < block["%"].iloc[0] <= 100 * (k + lost) / n  # all better: up to the best case
        row = tipping.loc[stem]
        at_tip = block[np.isclose(block["delta"], (1 if row["direction"] == "worse" else -1) * row["tipping delta"])]
        assert row["direction"] in ("worse", "better")
        if row["direction"] == "worse":
            assert row["share at 0"] >= 50 and at_tip["%"].iloc[0] < 50
            assert (block[(block["delta"] >= 0) & (block["delta"] < row["tipping delta"])]["%"] >= 50).all()
        else:
            assert row["share at 0"] < 50 and at_tip["%"].iloc[0] >= 50
            assert (block[(block["delta"] <= 0) & (block["delta"] > -row["tipping delta"])]["%"] < 50).all()


def test_tipping_point_by_hand():
    curve = pd.DataFrame({"measure": "X", "stem": "x", "delta": [-2.0, -1.0, 0.0, 1.0, 2.0],
                          "%": [70.0, 60.0, 55.0, 49.0, 40.0]})
    row = I.tipping_point(curve).iloc[0]
    assert (row["direction"], row["tipping delta"], row["share at 0"]) == ("worse", 1.0, 55.0)
    below = curve.assign(**{"%": [52.0, 45.0, 44.0, 40.0, 30.0]})
    assert tuple(I.tipping_point(below).iloc[0][["direction", "tipping delta"]]) == ("better", 2.0)
    never = curve.assign(**{"%": [48.0, 45.0, 44.0, 40.0, 30.0]})
    row = I.tipping_point(never).iloc[0]
    assert row["direction"] == "none" and math.isnan(row["tipping delta"])
