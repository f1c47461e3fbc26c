"""Risk ratios by baseline characteristics (modified Poisson): against 2×2 tables, a hand-computed
sandwich, GEE, the fidelity report's crude ratios, and on edge cases."""
from __future__ import annotations

import math
import warnings
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cmprehab import config
from cmprehab.analysis import predictors as P
from cmprehab.data import targets
from cmprehab.data.cohort import load_cohort
from cmprehab.params import McidRule

CONFIDENCE = 0.95  # passed explicitly: unit tests do not read the study parameters
RULES = {"nprs": McidRule(threshold=2), "dri": McidRule(threshold=10), "eqvas": McidRule(threshold=10)}

# Every statsmodels warning must be caught inside the module and reported in the note.
pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(scope="module")
def base():
    return load_cohort(config.DEFAULT_COHORT)


@pytest.fixture(scope="module")
def committed(base):
    return P.predictor_risk_ratios(base, RULES, CONFIDENCE)


def z(confidence=CONFIDENCE):
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def with_eqvas_outcome(base, reached) -> pd.DataFrame:
    """The first len(reached) patients; EQ-VAS from 50 to 70 (reached) or to 50 (not); NaN: not measured."""
    cohort = base.iloc[: len(reached)].copy().reset_index(drop=True)
    cohort["eqvas_start"] = 50.0
    cohort["eqvas_1y"] = [70.0 if r == 1 else 50.0 if r == 0 else np.nan for r in reached]
    return cohort


def univariable(table, measure, predictor) -> pd.DataFrame:
    rows = table[(table["model"] == "univariable") & (table["measure"] == measure) & (table["predictor"] == predictor)]
    return rows.set_index("level")


# --------------------------------------------------------------------------
# Against the 2×2 table
# --------------------------------------------------------------------------

def test_rr_equals_the_crude_two_by_two_ratio(base):
    # Exposed (anxious): a = 4 events of 6; reference: c = 3 of 9; one anxious patient unmeasured.
    anxious = [1] * 7 + [0] * 9
    reached = [1, 1, 1, 1, 0, 0, None] + [1, 1, 1, 0, 0, 0, 0, 0, 0]
    cohort = with_eqvas_outcome(base, reached)
    cohort["anxiety_depression"] = anxious
    row = univariable(P.predictor_risk_ratios(cohort, RULES, CONFIDENCE, measures=["eqvas"]),
                      "eqvas", "anxiety_depression").loc["yes"]
    a, b, c, d = 4, 2, 3, 6
    assert row["rr"] == pytest.approx((a / (a + b)) / (c / (c + d)), rel=1e-9)
    # HC0 sandwich of a saturated 2×2 model = Katz's variance of log RR.
    se = math.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    assert row["low"] == pytest.approx(math.exp(math.log(2.0) - z() * se), rel=1e-7)
    assert row["high"] == pytest.approx(math.exp(math.log(2.0) + z() * se), rel=1e-7)
    assert row["p"] == pytest.approx(2 * (1 - NormalDist().cdf(math.log(2.0) / se)), rel=1e-7)
    assert (row["n"], row["events"], row["n_level"], row["events_level"], row["n_reference"],
            row["events_reference"]) == (15, 7, 6, 4, 9, 3)
    assert row["reference"] == "no" and row["note"] == ""


def test_every_level_of_pain_duration_against_its_crude_ratio(base):
    days = [200] * 5 + [800] * 4 + [3000] * 6
    reached = [1, 1, 1, 0, 0] + [1, 0, 0, 0] + [1, 1, 0, 0, 0, 0]
    cohort = with_eqvas_outcome(base, reached)
    cohort["pain_duration_days"] = days
    rows = univariable(P.predictor_risk_ratios(cohort, RULES, CONFIDENCE, measures=["eqvas"]),
                       "eqvas", "pain_duration")
    assert list(rows.index) == ["< 1 year", "1–5 years"] and set(rows["reference"]) == {"> 5 years"}
    assert rows.loc["< 1 year", "rr"] == pytest.approx((3 / 5) / (2 / 6))
    assert rows.loc["1–5 years", "rr"] == pytest.approx((1 / 4) / (2 / 6))


def test_the_interval_follows_the_confidence_passed(base):
    cohort = with_eqvas_outcome(base, [1, 0, 1, 1, 0, 0, 1, 0, 0, 0])
    cohort["anxiety_depression"] = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    def row(confidence):
        return univariable(P.predictor_risk_ratios(cohort, RULES, confidence, measures=["eqvas"]),
                           "eqvas", "anxiety_depression").loc["yes"]
    wide, narrow = row(0.99), row(0.80)
    assert wide["rr"] == pytest.approx(narrow["rr"])
    assert wide["low"] < narrow["low"] < narrow["rr"] < narrow["high"] < wide["high"]


def test_the_univariable_rrs_are_the_fidelity_reports_crude_ratios(base, committed):
    # The same exposures and stand-in outcomes as analysis.calibration (the generator's calibration).
    from cmprehab.analysis import calibration
    from cmprehab.report import fidelity
    table = P.beside_published(committed).set_index("key")
    thresholds = {stem: rule.threshold for stem, rule in RULES.items()}
    for spec in calibration.RISK_RATIOS:
        if spec.measure is None:
            assert math.isnan(table.loc[spec.key, "rr"])
            continue
        crude = fidelity.risk_ratio(base, spec, thresholds)
        assert table.loc[spec.key, "rr"] == pytest.approx(crude.rr, rel=1e-9)
        row = univariable(committed, spec.measure, table.loc[spec.key, "predictor"]).loc[table.loc[spec.key, "level"]]
        assert (row["n_level"], row["events_level"], row["n_reference"], row["events_reference"]) == (
            crude.n_exposed, crude.k_exposed, crude.n_reference, crude.k_reference)


# --------------------------------------------------------------------------
# The robust interval, computed independently
# --------------------------------------------------------------------------

def _two_predictor_model(base):
    frame = P.predictor_frame(base)[["severe_pain", "age", "main_pain_location"]]
    y = P.outcome_at_1y(base, "eqvas", RULES["eqvas"])
    return y, frame


def test_sandwich_by_hand(base):
    y, frame = _two_predictor_model(base)
    result = P.fit_modified_poisson(y, frame, CONFIDENCE, {"age": "per 10 years"})
    keep = y.notna() & frame.notna().all(axis=1)
    yy = y[keep].to_numpy()
    x = np.column_stack([np.ones(keep.sum()),
                         (frame.loc[keep, "severe_pain"] == "NPRS ≥ 7").to_numpy(float),
                         frame.loc[keep, "age"].to_numpy(float),
                         *[(frame.loc[keep, "main_pain_location"] == level).to_numpy(float)
                           for level in config.CATEGORIES["main_pain_location"][1:]]])
    # Poisson score equations solved by Newton's method, then bread^-1 meat bread^-1.
    beta = np.zeros(x.shape[1])
    beta[0] = math.log(yy.mean())
    for _ in range(50):
        mu = np.exp(x @ beta)
        beta += np.linalg.solve(x.T @ (mu[:, None] * x), x.T @ (yy - mu))
    mu = np.exp(x @ beta)
    bread = np.linalg.inv(x.T @ (mu[:, None] * x))
    meat = x.T @ (((yy - mu) ** 2)[:, None] * x)
    se = np.sqrt(np.diag(bread @ meat @ bread))
    assert result["n"].iloc[0] == keep.sum() == len(yy)
    assert result["rr"].to_numpy() == pytest.approx(np.exp(beta[1:]), rel=1e-7)
    assert result["low"].to_numpy() == pytest.approx(np.exp(beta[1:] - z() * se[1:]), rel=1e-7)
    assert result["high"].to_numpy() == pytest.approx(np.exp(beta[1:] + z() * se[1:]), rel=1e-7)


def test_robust_interval_equals_gee_with_independence(base):
    y, frame = _two_predictor_model(base)
    result = P.fit_modified_poisson(y, frame, CONFIDENCE)
    keep = y.notna() & frame.notna().all(axis=1)
    design = pd.get_dummies(frame[keep], drop_first=True, dtype=float)
    # The order of fit_modified_poisson's rows: severe_pain, age, then the locations.
    design = sm.add_constant(design[["severe_pain_NPRS ≥ 7", "age",
                                     *[c for c in design.columns if c.startswith("main_pain_location_")]]])
    gee = sm.GEE(y[keep].to_numpy(), design.to_numpy(), groups=np.arange(keep.sum()),
                 family=sm.families.Poisson(), cov_struct=sm.cov_struct.Independence()).fit()
    bounds = np.exp(gee.conf_int(alpha=1 - CONFIDENCE))[1:]
    assert result["rr"].to_numpy() == pytest.approx(np.exp(gee.params[1:]), rel=1e-6)
    assert result["low"].to_numpy() == pytest.approx(bounds[:, 0], rel=1e-6)
    assert result["high"].to_numpy() == pytest.approx(bounds[:, 1], rel=1e-6)
    assert result["p"].to_numpy() == pytest.approx(gee.pvalues[1:], rel=1e-5)


def glm_hc0(y: pd.Series, values: pd.Series):
    """statsmodels' modified Poisson fit (HC0) of y on the dummies of a categorical, as the module
    fitted every model before one categorical predictor was given its closed form."""
    keep = y.notna() & values.notna()
    events = y[keep].groupby(values[keep], observed=False).sum()
    kept = values[keep].isin(events.index[events > 0])  # levels without events are left out
    codes = values[keep][kept]
    levels = [level for level in codes.cat.categories[1:] if (codes == level).any()]
    x = np.column_stack([np.ones(len(codes))] + [(codes == level).to_numpy(float) for level in levels])
    fit = sm.GLM(y[keep][kept].to_numpy(float), x, family=sm.families.Poisson()).fit(cov_type="HC0")
    return pd.DataFrame({"rr": np.exp(fit.params[1:]), "low": np.exp(fit.conf_int(1 - CONFIDENCE)[1:, 0]),
                         "high": np.exp(fit.conf_int(1 - CONFIDENCE)[1:, 1]), "p": fit.pvalues[1:]},
                        index=levels)


def test_one_categorical_predictor_in_closed_form_is_the_fitted_model(base, committed):
    frame = P.predictor_frame(base)
    checked = 0
    for measure in RULES:
        y = P.outcome_at_1y(base, measure, RULES[measure])
        for key, predictor in P.PREDICTORS.items():
            if predictor.kind == "continuous":
                continue
            ours = univariable(committed, measure, key).dropna(subset=["rr"])
            fitted = glm_hc0(y, frame[key]).loc[ours.index]
            for column in ("rr", "low", "high", "p"):
                assert ours[column].to_numpy() == pytest.approx(fitted[column].to_numpy(), rel=1e-6), (measure, key)
            checked += len(ours)
    assert checked >= 30


def test_closed_form_with_a_level_where_everyone_reached_it_and_one_where_nobody_did(base):
    days = [200] * 4 + [800] * 5 + [3000] * 6
    reached = [1, 1, 1, 1] + [0, 0, 0, 0, 0] + [1, 1, 0, 0, 0, 0]
    cohort = with_eqvas_outcome(base, reached)
    cohort["pain_duration_days"] = days
    rows = univariable(P.predictor_risk_ratios(cohort, RULES, CONFIDENCE, measures=["eqvas"]),
                       "eqvas", "pain_duration")
    y = P.outcome_at_1y(cohort, "eqvas", RULES["eqvas"])
    fitted = glm_hc0(y, P.predictor_frame(cohort)["pain_duration"])
    assert rows.loc["< 1 year", "rr"] == pytest.approx(fitted.loc["< 1 year", "rr"], rel=1e-6) == 3.0
    assert rows.loc["< 1 year", "low"] == pytest.approx(fitted.loc["< 1 year", "low"], rel=1e-6)
    assert math.isnan(rows.loc["1–5 years", "rr"]) and "left out" in rows.loc["1–5 years", "note"]


# --------------------------------------------------------------------------
# Codings and the adjusted model
# --------------------------------------------------------------------------

def test_cut_points(base):
    cohort = base.iloc[:6].copy().reset_index(drop=True)
    cohort["pain_duration_days"] = [365, 366, 1826, 1827, 90, 5000]
    cohort["nprs_start"] = [6.0, 7.0, 10.0, 0.0, 6.0, 7.0]
    cohort["pain_management"] = [2.0, 3.0, 0.0, np.nan, 6.0, 2.0]
    cohort["age"] = [20, 30, 40, 50, 60, 70]
    frame = P.predictor_frame(cohort)
    assert frame["pain_duration"].tolist() == ["< 1 year", "1–5 years", "1–5 years", "> 5 years", "< 1 year",
                                               "> 5 years"]
    assert frame["severe_pain"].tolist() == ["NPRS < 7", "NPRS ≥ 7", "NPRS ≥ 7", "NPRS < 7", "NPRS < 7", "NPRS ≥ 7"]
    assert [None if pd.isna(v) else v for v in frame["low_pain_management"]] == [
        "low (0–2)", "3–6", "low (0–2)", None, "3–6", "low (0–2)"]
    assert frame["age"].tolist() == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    for key, predictor in P.PREDICTORS.items():
        if predictor.kind != "continuous":
            assert list(frame[key].cat.categories) == list(predictor.levels), key


def test_regional_and_generalized_are_pooled_and_missing_stays_missing(base):
    frame = P.predictor_frame(base)
    distribution = base["pain_distribution"].astype(object)
    pooled = frame["pain_distribution"] == "regional or generalized"
    assert pooled.sum() == distribution.isin(["regional", "generalized"]).sum()
    assert frame["pain_distribution"].isna().sum() == base["pain_distribution"].isna().sum() > 0


def test_one_row_per_level_and_model(committed):
    per_measure = committed[committed["measure"] == "eqvas"]
    levels = sum(1 if p.kind == "continuous" else len(p.levels) - 1 for p in P.PREDICTORS.values())
    assert (per_measure["model"] == "univariable").sum() == levels == (per_measure["model"] == "adjusted").sum()
    assert list(committed.columns) == P.RESULT_COLUMNS
    assert set(committed["measure"]) == {"nprs", "dri", "eqvas"}


def test_adjusted_model_uses_the_complete_cases(base, committed):
    sources = ["age", "sex", "bmi", "smoker", "pain_duration_days", "pain_distribution", "main_pain_location",
               "nprs_start", "dri_start", "eqvas_start", "pain_management", "physically_active",
               "anxiety_depression"]
    for measure in ("nprs", "dri", "eqvas"):
        complete = base[[f"{measure}_1y", *sources]].notna().all(axis=1)
        adjusted = committed[(committed["measure"] == measure) & (committed["model"] == "adjusted")]
        assert set(adjusted["n"]) == {int(complete.sum())}
        # physically_active is missing for about half: the adjusted model is much smaller.
        assert adjusted["n"].iloc[0] < committed[(committed["measure"] == measure)
                                                 & (committed["predictor"] == "age")]["n"].iloc[0] * 0.6


def test_adjusted_model_can_be_chosen_or_left_out(base):
    none = P.predictor_risk_ratios(base, RULES, CONFIDENCE, measures=["eqvas"], adjusted_for=None)
    assert set(none["model"]) == {"univariable"}
    two = P.predictor_risk_ratios(base, RULES, CONFIDENCE, measures=["eqvas"],
                                  adjusted_for=["anxiety_depression", "pain_duration"])
    adjusted = two[two["model"] == "adjusted"]
    assert adjusted["predictor"].tolist() == ["anxiety_depression", "pain_duration", "pain_duration"]
    with pytest.raises(KeyError):
        P.predictor_risk_ratios(base, RULES, CONFIDENCE, adjusted_for=["height"])
    with pytest.raises(KeyError):
        P.predictor_risk_ratios(base, RULES, CONFIDENCE, measures=["pain"])


def test_the_mcid_rule_passed_is_used(base):
    loose = {**RULES, "eqvas": McidRule(threshold=1)}
    strict = {**RULES, "eqvas": McidRule(threshold=30, definition="percent")}
    def events(rules):
        return P.predictor_risk_ratios(base, rules, CONFIDENCE, measures=["eqvas"], adjusted_for=None)["events"].iloc[0]
    y = base["eqvas_1y"] - base["eqvas_start"]
    assert events(loose) == int((y >= 1).sum())
    assert events(strict) == int((100 * y / base["eqvas_start"] >= 30).sum())
    assert events(loose) > events(RULES) > events(strict)


# --------------------------------------------------------------------------
# Edge cases: NaN with a note, never an exception or a warning
# --------------------------------------------------------------------------

def test_a_level_nobody_has(base):
    cohort = with_eqvas_outcome(base, [1, 0, 1, 0, 1, 0, 1, 1, 0, 0])
    cohort["main_pain_location"] = pd.Categorical(["neck", "neck", "neck", "neck", "spine_pelvis", "spine_pelvis",
                                                   "lower_limb", "lower_limb", "lower_limb", "no_single_region"],
                                                  categories=config.CATEGORIES["main_pain_location"], ordered=True)
    rows = univariable(P.predictor_risk_ratios(cohort, RULES, CONFIDENCE, measures=["eqvas"]),
                       "eqvas", "main_pain_location")
    assert math.isnan(rows.loc["upper_limb", "rr"]) and rows.loc["upper_limb", "note"] == "no patient in this level"
    assert rows.loc["upper_limb", "n_level"] == 0
    assert rows.loc["spine_pelvis", "rr"] == pytest.approx((1 / 2) / (2 / 4))
    assert rows.loc["lower_limb", "rr"] == pytest.approx((2 / 3) / (2 / 4))


def test_a_level_without_events_is_left_out(base):
    cohort = with_eqvas_outcome(base, [1, 0, 1, 0, 0, 0, 1, 1, 0, 1])
    cohort["main_pain_location"] = pd.Categorical(["neck", "neck", "neck", "neck", "spine_pelvis", "spine_pelvis",
                                                   "lower_limb", "lower_limb", "lower_limb", "upper_limb"],
                                                  categories=config.CATEGORIES["main_pain_location"], ordered=True)
    rows = univariable(P.predictor_risk_ratios(cohort, RULES, CONFIDENCE, measures=["eqvas"]),
                       "eqvas", "main_pain_location")
    spine = rows.loc["spine_pelvis"]
    assert math.isnan(spine["rr"]) and "would be 0" in spine["note"] and spine["n_level"] == 2
    assert rows.loc["lower_limb", "rr"] == pytest.approx((2 / 3) / (2 / 4))      # unchanged by leaving them out
    assert "left out" in rows.loc["lower_limb", "note"]
    assert set(rows["n"]) == {8}                                                 # 10 minus the two left out


def test_no_events_in_the_reference(base):
    cohort = with_eqvas_outcome(base, [0, 0, 0, 1, 1, 0])
    cohort["anxiety_depression"] = [0, 0, 0, 1, 1, 1]
    row = univariable(P.predictor_risk_ratios(cohort, RULES, CONFIDENCE, measures=["eqvas"]),
                      "eqvas", "anxiety_depression").loc["yes"]
    assert math.isnan(row["rr"]) and "infinite" in row["note"]


def test_an_outcome_nobody_reaches(base):
    cohort = with_eqvas_outcome(base, [0] * 12)
    table = P.predictor_risk_ratios(cohort, RULES, CONFIDENCE, measures=["eqvas"])
    assert table["rr"].isna().all() and table["low"].isna().all() and table["p"].isna().all()
    assert (table["note"] == "no patient reached the outcome").sum() > 0
    assert (table["events"] == 0).all()


def test_an_outcome_everybody_reaches(base):
    table = P.predictor_risk_ratios(with_eqvas_outcome(base, [1] * 12), RULES, CONFIDENCE, measures=["eqvas"])
    assert table["rr"].isna().all()
    assert table["note"].str.contains("every patient reached the outcome").all()


def test_a_predictor_missing_for_everyone(base):
    cohort = with_eqvas_outcome(base, [1, 0] * 6)
    cohort["physically_active"] = np.nan
    row = univariable(P.predictor_risk_ratios(cohort, RULES, CONFIDENCE, measures=["eqvas"]),
                      "eqvas", "physically_active").loc["yes"]
    assert row["n"] == 0 and math.isnan(row["rr"]) and "no patient has the outcome" in row["note"]
    # The adjusted model holds physically_active: no complete case either.
    adjusted = P.predictor_risk_ratios(cohort, RULES, CONFIDENCE, measures=["eqvas"])
    assert adjusted.loc[adjusted["model"] == "adjusted", "rr"].isna().all()


def test_an_outcome_never_measured(base):
    cohort = with_eqvas_outcome(base, [None] * 8)
    table = P.predictor_risk_ratios(cohort, RULES, CONFIDENCE, measures=["eqvas"])
    assert (table["n"] == 0).all() and table["rr"].isna().all()


@pytest.mark.parametrize("sex,note", [("female", "no patient in this level"),
                                      ("male", "no patient in the reference level")])
def test_a_predictor_with_one_level(base, sex, note):
    cohort = with_eqvas_outcome(base, [1, 0, 1, 0, 1, 0])
    cohort["sex"] = pd.Categorical([sex] * 6, categories=config.CATEGORIES["sex"], ordered=True)
    row = univariable(P.predictor_risk_ratios(cohort, RULES, CONFIDENCE, measures=["eqvas"]), "eqvas", "sex").iloc[0]
    assert math.isnan(row["rr"]) and row["note"].startswith(note)


def test_a_constant_continuous_predictor(base):
    cohort = with_eqvas_outcome(base, [1, 0, 1, 0, 1, 0])
    cohort["age"] = 40
    row = univariable(P.predictor_risk_ratios(cohort, RULES, CONFIDENCE, measures=["eqvas"]), "eqvas", "age").iloc[0]
    assert math.isnan(row["rr"]) and "same value for every patient" in row["note"]


def test_separation_on_a_continuous_predictor(base):
    # Every event at the highest disability and nothing else there: the MLE runs off to infinity.
    cohort = with_eqvas_outcome(base, [0, 0, 0, 0, 1, 1, 0])
    cohort["dri_start"] = [10.0, 20.0, 30.0, 40.0, 50.0, 50.0, 50.0]
    row = univariable(P.predictor_risk_ratios(cohort, RULES, CONFIDENCE, measures=["eqvas"]),
                      "eqvas", "dri_start").iloc[0]
    assert math.isnan(row["rr"]) and "separation" in row["note"]
    assert row.name == "per 10 mm" and row["reference"] == ""


def test_collinear_predictors():
    y = pd.Series([1, 0, 1, 1, 0, 0, 1, 0], dtype=float)
    x = pd.DataFrame({"u": np.arange(8.0), "v": 2 * np.arange(8.0)})
    result = P.fit_modified_poisson(y, x, CONFIDENCE)
    assert result["rr"].isna().all() and result["note"].str.contains("collinear").all()


def test_statsmodels_warnings_are_caught_and_quoted(monkeypatch):
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    real_fit = GLM.fit

    def noisy_fit(self, *args, **kwargs):
        warnings.warn("the IRLS was restless", ConvergenceWarning)
        return real_fit(self, *args, **kwargs)
    monkeypatch.setattr(GLM, "fit", noisy_fit)
    y = pd.Series([1, 0, 1, 1, 0, 0, 1, 0], dtype=float)
    result = P.fit_modified_poisson(y, pd.DataFrame({"u": np.arange(8.0)}), CONFIDENCE)
    assert math.isfinite(result["rr"].iloc[0])
    assert "ConvergenceWarning: the IRLS was restless" in result["note"].iloc[0]


def test_a_failing_fit_gives_nan_and_says_why(monkeypatch):
    from statsmodels.genmod.generalized_linear_model import GLM

    def broken_fit(self, *args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")
    monkeypatch.setattr(GLM, "fit", broken_fit)
    y = pd.Series([1, 0, 1, 1, 0, 0, 1, 0], dtype=float)
    result = P.fit_modified_poisson(y, pd.DataFrame({"u": np.arange(8.0)}), CONFIDENCE)
    assert math.isnan(result["rr"].iloc[0]) and "LinAlgError: Singular matrix" in result["note"].iloc[0]


def test_input_is_checked():
    x = pd.DataFrame({"u": np.arange(4.0)})
    with pytest.raises(ValueError, match="0/1"):
        P.fit_modified_poisson(pd.Series([0, 1, 2, 1.0]), x, CONFIDENCE)
    with pytest.raises(ValueError, match="confidence"):
        P.fit_modified_poisson(pd.Series([0, 1, 0, 1.0]), x, 1.0)
    with pytest.raises(TypeError, match="Categorical or numeric"):
        P.fit_modified_poisson(pd.Series([0, 1, 0, 1.0]), pd.DataFrame({"s": ["a", "b", "a", "b"]}), CONFIDENCE)


# --------------------------------------------------------------------------
# Beside the follow-on paper
# --------------------------------------------------------------------------

def test_every_published_rr_has_a_row_with_its_stand_in(committed):
    table = P.beside_published(committed).set_index("key")
    assert list(table.index) == [r.key for r in targets.risk_ratios()]
    assert table.loc["anxiety_health", "stand_in"] == "reaching the MCID on EQ-VAS at 1 year"
    assert table.loc["widespread_pain_reduction", "stand_in"] == "reaching the MCID on NPRS at 1 year"
    assert (table.loc["pain_duration_health", ["predictor", "level", "reference"]].tolist()
            == ["pain_duration", "< 1 year", "> 5 years"])
    for key in ("moderate_pain_management", "severe_pain_management"):
        assert math.isnan(table.loc[key, "rr"]) and "cannot be expressed" in table.loc[key, "note"]
        assert pd.isna(table.loc[key, "within_published_ci"])
    anxiety = univariable(committed, "eqvas", "anxiety_depression").loc["yes"]
    assert table.loc["anxiety_health", "rr"] == anxiety["rr"] and table.loc["anxiety_health", "n"] == anxiety["n"]


def test_direction_and_interval_flags_against_made_up_publications(committed):
    est = univariable(committed, "eqvas", "anxiety_depression").loc["yes", "rr"]
    made_up = [
        targets.PublishedRiskRatio("anxiety_health", "A", "B", est * 1.1, est * 0.9, est * 1.3, "F"),
        targets.PublishedRiskRatio("anxiety_health", "A", "B", 1 / est, 0.5 / est, 0.9 / est, "F"),
        targets.PublishedRiskRatio("something_new", "A", "B", 1.2, 1.0, 1.4, "F"),
    ]
    table = P.beside_published(committed, made_up)
    assert table["same_direction"].tolist()[:2] == [True, est < 1]
    assert table["within_published_ci"].tolist()[:2] == [True, False]
    assert "no stand-in" in table["note"].iloc[2] and pd.isna(table["same_direction"].iloc[2])


def test_only_univariable_estimates_are_compared(committed):
    adjusted_only = committed[committed["model"] == "adjusted"]
    table = P.beside_published(adjusted_only)
    assert table["rr"].isna().all()
    assert (table["note"].iloc[:4] == "not among the estimates given").all()


# --------------------------------------------------------------------------
# The adjusted model: log-binomial check, events per coefficient, risks above 1
# --------------------------------------------------------------------------

PRESPECIFIED = ["age", "sex", "pain_duration", "pain_distribution", "severe_pain", "anxiety_depression"]
UNITS = {key: p.levels[0] for key, p in P.PREDICTORS.items() if p.kind == "continuous"}


def complete_design(base, measure, adjusted_for):
    """The adjusted model's outcome and design (dummies per non-reference level), built here with pandas."""
    y = P.outcome_at_1y(base, measure, RULES[measure])
    frame = P.predictor_frame(base)[adjusted_for]
    keep = y.notna() & frame.notna().all(axis=1)
    x = pd.get_dummies(frame[keep], drop_first=True, dtype=float)
    return y[keep].to_numpy(), sm.add_constant(x)


@pytest.fixture(scope="module")
def check(base):
    return P.adjusted_model_check(base, RULES, CONFIDENCE, PRESPECIFIED)


def test_log_binomial_is_the_maximum_likelihood_fit_where_it_converges(base, check):
    converged = P.adjusted_summary(check).query("log_binomial_converged")["measure"].tolist()
    assert converged, "the check needs at least one outcome whose log-binomial fit converges"
    for measure in converged:
        y, x = complete_design(base, measure, PRESPECIFIED)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.GLM(y, x, family=sm.families.Binomial(link=sm.families.links.Log())).fit(
                start_params=np.r_[np.log(y.mean()), np.zeros(x.shape[1] - 1)], maxiter=200)
        assert fit.converged and fit.fittedvalues.max() < 1
        ours = check[check["measure"] == measure]["rr_log_binomial"].to_numpy()
        np.testing.assert_allclose(np.sort(ours), np.sort(np.exp(fit.params.iloc[1:].to_numpy())), rtol=1e-5)


def test_modified_poisson_and_log_binomial_agree_where_the_log_binomial_converges(check):
    both = check.dropna(subset=["rr", "rr_log_binomial"])
    assert len(both)
    # Two consistent estimators of the same risk ratio: within 10 % of each other on this cohort.
    np.testing.assert_allclose(np.log(both["rr"]), np.log(both["rr_log_binomial"]), atol=np.log(1.1))


def test_a_log_binomial_fit_that_fails_has_no_estimate_and_says_why(check):
    failed = check[check["rr_log_binomial"].isna()]
    assert failed["log_binomial_note"].str.startswith(P.LOG_BINOMIAL_FAILED).all()
    assert failed["rr"].notna().all()  # the modified Poisson estimate stands


def test_saturated_log_binomial_equals_the_two_by_two_ratio(base):
    y = P.outcome_at_1y(base, "eqvas", RULES["eqvas"])
    frame = P.predictor_frame(base)[["anxiety_depression"]]
    poisson = P.fit_modified_poisson(y, frame, CONFIDENCE, UNITS)
    binomial = P.fit_log_binomial(y, frame, CONFIDENCE, UNITS)
    np.testing.assert_allclose(binomial[["rr", "low", "high"]], poisson[["rr", "low", "high"]], rtol=1e-12)


def test_events_per_coefficient_and_risks_above_one_are_counted(base, check):
    summary = P.adjusted_summary(check).set_index("measure")
    for measure in ("nprs", "dri", "eqvas"):
        y, x = complete_design(base, measure, PRESPECIFIED)
        coefficients = x.shape[1] - 1
        assert summary.at[measure, "coefficients"] == coefficients
        assert summary.at[measure, "events_per_coefficient"] == pytest.approx(
            min(y.sum(), len(y) - y.sum()) / coefficients)
        fit = sm.GLM(y, x, family=sm.families.Poisson()).fit()
        assert summary.at[measure, "risk_above_one"] == int((fit.fittedvalues > 1).sum())
    assert (summary["risk_above_one"] > 0).any(), "the cohort should show the note at least once"


def test_benjamini_hochberg_q_values(committed):
    for model in (P.MODEL_UNIVARIABLE, P.MODEL_ADJUSTED):
        rows = committed[(committed["model"] == model) & committed["p"].notna()]
        p = rows["p"].to_numpy()
        m, order = len(p), np.argsort(p)
        # By hand: q(i) = min over j >= i of p(j) * m / j, on the sorted p-values, capped at 1.
        stepped = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
        expected = np.empty(m)
        expected[order] = np.minimum(stepped, 1)
        np.testing.assert_allclose(rows["q"].to_numpy(), expected, rtol=1e-12)
        assert (rows["q"] >= rows["p"]).all()
    assert committed.loc[committed["p"].isna(), "q"].isna().all()


# --------------------------------------------------------------------------
# Oldham's method
# --------------------------------------------------------------------------

def test_oldham_r_is_the_closed_form_of_the_variances(base):
    table = P.oldham(base).set_index("stem")
    for stem in ("nprs", "dri", "eqvas"):
        both = base[[f"{stem}_start", f"{stem}_1y"]].dropna().astype(float)
        cov = np.cov(both.to_numpy().T, ddof=1)
        vx, vy, cxy = cov[0, 0], cov[1, 1], cov[0, 1]
        # corr(change, mean) = (var start - var later) / sqrt((var start + var later)^2 - 4 cov^2), with
        # the change and "worse" oriented as the pages orient them (the sign works out the same for all).
        expected = (vx - vy) / math.sqrt((vx + vy) ** 2 - 4 * cxy ** 2)
        assert table.at[stem, "r"] == pytest.approx(expected, rel=1e-9)
        assert table.at[stem, "n"] == len(both)


def test_oldham_is_near_zero_under_regression_to_the_mean_alone(base):
    """Everybody improves by the same amount; the start and 1-year values carry the same noise. The
    start-change correlation is then clearly positive, Oldham's r is not."""
    rng = np.random.default_rng(7)
    n = 4000
    true = rng.normal(50, 12, n)
    cohort = pd.DataFrame({f"{stem}_{time}": np.nan for stem in ("nprs", "dri", "eqvas")
                           for time in ("start", "discharge", "1y")}, index=range(n))
    cohort["dri_start"] = true + rng.normal(0, 10, n)
    cohort["dri_1y"] = true - 8 + rng.normal(0, 10, n)
    from cmprehab.analysis.paired import improvement_by_start
    naive = improvement_by_start(cohort).set_index("stem").at["dri", "rho"]
    oldham = P.oldham(cohort).set_index("stem").loc["dri"]
    assert naive > 0.3
    assert oldham["low"] < 0 < oldham["high"] and abs(oldham["r"]) < 0.05


def test_the_predictors_page_glues_the_steps_and_cut_points_the_models_use(base, monkeypatch):
    """The Method's prose pastes each predictor's step and cut-point from the constants that code
    the models: a changed constant changes the page (its text was once typed: "per 10 years")."""
    from cmprehab.report import results

    for name, value in (("AGE_STEP", 5.0), ("BMI_STEP", 2.5), ("MM_STEP", 20.0), ("SHORT_PAIN_YEARS", 2),
                        ("LONG_PAIN_YEARS", 10), ("SEVERE_NPRS", 8)):
        monkeypatch.setattr(P, name, value)
    # A copy: the page's analyses are kept per cohort object (cmprehab.memo), and these are not the models' steps.
    page = results.predictors(base.copy())
    shown = {name: page[name].text for name in ("age_step", "bmi_step", "mm_step", "short_pain", "long_pain",
                                                "severe_nprs")}
    assert shown == {"age_step": "5 years", "bmi_step": "2.5 kg/m²", "mm_step": "20 mm", "short_pain": "2 years",
                     "long_pain": "10 years", "severe_nprs": "8"}
    # Each is a rule of the code: a reader's tooltip must say so, not that the generator made it.
    import sys

    sys.path.insert(0, str(config.ROOT / "_ext"))
    import traced_numbers

    assert all(traced_numbers.is_setting({"source": page[name].source}) for name in shown)
    # The notebook pastes them instead of typing them.
    import json

    notebook = json.loads((config.ROOT / "chapters" / "08_predictors.ipynb").read_text(encoding="utf-8"))
    prose = "".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    for name in shown:
        assert f"{{glue:text}}`{name}`" in prose, name
    for typed in ("per 10 years", "per 5 kg/m²", "per 10 mm", "at 1 and 5 years", "NPRS of 7"):
        assert typed not in prose, typed



def test_the_anxiety_cut_off_is_set_beside_the_published_count(base):
    """The page states the published count and share of anxious or depressed patients (data/published.csv,
    tagged with their keys) beside this build's, and on synthetic data that they agree by construction."""
    from cmprehab.report import results

    page = results.predictors(base)
    assert page["anxiety_depression_published_n"].value == targets.value("anxiety_depression_n")
    assert page["anxiety_depression_published_n"].published_key == "anxiety_depression_n"
    assert page["anxiety_depression_published"].value == targets.value("anxiety_depression_pct")
    assert "by construction" in page["anxiety_depression_agreement"].text
