"""Small statistical helpers used by every chapter of the book.

All helpers accept pandas Series that may hold missing values (``NaN``,
``None`` or ``pd.NA``, including the nullable ``Int64``/``Float64``/``boolean``
dtypes). Paired helpers match the two Series by index, so ``start`` and
``later`` must be indexed by patient. Maths is delegated to scipy and
statsmodels wherever they offer it; what is computed here is short and
commented.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
from scipy import stats as _scipy_stats
from statsmodels.stats.proportion import proportion_confint

from .instruments import INSTRUMENTS

__all__ = [
    "Proportion",
    "WilcoxonResult",
    "change",
    "improvement",
    "mcid_reached",
    "mcid_summary",
    "median_iqr",
    "proportion",
    "proportion_of",
    "round_half_up",
    "wilcoxon_change",
    "wilson_ci",
]

#: Decimals to which a change is rounded before it is compared with an MCID
#: threshold. Outcomes are recorded with at most one decimal, so any digit
#: beyond the sixth is floating-point noise (32.3 - 22.3 == 9.999999999999996).
_CHANGE_DECIMALS = 6


def _as_float(series) -> pd.Series:
    """A float64 copy of ``series`` with every kind of missing value as NaN."""
    s = series if isinstance(series, pd.Series) else pd.Series(series)
    return s.astype("Float64").astype("float64")


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------
# Proportions
# --------------------------------------------------------------------------

def wilson_ci(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval for the proportion ``k / n``, as fractions in [0, 1].

    Computed by ``statsmodels.stats.proportion.proportion_confint`` with
    ``method="wilson"``. Returns ``(nan, nan)`` when ``n == 0``.
    Raises ``TypeError`` for non-integer counts and ``ValueError`` unless
    ``0 <= k <= n`` and ``0 < confidence < 1``.
    """
    k, n = _check_count("k", k), _check_count("n", n)
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if n == 0:
        return (math.nan, math.nan)
    low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    # The Wilson bound is exactly 0 at k == 0 and exactly 1 at k == n; floating
    # point can miss by 1e-16 (0.9999999999999999); snap those ends.
    low = 0.0 if k == 0 else min(max(float(low), 0.0), 1.0)
    high = 1.0 if k == n else min(max(float(high), 0.0), 1.0)
    return (low, high)


@dataclass(frozen=True)
class Proportion:
    """``k`` out of ``n``, with ``pct`` and its Wilson CI (``low``, ``high``) in percent.

    ``pct``, ``low`` and ``high`` are NaN when ``n == 0``.
    """

    k: int
    n: int
    pct: float
    low: float
    high: float


def proportion(k: int, n: int, confidence: float) -> Proportion:
    """``k / n`` in percent with its Wilson confidence interval (see :func:`wilson_ci`)."""
    low, high = wilson_ci(k, n, confidence)
    k, n = int(k), int(n)
    pct = 100.0 * k / n if n else math.nan
    return Proportion(k=k, n=n, pct=pct, low=100.0 * low, high=100.0 * high)


def proportion_of(flags, confidence: float) -> Proportion:
    """Share of True among the non-missing values of a boolean Series.

    Missing values (NaN, None, pd.NA) are left out of the denominator.
    Raises ``ValueError`` if a non-missing value is not boolean (or 0/1).
    """
    s = flags if isinstance(flags, pd.Series) else pd.Series(flags)
    valid = s.dropna()
    if not valid.isin([True, False]).all():
        raise ValueError("proportion_of expects boolean values (True/False, or 0/1)")
    k = int(valid.astype(bool).sum())
    return proportion(k, int(len(valid)), confidence)


# --------------------------------------------------------------------------
# Change and minimal clinically important difference (MCID)
# --------------------------------------------------------------------------

def change(start, later) -> pd.Series:
    """``later - start`` as a float Series, NaN where either value is missing."""
    return _as_float(later) - _as_float(start)


def improvement(start, later, instrument: str) -> pd.Series:
    """The change in the direction that means better: ``later - start`` for an instrument where
    higher is better (EQ-VAS), ``start - later`` where lower is better (NPRS, DRI)."""
    if instrument not in INSTRUMENTS:
        raise KeyError(f"unknown instrument {instrument!r}; known: {sorted(INSTRUMENTS)}")
    return INSTRUMENTS[instrument].direction * change(start, later)


def mcid_reached(start, later, instrument: str, threshold: float, definition: str = "absolute") -> pd.Series:
    """Whether each patient improved by at least the MCID (nullable boolean Series).

    The improvement is the direction-adjusted change (:func:`improvement`). With
    ``definition="absolute"`` it counts as reached when ``improvement >= threshold``
    (in the scale's units); with ``"percent"`` when ``100 * improvement / start >=
    threshold``, where a start value of 0 counts as reached only if the patient
    improved at all (any gain from 0 is an unbounded percentage). The value is
    ``<NA>`` where either measurement is missing.

    The improvement is rounded to six decimals before the comparison: in binary
    floating point ``32.3 - 22.3`` is ``9.999999999999996``, yet on a scale
    recorded to one decimal it is a change of exactly 10 and must reach a
    threshold of 10.
    """
    raw = improvement(start, later, instrument)
    gain = raw
    if definition == "percent":
        base = _as_float(start)
        from_zero = pd.Series(np.where(raw > 0, np.inf, 0.0), index=raw.index)
        gain = (100 * raw / base.where(base != 0)).where(base != 0, from_zero).mask(raw.isna())
    elif definition != "absolute":
        raise ValueError(f"MCID definition must be 'absolute' or 'percent', not {definition!r}")
    reached = gain.round(_CHANGE_DECIMALS) >= float(threshold)
    return reached.astype("boolean").mask(gain.isna())


def mcid_summary(start, later, instrument: str, threshold: float, confidence: float,
                 definition: str = "absolute") -> Proportion:
    """Patients reaching the MCID among those with both measurements (see :func:`mcid_reached`)."""
    return proportion_of(mcid_reached(start, later, instrument, threshold, definition), confidence)


# --------------------------------------------------------------------------
# Paired test
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class WilcoxonResult:
    """Paired Wilcoxon signed-rank test of ``later`` against ``start``.

    n_pairs: patients with both values; n_nonzero: pairs whose difference is
    not zero (the ones the test ranks). Medians are over the complete pairs.
    statistic: scipy's two-sided statistic, the smaller of the positive and
    negative rank sums. rank_biserial: matched-pairs rank-biserial correlation
    in [-1, 1], positive when ``later`` tends to be greater than ``start``.
    statistic, p_value and rank_biserial are NaN when no difference is nonzero.
    """

    n_pairs: int
    n_nonzero: int
    median_start: float
    median_later: float
    median_change: float
    statistic: float
    p_value: float
    rank_biserial: float


def rank_biserial(differences) -> float:
    """Matched-pairs rank-biserial correlation (Kerby 2014) of paired differences.

    Zero differences are dropped, the absolute differences ranked (ties get
    their average rank), and the result is
    ``(sum of positive ranks - sum of negative ranks) / total rank sum``.
    NaN when no difference is nonzero.
    """
    d = np.asarray(differences, dtype=float)
    d = d[~np.isnan(d) & (d != 0)]
    if d.size == 0:
        return math.nan
    ranks = _scipy_stats.rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


def wilcoxon_change(start, later) -> WilcoxonResult:
    """Two-sided paired Wilcoxon signed-rank test on the complete pairs.

    Uses ``scipy.stats.wilcoxon(later - start, zero_method="wilcox",
    method="auto")``: zero differences are discarded (Wilcoxon's original
    convention, scipy's default), and scipy computes the exact p-value for
    small samples without ties or zeros and the normal approximation (with
    tie correction) otherwise, so tied clinical scores are handled.
    Differences are rounded to six decimals first, so floating-point noise
    neither hides a zero difference nor splits a tie (see :func:`mcid_reached`).
    When there are no pairs, or every difference is zero, the test is not
    computed and statistic, p_value and rank_biserial are NaN.
    """
    pairs = pd.concat({"start": _as_float(start), "later": _as_float(later)}, axis=1).dropna()
    diff = (pairs["later"] - pairs["start"]).round(_CHANGE_DECIMALS).to_numpy()
    n_nonzero = int(np.count_nonzero(diff))

    def _median(values) -> float:
        return float(np.median(values)) if len(values) else math.nan

    statistic = p_value = math.nan
    if n_nonzero > 0:
        res = _scipy_stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided", method="auto")
        statistic, p_value = float(res.statistic), float(res.pvalue)
    return WilcoxonResult(
        n_pairs=int(len(pairs)),
        n_nonzero=n_nonzero,
        median_start=_median(pairs["start"]),
        median_later=_median(pairs["later"]),
        median_change=_median(diff),
        statistic=statistic,
        p_value=p_value,
        rank_biserial=rank_biserial(diff),
    )


# --------------------------------------------------------------------------
# Descriptives and rounding
# --------------------------------------------------------------------------

def median_iqr(series) -> tuple[float, float, float]:
    """``(median, q1, q3)`` of the non-missing values; NaNs when none.

    Quartiles use pandas' default linear interpolation (numpy's "linear").
    """
    s = _as_float(series).dropna()
    if s.empty:
        return (math.nan, math.nan, math.nan)
    q1, median, q3 = s.quantile([0.25, 0.5, 0.75])
    return (float(median), float(q1), float(q3))


def round_half_up(x, decimals: int = 0) -> float:
    """Round as publications do: halves away from zero (0.5 -> 1, 2.5 -> 3, -2.5 -> -3).

    Python's ``round`` rounds halves to even (``round(2.5) == 2``) and works
    on the binary value (``round(13.35, 1) == 13.3`` because 13.35 is stored as
    13.3499999...). Here the float's shortest repr ("13.35") is rounded in
    decimal arithmetic, giving 13.4. Missing values (NaN, None, pd.NA) and
    infinities come back as they are (missing ones as NaN).
    """
    if x is None or x is pd.NA:
        return math.nan
    x = float(x)
    if not math.isfinite(x):
        return x
    quantum = Decimal(1).scaleb(-int(decimals))
    return float(Decimal(repr(x)).quantize(quantum, rounding=ROUND_HALF_UP))
