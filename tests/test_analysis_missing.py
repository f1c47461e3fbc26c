"""Tests of cmprehab.analysis.missing: responder shares under four ways of handling the lost patients."""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from cmprehab import config
from cmprehab.analysis import missing as M
from cmprehab.analysis import stats as S
from cmprehab.data.cohort import load_cohort
from cmprehab.params import DEFAULTS
from cohort_builders import small_cohort

CONFIDENCE = 0.95
pytestmark = pytest.mark.filterwarnings("error")
NA = np.nan
IPW = "inverse probability weighting"


@pytest.fixture(scope="module")
def template():
    return load_cohort(config.DEFAULT_COHORT)


def table(cohort, covariates=("sex",), **kwargs):
    return M.responder_sensitivity(cohort, DEFAULTS.mcid, CONFIDENCE, covariates=covariates, stems=["nprs"],
                                   **kwargs).set_index("method")


# Twelve NPRS patients (MCID 2 points): women 0-5, men 6-11.
#   women: 4 of 6 measured at 1 year, 3 of the 4 improved by >= 2 points
#   men:   2 of 6 measured, 0 of the 2 improved
SEX = ["female"] * 6 + ["male"] * 6
START = [8.0] * 12
ONE_YEAR = [5, 6, 4, 7, NA, NA, 8, 7, NA, NA, NA, NA]


@pytest.fixture
def hand(template):
    return small_cohort(template, 12, sex=SEX, nprs_start=START, nprs_1y=ONE_YEAR)


def test_counting_methods_by_hand(hand):
    t = table(hand)
    assert list(t.index) == list(M.METHODS)
    assert (t.loc["complete cases", "k"], t.loc["complete cases", "n"]) == (3, 6)
    assert (t.loc["non-responder imputation", "k"], t.loc["non-responder imputation", "n"]) == (3, 12)
    assert (t.loc["best case", "k"], t.loc["best case", "n"]) == (9, 12)
    assert (t["lost"] == 6).all()
    for method, (k, n) in {"complete cases": (3, 6), "non-responder imputation": (3, 12),
                           "best case": (9, 12)}.items():
        p = S.proportion(k, n, CONFIDENCE)
        assert (t.loc[method, "%"], t.loc[method, "CI low"], t.loc[method, "CI high"]) == pytest.approx(
            (p.pct, p.low, p.high))
        assert math.isnan(t.loc[method, "ESS"])


def test_ipw_with_one_binary_covariate_is_standardisation_by_hand(hand):
    # With sex as the only covariate the logistic model is saturated: p = share measured within
    # each sex (women 4/6, men 2/6), weights 1/p = 1.5 and 3. The IPW share is then the responder
    # share of each sex weighted by its size: (6 * 3/4 + 6 * 0/2) / 12 = 37.5 %.
    t = table(hand, stabilised=False)
    row = t.loc[IPW]
    assert row["%"] == pytest.approx(37.5, abs=1e-6)
    # n: the 6 measured patients who carry the estimate (the model has all 12); k: 37.5 % of them
    assert (row["model n"], row["n"]) == (12, 6) and row["k"] == pytest.approx(2.25, abs=1e-6)
    assert (row["weights min"], row["weights max"]) == pytest.approx((1.5, 3.0), abs=1e-6)
    w = np.array([1.5] * 4 + [3.0] * 2)
    y = np.array([1, 1, 1, 0, 0, 0], dtype=float)
    assert row["ESS"] == pytest.approx(w.sum() ** 2 / (w ** 2).sum(), abs=1e-6)
    # The robust (HC0) variance of the weighted mean, by its closed form, on the logit scale.
    mu = (w * y).sum() / w.sum()
    se = math.sqrt((w ** 2 * (y - mu) ** 2).sum()) / w.sum() / (mu * (1 - mu))
    z = NormalDist().inv_cdf(0.975)
    logit = math.log(mu / (1 - mu))
    expit = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    assert (row["CI low"], row["CI high"]) == pytest.approx((100 * expit(logit - z * se), 100 * expit(logit + z * se)),
                                                           abs=1e-6)
    assert "weights 1/p" in row["note"] and "n = 12" in row["note"]


def test_balance_before_and_after_weighting_by_hand(hand):
    # Saturated on sex: the weighted measured have exactly everyone's share of men (after: 0).
    fit = M.ipw_fits(hand, DEFAULTS.mcid, CONFIDENCE, covariates=("sex",), stems=["nprs"])["nprs"]
    row = fit.balance.set_index("column").loc["sex=male"]
    measured = np.array([0, 0, 0, 0, 1, 1.0])
    everyone = np.array([0] * 6 + [1] * 6, dtype=float)
    sd = math.sqrt((measured.var(ddof=1) + everyone.var(ddof=1)) / 2)
    assert row["SMD before"] == pytest.approx((1 / 3 - 1 / 2) / sd) and row["SMD after"] == pytest.approx(0, abs=1e-9)
    assert list(fit.weights.index) == [0, 1, 2, 3, 6, 7]  # the measured patients' rows


def test_patients_without_a_discharge_value_stay_in_the_model(hand):
    # Discharge values only for patients 0-7, the same value for all: only the indicator "no value"
    # varies, so the model is saturated on it and IPW standardises over the two groups.
    cohort = hand.copy()
    cohort["nprs_discharge"] = [7.0] * 8 + [NA] * 4
    cohort["nprs_1y"] = [5, 6, 4, 7, NA, NA, 8, 7, 6, NA, NA, NA]
    row = table(cohort, covariates=("{stem}_discharge",), stabilised=False).loc[IPW]
    assert row["model n"] == 12 and "kept with the mean and an indicator" in row["note"]
    # with a value: 6 of 8 measured, responders 0, 1, 2 -> 3/6; without: 1 of 4 measured (patient 8: 8 -> 6, yes)
    assert row["%"] == pytest.approx(100 * (8 * 3 / 6 + 4 * 1 / 1) / 12, abs=1e-6)
    # left out instead (no indicator): the four patients without a value leave the model
    dropped = M.responder_sensitivity(cohort, DEFAULTS.mcid, CONFIDENCE, covariates=("{stem}_discharge", "sex"),
                                      indicator=(), stems=["nprs"]).set_index("method").loc[IPW]
    assert dropped["model n"] == 8


def test_weighted_share_matches_a_weighted_glm(default_cohort):
    # An independent route: statsmodels' intercept-only logistic GLM with frequency weights.
    import statsmodels.api as sm

    fits = M.ipw_fits(default_cohort, DEFAULTS.mcid, CONFIDENCE)
    rows = M.responder_sensitivity(default_cohort, DEFAULTS.mcid, CONFIDENCE).set_index(["stem", "method"])
    for stem, fit in fits.items():
        rule = DEFAULTS.mcid[stem]
        measured = default_cohort.loc[fit.weights.index]
        y = S.mcid_reached(measured[f"{stem}_start"], measured[f"{stem}_1y"], stem, rule.threshold,
                           rule.definition).astype(float)
        glm = sm.GLM(y.to_numpy(), np.ones((len(y), 1)), family=sm.families.Binomial(),
                     freq_weights=fit.weights.to_numpy()).fit()
        assert rows.loc[(stem, IPW), "%"] == pytest.approx(100 * float(glm.predict()[0]), abs=1e-9)
        assert rows.loc[(stem, IPW), "n"] == len(fit.weights) == int(default_cohort[f"{stem}_1y"].notna().sum())
        w = fit.weights.to_numpy()
        assert fit.ess == pytest.approx(w.sum() ** 2 / (w ** 2).sum())
        # smoking and the discharge value are in the model; nobody left out for a missing discharge value
        assert {"smoker", f"{stem}_discharge", f"no {stem}_discharge"} <= set(fit.covariates)
        assert fit.n_model == len(default_cohort)


def test_trimming_clips_at_the_percentiles(default_cohort):
    w = np.arange(1, 101, dtype=float)
    clipped = M.trimmed(w, (1, 99))
    assert clipped.min() == pytest.approx(np.percentile(w, 1)) and clipped.max() == pytest.approx(np.percentile(w, 99))
    assert (clipped[1:-1] == w[1:-1]).all()
    plain = M.ipw_fits(default_cohort, DEFAULTS.mcid, CONFIDENCE)
    cut = M.ipw_fits(default_cohort, DEFAULTS.mcid, CONFIDENCE, trim=M.TRIM_PERCENTILES)
    for stem in plain:
        assert cut[stem].weights_max < plain[stem].weights_max and cut[stem].weights_min > plain[stem].weights_min
        assert "trimmed at percentiles 1 and 99" in cut[stem].note


def test_stabilising_changes_only_the_weights(hand):
    plain, stable = table(hand, stabilised=False).loc[IPW], table(hand).loc[IPW]
    for column in ("%", "CI low", "CI high", "ESS"):
        assert stable[column] == pytest.approx(plain[column], abs=1e-6)
    # stabilised: P(measured) / p = 0.5 / p
    assert (stable["weights min"], stable["weights max"]) == pytest.approx((0.75, 1.5), abs=1e-6)
    assert "stabilised" in stable["note"]


def test_nobody_lost(template):
    cohort = small_cohort(template, 6, sex=SEX[3:9], nprs_start=[8.0] * 6, nprs_1y=[5, 6, 4, 7, 8, 2])
    t = table(cohort)
    assert t.loc["complete cases", "%"] == t.loc["non-responder imputation", "%"] == t.loc["best case", "%"]
    assert math.isnan(t.loc[IPW, "%"]) and "nobody was lost" in t.loc[IPW, "note"]


def test_a_measure_nobody_has_at_one_year(template):
    cohort = small_cohort(template, 6, nprs_start=[8.0] * 6, nprs_1y=[NA] * 6)
    t = table(cohort)
    assert t.loc["complete cases", "n"] == 0 and math.isnan(t.loc["complete cases", "%"])
    assert (t.loc["non-responder imputation", "k"], t.loc["non-responder imputation", "%"]) == (0, 0.0)
    assert (t.loc["best case", "k"], t.loc["best case", "%"]) == (6, 100.0)
    assert math.isnan(t.loc[IPW, "%"]) and "nobody was measured" in t.loc[IPW, "note"]


def test_separation_is_reported_not_raised(template):
    # Every woman measured, no man: sex predicts being measured perfectly.
    cohort = small_cohort(template, 12, sex=SEX, nprs_start=START, nprs_1y=[5, 6, 4, 7, 8, 2] + [NA] * 6)
    row = table(cohort).loc[IPW]
    assert math.isnan(row["%"]) and math.isnan(row["CI low"])
    assert "separation" in row["note"]
    assert row["model n"] == 12


def test_too_few_lost_for_the_model(template):
    cohort = small_cohort(template, 12, sex=SEX, nprs_start=START, nprs_1y=[5, 6, 4, 7, 8, 2, 8, 7, 6, 5, 4, NA])
    row = table(cohort, covariates=("sex", "age", "{stem}_start")).loc[IPW]
    assert math.isnan(row["%"]) and "too few lost patients (1)" in row["note"]


def test_constant_covariate_is_dropped_and_named(hand):
    # nprs_start is 8 for everyone: not estimable, left out; the model is the sex-only one.
    row = table(hand, covariates=("sex", "{stem}_start")).loc[IPW]
    assert row["%"] == pytest.approx(37.5, abs=1e-6)
    assert "constant, left out: nprs_start" in row["note"]


def test_rows_with_a_missing_covariate_are_left_out(hand):
    # physically_active may be missing: two patients without it leave the model (complete case on covariates).
    cohort = hand.copy()
    cohort["physically_active"] = [1.0, 0.0, 1.0, NA, 0.0, 1.0, 0.0, NA, 1.0, 0.0, 1.0, 0.0]
    row = table(cohort, covariates=("sex", "physically_active")).loc[IPW]
    assert row["model n"] == 10
    assert "2 patient(s) with a missing covariate left out" in row["note"]


def test_zero_share_among_the_measured_has_no_interval(template):
    cohort = small_cohort(template, 12, sex=SEX, nprs_start=START, nprs_1y=[8, 8, 7, 7, NA, NA, 8, 7, NA, NA, NA, NA])
    row = table(cohort).loc[IPW]
    assert row["%"] == 0.0 and math.isnan(row["CI low"]) and "no CI" in row["note"]


def test_arguments_are_checked(hand):
    with pytest.raises(ValueError):
        M.responder_sensitivity(hand, DEFAULTS.mcid, CONFIDENCE, time="start")
    with pytest.raises(ValueError):
        M.responder_sensitivity(hand, DEFAULTS.mcid, 0)


def test_committed_cohort(default_cohort):
    t = M.responder_sensitivity(default_cohort, DEFAULTS.mcid, CONFIDENCE)
    assert list(t.columns) == M.COLUMNS and len(t) == 3 * len(M.METHODS)
    for stem, rows in t.groupby("stem"):
        rows = rows.set_index("method")
        rule = DEFAULTS.mcid[stem]
        cc = S.mcid_summary(default_cohort[f"{stem}_start"], default_cohort[f"{stem}_1y"], stem, rule.threshold,
                            CONFIDENCE, rule.definition)
        assert (rows.loc["complete cases", "k"], rows.loc["complete cases", "n"]) == (cc.k, cc.n)
        lost = int(default_cohort[f"{stem}_start"].notna().sum()) - cc.n
        assert (rows["lost"] == lost).all()
        low, high = rows.loc["non-responder imputation", "%"], rows.loc["best case", "%"]
        assert low <= rows.loc["complete cases", "%"] <= high
        ipw = rows.loc[IPW]
        assert low <= ipw["%"] <= high and ipw["CI low"] < ipw["%"] < ipw["CI high"]
        assert ipw["model n"] == len(default_cohort) and ipw["n"] == cc.n
        assert 0 < ipw["weights min"] <= ipw["weights max"] and 0 < ipw["ESS"] <= cc.n
        assert "logistic model" in ipw["note"]
