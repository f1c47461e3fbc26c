"""What the patients lost to follow-up could do to the responder share.

For each outcome measure, the share reaching its MCID at a later time point (1 year by
default) under four ways of treating the patients who have a start value but no later one
("lost"):

=============================  =========================================================
complete cases                 k / n: responders among the patients with both values
                               (the lost are left out; valid if they resemble the rest)
non-responder imputation       k / N: every lost patient counted as not improved, N =
                               every patient with a start value (a lower bound)
best case                      (k + lost) / N: every lost patient counted as improved
                               (an upper bound)
inverse probability weighting  the measured patients weighted by 1 / P(measured | baseline),
                               so that they stand for everyone with a start value, under
                               "missing at random" given the covariates
=============================  =========================================================

The first three use the Wilson interval. Inverse probability weighting (IPW):

- model: a logistic regression (statsmodels GLM, binomial, logit link) of "measured at
  the time point" on the covariates, among the patients with a start value; patients
  with a missing covariate are left out of the model and of the IPW estimate (complete
  case on covariates; the note says how many), except for the covariates named in
  `indicator` (by default the measure's discharge value, the strongest predictor of the
  1-year value, missing for some patients): a patient without that value stays in the
  model with the value set to the mean of those with one and an indicator "no value" = 1
  (the missing-indicator method); categorical covariates enter as indicator columns (first
  level the reference), numbers linearly; a covariate constant in the model's patients is
  dropped (and named in the note);
- weights: 1 / p among the measured, or stabilised as P(measured) / p (the default). The
  estimate and its interval do not depend on this choice (the weights are normalised);
  it changes only the weights' range that is reported;
- estimate: the weighted share of responders among the measured, sum(w y) / sum(w),
  from a weighted intercept-only logistic model (GLM with ``var_weights``) whose interval
  uses the robust sandwich variance (HC0) on the logit scale, back-transformed; this
  treats the weights as known (the uncertainty of the propensity model is ignored);
- reported with it: n, the measured patients of the model (who carry the estimate; k is
  the weighted share times n), the model's n, the weights' range and Kish's effective
  sample size (sum w)^2 / sum w^2 of the measured;
- diagnostics (`IpwFit.weights`, `IpwFit.balance`): each measured patient's weight, and
  the balance of every model column before and after weighting: SMD = (mean of the measured
  - mean of everyone in the model) / sqrt((SD_measured^2 + SD_everyone^2) / 2), the same
  unweighted SDs before and after, so that only the means move (Austin & Stuart 2015); the
  weighted mean of the measured should come within 0.1 SD of everyone's;
- trimming (`trim`, a sensitivity analysis): weights beyond the given percentiles of the
  measured's weights are set to those percentiles before the share is computed.

The model is not fitted (and the IPW row holds NaN with the reason in its note) when
nobody or everybody in the model was measured, when the smaller of the measured and the
lost has fewer patients than the model has coefficients, when statsmodels reports perfect
separation or no convergence, or when a fitted probability is within 1e-6 of 0 or 1
(quasi-separation: weights would explode). A share of 0 % or 100 % among the measured
gets its point estimate with a NaN interval (the logit is infinite).

No disclosure control is applied here (the report layer does it).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.tools.tools import add_constant
from scipy import stats as scipy_stats
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationError, PerfectSeparationWarning

from ..instruments import INSTRUMENTS, TIMEPOINTS
from ..params import McidRule
from .derive import derive
from ..memo import per_cohort
from .stats import mcid_reached, proportion, release_fit

__all__ = ["IPW_COVARIATES", "IPW_INDICATOR_COVARIATES", "METHODS", "TRIM_PERCENTILES", "IpwFit", "balance",
           "ipw_fits", "ipw_share", "responder_sensitivity", "trimmed"]

#: Covariates of the response model, as column names of `derive(cohort)`; "{stem}" stands for the
#: measure, so "{stem}_start" is the measure's own start value.
IPW_COVARIATES = ("age", "sex", "smoker", "{stem}_start", "pain_duration_years", "n_sessions", "anxiety_depression",
                  "{stem}_discharge")
#: Covariates a patient may lack without leaving the model (missing-indicator method, see above).
IPW_INDICATOR_COVARIATES = ("{stem}_discharge",)
#: The trimming sensitivity: weights beyond these percentiles of the measured's weights are set to them.
TRIM_PERCENTILES = (1.0, 99.0)

#: The methods, in the order of the table.
METHODS = ("complete cases", "non-responder imputation", "best case", "inverse probability weighting")

#: Fitted probabilities this close to 0 or 1 count as (quasi-)separation.
_EXTREME = 1e-6

COLUMNS = ["measure", "stem", "time", "timepoint", "method", "k", "n", "%", "CI low", "CI high", "lost",
           "model n", "weights min", "weights max", "ESS", "note"]


@dataclass(frozen=True)
class IpwFit:
    """An inverse-probability-weighted share (see the module docstring). NaN numbers when not fitted.

    share, low, high: in percent. n_model: patients with a start value and every covariate;
    n_measured, n_lost: of those; n_dropped: patients with a start value left out for a
    missing covariate; weights_min/max: of the measured; ess: Kish's effective sample
    size; covariates: the model's columns (after dropping constant ones); note: in words.
    """

    share: float
    low: float
    high: float
    n_model: int
    n_measured: int
    n_lost: int
    n_dropped: int
    weights_min: float
    weights_max: float
    ess: float
    covariates: tuple[str, ...]
    note: str
    #: Each measured patient's weight (index: the patient's row), None when not fitted.
    weights: pd.Series | None = field(default=None, compare=False, repr=False)
    #: One row per model column: column, SMD before, SMD after (see the module docstring).
    balance: pd.DataFrame | None = field(default=None, compare=False, repr=False)


def _design(data: pd.DataFrame, covariates: Sequence[str],
            indicator: Sequence[str] = ()) -> tuple[pd.DataFrame, list[str]]:
    """Indicator columns for categories, floats for numbers; constant columns dropped (named).
    A covariate in `indicator` may be missing: mean-filled, with a column "no {name}" (1 = missing)."""
    parts, dropped = [], []
    for name in covariates:
        values = data[name]
        if isinstance(values.dtype, pd.CategoricalDtype):
            block = pd.get_dummies(values, prefix=name, prefix_sep="=", drop_first=True, dtype=float)
        else:
            block = values.astype("Float64").astype("float64").to_frame(name)
            if name in indicator and block[name].isna().any():
                absent = block[name].isna()
                block[name] = block[name].fillna(block[name].mean() if (~absent).any() else 0.0)
                block[f"no {name}"] = absent.astype(float)
        for column in block.columns:
            if block[column].nunique() <= 1:  # no variation among the model's patients: not estimable
                dropped.append(column)
            else:
                parts.append(block[column])
    design = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=data.index)
    return add_constant(design, has_constant="add"), dropped


def _nan_fit(note: str, n_model: int = 0, n_measured: int = 0, n_lost: int = 0, n_dropped: int = 0,
             covariates: tuple[str, ...] = ()) -> IpwFit:
    return IpwFit(math.nan, math.nan, math.nan, n_model, n_measured, n_lost, n_dropped, math.nan, math.nan,
                  math.nan, covariates, note)


def balance(design: pd.DataFrame, measured: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """SMD of each design column, measured - everyone in the model, before and after weighting
    (the unweighted SDs of both in the denominator, as in the module docstring)."""
    rows = []
    for column in design.columns:
        if column == "const":
            continue
        x = design[column].to_numpy(dtype=float)
        on = x[measured]
        sd = math.sqrt((on.var(ddof=1) + x.var(ddof=1)) / 2) if len(on) > 1 else math.nan
        before = (on.mean() - x.mean()) / sd if sd and sd > 0 else math.nan
        after = (np.average(on, weights=weights) - x.mean()) / sd if sd and sd > 0 else math.nan
        rows.append({"column": column, "SMD before": float(before), "SMD after": float(after)})
    return pd.DataFrame(rows, columns=["column", "SMD before", "SMD after"])


def trimmed(weights: np.ndarray, percentiles: tuple[float, float]) -> np.ndarray:
    """Weights set to their `percentiles` (low, high) where they lie beyond them."""
    low, high = np.percentile(weights, percentiles)
    return np.clip(weights, low, high)


def ipw_share(measured: pd.Series, responder: pd.Series, covariates: pd.DataFrame, confidence: float,
              stabilised: bool = True, indicator: Sequence[str] = (),
              trim: tuple[float, float] | None = None) -> IpwFit:
    """The inverse-probability-weighted share of responders (see the module docstring).

    measured: boolean, one per patient with a start value (True: has the later value);
    responder: boolean for the measured (other values ignored); covariates: one column
    per covariate for the same patients (NaN = missing; Categoricals become indicators);
    indicator: covariates whose missing values are kept by the missing-indicator method;
    trim: percentiles (low, high) at which the weights are trimmed (None: not trimmed).
    """
    complete = covariates.drop(columns=[c for c in indicator if c in covariates.columns]).notna().all(axis=1)
    n_dropped = int((~complete).sum())
    data, r = covariates[complete], measured[complete].astype(bool)
    n_model, n_measured = int(len(data)), int(r.sum())
    n_lost = n_model - n_measured
    dropped_note = (f"; {n_dropped} patient(s) with a missing covariate left out" if n_dropped else "")
    if n_model == 0:
        return _nan_fit("not estimated: no patient with a start value and every covariate" + dropped_note,
                        n_dropped=n_dropped)
    if n_measured == 0:
        return _nan_fit("not estimated: nobody was measured", n_model, 0, n_lost, n_dropped)
    if n_lost == 0:
        return _nan_fit("not estimated: nobody was lost, so no weighting is needed (equals complete cases)",
                        n_model, n_measured, 0, n_dropped)
    x, constant = _design(data, list(covariates.columns), indicator)
    columns = tuple(c for c in x.columns if c != "const")
    counts = dict(n_model=n_model, n_measured=n_measured, n_lost=n_lost, n_dropped=n_dropped, covariates=columns)
    constant_note = f"; constant, left out: {', '.join(constant)}" if constant else ""
    if min(n_measured, n_lost) < x.shape[1]:
        return _nan_fit(f"not estimated: too few {'lost' if n_lost <= n_measured else 'measured'} patients "
                        f"({min(n_measured, n_lost)}) for a model with {x.shape[1]} coefficients"
                        + constant_note + dropped_note, **counts)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            warnings.simplefilter("error", ConvergenceWarning)
            warnings.simplefilter("error", RuntimeWarning)
            model = GLM(r.astype(float), x, family=families.Binomial()).fit()
    except (PerfectSeparationWarning, PerfectSeparationError):
        return _nan_fit("not estimated: the response model shows perfect separation" + constant_note
                        + dropped_note, **counts)
    except (ConvergenceWarning, RuntimeWarning, np.linalg.LinAlgError, ValueError) as err:
        return _nan_fit(f"not estimated: the response model could not be fitted ({type(err).__name__})"
                        + constant_note + dropped_note, **counts)
    p = np.asarray(model.fittedvalues, dtype=float)
    del model
    release_fit(n_model)
    if not np.all(np.isfinite(p)) or p.min() < _EXTREME or p.max() > 1 - _EXTREME:
        return _nan_fit("not estimated: fitted probabilities of 0 or 1 (quasi-separation)" + constant_note
                        + dropped_note, **counts)
    on = r.to_numpy()
    weights = 1 / p[on]
    if stabilised:
        weights = weights * (n_measured / n_model)  # P(measured) / p: mean weight close to 1
    if trim is not None:
        weights = trimmed(weights, trim)
    y = responder[complete].to_numpy()[on].astype(float)
    share = float(np.sum(weights * y) / np.sum(weights))
    ess = float(weights.sum() ** 2 / np.sum(weights ** 2))
    kind = "stabilised weights P(measured)/p" if stabilised else "weights 1/p"
    if trim is not None:
        kind += f" trimmed at percentiles {trim[0]:g} and {trim[1]:g}"
    indicator_note = "".join(f"; patients without {name} kept with the mean and an indicator"
                             for name in indicator if f"no {name}" in columns)
    note = (f"logistic model of being measured on {', '.join(columns) or 'nothing (intercept only)'} "
            f"(n = {n_model}, {n_lost} lost, {min(n_measured, n_lost) / x.shape[1]:.1f} of the rarer outcome "
            f"per coefficient){constant_note}{dropped_note}{indicator_note}; {kind} {weights.min():.2f}–{weights.max():.2f}; "
            f"effective sample size {ess:.1f} of {n_measured} measured; CI: robust (HC0 sandwich) variance of a "
            f"weighted intercept-only logistic model, weights treated as known")
    low = high = math.nan
    if 0 < share < 1:
        fit = GLM(y, np.ones((len(y), 1)), family=families.Binomial(), var_weights=weights).fit(
            cov_type="HC0")
        z = scipy_stats.norm.ppf(0.5 + confidence / 2)
        logit, se = float(fit.params[0]), float(fit.bse[0])
        del fit
        release_fit(len(y))
        low, high = (float(scipy_stats.logistic.cdf(logit + sign * z * se)) for sign in (-1, 1))
    else:
        note += "; no CI: the weighted share is 0 % or 100 %"
    return IpwFit(100 * share, 100 * low, 100 * high, n_model, n_measured, n_lost, n_dropped,
                  float(weights.min()), float(weights.max()), ess, columns, note,
                  weights=pd.Series(weights, index=data.index[on], name="weight"),
                  balance=balance(x, on, weights))


def _measure_frame(data: pd.DataFrame, stem: str, time: str, mcid: Mapping[str, McidRule],
                   names: Sequence[str]) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """The patients with a start value of `stem` (only the columns used), who was measured at
    `time`, and who reached the MCID (False when not measured)."""
    rule = mcid[stem]
    # Only the columns used: a registry's full rows would be copied once more per measure.
    sub = data.loc[data[f"{stem}_start"].notna(), list(dict.fromkeys([f"{stem}_start", f"{stem}_{time}", *names]))]
    measured = sub[f"{stem}_{time}"].notna()
    reached = mcid_reached(sub[f"{stem}_start"], sub[f"{stem}_{time}"], stem, rule.threshold,
                           rule.definition).fillna(False).astype(bool)
    return sub, measured, reached


def _check(confidence: float, time: str) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if time not in TIMEPOINTS or time == "start":
        raise ValueError(f"time must be a later time point ('discharge' or '1y'), not {time!r}")


@per_cohort
def ipw_fits(cohort: pd.DataFrame, mcid: Mapping[str, McidRule], confidence: float, *,
             covariates: Sequence[str] = IPW_COVARIATES, time: str = "1y", stabilised: bool = True,
             indicator: Sequence[str] = IPW_INDICATOR_COVARIATES, trim: tuple[float, float] | None = None,
             stems: Iterable[str] | None = None) -> dict[str, IpwFit]:
    """The IPW fit (with its weights and balance) of each measure: see :func:`responder_sensitivity`.

    `indicator`: covariates ("{stem}" templates allowed) kept by the missing-indicator method;
    "{stem}_discharge" has no meaning at discharge itself and is left out there.
    """
    _check(confidence, time)
    data = derive(cohort)
    fits = {}
    for stem in (list(INSTRUMENTS) if stems is None else list(stems)):
        names = [c.format(stem=stem) for c in covariates]
        names = [c for c in names if c != f"{stem}_{time}"]  # the outcome itself is no covariate
        kept = [c.format(stem=stem) for c in indicator]
        sub, measured, reached = _measure_frame(data, stem, time, mcid, names)
        fits[stem] = ipw_share(measured, reached, sub[names], confidence, stabilised, indicator=kept, trim=trim)
    return fits


@per_cohort
def responder_sensitivity(cohort: pd.DataFrame, mcid: Mapping[str, McidRule], confidence: float, *,
                          covariates: Sequence[str] = IPW_COVARIATES, time: str = "1y", stabilised: bool = True,
                          indicator: Sequence[str] = IPW_INDICATOR_COVARIATES,
                          stems: Iterable[str] | None = None) -> pd.DataFrame:
    """The responder share at `time` of each measure under the four methods of the module docstring.

    `mcid`: the rule of each instrument (threshold, "absolute" or "percent"). `covariates`:
    column names of ``derive(cohort)`` for the IPW response model, "{stem}" standing for
    the measure (default :data:`IPW_COVARIATES`); `indicator`: those of them a patient may
    lack and stay in the model (default :data:`IPW_INDICATOR_COVARIATES`). One row per
    measure and method.

    Columns: measure, stem, time (label), timepoint (key), method; k (responders: a whole
    number except for IPW, where it is the weighted share times n); n (complete cases:
    patients with both values; imputation and best case: every patient with a start value;
    IPW: the measured patients of the model, who carry the estimate); %, CI low, CI high (in
    %); lost (patients with a start value but no value at `time`); model n, weights min,
    weights max, ESS (IPW only, else NaN); note (the denominator and assumption in words, or
    why IPW failed).
    """
    _check(confidence, time)
    data = derive(cohort)
    stems = list(INSTRUMENTS) if stems is None else list(stems)
    fits = ipw_fits(cohort, mcid, confidence, covariates=covariates, time=time, stabilised=stabilised,
                    indicator=indicator, stems=stems)
    rows = []
    for stem in stems:
        instrument, rule = INSTRUMENTS[stem], mcid[stem]
        base = dict(measure=instrument.short, stem=stem, time=TIMEPOINTS[time].label, timepoint=time)
        sub, measured, reached = _measure_frame(data, stem, time, mcid, [])
        k, n, total = int(reached.sum()), int(measured.sum()), int(len(sub))
        lost = total - n
        rule_text = rule.describe(instrument.unit)
        counted = [
            ("complete cases", k, n, f"{k} of the {n} patients with both values reached {rule_text}; "
                                     f"the {lost} lost are left out"),
            ("non-responder imputation", k, total, f"the {lost} lost counted as not improved; denominator: "
                                                  f"the {total} patients with a start value"),
            ("best case", k + lost, total, f"the {lost} lost counted as improved; denominator: the {total} "
                                          "patients with a start value"),
        ]
        for method, kk, nn, note in counted:
            p = proportion(kk, nn, confidence)
            rows.append({**base, "method": method, "k": float(p.k), "n": p.n, "%": p.pct, "CI low": p.low,
                         "CI high": p.high, "lost": lost, "model n": math.nan, "weights min": math.nan,
                         "weights max": math.nan, "ESS": math.nan, "note": note})
        fit = fits[stem]
        rows.append({**base, "method": "inverse probability weighting",
                     "k": fit.share / 100 * fit.n_measured if fit.n_measured else math.nan, "n": fit.n_measured,
                     "%": fit.share, "CI low": fit.low, "CI high": fit.high, "lost": lost,
                     "model n": fit.n_model, "weights min": fit.weights_min, "weights max": fit.weights_max,
                     "ESS": fit.ess, "note": fit.note})
    return pd.DataFrame(rows, columns=COLUMNS)
