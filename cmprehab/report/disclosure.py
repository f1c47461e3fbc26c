"""Disclosure control: what the book may show of a cohort that is not the generator's own.

On the synthetic cohort (its sidecar vouches for the bytes) everything is shown.
On any other file the data are treated as confidential patient data, and every
table, figure, download and glued number follows three rules, applied here once:

* **Small counts.** A count of patients below ``k`` (study parameter ``disclosure.k``) is
  shown as ``"<k"``; a percentage, confidence interval or summary computed from
  it is withheld.
* **No single patient's value.** Minimum, maximum and histogram bins with fewer
  than ``k`` patients are not shown; percentiles and top-coded bins replace them.
* **Rounded counts.** Every other count of patients is released rounded to the nearest
  multiple of ``k`` (`released`), and a percentage or confidence interval is computed from
  the released counts (`share`). The pages are computed apart (one kernel each), so no table
  can know which cells the others hide; rounding each count on its own is the same on every
  table, page, figure and download. Two counts of nested groups of patients on different
  tables (measured at 1 year, measured at every time point) then differ by a multiple of k,
  and a percentage cannot give its exact denominator back. National statistics offices round
  flexible outputs in the same way.
* **Statistics at their displayed precision.** On confidential data a download and the
  results file hold what the page shows, not the 16 digits behind it (`book.show_table`,
  `results.Page`).

Every count released here (`released`, `count`), every share of counts (`share`, `percent`) and
every line of cells whose total is known (`protect_lines`) is also noted in an in-process log:
the true count, what was shown and the rule applied. `book` hands the notes made since the last
table, figure or glued number to `output_check`, which writes the data controller's report
(`_build/output-check/`, never part of the site). The log holds counts, never a patient's row.
"""
from __future__ import annotations

import sys
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import params as study
from ..analysis.stats import Proportion, proportion

#: Shown in place of a value withheld so that a small count cannot be derived.
WITHHELD = "withheld"
#: Key of the missing-value cell in a partition.
MISSING = "missing"
#: Percentiles reported instead of the minimum and maximum of confidential data.
RANGE_PERCENTILES = (5, 95)


@dataclass(frozen=True)
class Policy:
    """Whether disclosure control is on, and its threshold."""

    active: bool
    k: int = study.DEFAULTS.disclosure.k

    @property
    def small(self) -> str:
        return f"<{self.k}"

    def describe(self) -> str:
        if not self.active:
            return "Synthetic data: every count and value is shown."
        return (f"Confidential data: counts below {self.k} are shown as {self.small}, values that "
                f"could reveal them are {WITHHELD}, and no single patient's value is shown.")


SHOW_ALL = Policy(active=False)

#: The rules a release follows, as the output-check report names them.
RULE_ROUNDED = "rounded to a multiple of k"
RULE_SMALL = "<k"
RULE_WITHHELD = "withheld (complementary suppression)"
RULE_ZERO = "zero (nobody in the group)"
RULE_OFF = "shown exactly (disclosure control off)"
RULE_SHARE = "share of released counts"

#: Notes of what was released since `take_log()` last emptied it (one kernel = one page).
_log: list[dict] = []


def _note(kind: str, true: int, shown, rule: str, policy: Policy, **extra) -> None:
    _log.append({"kind": kind, "true": int(true), "shown": shown, "rule": rule, "k": policy.k,
                 "active": policy.active, "source": _caller(), **extra})


def _caller() -> str:
    """The outermost cmprehab function under way (`sensitivity.trajectories`): the notes of one
    call belong to the table or figure it makes, even when a page shows it later."""
    frame, found = sys._getframe(2), ""
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("cmprehab."):
            found = f"{module.rsplit('.', 1)[-1]}.{frame.f_code.co_name}"
        elif found:
            break
        frame = frame.f_back
    return found


def take_log() -> list[dict]:
    """The notes made since the last call (and forget them): what `output_check` attaches to the
    next table, figure or glued number."""
    taken = list(_log)
    _log.clear()
    return taken


def _count_rule(n: int, shown, policy: Policy) -> str:
    if not policy.active:
        return RULE_OFF
    if shown == policy.small:
        return RULE_SMALL
    if shown == WITHHELD:
        return RULE_WITHHELD
    return RULE_ZERO if n == 0 else RULE_ROUNDED


def policy(cohort: pd.DataFrame, given: Policy | None = None) -> Policy:
    """The policy for `cohort` (`given`, when a caller passes one): off only when the loader vouched
    that it is the generator's own file.

    A frame without that record (built by hand, or a copy that lost it) is treated as real data.
    """
    if given is not None:
        return given
    fingerprint = cohort.attrs.get("fingerprint")
    synthetic = bool(getattr(fingerprint, "synthetic", False))
    return Policy(active=not synthetic, k=study.current().disclosure.k)


def protect(counts: Mapping[Hashable, int], policy: Policy) -> dict[Hashable, str | None]:
    """Label of each cell of a partition whose total is released: None (released: `count`), "<k"
    or WITHHELD. See `protect_lines`."""
    return protect_lines(counts, [list(counts)], policy)


def protect_lines(counts: Mapping[Hashable, int], lines, policy: Policy,
                  zero_ok: set | None = None) -> dict[Hashable, str | None]:
    """Labels of cells when the totals of some groups of them ("lines") are released too: a
    partition is one line; a two-way table has its rows and its columns; a flow diagram its boxes.

    Every count below k is hidden as "<k", zero included, except a zero in the MISSING cell or in
    `zero_ok` (it says that every value was recorded, nothing about a patient); the other cells are
    released rounded (`released`). A line's released total and released cells still bound its hidden
    cells: two cells "<5" beside a total released as 10 (8 to 12) must both be 4. So, line after line
    until nothing changes, while a hidden count below k is the only value its line allows
    (`_determined`), the smallest released cell of that line is withheld as well.
    """
    labels: dict[Hashable, str | None] = {key: None for key in counts}
    if not policy.active:
        return labels
    zero_ok = {MISSING} | set(zero_ok or ())
    order = list(counts)
    for key, n in counts.items():
        if n < policy.k and not (key in zero_ok and n == 0):
            labels[key] = policy.small
    lines = [list(line) for line in lines]
    changed = True
    while changed:
        changed = False
        for line in lines:
            while _determined(line, counts, labels, policy, zero_ok):
                shown = [key for key in line if labels[key] is None]
                if not shown:
                    break
                smallest = min(shown, key=lambda key: (counts[key], order.index(key)))
                labels[smallest] = WITHHELD
                changed = True
    for line in lines:  # for the output check (and its attacker): these cells add up to a released total
        _log.append({"kind": "line", "cells": [int(counts[key]) for key in line], "k": policy.k,
                     "shown": [count_label if count_label is not None else _rounded(counts[key], policy)
                               for key in line for count_label in [labels[key]]],
                     "missing": [i for i, key in enumerate(line) if key == MISSING],
                     "active": policy.active, "source": _caller()})
    return labels


def _released_range(n: int, policy: Policy) -> tuple[int, int]:
    """Every count whose release equals that of n, as (lowest, highest)."""
    r = _rounded(n, policy)
    if r == 0:
        return 0, 0
    if isinstance(r, str):
        return 1, policy.k - 1
    low = max(policy.k, r - policy.k // 2)
    while low > policy.k and _rounded(low - 1, policy) == r:
        low -= 1
    high = r + (policy.k - 1) // 2
    while _rounded(high + 1, policy) == r:
        high += 1
    return low, high


def _determined(line, counts, labels, policy: Policy, zero_ok) -> bool:
    """Whether what the line releases (its cells and its total) leaves a hidden count below k
    only one possible value."""
    hidden = [key for key in line if labels[key] is not None]
    if not hidden:
        return False
    total_low, total_high = _released_range(sum(counts[key] for key in line), policy)
    ranges = {}
    for key in line:
        if labels[key] is None:
            ranges[key] = _released_range(counts[key], policy)
        elif labels[key] == policy.small:
            ranges[key] = (1 if key in zero_ok else 0, policy.k - 1)
        else:  # withheld: anything the total allows
            ranges[key] = (0, total_high)
    low_sum, high_sum = sum(r[0] for r in ranges.values()), sum(r[1] for r in ranges.values())
    for key in hidden:
        if not 0 < counts[key] < policy.k:
            continue
        low, high = ranges[key]
        low = max(low, total_low - (high_sum - ranges[key][1]))
        high = min(high, total_high - (low_sum - ranges[key][0]))
        if low >= high:
            return True
    return False


def protect_subset(count: int, total: int, policy: Policy) -> str | None:
    """Label of a count shown out of a known total (its complement is derivable)."""
    return protect({"in": int(count), "out": int(total) - int(count)}, policy)["in"]


def protect_measured(count: int, total: int, policy: Policy) -> str | None:
    """Label of "patients with a value" out of all patients: the rest is a MISSING cell."""
    return protect({"measured": int(count), MISSING: int(total) - int(count)}, policy)["measured"]


def released(n: int, policy: Policy) -> int | str:
    """A count of patients as released: on confidential data "<k" below k (a zero stays 0: it says
    that nobody is in the group, of no patient), otherwise the nearest multiple of k (halves up)."""
    shown = _rounded(n, policy)
    _note("count", n, shown, _count_rule(int(n), shown, policy), policy)
    return shown


def _rounded(n: int, policy: Policy) -> int | str:
    """`released`, without a note in the log (for the ranges an attacker would consider)."""
    n = int(n)
    if not policy.active or n == 0:
        return n
    if n < policy.k:
        return policy.small
    return policy.k * ((2 * n + policy.k) // (2 * policy.k))


def count(n: int, label: str | None, policy: Policy) -> int | str:
    """A count of patients as a table shows it: its label when one hides it, else `released`."""
    if label is None:
        return released(n, policy)
    _note("count", n, label, _count_rule(int(n), label, policy), policy)
    return label


def share(k: int, n: int, policy: Policy, confidence: float) -> Proportion | None:
    """k of n in percent with its Wilson interval, computed from the released counts (None when
    either is withheld, or below k: a share of fewer than k patients is not shown)."""
    shown_k, shown_n = _rounded(k, policy), _rounded(n, policy)
    if isinstance(shown_k, str) or isinstance(shown_n, str):
        return None
    result = proportion(shown_k, shown_n, confidence)
    _note("share", min(int(k), int(n) - int(k)), float(result.pct), RULE_SHARE if policy.active else RULE_OFF,
          policy, numerator=int(k), denominator=int(n))
    return result


def percent(k: int, n: int, policy: Policy) -> float | str:
    """k of n in percent, from the released counts; WITHHELD when either is withheld."""
    shown_k, shown_n = _rounded(k, policy), _rounded(n, policy)
    if isinstance(shown_k, str) or isinstance(shown_n, str):
        return WITHHELD
    if not shown_n:
        return float("nan")
    value = 100 * shown_k / shown_n
    _note("share", min(int(k), int(n) - int(k)), value, RULE_SHARE if policy.active else RULE_OFF, policy,
          numerator=int(k), denominator=int(n))
    return value


def too_few(n: int, policy: Policy) -> bool:
    """Whether a summary (median, mean, share) of n patients must be withheld."""
    return policy.active and n < policy.k


def level_counts(values: pd.Series, levels: list, missing_possible: bool) -> dict[Hashable, int]:
    """Patients per level, plus the missing cell when the column may be empty."""
    valid = values.dropna()
    as_object = valid.astype(object) if isinstance(valid.dtype, pd.CategoricalDtype) else valid
    counts: dict[Hashable, int] = {level: int((as_object == level).sum()) for level in levels}
    if missing_possible:
        counts[MISSING] = int(values.isna().sum())
    return counts


def shown(value, label: str | None):
    """The value, or its label when it is withheld."""
    return value if label is None else label


def numeric(values) -> pd.Series:
    """A column that may hold labels ("<5", "withheld") as floats, labels as NaN (for figures)."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    return pd.to_numeric(series.where(series.map(lambda v: not isinstance(v, str))), errors="coerce")


def visible_bins(counts: np.ndarray, policy: Policy) -> np.ndarray:
    """Mask of histogram bins that may be drawn: all, or those with at least k patients."""
    counts = np.asarray(counts)
    return counts >= policy.k if policy.active else np.ones(counts.shape, dtype=bool)


def value_range(values: pd.Series, policy: Policy) -> tuple[float, float, str]:
    """(low, high, what): minimum and maximum, or the 5th and 95th percentiles under control."""
    valid = pd.to_numeric(values, errors="coerce").dropna()
    if valid.empty:
        return (float("nan"), float("nan"), "minimum–maximum")
    if not policy.active:
        return (float(valid.min()), float(valid.max()), "minimum–maximum")
    low, high = (float(valid.quantile(p / 100)) for p in RANGE_PERCENTILES)
    return (low, high, f"{RANGE_PERCENTILES[0]}th–{RANGE_PERCENTILES[1]}th percentile")


def protect_grid(counts: pd.DataFrame, policy: Policy, row_totals_shown: bool = True) -> pd.DataFrame:
    """Labels (None, "<k" or WITHHELD) of a two-way table of counts whose margins are known.

    Each column is a partition of its total (a group's patients over the levels); with
    `row_totals_shown`, each row is one too (a level's patients over the groups, its total
    shown elsewhere). See `protect_lines`.
    """
    cells = {(r, c): int(counts.loc[r, c]) for r in counts.index for c in counts.columns}
    lines = [[(r, c) for r in counts.index] for c in counts.columns]
    if row_totals_shown:
        lines += [[(r, c) for c in counts.columns] for r in counts.index]
    labels = protect_lines(cells, lines, policy)
    return pd.DataFrame([[labels[(r, c)] for c in counts.columns] for r in counts.index],
                        index=counts.index, columns=counts.columns, dtype=object)


def coarsen_curve(k: pd.Series, n: int, policy: Policy) -> pd.Series:
    """Mask of the points of a cumulative count (patients at or above each threshold) that may be drawn.

    Between two drawn points the count changes by at least k patients, and every drawn point
    has at least k patients on each side, so no step of the curve counts fewer than k patients.
    """
    if not policy.active:
        return pd.Series(True, index=k.index)
    keep, last = [], None
    for value in k.astype(int):
        ok = value >= policy.k and n - value >= policy.k and (last is None or abs(last - value) >= policy.k)
        keep.append(ok)
        if ok:
            last = value
    return pd.Series(keep, index=k.index)


def spaced_points(counts, n: int, fixed, policy: Policy) -> list[bool]:
    """Which points of one cumulative count (patients reaching each threshold) may be shown.

    `fixed` marks points shown elsewhere (kept whatever happens). Another point is shown only
    if it has at least k patients on each side and its count differs from every shown point's
    by zero or by at least k: then no two shown points tell how many patients lie between
    them when that is fewer than k.
    """
    counts, fixed = [int(c) for c in counts], [bool(f) for f in fixed]
    if not policy.active:
        return [True] * len(counts)
    keep = list(fixed)
    kept = [c for c, f in zip(counts, fixed) if f]
    for i, value in enumerate(counts):
        if keep[i]:
            continue
        if value >= policy.k and n - value >= policy.k and all(
                value == other or abs(value - other) >= policy.k for other in kept):
            keep[i] = True
            kept.append(value)
    return keep
