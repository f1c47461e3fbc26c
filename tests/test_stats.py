"""Tests of cmprehab.stats against independently computed values."""
from __future__ import annotations

import math
import warnings
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from cmprehab.analysis import stats as S

CONFIDENCE = 0.95  # passed explicitly: unit tests do not read the study parameters

# Any warning raised while a test runs (e.g. from scipy on a degenerate input)
# is a failure: the helpers must handle edge cases themselves.
pytestmark = pytest.mark.filterwarnings("error")


# --------------------------------------------------------------------------
# Wilson interval
# --------------------------------------------------------------------------

def wilson_by_hand(k, n, confidence=0.95):
    """Wilson score interval from its textbook formula (Newcombe 1998, method 3)."""
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("k,n", [(1, 10), (3, 7), (45, 100), (194, 274), (0, 5), (5, 5), (114, 274)])
def test_wilson_matches_formula(k, n):
    low, high = S.wilson_ci(k, n, CONFIDENCE)
    exp_low, exp_high = wilson_by_hand(k, n)
    assert low == pytest.approx(exp_low, abs=1e-12)
    assert high == pytest.approx(exp_high, abs=1e-12)


def test_wilson_other_confidence_matches_formula():
    low, high = S.wilson_ci(12, 40, confidence=0.90)
    assert (low, high) == pytest.approx(wilson_by_hand(12, 40, 0.90), abs=1e-12)


@pytest.mark.parametrize("k,n,expected", [
    (0, 10, (0.0, 0.2775)),
    (10, 10, (0.7225, 1.0)),
    (45, 100, (0.3561, 0.5476)),
])
def test_wilson_textbook_values(k, n, expected):
    assert S.wilson_ci(k, n, CONFIDENCE) == pytest.approx(expected, abs=5e-5)


def test_wilson_bounds_stay_in_unit_interval():
    assert S.wilson_ci(0, 10, CONFIDENCE)[0] == 0.0
    assert S.wilson_ci(10, 10, CONFIDENCE)[1] == 1.0


def test_wilson_n_zero_is_nan():
    low, high = S.wilson_ci(0, 0, CONFIDENCE)
    assert math.isnan(low) and math.isnan(high)


@pytest.mark.parametrize("k,n", [(11, 10), (-1, 10), (0, -1)])
def test_wilson_invalid_counts_raise(k, n):
    with pytest.raises(ValueError):
        S.wilson_ci(k, n, CONFIDENCE)


@pytest.mark.parametrize("k,n", [(2.5, 10), (2, 10.0), (True, 10), ("2", 10)])
def test_wilson_non_integer_counts_raise(k, n):
    with pytest.raises(TypeError):
        S.wilson_ci(k, n, CONFIDENCE)


def test_wilson_accepts_numpy_integers():
    assert S.wilson_ci(np.int64(45), np.int64(100), CONFIDENCE) == pytest.approx(wilson_by_hand(45, 100))


# --------------------------------------------------------------------------
# Proportion
# --------------------------------------------------------------------------

def test_proportion_in_percent():
    p = S.proportion(45, 100, CONFIDENCE)
    low, high = wilson_by_hand(45, 100)
    assert (p.k, p.n, p.pct) == (45, 100, 45.0)
    assert (p.low, p.high) == pytest.approx((100 * low, 100 * high))


def test_proportion_n_zero():
    p = S.proportion(0, 0, CONFIDENCE)
    assert (p.k, p.n) == (0, 0)
    assert all(math.isnan(v) for v in (p.pct, p.low, p.high))


@pytest.mark.parametrize("values,dtype", [
    ([True, False, None, True, pd.NA, False, True], object),
    ([True, False, None, True, pd.NA, False, True], "boolean"),
    ([1.0, 0.0, np.nan, 1.0, np.nan, 0.0, 1.0], float),
    ([1, 0, None, 1, None, 0, 1], "Int64"),
])
def test_proportion_of_ignores_missing(values, dtype):
    p = S.proportion_of(pd.Series(values, dtype=dtype), CONFIDENCE)
    assert (p.k, p.n) == (3, 5)
    assert p.pct == pytest.approx(60.0)


def test_proportion_of_all_missing():
    p = S.proportion_of(pd.Series([pd.NA, pd.NA], dtype="boolean"), CONFIDENCE)
    assert (p.k, p.n) == (0, 0) and math.isnan(p.pct)


def test_proportion_of_rejects_non_boolean():
    with pytest.raises(ValueError):
        S.proportion_of(pd.Series([0, 1, 2]), CONFIDENCE)


# --------------------------------------------------------------------------
# Change and MCID
# --------------------------------------------------------------------------

def test_change_is_later_minus_start_with_missing():
    start = pd.Series([7, 5, pd.NA, 3], dtype="Int64")
    later = pd.Series([4.5, None, 2.0, 6.0], dtype="Float64")
    out = S.change(start, later)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.to_numpy(), [-2.5, np.nan, np.nan, 3.0])
    # The improvement turns the sign where lower is better.
    np.testing.assert_array_equal(S.improvement(start, later, "nprs").to_numpy(), [2.5, np.nan, np.nan, -3.0])
    np.testing.assert_array_equal(S.improvement(start, later, "eqvas").to_numpy(), [-2.5, np.nan, np.nan, 3.0])


def test_improvement_of_an_unknown_instrument_raises():
    with pytest.raises(KeyError):
        S.improvement(pd.Series([1.0]), pd.Series([2.0]), "vas")


def _as_list(series):
    """Nullable boolean Series as a list of True / False / None."""
    return [None if v is pd.NA else bool(v) for v in series]


def test_mcid_decrease_instrument_nprs():
    # direction -1, threshold 2: improvement = start - later
    start = pd.Series([8, 8, 8, 8, 8, pd.NA], dtype="Int64")
    later = pd.Series([5, 6, 7, 10, pd.NA, 3], dtype="Int64")
    out = S.mcid_reached(start, later, "nprs", 2)
    assert str(out.dtype) == "boolean"
    assert _as_list(out) == [True, True, False, False, None, None]


def test_mcid_increase_instrument_eqvas():
    # direction +1, threshold 10: improvement = later - start
    start = pd.Series([50.0, 50.0, 50.0, 50.0, np.nan])
    later = pd.Series([65.0, 60.0, 59.9, 30.0, 90.0])
    assert _as_list(S.mcid_reached(start, later, "eqvas", 10)) == [True, True, False, False, None]


def test_mcid_exact_threshold_despite_float_error():
    # In binary floating point these one-decimal changes of exactly 10 fall
    # short of 10 (32.3 - 22.3 == 9.999999999999996); 49.3 - 39.3 happens to
    # come out exact, and must of course count too.
    assert 32.3 - 22.3 < 10.0 and 64.1 - 54.1 < 10.0 and 2.3 - 0.3 < 2.0
    start = pd.Series([32.3, 64.1, 49.3, 32.3])
    later = pd.Series([22.3, 54.1, 39.3, 22.4])
    assert _as_list(S.mcid_reached(start, later, "dri", 10)) == [True, True, True, False]
    # the same edge case in the increasing direction
    assert _as_list(S.mcid_reached(later, start, "eqvas", 10)) == [True, True, True, False]
    # and on the NPRS threshold of 2
    assert _as_list(S.mcid_reached(pd.Series([2.3]), pd.Series([0.3]), "nprs", 2)) == [True]


def test_mcid_threshold_is_the_one_passed():
    start, later = pd.Series([8.0, 8.0]), pd.Series([5.0, 6.0])
    assert _as_list(S.mcid_reached(start, later, "nprs", 3)) == [True, False]
    assert _as_list(S.mcid_reached(start, later, "nprs", 2)) == [True, True]


def test_mcid_in_percent_of_the_start_value():
    # NPRS (lower is better): 10 -> 7 is 30 %, 5 -> 4 is 20 %, 8 -> 5.6 is 30 % despite float error.
    start = pd.Series([10.0, 5.0, 8.0, 0.0, 0.0, np.nan])
    later = pd.Series([7.0, 4.0, 5.6, 0.0, 1.0, 3.0])
    assert _as_list(S.mcid_reached(start, later, "nprs", 30, "percent")) == [True, False, True, False, False, None]
    # EQ-VAS (higher is better): 50 -> 65 is +30 %; any gain from 0 counts, no change from 0 does not.
    start, later = pd.Series([50.0, 50.0, 0.0, 0.0]), pd.Series([65.0, 60.0, 1.0, 0.0])
    assert _as_list(S.mcid_reached(start, later, "eqvas", 30, "percent")) == [True, False, True, False]
    with pytest.raises(ValueError, match="absolute"):
        S.mcid_reached(start, later, "eqvas", 30, "relative")


def test_mcid_aligns_by_index():
    start = pd.Series([8.0, 5.0], index=["a", "b"])
    later = pd.Series([5.0, 4.0], index=["b", "a"])  # a: 8 -> 4, b: 5 -> 5
    out = S.mcid_reached(start, later, "nprs", 2)
    assert bool(out["a"]) is True
    assert bool(out["b"]) is False


def test_mcid_summary_denominator_is_complete_pairs():
    start = pd.Series([7, 7, 7, 7, pd.NA, 6], dtype="Int64")
    later = pd.Series([3, 5, 6, 8, 2, pd.NA], dtype="Int64")
    p = S.mcid_summary(start, later, "nprs", 2, CONFIDENCE)
    assert (p.k, p.n) == (2, 4)
    low, high = wilson_by_hand(2, 4)
    assert (p.pct, p.low, p.high) == pytest.approx((50.0, 100 * low, 100 * high))


# --------------------------------------------------------------------------
# Wilcoxon signed-rank test and rank-biserial correlation
# --------------------------------------------------------------------------

def test_wilcoxon_hand_example():
    # differences [1, 2, -3, 4, 5]: ranks 1..5, R+ = 12, R- = 3
    start = pd.Series([10, 10, 10, 10, 10])
    later = pd.Series([11, 12, 7, 14, 15])
    res = S.wilcoxon_change(start, later)
    assert (res.n_pairs, res.n_nonzero) == (5, 5)
    assert res.rank_biserial == pytest.approx((1 + 2 + 4 + 5 - 3) / 15)  # 0.6
    assert res.statistic == 3.0  # min(R+, R-)
    # exact two-sided p: subsets of {1..5} with rank sum <= 3 are
    # {}, {1}, {2}, {3}, {1,2}: 5 of 32, doubled
    assert res.p_value == pytest.approx(2 * 5 / 32)
    assert (res.median_start, res.median_later, res.median_change) == (10.0, 12.0, 2.0)


def test_rank_biserial_sign_and_ties():
    # |d| = 1, 1, 2 -> average ranks 1.5, 1.5, 3; R+ = 4.5, R- = 1.5
    assert S.rank_biserial([1, -1, 2, 0]) == pytest.approx((4.5 - 1.5) / 6)
    assert S.rank_biserial([-1, -2, -3]) == -1.0
    assert S.rank_biserial([1, 2, np.nan]) == 1.0
    assert math.isnan(S.rank_biserial([0, 0]))


def test_wilcoxon_matches_scipy_with_ties_zeros_and_missing():
    rng = np.random.default_rng(1)
    start = pd.Series(rng.integers(2, 11, 80), dtype="Int64")
    later = pd.Series(np.clip(start.to_numpy(dtype=int) - rng.integers(-2, 5, 80), 0, 10), dtype="Int64")
    start[[3, 17, 40]] = pd.NA
    later[[5, 17, 61]] = pd.NA
    res = S.wilcoxon_change(start, later)

    keep = start.notna() & later.notna()
    s = start[keep].to_numpy(dtype=float)
    l = later[keep].to_numpy(dtype=float)
    d = l - s
    expected = scipy_stats.wilcoxon(d)  # scipy defaults: wilcox, two-sided, auto
    assert res.n_pairs == 75 == len(d)
    assert res.n_nonzero == np.count_nonzero(d)
    assert res.n_nonzero < res.n_pairs  # the data do contain zeros
    assert res.statistic == pytest.approx(expected.statistic)
    assert res.p_value == pytest.approx(expected.pvalue)
    assert res.median_start == np.median(s)
    assert res.median_later == np.median(l)
    assert res.median_change == np.median(d)
    nz = d[d != 0]
    ranks = scipy_stats.rankdata(np.abs(nz))
    assert res.rank_biserial == pytest.approx((ranks[nz > 0].sum() - ranks[nz < 0].sum()) / ranks.sum())
    assert res.rank_biserial < 0  # later values are mostly lower


@pytest.mark.parametrize("zero_method", ["wilcox", "pratt"])
@pytest.mark.parametrize("differences", [
    [0, 3],                                      # one nonzero difference and a zero
    [1, 1, -1, 2, 0, 0, 3],                      # ties and zeros
    [-2.5, 2.5, 5, -5, 1, 1, 1, 0.5, 7, 0],
    [1, -1, 2, -2, 3, -3, 4, 4, 5, 6, 6, 7, -8],  # 13 tied: the largest permuted sample
    [1, 2, -3, 4, 5, 6, 7],                      # no tie, no zero: scipy's exact distribution
    [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 0],  # 14: the normal approximation
])
def test_the_signed_rank_test_is_scipys(differences, zero_method):
    """The same W and p as scipy.stats.wilcoxon(method="auto"), its permutation test included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        expected = scipy_stats.wilcoxon(differences, zero_method=zero_method, method="auto")
    assert S.signed_rank_test(differences, zero_method) == (expected.statistic, expected.pvalue)


def test_wilcoxon_all_differences_zero():
    res = S.wilcoxon_change(pd.Series([3, 4, 5, np.nan]), pd.Series([3, 4, 5, 6]))
    assert (res.n_pairs, res.n_nonzero) == (3, 0)
    assert res.median_change == 0.0 and res.median_start == 4.0
    assert all(math.isnan(v) for v in (res.statistic, res.p_value, res.rank_biserial))


@pytest.mark.parametrize("start,later", [
    (pd.Series([1.0, np.nan]), pd.Series([np.nan, 2.0])),
    (pd.Series([pd.NA, pd.NA], dtype="Int64"), pd.Series([pd.NA, pd.NA], dtype="Float64")),
    (pd.Series([], dtype=float), pd.Series([], dtype=float)),
])
def test_wilcoxon_no_pairs(start, later):
    res = S.wilcoxon_change(start, later)
    assert (res.n_pairs, res.n_nonzero) == (0, 0)
    assert all(math.isnan(v) for v in (res.median_start, res.median_later, res.median_change,
                                      res.statistic, res.p_value, res.rank_biserial))


# --------------------------------------------------------------------------
# Hodges-Lehmann estimate and its signed-rank interval
# --------------------------------------------------------------------------

def walsh_by_brute_force(d):
    """Every Walsh average (d_i + d_j) / 2, i <= j, sorted."""
    d = np.asarray(d, dtype=float)
    i, j = np.triu_indices(len(d))
    return np.sort((d[i] + d[j]) / 2)


def exact_k_by_enumeration(n, confidence):
    """k of the exact interval from all 2**n sign patterns (independent of the module's recursion)."""
    from itertools import product
    sums = [sum(r for r, s in zip(range(1, n + 1), signs) if s) for signs in product((0, 1), repeat=n)]
    sums = np.sort(sums)
    alpha = 1 - confidence
    k = 0
    while k + 1 <= n * (n + 1) // 2 and np.mean(sums <= k) <= alpha / 2:  # P(T+ <= (k + 1) - 1)
        k += 1
    return k


def test_hodges_lehmann_published_example():
    # Hollander & Wolfe (1999), Example 3.1 (Hamilton depression scale, 9 patients): the
    # estimate -0.46 and the interval (-0.786, -0.010) with achieved coverage 96.1 %, as
    # R's wilcox.test(y, x, paired = TRUE, conf.int = TRUE) reproduces in its regression tests.
    x = np.array([1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30])
    y = np.array([0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29])
    hl = S.hodges_lehmann(y - x, CONFIDENCE)
    assert hl.estimate == pytest.approx(-0.46, abs=5e-4)
    assert (hl.low, hl.high) == pytest.approx((-0.786, -0.010), abs=5e-4)
    assert hl.achieved == pytest.approx(1 - 2 * 10 / 512) and round(hl.achieved, 3) == 0.961
    assert (hl.n, hl.method) == (9, "exact")


@pytest.mark.parametrize("seed", range(12))
def test_hodges_lehmann_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 13))
    # integer scores with ties and zeros, or continuous values
    d = rng.integers(-4, 5, n).astype(float) if seed % 2 else np.round(rng.normal(1, 3, n), 3)
    hl = S.hodges_lehmann(d, CONFIDENCE)
    walsh = walsh_by_brute_force(d)
    k = exact_k_by_enumeration(n, CONFIDENCE)
    assert hl.estimate == pytest.approx(np.median(walsh), abs=1e-9)
    assert (hl.low, hl.high) == pytest.approx((walsh[k - 1], walsh[len(walsh) - k]), abs=1e-9)
    assert hl.method == "exact" and hl.achieved >= CONFIDENCE


@pytest.mark.parametrize("n,seed", [(26, 1), (60, 2), (400, 3)])
def test_hodges_lehmann_normal_approximation_matches_brute_force(n, seed):
    rng = np.random.default_rng(seed)
    d = rng.integers(-5, 8, n).astype(float)  # heavy ties and zeros, as on the NPRS
    hl = S.hodges_lehmann(d, CONFIDENCE)
    walsh = walsh_by_brute_force(d)
    m = len(walsh)
    z = NormalDist().inv_cdf(0.975)
    k = math.floor(m / 2 + 0.5 - z * math.sqrt(n * (n + 1) * (2 * n + 1) / 24))
    assert hl.method == "normal"
    assert hl.estimate == pytest.approx(np.median(walsh))
    assert (hl.low, hl.high) == pytest.approx((walsh[k - 1], walsh[m - k]))


def _inside_by_test_inversion(d, mus, method, **kwargs):
    """Whether the two-sided signed-rank test of d - mu does not reject at 5 %, for each mu."""
    return np.array([scipy_stats.wilcoxon(d - mu, method=method, **kwargs).pvalue > 0.05 for mu in mus])


@pytest.mark.parametrize("n,method,kwargs", [(12, "exact", {}), (40, "approx", {"correction": True})])
def test_hodges_lehmann_interval_inverts_the_signed_rank_test(n, method, kwargs):
    # Continuous data: the interval is the set of shifts mu the signed-rank test does not reject.
    d = np.round(np.random.default_rng(n).normal(0.5, 2, n), 4)
    hl = S.hodges_lehmann(d, CONFIDENCE)
    walsh = walsh_by_brute_force(d)
    mids = (walsh[:-1] + walsh[1:]) / 2  # one shift between each pair of neighbouring Walsh averages
    mids = mids[np.diff(walsh) > 1e-9]
    # the shifts near the two ends of the interval, where the decision changes
    near = (np.abs(mids - hl.low) < 0.3 * np.ptp(d) / 10) | (np.abs(mids - hl.high) < 0.3 * np.ptp(d) / 10)
    mids = mids[near] if n > 20 else mids
    inside = (mids > hl.low) & (mids < hl.high)
    assert inside.any() and (~inside).any()
    np.testing.assert_array_equal(_inside_by_test_inversion(d, mids, method, **kwargs), inside)


def test_hodges_lehmann_small_samples_and_missing():
    # n = 5: P(T+ = 0) = 1/32 > 0.025, no 95 % interval exists; n = 6: [min, max] (1/64 <= 0.025).
    hl = S.hodges_lehmann([1.0, 2.0, 3.0, 4.0, 5.0], CONFIDENCE)
    assert hl.estimate == 3.0 and math.isnan(hl.low) and math.isnan(hl.high)
    hl = S.hodges_lehmann(pd.Series([1, 2, 3, 4, 5, 6, pd.NA, None], dtype="Int64"), CONFIDENCE)
    assert hl.n == 6 and (hl.low, hl.high) == (1.0, 6.0) and hl.achieved == pytest.approx(1 - 2 / 64)
    empty = S.hodges_lehmann(pd.Series([np.nan]), CONFIDENCE)
    assert empty.n == 0 and all(math.isnan(v) for v in (empty.estimate, empty.low, empty.high))


def test_hodges_lehmann_zeros_and_float_noise():
    # All differences 0: estimate and interval 0. Differences of one-decimal values are
    # rounded first: 32.3 - 22.3 is 10.000000000000004 in binary, here exactly 10.
    hl = S.hodges_lehmann(np.zeros(30), CONFIDENCE)
    assert (hl.estimate, hl.low, hl.high) == (0.0, 0.0, 0.0)
    noisy = np.array([32.3 - 22.3] * 3 + [49.3 - 39.3] * 4)
    assert S.hodges_lehmann(noisy, CONFIDENCE).estimate == 10.0


def test_hodges_lehmann_other_confidence_is_narrower():
    d = np.random.default_rng(5).normal(0, 1, 50)
    wide, narrow = S.hodges_lehmann(d, 0.99), S.hodges_lehmann(d, 0.80)
    assert wide.low < narrow.low < narrow.high < wide.high
    with pytest.raises(ValueError):
        S.hodges_lehmann(d, 95)


# --------------------------------------------------------------------------
# Median and quartiles
# --------------------------------------------------------------------------

@pytest.mark.parametrize("values", [[5.0], [1, 2], [7, 5, 8, 3, 9, 6], [1, 2, 3, 4, 10, 20, 30]])
def test_median_iqr_matches_numpy(values):
    med, q1, q3 = S.median_iqr(pd.Series(values + [None], dtype="Float64"))
    arr = np.asarray(values, dtype=float)
    assert med == np.median(arr)
    assert (q1, q3) == pytest.approx(tuple(np.percentile(arr, [25, 75])))


def test_median_iqr_hand_value():
    # 1, 2, 3, 4: q1 at position 0.75 -> 1.75, q3 at position 2.25 -> 3.25
    assert S.median_iqr(pd.Series([4, pd.NA, 1, 3, 2], dtype="Int64")) == (2.5, 1.75, 3.25)


def test_median_iqr_all_missing():
    assert all(math.isnan(v) for v in S.median_iqr(pd.Series([pd.NA, pd.NA], dtype="Int64")))
    assert all(math.isnan(v) for v in S.median_iqr(pd.Series([], dtype=float)))


# --------------------------------------------------------------------------
# Rounding as published
# --------------------------------------------------------------------------

@pytest.mark.parametrize("x,decimals,expected", [
    (0.5, 0, 1.0),
    (2.5, 0, 3.0),      # round(2.5) == 2 (banker's rounding)
    (13.35, 1, 13.4),   # round(13.35, 1) == 13.3: the float is 13.3499999...
    (41.6, 0, 42.0),
    (1.005, 2, 1.01),
    (-2.5, 0, -3.0),    # halves go away from zero
    (49.0, 0, 49.0),
    (1234.5, -2, 1200.0),
    (np.float64(2.5), 0, 3.0),
])
def test_round_half_up(x, decimals, expected):
    assert S.round_half_up(x, decimals) == expected


def test_round_half_up_differs_from_builtin():
    assert round(2.5) == 2 and round(13.35, 1) == 13.3
    assert S.round_half_up(2.5, 0) == 3 and S.round_half_up(13.35, 1) == 13.4


@pytest.mark.parametrize("missing", [np.nan, float("nan"), None, pd.NA])
def test_round_half_up_missing(missing):
    assert math.isnan(S.round_half_up(missing, 1))


def test_large_fits_free_their_leftovers_at_once_and_small_ones_skip_the_cost(monkeypatch):
    from cmprehab.analysis import stats as stats_module

    collected = []
    monkeypatch.setattr(stats_module.gc, "collect", lambda: collected.append(1))
    stats_module.release_fit(stats_module.LARGE_FIT_ROWS - 1)
    assert collected == []
    stats_module.release_fit(stats_module.LARGE_FIT_ROWS)
    assert collected == [1]


def test_cycles_made_during_a_large_fit_are_collected_as_they_come():
    """A statsmodels IRLS iteration leaves its copy of the design in a reference cycle; inside
    `collecting_cycles` such garbage is freed every few allocations (a log-binomial fit that ran
    its 200 iterations on 10^6 patients held 12 GB otherwise), and the collector's settings are
    restored afterwards. Without it, Python's default threshold lets about 240 of these pile up
    (the counts vary with what else the process allocates, so the two are compared)."""
    import gc
    import weakref

    class Node:
        pass

    def peak_of_live_cycles(rows: int) -> int:
        alive, peak = weakref.WeakSet(), 0
        with S.collecting_cycles(rows):
            for _ in range(2000):
                a, b = Node(), Node()
                a.other, b.other = b, a
                alive.add(a)
                del a, b
                peak = max(peak, len(alive))
        return peak

    before = gc.get_threshold()
    collected, left_alone = peak_of_live_cycles(S.LARGE_FIT_ROWS), peak_of_live_cycles(S.LARGE_FIT_ROWS - 1)
    assert 3 * collected < left_alone, (collected, left_alone)  # a small fit is left alone
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
