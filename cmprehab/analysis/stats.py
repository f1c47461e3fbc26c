"""Small statistical helpers used by every chapter of the book.

All helpers accept pandas Series that may hold missing values (``NaN``,
``None`` or ``pd.NA``, including the nullable ``Int64``/``Float64``/``boolean``
dtypes). Paired helpers match the two Series by index, so ``start`` and
``later`` must be indexed by patient. Maths is delegated to scipy and
statsmodels wherever they offer it; what is computed here is short and
commented.
"""
from __future__ import annotations

import contextlib
import gc
import math
import numbers
import warnings
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
from scipy import stats as _scipy_stats
from statsmodels.stats.proportion import proportion_confint

from ..instruments import INSTRUMENTS

__all__ = [
    "HodgesLehmann",
    "Proportion",
    "WilcoxonResult",
    "change",
    "collecting_cycles",
    "hodges_lehmann",
    "improvement",
    "mcid_reached",
    "mcid_summary",
    "median_iqr",
    "proportion",
    "proportion_of",
    "release_fit",
    "round_half_up",
    "signed_rank_test",
    "wilcoxon_change",
    "wilson_ci",
    "LARGE_FIT_ROWS",
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


#: scipy.stats.wilcoxon(method="auto") tests up to this many tied or zero differences against
#: the exact sign-flip distribution (2**13 patterns, within its 9999 resamples).
PERMUTATION_MAX_N = 13


def signed_rank_test(differences, zero_method: str) -> tuple[float, float]:
    """(W, two-sided p) of scipy.stats.wilcoxon(differences, zero_method, method="auto").

    Where scipy would run its exact permutation test (at most 13 differences, with ties or
    zeros), the same test runs here with the statistic computed on all 2**n sign patterns at once:
    scipy evaluates it one pattern at a time, 13 s for the pages of a 20-patient cohort.
    The p-value is the same (the sums of midranks are exact in floating point).
    """
    d = np.asarray(differences, dtype=float)
    nonzero = d[d != 0]
    tied = np.unique(np.abs(nonzero)).size < nonzero.size
    permuted = d.size <= PERMUTATION_MAX_N and (tied or nonzero.size < d.size)
    with warnings.catch_warnings():
        # scipy notes that the exact distribution is unavailable with zeros and uses the normal one.
        warnings.simplefilter("ignore", UserWarning)
        result = _scipy_stats.wilcoxon(d, zero_method=zero_method, alternative="two-sided",
                                       method="asymptotic" if permuted else "auto")
    if not permuted:
        return float(result.statistic), float(result.pvalue)
    # Flipping signs leaves |d| and so the ranks unchanged. A zero adds nothing to the positive ranks; it
    # is ranked with the others (pratt) or not (wilcox).
    ranks = _scipy_stats.rankdata(np.abs(d))
    if zero_method == "wilcox":
        ranks[d != 0] = _scipy_stats.rankdata(np.abs(nonzero))
    p = _scipy_stats.permutation_test((d,), lambda x, axis: (ranks * (x > 0)).sum(axis=axis),
                                      permutation_type="samples", vectorized=True, n_resamples=np.inf,
                                      alternative="two-sided").pvalue
    return float(result.statistic), float(p)


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
        statistic, p_value = signed_rank_test(diff, "wilcox")
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
# Hodges-Lehmann estimate of the median change, with its signed-rank interval
# --------------------------------------------------------------------------

#: Largest number of differences for which the interval uses the exact signed-rank
#: distribution; above it, the normal approximation with a continuity correction.
HL_EXACT_MAX_N = 25


@dataclass(frozen=True)
class HodgesLehmann:
    """Hodges-Lehmann estimate (pseudomedian) of paired differences with its confidence interval.

    estimate: median of the n(n+1)/2 Walsh averages (d_i + d_j) / 2, i <= j.
    low, high: the interval [W_(k), W_(M+1-k)] of the ordered Walsh averages (M of them);
    NaN when the sample is too small for the requested confidence.
    n: differences used (non-missing, zeros included). confidence: as requested.
    achieved: the interval's coverage under the signed-rank null distribution (exact, or
    its normal approximation); at least `confidence` for the exact method.
    method: "exact" (n <= HL_EXACT_MAX_N) or "normal" (continuity-corrected approximation).
    """

    estimate: float
    low: float
    high: float
    n: int
    confidence: float
    achieved: float
    method: str


def _signed_rank_counts(n: int) -> np.ndarray:
    """How many of the 2**n sign patterns give each rank sum T+ = 0 .. n(n+1)/2 (no ties)."""
    counts = np.zeros(n * (n + 1) // 2 + 1, dtype=np.int64)
    counts[0] = 1
    for rank in range(1, n + 1):  # each rank is either in T+ or not
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return counts


@dataclass(frozen=True)
class _Tally:
    """Sorted distinct integer values, how often each occurs, and the running total of that."""

    values: np.ndarray
    counts: np.ndarray
    cumulative: np.ndarray

    @classmethod
    def of(cls, units: np.ndarray) -> "_Tally":
        values, counts = np.unique(units, return_counts=True)
        return cls(values, counts.astype(np.int64), np.cumsum(counts, dtype=np.int64))

    def walsh_count(self, t: int) -> int:
        """How many sums d_i + d_j with i <= j are <= t.

        Ordered pairs (i, j) with d_i + d_j <= t count each i < j pair twice and each i = j
        once, so the pairs i <= j are (ordered + diagonal) / 2. Working on distinct values
        keeps this O(U log U) for U distinct values (few on a clinical scale, whatever n).
        """
        u, c = self.values, self.counts
        # for each distinct value a: how many values are <= t - a (keys searched in increasing order)
        idx = np.searchsorted(u, (t - u)[::-1], side="right")[::-1]
        below = np.where(idx > 0, self.cumulative[np.maximum(idx - 1, 0)], 0)
        ordered = int(np.dot(c, below))
        diagonal = int(c[2 * u <= t].sum())
        return (ordered + diagonal) // 2


def _walsh_kth(tally: _Tally, k: int) -> int:
    """The k-th smallest (1-based) of the sums d_i + d_j, i <= j, of the integers in `tally`.

    The smallest integer t with at least k sums <= t, by bisection on the integers between
    the smallest and the largest sum: that t is itself a sum, and the arithmetic is exact.
    About log2(range of the data in units of 1e-6) counts, without forming the n(n+1)/2 sums.
    """
    lo, hi = int(2 * tally.values[0]) - 1, int(2 * tally.values[-1])  # count(lo) = 0 < k <= count(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if tally.walsh_count(mid) >= k:
            hi = mid
        else:
            lo = mid
    return hi


def hodges_lehmann(differences, confidence: float) -> HodgesLehmann:
    """Hodges-Lehmann estimate of the centre of paired differences, with its signed-rank interval.

    The estimate is the median of the Walsh averages (d_i + d_j) / 2 over all i <= j
    (Hodges & Lehmann 1963). The interval is the one that inverts the two-sided
    Wilcoxon signed-rank test (Hollander & Wolfe, Nonparametric Statistical Methods,
    section 3.3; R's ``wilcox.test(conf.int = TRUE)``): with M = n(n+1)/2 ordered
    Walsh averages, [W_(k), W_(M+1-k)] where

    - exact (n <= ``HL_EXACT_MAX_N`` = 25): k is the largest integer with
      P(T+ <= k - 1) <= (1 - confidence) / 2 under the exact null distribution of the
      signed-rank statistic T+, so the achieved coverage is at least `confidence`;
    - normal (n > 25): k = floor(M/2 + 1/2 - z * sqrt(n(n+1)(2n+1)/24)), the same rule
      with P(T+ <= k - 1) approximated by the normal distribution with a continuity
      correction of 1/2, z the standard-normal quantile of (1 + confidence) / 2.

    Missing values are dropped. Zero differences are kept: the Walsh averages use all
    n differences (the test in :func:`wilcoxon_change` drops zeros; the two answer
    different questions and both are reported). Differences are rounded to six
    decimals (floating-point noise, see :func:`mcid_reached`) and the order statistics
    are selected exactly in integer units of 1e-6, without forming all M averages, so
    large cohorts are fine. The interval assumes continuous differences: with tied or
    zero differences (integer scales) its coverage is approximate, and its ends are
    Walsh averages (whole or half points on an integer scale).

    When no k >= 1 exists (n < 6 at 95 %), low and high are NaN. With no difference
    at all, every number is NaN and n is 0.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    d = _as_float(differences).dropna().to_numpy()
    n = int(d.size)
    method = "exact" if n <= HL_EXACT_MAX_N else "normal"
    if n == 0:
        return HodgesLehmann(math.nan, math.nan, math.nan, 0, confidence, math.nan, method)
    scale = 10 ** _CHANGE_DECIMALS
    if np.abs(d).max() * scale >= 2 ** 61:  # sums of the integer units must fit in int64
        raise ValueError("differences beyond about 2e12 in absolute value are not supported")
    tally = _Tally.of(np.rint(d * scale).astype(np.int64))
    m = n * (n + 1) // 2

    def walsh(k: int) -> float:  # the k-th smallest Walsh average, in the data's units
        return _walsh_kth(tally, k) / 2 / scale

    estimate = walsh((m + 1) // 2) if m % 2 else (walsh(m // 2) + walsh(m // 2 + 1)) / 2
    alpha = 1 - confidence
    if method == "exact":
        cdf = np.cumsum(_signed_rank_counts(n)) / 2.0 ** n  # cdf[t] = P(T+ <= t)
        ok = np.flatnonzero(cdf <= alpha / 2)  # candidate values of k - 1
        k = int(ok[-1]) + 1 if ok.size else 0
        achieved = 1 - 2 * float(cdf[k - 1]) if k else math.nan
    else:
        z = _scipy_stats.norm.ppf(1 - alpha / 2)
        sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
        k = math.floor(m / 2 + 0.5 - z * sd)
        achieved = 1 - 2 * float(_scipy_stats.norm.cdf((k - 1 + 0.5 - m / 2) / sd)) if k >= 1 else math.nan
    if k < 1:
        return HodgesLehmann(estimate, math.nan, math.nan, n, confidence, math.nan, method)
    return HodgesLehmann(estimate, walsh(k), walsh(m + 1 - k), n, confidence, achieved, method)


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


#: Rows from which a model fit's leftovers are freed at once (`release_fit`).
LARGE_FIT_ROWS = 50_000


@contextlib.contextmanager
def collecting_cycles(rows: int):
    """During a statsmodels fit of `rows` rows, let Python's cycle collector run fully and often.

    An IRLS fit leaves each iteration's copy of the design in reference cycles; few Python objects
    are allocated per iteration, so the collector rarely runs, and a log-binomial fit that does not
    converge (200 iterations) held them all at once: 12 GB on 10^6 patients. Here everything older
    than the fit is frozen (`gc.freeze`: the collector skips it, so a full collection is cheap) and
    a full collection runs every 50 allocations. Small fits are left alone (`LARGE_FIT_ROWS`)."""
    if rows < LARGE_FIT_ROWS:
        yield
        return
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50, 1, 1)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def release_fit(rows: int) -> None:
    """Free what a statsmodels fit of `rows` rows left behind, now rather than later.

    Its IRLS loop leaves a copy of the design per iteration in reference cycles, which only
    Python's cycle collector frees, whenever it next runs: on 10^6 patients about 0.5 GB per
    fit, and a page that fits a few models in a row held them all (2.4 GB instead of 1.7 GB
    for the follow-up page). A full collection costs tens of milliseconds, so small fits skip it.
    """
    if rows >= LARGE_FIT_ROWS:
        gc.collect()
