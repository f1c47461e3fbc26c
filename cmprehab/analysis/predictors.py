"""Who benefits: risk ratios of reaching the MCID at 1 year by baseline characteristics.

The follow-on paper (Bondesson et al. 2023) tested 17 baseline characteristics one at a time
as predictors of a successful outcome and reported univariable risk ratios (RR). This module
estimates the same kind of RR for the characteristics this schema holds, for each 1-year
outcome this schema can express: reaching the MCID (under rules passed in) on NPRS, DRI and
EQ-VAS between the start and 1 year after discharge.

Estimation: modified Poisson regression (Zou, Am J Epidemiol 2004;159:702-6), i.e. a Poisson
GLM with log link fitted to the 0/1 outcome, so exp(coefficient) is a risk ratio, with the
robust sandwich variance HC0 (no small-sample factor): the Poisson model variance is wrong for
a binary outcome and the sandwich corrects it. HC0 is Zou's estimator and what GEE with an
independence working correlation gives; for one binary predictor its variance of log RR is
exactly the textbook 1/a - 1/(a+b) + 1/c - 1/(c+d), so the interval is the familiar Katz
log interval of the 2x2 table (HC1 would widen it by sqrt(n/(n-k)) for no gain). Note that
statsmodels 0.15 computes this same HC0 sandwich for a GLM whatever HC type is asked for
(GLM results have no small-sample HC variants), so "HC0" is the honest name. Intervals and
p-values are Wald (normal), on the log scale. A model of one categorical predictor (most
univariable ones) is saturated: its estimates and sandwich are computed in closed form, the
same numbers as the fitted model (a test compares them) without iterating over every patient.

Each univariable model uses the patients with the outcome (start and 1-year value) and the
predictor; the one adjusted model uses the complete cases on every predictor it holds.

Checks a reviewer asks for: `adjusted_model_check` gives the adjusted model's events per
coefficient (the less frequent outcome per coefficient), the patients it predicts a risk above 1
for, and the same model fitted as a log-binomial GLM (`fit_log_binomial`: the maximum-likelihood
RRs, where that fit converges inside the parameter space); `predictor_risk_ratios` adds the
Benjamini-Hochberg q of each p (statsmodels' multipletests, one family per kind of model).
`oldham` asks whether the worse improved more beyond regression to the mean (Oldham 1962: the
change against the mean of the start and the later value, not against the start).

The predictors and their codings are this project's choices (the follow-on paper's cut-points
where it names them, `PREDICTORS`); they are the same as `analysis.calibration` uses for the
generator's risk ratios (pain duration < 1 year vs > 5 years; severe pain NPRS >= 7).

Pure functions: parameters are passed in, nothing is read from the study parameters, and no
disclosure control is applied (the report layer does that). A model that cannot be fitted
gives NaN and a `note` saying why; statsmodels' warnings are caught and quoted in the note.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.stats.multitest import multipletests
import statsmodels.tools as sm_tools
import statsmodels.tools.sm_exceptions  # noqa: F401 - sm_tools.sm_exceptions.DomainWarning
from scipy import stats as _scipy_stats

from .. import config
from ..memo import per_cohort
from ..data import targets as targets_file
from ..instruments import INSTRUMENTS
from ..params import McidRule
from .stats import collecting_cycles, improvement, mcid_reached, release_fit

__all__ = [
    "LONG_PAIN_DAYS",
    "LONG_PAIN_YEARS",
    "MODEL_ADJUSTED",
    "MODEL_UNIVARIABLE",
    "NOT_EXPRESSIBLE",
    "PAIN_DURATION_LEVELS",
    "PREDICTORS",
    "PUBLISHED_STAND_INS",
    "Predictor",
    "RESULT_COLUMNS",
    "SEVERE_NPRS",
    "SHORT_PAIN_DAYS",
    "SHORT_PAIN_YEARS",
    "STAND_IN_OUTCOMES",
    "StandIn",
    "adjusted_model_check",
    "adjusted_summary",
    "beside_published",
    "false_discovery_q",
    "fit_log_binomial",
    "fit_modified_poisson",
    "oldham",
    "outcome_at_1y",
    "predictor_frame",
    "predictor_risk_ratios",
]

#: "Shortest pain duration" of the follow-on paper: less than this many years (as analysis.calibration;
#: the paper's abstract does not define it, so this cut is the project's stand-in).
SHORT_PAIN_YEARS = 1
#: Reference pain duration of the follow-on paper: more than this many years (as analysis.calibration).
LONG_PAIN_YEARS = 5
#: The two cuts in days, as the cohort records pain duration.
SHORT_PAIN_DAYS = SHORT_PAIN_YEARS * config.DAYS_PER_YEAR
#: See SHORT_PAIN_DAYS.
LONG_PAIN_DAYS = LONG_PAIN_YEARS * config.DAYS_PER_YEAR
#: "Severe pain": NPRS at the start of 7 or more (7 = severe; as analysis.calibration).
SEVERE_NPRS = 7
#: Steps of the continuous predictors: an RR is per this many units.
AGE_STEP = 10.0   # years
BMI_STEP = 5.0    # kg/m², about one SD (4.1) in the published cohort
MM_STEP = 10.0    # mm on DRI and EQ-VAS (0-100)



def _years(n: float) -> str:
    return f"{n:g} year" if n == 1 else f"{n:g} years"


#: The pain-duration groups: the reference (longest) first, then the shortest, then the middle.
PAIN_DURATION_LEVELS = (f"> {_years(LONG_PAIN_YEARS)}", f"< {_years(SHORT_PAIN_YEARS)}",
                        f"{SHORT_PAIN_YEARS:g}–{_years(LONG_PAIN_YEARS)}")

MODEL_UNIVARIABLE = "univariable"
MODEL_ADJUSTED = "adjusted"

#: Columns of every table of estimates, in order.
RESULT_COLUMNS = ["measure", "predictor", "level", "reference", "n", "events", "n_level", "events_level",
                  "n_reference", "events_reference", "rr", "low", "high", "p", "q", "model", "note"]
#: Columns a single fit returns (measure, model and the q-value across fits are added after).
_FIT_COLUMNS = [c for c in RESULT_COLUMNS if c not in ("measure", "model", "q")]

#: A fitted risk below this means the estimates run off to infinity (separation).
_DIVERGED_RISK = 1e-8


@dataclass(frozen=True)
class Predictor:
    """A candidate predictor as this schema expresses it.

    kind: "binary" or "categorical" (levels[0] is the reference; a row per other level), or
    "continuous" (levels is one text, the step an RR is for, e.g. "per 10 years").
    """
    key: str
    label: str
    kind: str
    levels: tuple[str, ...]
    definition: str   # the coding, in words (cohort columns and cut-points)

    @property
    def reference(self) -> str:
        return "" if self.kind == "continuous" else self.levels[0]


_LOCATIONS = tuple(config.CATEGORIES["main_pain_location"])

#: The follow-on paper's candidate predictors that this schema holds, with this project's coding.
PREDICTORS: dict[str, Predictor] = {p.key: p for p in (
    Predictor("age", "Age", "continuous", (f"per {AGE_STEP:g} years",),
              f"age at the start, linear on the log-risk scale, per {AGE_STEP:g} years (no data-driven cut-points)"),
    Predictor("sex", "Sex", "binary", ("female", "male"), "sex; reference: women, the majority"),
    Predictor("bmi", "BMI", "continuous", (f"per {BMI_STEP:g} kg/m²",),
              f"body mass index, linear on the log-risk scale, per {BMI_STEP:g} kg/m²"),
    Predictor("smoker", "Smoking", "binary", ("non-smoker", "smoker"), "current smoker (smoker = 1)"),
    Predictor("pain_duration", "Pain duration", "categorical", PAIN_DURATION_LEVELS,
              f"pain_duration_days: < {SHORT_PAIN_DAYS:g} days, {SHORT_PAIN_DAYS:g} to {LONG_PAIN_DAYS:g} days, "
              f"> {LONG_PAIN_DAYS:g} days (reference), the follow-on paper's groups"),
    Predictor("pain_distribution", "Pain distribution", "binary", ("localized", "regional or generalized"),
              "regional or generalized (pooled, as the follow-on paper) vs localized"),
    Predictor("main_pain_location", "Main pain location", "categorical", _LOCATIONS,
              "main pain location; reference: neck, the most common"),
    Predictor("severe_pain", "Baseline pain", "binary", (f"NPRS < {SEVERE_NPRS}", f"NPRS ≥ {SEVERE_NPRS}"),
              f"NPRS at the start ≥ {SEVERE_NPRS} (severe) vs lower"),
    Predictor("dri_start", "Baseline disability (DRI)", "continuous", (f"per {MM_STEP:g} mm",),
              f"DRI at the start, linear on the log-risk scale, per {MM_STEP:g} mm (higher = more disabled)"),
    Predictor("eqvas_start", "Baseline health (EQ-VAS)", "continuous", (f"per {MM_STEP:g} mm",),
              f"EQ-VAS at the start, linear on the log-risk scale, per {MM_STEP:g} mm (higher = better health)"),
    Predictor("low_pain_management", "Ability to reduce pain", "binary",
              (f"{config.LOW_PAIN_MANAGEMENT_MAX + 1}–6", f"low (0–{config.LOW_PAIN_MANAGEMENT_MAX})"),
              f"self-rated ability to reduce pain 0–{config.LOW_PAIN_MANAGEMENT_MAX} of 6 (low, as the paper "
              "and analysis.derive) vs higher"),
    Predictor("physically_active", "Physically active", "binary", ("no", "yes"),
              "physically active at least 150 minutes a week"),
    Predictor("anxiety_depression", "Anxiety/depression", "binary", ("no", "yes"),
              "any anxiety or depression on the EQ-5D item"),
)}


# --------------------------------------------------------------------------
# Outcome and predictors
# --------------------------------------------------------------------------

def outcome_at_1y(cohort: pd.DataFrame, measure: str, rule: McidRule) -> pd.Series:
    """1.0 where the patient reached the MCID on `measure` at 1 year, 0.0 where not, NaN where
    the start or the 1-year value is missing (float64, indexed as the cohort)."""
    reached = mcid_reached(cohort[f"{measure}_start"], cohort[f"{measure}_1y"], measure,
                           rule.threshold, rule.definition)
    return reached.astype("Float64").astype("float64")


def _numbers(cohort: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(cohort[column]).astype("float64")


def _coded(values: pd.Series, mapping: Mapping[object, str], levels: Sequence[str]) -> pd.Series:
    """A categorical with `levels` (reference first); values not in `mapping` become missing."""
    keys = list(mapping)
    # Vectorised lookup (a registry has millions of rows): the position of each value among the
    # keys (-1: missing or not a key), then the level that key maps to.
    position = pd.Index(keys, dtype=object).get_indexer(values.astype(object))
    level_of_key = pd.Index(list(levels)).get_indexer([mapping[k] for k in keys])
    codes = np.where(position >= 0, level_of_key[position], -1)
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(levels)), index=values.index)


def predictor_frame(cohort: pd.DataFrame) -> pd.DataFrame:
    """One column per predictor of `PREDICTORS`, as the models use it (missing stays missing).

    Binary and categorical predictors are pandas Categoricals whose first category is the
    reference; continuous ones are float64 already divided by their step (age / 10, ...).
    """
    p = PREDICTORS
    days = _numbers(cohort, "pain_duration_days")
    duration = pd.Series(np.select([days < SHORT_PAIN_DAYS, days > LONG_PAIN_DAYS, days.notna()],
                                   [PAIN_DURATION_LEVELS[1], PAIN_DURATION_LEVELS[0], PAIN_DURATION_LEVELS[2]],
                                   default=""), index=cohort.index)
    nprs = _numbers(cohort, "nprs_start")
    ability = _numbers(cohort, "pain_management")
    no_yes = {0.0: "no", 1.0: "yes"}
    frame = {
        "age": _numbers(cohort, "age") / AGE_STEP,
        "sex": _coded(cohort["sex"], {"female": "female", "male": "male"}, p["sex"].levels),
        "bmi": _numbers(cohort, "bmi") / BMI_STEP,
        "smoker": _coded(_numbers(cohort, "smoker"), {0.0: "non-smoker", 1.0: "smoker"}, p["smoker"].levels),
        "pain_duration": _coded(duration, {v: v for v in p["pain_duration"].levels}, p["pain_duration"].levels),
        "pain_distribution": _coded(cohort["pain_distribution"],
                                    {"localized": "localized", "regional": "regional or generalized",
                                     "generalized": "regional or generalized"}, p["pain_distribution"].levels),
        "main_pain_location": _coded(cohort["main_pain_location"], {v: v for v in _LOCATIONS}, _LOCATIONS),
        "severe_pain": _coded((nprs >= SEVERE_NPRS).astype(float).where(nprs.notna()),
                              {0.0: p["severe_pain"].levels[0], 1.0: p["severe_pain"].levels[1]},
                              p["severe_pain"].levels),
        "dri_start": _numbers(cohort, "dri_start") / MM_STEP,
        "eqvas_start": _numbers(cohort, "eqvas_start") / MM_STEP,
        "low_pain_management": _coded((ability <= config.LOW_PAIN_MANAGEMENT_MAX).astype(float).where(ability.notna()),
                                      {0.0: p["low_pain_management"].levels[0],
                                       1.0: p["low_pain_management"].levels[1]}, p["low_pain_management"].levels),
        "physically_active": _coded(_numbers(cohort, "physically_active"), no_yes, p["physically_active"].levels),
        "anxiety_depression": _coded(_numbers(cohort, "anxiety_depression"), no_yes, p["anxiety_depression"].levels),
    }
    return pd.DataFrame(frame, index=cohort.index)[list(PREDICTORS)]


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------

def _nan_rows(rows: list[dict], note: str) -> list[dict]:
    for row in rows:
        row.update(rr=math.nan, low=math.nan, high=math.nan, p=math.nan)
        row["note"] = "; ".join(filter(None, [row["note"], note]))
    return rows


def _quoted(caught: Iterable[warnings.WarningMessage]) -> str:
    seen = dict.fromkeys(f"{w.category.__name__}: {str(w.message).strip()}" for w in caught)
    return "statsmodels warned: " + " | ".join(seen) if seen else ""


def fit_modified_poisson(outcome: pd.Series, predictors: pd.DataFrame, confidence: float,
                         units: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Risk ratios of `outcome` by `predictors` in one modified Poisson model (HC0 sandwich).

    (The work is `_fit_log_link`'s; `fit_log_binomial` fits the same design as a log-binomial model.)

    outcome: 0/1 (or boolean) Series, NaN where unknown. predictors: aligned frame whose
    columns are Categoricals (first category = reference; a dummy per other level) or numbers
    (one linear term; `units` names its step, e.g. {"age": "per 10 years"}). The model uses
    the patients with the outcome and every predictor (complete cases).

    Returns one row per non-reference level or numeric term, with the columns of
    `RESULT_COLUMNS` except `measure` and `model`: n and events of the model, n and events of
    the level and of the reference (categorical terms; NaN for numeric ones), rr with its
    `confidence` Wald interval (low, high) and Wald p. NaN estimates come with a `note`:
    nobody in the model, no or only events, nobody in a level or the reference, a level without
    events (its RR would be 0: the level's patients are left out of the model, its row is NaN),
    no events in the reference (RRs would be infinite), a constant numeric predictor,
    collinear predictors, a failed or diverging fit (separation).
    """
    return _fit_log_link(outcome, predictors, confidence, units, binomial=False)


def fit_log_binomial(outcome: pd.Series, predictors: pd.DataFrame, confidence: float,
                     units: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The same risk ratios as `fit_modified_poisson`, from a log-binomial GLM (binomial family, log
    link, model-based variance): the maximum-likelihood RRs, a check on the modified Poisson ones.

    A log-binomial fit often fails to converge, or converges on the boundary (a fitted risk of 1):
    its rows are then NaN with a note that says so (`LOG_BINOMIAL_FAILED`), never an estimate.
    """
    return _fit_log_link(outcome, predictors, confidence, units, binomial=True)


#: The start of a log-binomial row's note when the fit gave no estimate.
LOG_BINOMIAL_FAILED = "the log-binomial model did not converge inside the parameter space"


def _fit_log_link(outcome: pd.Series, predictors: pd.DataFrame, confidence: float,
                  units: Mapping[str, str] | None, binomial: bool) -> pd.DataFrame:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    units = dict(units or {})
    y = pd.to_numeric(pd.Series(outcome).astype("Float64")).astype("float64")
    if not y.dropna().isin([0.0, 1.0]).all():
        raise ValueError("the outcome must be 0/1 (or boolean), NaN where unknown")
    for column in predictors.columns:
        values = predictors[column]
        if not (isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_numeric_dtype(values.dtype)):
            raise TypeError(f"predictor {column!r} must be a pandas Categorical or numeric, not {values.dtype}")
    keep = y.notna() & predictors.notna().all(axis=1)
    data, y = predictors[keep], y[keep]

    rows: list[dict] = []
    for column in predictors.columns:
        values = data[column]
        base = dict(predictor=column, n=0, events=0, n_level=math.nan, events_level=math.nan,
                    n_reference=math.nan, events_reference=math.nan, note="")
        if isinstance(values.dtype, pd.CategoricalDtype):
            reference, *levels = list(values.cat.categories)
            in_ref = values == reference
            for level in levels:
                in_level = values == level
                rows.append({**base, "level": str(level), "reference": str(reference),
                             "n_level": int(in_level.sum()), "events_level": int(y[in_level].sum()),
                             "n_reference": int(in_ref.sum()), "events_reference": int(y[in_ref].sum()),
                             "_term": f"{column}[{level}]"})
        else:
            rows.append({**base, "level": units.get(column, "per unit"), "reference": "", "_term": column})

    model_info: dict[str, int] = {}  # what the fit found (risks above 1), kept in the frame's attrs

    def finish(out: list[dict]) -> pd.DataFrame:
        frame = pd.DataFrame(out, columns=_FIT_COLUMNS + ["_term"])
        frame = frame.drop(columns="_term")
        frame.attrs.update(model_info)
        return frame

    # Problems of the whole model: nothing can be estimated.
    n, events = int(len(y)), int(y.sum())
    for row in rows:
        row.update(n=n, events=events, rr=math.nan, low=math.nan, high=math.nan, p=math.nan)
    if n == 0:
        return finish(_nan_rows(rows, "no patient has the outcome and the predictor(s)"))
    if events == 0:
        return finish(_nan_rows(rows, "no patient reached the outcome"))
    if events == n:
        return finish(_nan_rows(rows, "every patient reached the outcome: no contrast to estimate"))

    # Problems of single terms, found before fitting so that each is named in plain words.
    left_out = pd.Series(False, index=y.index)
    model_notes, fatal, terms = [], [], {}
    for row in rows:
        column, values = row["predictor"], data[row["predictor"]]
        if row["reference"] != "":
            reference = row["reference"]
            if row["n_reference"] == 0:
                fatal.append(f"no patient in the reference level of {column} ({reference})")
                continue
            if row["events_reference"] == 0:
                fatal.append(f"no patient in the reference level of {column} ({reference}) reached the outcome: "
                             "its risk ratios would be infinite")
                continue
            if row["n_level"] == 0:
                row["note"] = "no patient in this level"
                continue
            if row["events_level"] == 0:
                row["note"] = (f"no patient in this level reached the outcome: the risk ratio would be 0, with no "
                               f"finite estimate; its {row['n_level']} patient(s) were left out of the model")
                left_out |= values == row["level"]
                model_notes.append(f"{row['n_level']} patient(s) with {column} = {row['level']} (no events) "
                                   "left out")
                continue
            terms[row["_term"]] = (values == row["level"]).astype("float64")
        else:
            if values.nunique() < 2:
                fatal.append(f"{column} has the same value for every patient: no contrast")
                continue
            terms[row["_term"]] = values.astype("float64")
    if fatal:
        return finish(_nan_rows(rows, "; ".join(fatal)))
    if not terms:  # every row already says why it has no estimate
        return finish(rows)

    yy = y[~left_out]
    n_fit, events_fit = int(len(yy)), int(yy.sum())
    for row in rows:
        row.update(n=n_fit, events=events_fit)
    estimable = [row for row in rows if row["_term"] in terms]
    if events_fit == n_fit:  # leaving out levels without events can leave only events
        _nan_rows(estimable, "after leaving out the levels without events, every patient reached the outcome")
        return finish(rows)
    z = float(_scipy_stats.norm.ppf(1 - (1 - confidence) / 2))
    if len(predictors.columns) == 1 and estimable[0]["reference"] != "":
        return finish(_saturated(rows, estimable, model_notes, z))
    design = pd.DataFrame(terms)[~left_out]
    design.insert(0, "const", 1.0)
    x, names = design.to_numpy(dtype="float64"), list(design.columns)
    del design  # the model works on `x` alone: on a registry each copy of the design counts
    if np.linalg.matrix_rank(x) < x.shape[1]:
        _nan_rows(estimable, "the predictors are collinear among the patients in the model "
                             "(the design is not of full rank)")
        return finish(rows)

    if binomial:
        return finish(_log_binomial(rows, estimable, yy.to_numpy(dtype="float64"), x, names, z))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # caught here, quoted in the note, never passed on
        try:
            # HC0: Zou's sandwich (statsmodels gives GLMs this one for every HC type anyway).
            with collecting_cycles(n_fit):
                fit = GLM(yy.to_numpy(dtype="float64"), x, family=families.Poisson()).fit(
                    cov_type="HC0", maxiter=100)
            error = ""
        except Exception as err:  # noqa: BLE001 - any failure of the fit is reported, not raised
            fit, error = None, f"the model could not be fitted ({type(err).__name__}: {err})"
    said = _quoted(caught)
    if fit is None:
        _nan_rows(estimable, "; ".join(filter(None, [error, said])))
        return finish(rows)
    mu = np.asarray(fit.fittedvalues, dtype="float64")
    params, bse = pd.Series(fit.params, index=names), pd.Series(fit.bse, index=names)
    converged = fit.converged
    del fit
    release_fit(n_fit)
    problem = ""
    if not converged:
        problem = "the fit did not converge"
    elif not (np.all(np.isfinite(params)) and np.all(np.isfinite(bse))):
        problem = "the fit gave non-finite estimates"
    elif mu.min() < _DIVERGED_RISK:
        problem = ("the estimates diverge (separation: the predicted risk of some patients tends to 0), "
                   "so no finite risk ratio exists")
    if problem:
        _nan_rows(estimable, "; ".join(filter(None, [problem, said])))
        return finish(rows)

    above_one = int((mu > 1).sum())
    model_info["risk_above_one"] = above_one
    extra = [*model_notes]
    if above_one:
        extra.append(f"the model predicts a risk above 1 for {above_one} patient(s) (a known limit of the "
                     "log link)")
    if said:
        extra.append(said)
    for row in estimable:
        _estimate(row, float(params[row["_term"]]), float(bse[row["_term"]]), z, extra)
    return finish(rows)


def _log_binomial(rows: list[dict], estimable: list[dict], y: np.ndarray, x: np.ndarray, names: list[str],
                  z: float) -> list[dict]:
    """Fit the log-binomial model of `y` on design `x`; estimates where it converged inside (0, 1)."""
    # Start inside the parameter space: a log-linear fit, its intercept lowered until no risk exceeds 0.9.
    start = np.linalg.lstsq(x, np.log(np.clip(y, 0.05, 0.95)), rcond=None)[0]
    start[0] -= max(0.0, float((x @ start).max()) - math.log(0.9))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # The log link is not the binomial's canonical link: statsmodels says so on every fit.
        warnings.simplefilter("ignore", sm_tools.sm_exceptions.DomainWarning)
        try:
            with collecting_cycles(len(y)):
                fit = GLM(y, x, family=families.Binomial(link=families.links.Log())).fit(start_params=start,
                                                                                        maxiter=200)
            error = ""
        except Exception as err:  # noqa: BLE001 - reported in the note, not raised
            fit, error = None, f"{type(err).__name__}: {err}"
    problem = error
    if fit is not None:
        mu_max = float(np.max(fit.fittedvalues))
        params, bse = pd.Series(fit.params, index=names), pd.Series(fit.bse, index=names)
        converged = fit.converged
        # What the fit left in reference cycles (a copy of the design per iteration) goes now:
        # on 10^6 patients, left to the collector, the predictors page peaked at 12 GB.
        del fit
        release_fit(len(y))
        if not converged:
            problem = "no convergence"
        elif not (np.all(np.isfinite(params)) and np.all(np.isfinite(bse))):
            problem = "non-finite estimates"
        elif mu_max >= 1 - 1e-6:
            problem = "a fitted risk of 1 (the boundary)"
    if problem:
        return _nan_rows(estimable, "; ".join(filter(None, [f"{LOG_BINOMIAL_FAILED} ({problem})", _quoted(caught)])))
    for row in estimable:
        _estimate(row, float(params[row["_term"]]), float(bse[row["_term"]]), z, [])
    return rows


def _estimate(row: dict, b: float, se: float, z: float, notes: list[str]) -> None:
    """A row's risk ratio from log RR `b` and its standard error: Wald interval and p."""
    row.update(rr=math.exp(b), low=math.exp(b - z * se), high=math.exp(b + z * se),
               p=float(2 * _scipy_stats.norm.sf(abs(b / se))) if se > 0 else math.nan)
    row["note"] = "; ".join(filter(None, [row["note"], *notes]))


def _saturated(rows: list[dict], estimable: list[dict], notes: list[str], z: float) -> list[dict]:
    """The model of one categorical predictor, in closed form: it is saturated.

    Its maximum-likelihood risk of each level is the level's share of events, so log RR =
    log(a/n) - log(c/m) (a of n patients in the level, c of m in the reference), and its HC0
    sandwich variance is exactly 1/a - 1/n + 1/c - 1/m (see the module docstring). Every level
    kept has events (those without were left out), so each term is finite. The same numbers
    as the fitted model, without iterating over a registry's rows 40 times.
    """
    for row in estimable:
        a, n, c, m = row["events_level"], row["n_level"], row["events_reference"], row["n_reference"]
        _estimate(row, math.log(a / n) - math.log(c / m), math.sqrt(max(0.0, 1 / a - 1 / n + 1 / c - 1 / m)),
                  z, notes)
    return rows


# --------------------------------------------------------------------------
# Every outcome by every predictor
# --------------------------------------------------------------------------

@per_cohort
def predictor_risk_ratios(cohort: pd.DataFrame, rules: Mapping[str, McidRule], confidence: float,
                          measures: Sequence[str] = tuple(INSTRUMENTS),
                          adjusted_for: Sequence[str] | None = tuple(PREDICTORS)) -> pd.DataFrame:
    """Risk ratios of reaching the MCID at 1 year on each of `measures`, by each predictor.

    rules: the MCID of each measure (e.g. `Params.mcid`). For each measure: one univariable
    model per predictor of `PREDICTORS` (as the follow-on paper), then one adjusted model holding
    the predictors named in `adjusted_for` together, on the complete cases (None or empty: no
    adjusted model). Every physically_active answer is missing for about half the cohort, so an
    adjusted model holding it uses far fewer patients; the rows say how many (`n`).

    Returns the columns `RESULT_COLUMNS`; `model` is "univariable" or "adjusted"; a row per
    non-reference level of a categorical predictor and one per continuous predictor.
    """
    unknown = [m for m in measures if m not in INSTRUMENTS]
    if unknown:
        raise KeyError(f"unknown measure(s) {unknown}; known: {sorted(INSTRUMENTS)}")
    adjusted_for = list(adjusted_for or [])
    unknown = [p for p in adjusted_for if p not in PREDICTORS]
    if unknown:
        raise KeyError(f"unknown predictor(s) {unknown}; known: {list(PREDICTORS)}")
    frame = predictor_frame(cohort)
    units = {key: p.levels[0] for key, p in PREDICTORS.items() if p.kind == "continuous"}
    parts = []
    for measure in measures:
        y = outcome_at_1y(cohort, measure, rules[measure])
        for key in PREDICTORS:
            parts.append(fit_modified_poisson(y, frame[[key]], confidence, units)
                         .assign(measure=measure, model=MODEL_UNIVARIABLE))
        if adjusted_for:
            adjusted = fit_modified_poisson(y, frame[adjusted_for], confidence, units)
            parts.append(adjusted.assign(measure=measure, model=MODEL_ADJUSTED))
    out = pd.concat(parts, ignore_index=True)
    # One family of tests per model kind: every univariable p of every outcome, every adjusted p.
    out["q"] = math.nan
    for model in (MODEL_UNIVARIABLE, MODEL_ADJUSTED):
        rows = out["model"] == model
        out.loc[rows, "q"] = false_discovery_q(out.loc[rows, "p"]).to_numpy()
    return out[RESULT_COLUMNS].astype({"n": "int64", "events": "int64"})


def false_discovery_q(p_values: pd.Series) -> pd.Series:
    """Benjamini-Hochberg adjusted p-values (q) of the p-values given, as a family; NaN stays NaN.

    A q below 0.05 keeps the expected share of false discoveries among such results at 5 %.
    """
    p = pd.Series(p_values, dtype="float64")
    q = pd.Series(math.nan, index=p.index)
    known = p.notna()
    if known.any():
        q[known] = multipletests(p[known].to_numpy(), method="fdr_bh")[1]
    return q


# --------------------------------------------------------------------------
# The adjusted model: events per coefficient, risks above 1, the log-binomial check
# --------------------------------------------------------------------------

#: Events per coefficient below which an adjusted model's estimates are unreliable (Peduzzi et al. 1996).
EVENTS_PER_COEFFICIENT_MIN = 10

ADJUSTED_SUMMARY_COLUMNS = ["measure", "n", "events", "non_events", "coefficients", "events_per_coefficient",
                            "risk_above_one", "log_binomial_converged", "max_abs_log_rr_difference"]


@per_cohort
def adjusted_model_check(cohort: pd.DataFrame, rules: Mapping[str, McidRule], confidence: float,
                         adjusted_for: Sequence[str], measures: Sequence[str] = tuple(INSTRUMENTS)
                         ) -> pd.DataFrame:
    """The adjusted model of each measure beside the same model fitted as a log-binomial GLM.

    One row per adjusted coefficient: measure, predictor, level, rr (modified Poisson), rr_log_binomial
    with its interval (log_binomial_low, log_binomial_high; NaN where that fit did not converge inside
    the parameter space) and log_binomial_note. The frame's attrs["summary"] holds a row per measure
    (`ADJUSTED_SUMMARY_COLUMNS`): the model's n and events, its coefficients, the events per
    coefficient (the less frequent of reaching and not reaching the MCID, per coefficient), how
    many patients it predicts a risk above 1 for, whether the log-binomial fit converged and the
    largest absolute difference of a log RR between the two fits.
    """
    frame = predictor_frame(cohort)
    units = {key: p.levels[0] for key, p in PREDICTORS.items() if p.kind == "continuous"}
    parts, summary = [], []
    for measure in measures:
        y = outcome_at_1y(cohort, measure, rules[measure])
        poisson = fit_modified_poisson(y, frame[list(adjusted_for)], confidence, units)
        binomial = fit_log_binomial(y, frame[list(adjusted_for)], confidence, units)
        part = poisson[["predictor", "level", "rr"]].assign(
            measure=measure, rr_log_binomial=binomial["rr"], log_binomial_low=binomial["low"],
            log_binomial_high=binomial["high"], log_binomial_note=binomial["note"])
        parts.append(part)
        n, events = int(poisson["n"].iloc[0]), int(poisson["events"].iloc[0])
        both = part["rr"].notna() & part["rr_log_binomial"].notna()
        difference = (np.log(part.loc[both, "rr"]) - np.log(part.loc[both, "rr_log_binomial"])).abs()
        summary.append({"measure": measure, "n": n, "events": events, "non_events": n - events,
                        "coefficients": len(poisson),
                        "events_per_coefficient": min(events, n - events) / len(poisson) if len(poisson) else math.nan,
                        "risk_above_one": int(poisson.attrs.get("risk_above_one", 0)),
                        "log_binomial_converged": bool(binomial["rr"].notna().any()),
                        "max_abs_log_rr_difference": float(difference.max()) if both.any() else math.nan})
    out = pd.concat(parts, ignore_index=True)[["measure", "predictor", "level", "rr", "rr_log_binomial",
                                               "log_binomial_low", "log_binomial_high", "log_binomial_note"]]
    out.attrs["summary"] = pd.DataFrame(summary, columns=ADJUSTED_SUMMARY_COLUMNS)
    return out


def adjusted_summary(check: pd.DataFrame) -> pd.DataFrame:
    """The per-measure summary of `adjusted_model_check` (a copy)."""
    return check.attrs["summary"].copy()


# --------------------------------------------------------------------------
# Regression to the mean: Oldham's method
# --------------------------------------------------------------------------

def oldham(cohort: pd.DataFrame, time: str = "1y", confidence: float = 0.95) -> pd.DataFrame:
    """Whether patients who were worse improved more, beyond regression to the mean (Oldham 1962).

    The correlation between the start value and the change is biased towards "the worse improved
    more" by regression to the mean alone (the start's measurement error appears in both). Oldham's
    method correlates the change with the mean of the start and the later value instead: with no
    true difference in improvement between patients (and equal variances at both times), it is 0.

    Per measure, patients with both values: n, r (Pearson; positive: the patients who were worse,
    on average over both times, improved more), its `confidence` interval (Fisher z) and p.
    """
    rows = []
    for stem, instrument in INSTRUMENTS.items():
        start, later = cohort[f"{stem}_start"], cohort[f"{stem}_{time}"]
        both = start.notna() & later.notna()
        gain = improvement(start[both], later[both], stem).astype(float)
        # "Worse" is a higher value where lower is better, a lower one where higher is.
        worse_on_average = -instrument.direction * (start[both].astype(float) + later[both].astype(float)) / 2
        n = int(both.sum())
        r = low = high = p = math.nan
        if n >= 4 and gain.nunique() > 1 and worse_on_average.nunique() > 1:
            test = _scipy_stats.pearsonr(worse_on_average, gain)
            interval = test.confidence_interval(confidence_level=confidence)
            r, p, low, high = float(test.statistic), float(test.pvalue), float(interval.low), float(interval.high)
        rows.append({"measure": instrument.short, "stem": stem, "n": n, "r": r, "low": low, "high": high, "p": p})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# Beside the follow-on paper
# --------------------------------------------------------------------------

#: What stands in for each published outcome (this project's assumption, as analysis.calibration).
STAND_IN_OUTCOMES = {"eqvas": "reaching the MCID on EQ-VAS at 1 year",
                     "nprs": "reaching the MCID on NPRS at 1 year"}
NOT_EXPRESSIBLE = ("the cohort has no follow-up value of the ability to reduce pain (pain_management is recorded "
                   "at the start only), so improved pain management cannot be expressed")


@dataclass(frozen=True)
class StandIn:
    """How a published risk ratio is expressed here: a 1-year MCID outcome and a predictor level."""
    measure: str
    predictor: str
    level: str

    @property
    def outcome(self) -> str:
        return STAND_IN_OUTCOMES[self.measure]


#: Published risk ratio (key of data/published.csv) -> its stand-in; None: cannot be expressed.
PUBLISHED_STAND_INS: dict[str, StandIn | None] = {
    "pain_duration_health": StandIn("eqvas", "pain_duration", PAIN_DURATION_LEVELS[1]),
    "anxiety_health": StandIn("eqvas", "anxiety_depression", "yes"),
    "severe_pain_health": StandIn("eqvas", "severe_pain", f"NPRS ≥ {SEVERE_NPRS}"),
    "widespread_pain_reduction": StandIn("nprs", "pain_distribution", "regional or generalized"),
    "moderate_pain_management": None,
    "severe_pain_management": None,
}


def beside_published(estimates: pd.DataFrame,
                     published: Sequence[targets_file.PublishedRiskRatio] | None = None) -> pd.DataFrame:
    """Each published risk ratio of the follow-on paper beside this project's univariable estimate.

    estimates: as `predictor_risk_ratios` returns. published: default `data.targets.risk_ratios()`.
    Columns: key, published_predictor, published_outcome, published_rr, published_low,
    published_high (the paper's 95 % CI), stand_in (the outcome used here, in words), measure,
    predictor, level, reference, n, events, rr, low, high, p, same_direction (both RRs on the
    same side of 1), within_published_ci (this RR inside the published interval), note. A
    published result that cannot be expressed, or whose estimate is missing, has NaN estimates
    and a note; same_direction and within_published_ci are then <NA>.
    """
    published = targets_file.risk_ratios() if published is None else published
    univariable = estimates[estimates["model"] == MODEL_UNIVARIABLE]
    rows = []
    for pub in published:
        row = dict(key=pub.key, published_predictor=pub.predictor, published_outcome=pub.outcome,
                   published_rr=pub.rr, published_low=pub.low, published_high=pub.high, stand_in="",
                   measure="", predictor="", level="", reference="", n=pd.NA, events=pd.NA,
                   rr=math.nan, low=math.nan, high=math.nan, p=math.nan, note="")
        if pub.key not in PUBLISHED_STAND_INS:
            row["note"] = "no stand-in is defined for this published result"
        elif PUBLISHED_STAND_INS[pub.key] is None:
            row["note"] = NOT_EXPRESSIBLE
        else:
            spec = PUBLISHED_STAND_INS[pub.key]
            row.update(stand_in=spec.outcome, measure=spec.measure, predictor=spec.predictor, level=spec.level)
            match = univariable[(univariable["measure"] == spec.measure) & (univariable["predictor"] == spec.predictor)
                                & (univariable["level"] == spec.level)]
            if match.empty:
                row["note"] = "not among the estimates given"
            else:
                est = match.iloc[0]
                row.update(reference=est["reference"], n=int(est["n"]), events=int(est["events"]),
                           rr=float(est["rr"]), low=float(est["low"]), high=float(est["high"]), p=float(est["p"]),
                           note=est["note"])
        rows.append(row)
    out = pd.DataFrame(rows)
    known = out["rr"].notna()
    same = (np.sign(np.log(out["rr"])) == np.sign(np.log(out["published_rr"])))
    inside = (out["rr"] >= out["published_low"]) & (out["rr"] <= out["published_high"])
    out["same_direction"] = same.astype("boolean").where(known)
    out["within_published_ci"] = inside.astype("boolean").where(known)
    out["n"] = out["n"].astype("Int64")
    out["events"] = out["events"].astype("Int64")
    order = ["key", "published_predictor", "published_outcome", "published_rr", "published_low", "published_high",
             "stand_in", "measure", "predictor", "level", "reference", "n", "events", "rr", "low", "high", "p",
             "same_direction", "within_published_ci", "note"]
    return out[order]
