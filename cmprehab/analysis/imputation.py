"""Multiple imputation of the lost patients' later values, and a delta-adjusted tipping point.

**Multiple imputation by chained equations**, statsmodels' `MICEData` algorithm
(:func:`chained_equations`): every missing value of the imputation model's columns is filled in
turn from a linear regression (OLS) on all the other columns, its parameters drawn from the normal
approximation of their sampling distribution ("gaussian" perturbation) and the value taken from
one of the 20 observed patients with the closest prediction (predictive mean matching, so an
imputed NPRS is a value the scale records). `MICEData` itself builds each regression through a
patsy formula, 0.15 s per variable and cycle on 274 patients (about 45 s of a build for 20 data
sets); the same steps on NumPy arrays take milliseconds, and a test checks that they give the
very values `MICEData` gives with the same seed. The columns (:data:`MI_COLUMNS`):
age, women, smoker, pain duration, anxiety/depression, sessions, programme length, and the start,
discharge and 1-year values of every measure: the discharge value, the strongest predictor of
the 1-year value, is used wherever it was recorded. After a burn-in of :data:`BURN_IN` cycles,
one completed data set is kept every :data:`SKIP` cycles until there are `m` (default
:data:`M`, at least 20). The random numbers come from one seeded generator (:data:`SEED`): the
same cohort gives the same numbers in every build.

The 1-year share reaching the MCID is computed in each completed data set, over every patient
with a start value (as the non-responder and best-case bounds are), with the binomial variance
p (1 - p) / N, and the m shares are pooled by **Rubin's rules** (:func:`rubin`): the estimate
is their mean; its variance T = W + (1 + 1/m) B (W: mean within-imputation variance, B: variance
between imputations); the interval uses Student's t with Rubin's (1987) degrees of freedom
(m - 1) (1 + W / ((1 + 1/m) B))^2 (normal when B = 0). The imputation assumes the values are
missing at random given the model's columns.

**Delta adjustment and tipping point** (Ratitch et al. 2013): the lost patients' imputed 1-year
values are shifted by delta in the measure's units, positive = worse (higher NPRS or DRI, lower
EQ-VAS), kept within the scale, and the pooled share recomputed. delta = 0 is the imputation
itself; a large worse shift makes every lost patient a non-responder (the non-responder bound), a
large better one makes almost every one a responder (the best case, less those who started too
close to the scale's best end to improve by the MCID). The tipping point is the smallest shift
at which the pooled share crosses 50 %: how much worse (or better) than the imputation predicts
the lost would have to be for the 1-year headline to change side of "half of the patients".

No disclosure control is applied here (the report layer does it).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from ..instruments import INSTRUMENTS
from ..memo import per_cohort
from ..params import McidRule
from .derive import derive
from .stats import mcid_reached

__all__ = ["BURN_IN", "M", "MI_COLUMNS", "SEED", "SKIP", "Pooled", "chained_equations", "delta_curve",
           "imputed_one_year",
           "mi_share", "rubin", "tipping_point"]

#: Imputed data sets (m), cycles before the first is kept, cycles between two kept ones.
M, BURN_IN, SKIP = 20, 10, 2
#: The seed of the imputations' random numbers (one generator for the whole run).
SEED = 20211910
#: Baseline and programme columns of the imputation model (columns of `derive(cohort)`, numbers).
BASELINE_COLUMNS = ("age", "female", "smoker", "pain_duration_years", "anxiety_depression", "n_sessions",
                    "program_months")
#: Every column of the imputation model.
MI_COLUMNS = (*BASELINE_COLUMNS, *(f"{stem}_{time}" for stem in INSTRUMENTS for time in ("start", "discharge", "1y")))
#: The headline's line: a pooled share crossing it is the tipping point.
HALF = 50.0
#: Decimals a change is rounded to before it is compared with the MCID (as `stats.mcid_reached`).
_DECIMALS = 6
#: Points of the delta grid (from the scale's whole width worse to its whole width better).
GRID_POINTS = 401


@dataclass(frozen=True)
class Pooled:
    """Rubin's rules: estimate, total variance T, within W, between B, degrees of freedom, interval."""

    estimate: float
    variance: float
    within: float
    between: float
    df: float
    low: float
    high: float


def rubin(estimates: Sequence[float], variances: Sequence[float], confidence: float) -> Pooled:
    """Pool m estimates and their variances by Rubin's rules (see the module docstring)."""
    q, u = np.asarray(estimates, dtype=float), np.asarray(variances, dtype=float)
    m = len(q)
    if m < 2 or len(u) != m:
        raise ValueError(f"Rubin's rules need at least 2 estimates with one variance each, got {m} and {len(u)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    estimate, within, between = float(q.mean()), float(u.mean()), float(q.var(ddof=1))
    total = within + (1 + 1 / m) * between
    df = math.inf if between == 0 else (m - 1) * (1 + within / ((1 + 1 / m) * between)) ** 2
    quantile = (scipy_stats.norm.ppf(0.5 + confidence / 2) if math.isinf(df)
                else scipy_stats.t.ppf(0.5 + confidence / 2, df))
    half = float(quantile) * math.sqrt(total)
    return Pooled(estimate, total, within, between, float(df), estimate - half, estimate + half)


def chained_equations(frame: pd.DataFrame, m: int, burn_in: int, skip: int, rng: np.random.Generator,
                      k_pmm: int = 20, keep: Sequence[str] | None = None) -> list[pd.DataFrame]:
    """`m` completed copies of `frame` (numbers, NaN = missing) by statsmodels' `MICEData` steps:
    initial value the observed one closest to the mean; variables visited from the fewest missing
    values up; per variable an OLS on the others (with intercept), parameters drawn from
    N(estimate, covariance), predictive mean matching among the k_pmm nearest observed predictions;
    `burn_in` cycles, then one copy every `skip` cycles. With `keep`, each copy holds those columns
    only (the same values): 20 copies of every column were 2.6 GB on 10^6 patients."""
    values = frame.to_numpy(dtype=float, copy=True)
    missing = np.isnan(values)
    n_missing = missing.sum(axis=0)
    order = np.argsort(n_missing)
    order = order[int((n_missing == 0).sum()):]
    for c in range(values.shape[1]):  # the observed value closest to the mean
        observed = values[~missing[:, c], c]
        if missing[:, c].any() and len(observed):
            values[missing[:, c], c] = observed[np.argmin(np.abs(observed - observed.mean()))]

    n, p = values.shape
    design = np.empty((n, p))  # the intercept and every column but the imputed one, refilled per variable
    design[:, 0] = 1.0
    offsets = np.arange(-k_pmm, k_pmm)

    def update(c: int) -> None:
        obs, miss = ~missing[:, c], missing[:, c]
        design[:, 1:c + 1], design[:, c + 1:] = values[:, :c], values[:, c + 1:]
        x_obs, y_obs = design[obs], values[obs, c]
        # OLS through the small Gram matrix: pinv(X'X) = pinv(X) pinv(X)', what statsmodels computes,
        # without an SVD of the whole n x p design (most of the time on 10^5 patients).
        gram = x_obs.T @ x_obs
        inverse = np.linalg.pinv(gram, hermitian=True)
        beta = inverse @ (x_obs.T @ y_obs)
        residual = y_obs - x_obs @ beta
        scale = float(residual @ residual) / (len(y_obs) - np.linalg.matrix_rank(gram, hermitian=True))
        params = rng.multivariate_normal(mean=beta, cov=scale * inverse)
        predicted_obs, predicted_miss = x_obs @ params, design[miss] @ params
        sort = np.argsort(predicted_obs)
        y_sorted, predicted_obs = y_obs[sort], predicted_obs[sort]
        # The 2 k_pmm observed predictions around each missing one's place, an index outside the
        # observed ones read as the nearest end and never chosen (infinitely far): each row is a
        # window of the predictions padded at both ends, not a gather of n_miss x 2 k_pmm indices.
        start = np.empty(len(predicted_miss), dtype=np.intp)
        by_prediction = np.argsort(predicted_miss)  # sorted queries: the same places, 2.5 times faster
        start[by_prediction] = np.searchsorted(predicted_obs, predicted_miss[by_prediction])
        last = len(y_sorted) - 1
        padded = np.concatenate([np.full(k_pmm, predicted_obs[0]), predicted_obs, np.full(k_pmm, predicted_obs[-1])])
        distance = np.abs(predicted_miss[:, None] - np.lib.stride_tricks.sliding_window_view(padded, 2 * k_pmm)[start])
        edge = np.nonzero((start < k_pmm) | (start > last - k_pmm + 1))[0]
        if len(edge):
            index = start[edge, None] + offsets[None, :]
            distance[edge] = np.where((index < 0) | (index > last), np.inf, distance[edge])
        closest = np.argsort(distance, 1)[:, :k_pmm]
        pick = rng.integers(0, k_pmm, int(miss.sum()))
        rows = np.arange(closest.shape[0])
        values[miss, c] = y_sorted[np.clip(start + offsets[closest[rows, pick]], 0, last)]

    def cycles(count: int) -> None:
        for _ in range(count):
            for c in order:
                update(int(c))

    columns = list(frame.columns) if keep is None else list(keep)
    positions = [frame.columns.get_loc(column) for column in columns]
    cycles(burn_in)
    kept = []
    for _ in range(m):
        cycles(skip)
        kept.append(pd.DataFrame(values[:, positions], index=frame.index, columns=columns))
    return kept


def _model_frame(data: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(index=data.index)
    for column in MI_COLUMNS:
        if column == "female":
            frame[column] = (data["sex"].astype(object) == "female").astype(float).where(data["sex"].notna())
        else:
            frame[column] = data[column].astype("Float64").astype(float)
    # A column nobody has cannot be imputed or used; a constant one adds nothing (and is singular); a
    # regression needs more observed values than columns: the sparsest column goes until each has them.
    kept = [c for c in frame.columns if frame[c].notna().any() and frame[c].nunique() > 1]
    observed = frame[kept].notna().sum()
    while kept and observed[kept].min() <= len(kept) + 1:
        kept.remove(observed[kept].idxmin())
    return frame[kept]


@per_cohort
def imputed_one_year(cohort: pd.DataFrame, m: int = M, seed: int = SEED) -> dict[str, pd.DataFrame]:
    """The 1-year values of every measure in `m` completed data sets: {stem: frame}, one column per
    imputation (0 .. m-1), one row per patient (the cohort's index); observed values stay as they are.

    A measure nobody lacks at 1 year is not imputed (its frame repeats the values); one with too few
    1-year values for the model (or a cohort too small for it) keeps its missing values (NaN), and
    the shares computed from it are NaN.
    """
    if m < 2:
        raise ValueError(f"multiple imputation needs m >= 2 data sets, got {m}")
    data = derive(cohort)
    frame = _model_frame(data)
    kept = {stem: [] for stem in INSTRUMENTS}
    imputing = frame.isna().any().any() and len(frame) > frame.shape[1] + 1
    if imputing:
        imputed = [f"{stem}_1y" for stem in INSTRUMENTS if f"{stem}_1y" in frame.columns]
        for completed in chained_equations(frame, m, BURN_IN, SKIP, np.random.default_rng(seed), keep=imputed):
            for stem in INSTRUMENTS:
                column = f"{stem}_1y"
                source = completed if column in completed.columns else data
                kept[stem].append(source[column].to_numpy(dtype=float))
    else:
        for stem in INSTRUMENTS:
            kept[stem] = [data[f"{stem}_1y"].to_numpy(dtype=float)] * m
    return {stem: pd.DataFrame(np.column_stack(columns), index=data.index, columns=range(m))
            for stem, columns in kept.items()}


def _critical_delta(start: np.ndarray, values: np.ndarray, stem: str, rule: McidRule) -> np.ndarray:
    """For each patient (rows) and imputation (columns): the largest worse shift delta at which the
    shifted value, kept within the scale, still reaches the MCID (+inf: reached at any shift;
    -inf: at none). A patient's status can only go from reached to not as delta grows, so the
    share at any delta is a count of these (a test checks it against `mcid_reached` itself)."""
    instrument = INSTRUMENTS[stem]
    direction = 1.0 if instrument.higher_is_better else -1.0
    start = start[:, None]
    if rule.definition == "percent":
        # 100 * gain / start >= threshold; from a start of 0, any gain counts (the smallest recorded one)
        required = np.where(start != 0, rule.threshold * np.abs(start) / 100, 10.0 ** -_DECIMALS)
    else:
        required = np.full_like(start, float(rule.threshold))
    best, worst = (instrument.hi, instrument.lo) if instrument.higher_is_better else (instrument.lo, instrument.hi)
    gain = np.round(direction * (values - start), _DECIMALS)
    critical = np.round(gain - required, _DECIMALS)
    possible = np.round(direction * (best - start), _DECIMALS) >= required
    always = np.round(direction * (worst - start), _DECIMALS) >= required
    return np.where(always, np.inf, np.where(possible, critical, -np.inf))


def _shares(cohort: pd.DataFrame, stem: str, rule: McidRule, completed: pd.DataFrame,
            deltas: np.ndarray) -> np.ndarray:
    """The share reaching the MCID (0..1) in each completed data set (columns) at each delta (rows):
    the lost patients' imputed values shifted by delta (positive = worse) within the scale."""
    has_start = cohort[f"{stem}_start"].notna().to_numpy()
    start = cohort[f"{stem}_start"].to_numpy(dtype=float)[has_start]
    lost = cohort[f"{stem}_1y"].isna().to_numpy()[has_start]
    values = completed.to_numpy()[has_start]                     # patients x imputations
    if not len(start) or np.isnan(values[lost]).any():  # nobody, or values the model could not impute
        return np.full((len(deltas), values.shape[1]), math.nan)
    measured = mcid_reached(pd.Series(start[~lost]), pd.Series(values[~lost, 0]), stem, rule.threshold,
                            rule.definition)
    measured_reached = int(measured.fillna(False).astype(bool).sum())
    critical = _critical_delta(start[lost], values[lost], stem, rule)
    out = np.empty((len(deltas), values.shape[1]))
    tolerance = 10.0 ** -_DECIMALS / 2
    for j in range(values.shape[1]):
        ordered = np.sort(critical[:, j])
        still = len(ordered) - np.searchsorted(ordered, np.asarray(deltas, dtype=float) - tolerance, side="left")
        out[:, j] = (measured_reached + still) / len(start)
    return out


def _pool_row(shares: np.ndarray, n: int, confidence: float) -> dict:
    if n == 0 or np.isnan(shares).any():
        return {"%": math.nan, "CI low": math.nan, "CI high": math.nan, "df": math.nan}
    pooled = rubin(shares, shares * (1 - shares) / n, confidence)
    return {"%": 100 * pooled.estimate, "CI low": 100 * max(pooled.low, 0.0), "CI high": 100 * min(pooled.high, 1.0),
            "df": pooled.df}


@per_cohort
def mi_share(cohort: pd.DataFrame, mcid: Mapping[str, McidRule], confidence: float, *, m: int = M, seed: int = SEED,
             stems: Iterable[str] | None = None) -> pd.DataFrame:
    """The 1-year share reaching the MCID after multiple imputation, pooled by Rubin's rules.

    One row per measure: measure, stem, n (patients with a start value: the denominator),
    lost (of those, without a 1-year value: imputed), m, %, CI low, CI high (in %), df.
    """
    completed = imputed_one_year(cohort, m, seed)
    rows = []
    for stem in (list(INSTRUMENTS) if stems is None else list(stems)):
        n = int(cohort[f"{stem}_start"].notna().sum())
        lost = int((cohort[f"{stem}_start"].notna() & cohort[f"{stem}_1y"].isna()).sum())
        shares = _shares(cohort, stem, mcid[stem], completed[stem], np.array([0.0]))[0]
        rows.append({"measure": INSTRUMENTS[stem].short, "stem": stem, "n": n, "lost": lost, "m": m,
                     **_pool_row(shares, n, confidence)})
    return pd.DataFrame(rows, columns=["measure", "stem", "n", "lost", "m", "%", "CI low", "CI high", "df"])


@per_cohort
def delta_curve(cohort: pd.DataFrame, mcid: Mapping[str, McidRule], confidence: float, *, m: int = M,
                seed: int = SEED, stems: Iterable[str] | None = None) -> pd.DataFrame:
    """The pooled share as the lost patients' imputed values are shifted by delta (positive = worse).

    One row per measure and delta: measure, stem, delta (in the measure's units, from the scale's
    whole width better to its whole width worse), %, CI low, CI high.
    """
    completed = imputed_one_year(cohort, m, seed)
    rows = []
    for stem in (list(INSTRUMENTS) if stems is None else list(stems)):
        instrument = INSTRUMENTS[stem]
        width = instrument.hi - instrument.lo
        deltas = np.linspace(-width, width, GRID_POINTS)
        n = int(cohort[f"{stem}_start"].notna().sum())
        shares = _shares(cohort, stem, mcid[stem], completed[stem], deltas)
        for delta, row in zip(deltas, shares):
            rows.append({"measure": instrument.short, "stem": stem, "delta": float(delta),
                         **{k: v for k, v in _pool_row(row, n, confidence).items() if k != "df"}})
    return pd.DataFrame(rows, columns=["measure", "stem", "delta", "%", "CI low", "CI high"])


def tipping_point(curve: pd.DataFrame, line: float = HALF) -> pd.DataFrame:
    """Where each measure's pooled share crosses `line` on a :func:`delta_curve`.

    One row per measure: measure, stem, share at delta 0 (%), direction ("worse": the share is at
    or above the line without a shift and falls below it when the lost are worse; "better": it is
    below and rises to it when they are better; "none": no shift within the scale crosses it), and
    tipping delta (the smallest such shift in absolute value, in the measure's units, > 0; NaN for
    "none").
    """
    rows = []
    for stem, block in curve.groupby("stem", sort=False):
        block = block.sort_values("delta")
        at_zero = float(block.iloc[(block["delta"].abs()).argmin()]["%"])
        if math.isnan(at_zero):
            direction, delta = "none", math.nan
        elif at_zero >= line:
            crossed = block[(block["delta"] > 0) & (block["%"] < line)]
            direction, delta = ("worse", float(crossed["delta"].min())) if len(crossed) else ("none", math.nan)
        else:
            crossed = block[(block["delta"] < 0) & (block["%"] >= line)]
            direction, delta = ("better", float(-crossed["delta"].max())) if len(crossed) else ("none", math.nan)
        rows.append({"measure": block["measure"].iloc[0], "stem": stem, "share at 0": at_zero,
                     "direction": direction, "tipping delta": delta})
    return pd.DataFrame(rows, columns=["measure", "stem", "share at 0", "direction", "tipping delta"])
