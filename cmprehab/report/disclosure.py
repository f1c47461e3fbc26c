"""Disclosure control: what the book may show of a cohort that is not the generator's own.

On the synthetic cohort (its sidecar vouches for the bytes) everything is shown.
On any other file the data are treated as confidential patient data, and every
table, figure, download and glued number follows three rules, applied here once:

* **Small counts.** A count of patients below ``k`` (study parameter ``disclosure.k``) is
  shown as ``"<k"``; a percentage, confidence interval or summary computed from
  it is withheld.
* **Complementary suppression.** The cells of a partition (the levels of a
  variable and its missing values, or "reached" and "not reached") add up to a
  total the reader knows. A lone hidden cell could be recovered as the total
  minus the others, so further cells, smallest first, are withheld until the
  hidden cells are at least two and together hold at least ``k`` patients.
  Every table derives its cells from the same partition, so two tables can never
  disagree about what is hidden.
* **No single patient's value.** Minimum, maximum and histogram bins with fewer
  than ``k`` patients are not shown; percentiles and top-coded bins replace them.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import params as study

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
    """Label of each cell of a partition whose total is shown: None (show), "<k" or WITHHELD.

    Primary suppression hides every count below k, zero included, except a zero
    in the MISSING cell (it says that every value was recorded, nothing about a
    patient). Complementary suppression then hides the smallest remaining cells
    until the hidden cells cannot be recovered from the total: at least two of
    them, holding at least k patients together.
    """
    return protect_lines(counts, [list(counts)], policy)


def protect_lines(counts: Mapping[Hashable, int], lines, policy: Policy,
                  zero_ok: set | None = None) -> dict[Hashable, str | None]:
    """Labels of cells when the totals of some groups of them ("lines") are known to the reader.

    The general form of `protect`: a partition is one line; a two-way table has its rows
    and its columns; a flow diagram has its boxes. Primary suppression as in `protect`
    (zero is a count, except in the MISSING cell or the cells in `zero_ok`); then, line
    after line and again until nothing changes, the smallest shown cells of a line are
    hidden until its hidden cells are none, or at least two holding at least k patients.
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
            hidden = [key for key in line if labels[key] is not None]
            while hidden and len(hidden) < len(line) and (len(hidden) < 2 or
                                                         sum(counts[key] for key in hidden) < policy.k):
                smallest = min((key for key in line if labels[key] is None),
                               key=lambda key: (counts[key], order.index(key)))
                labels[smallest] = WITHHELD
                hidden.append(smallest)
                changed = True
    return labels


def protect_subset(count: int, total: int, policy: Policy) -> str | None:
    """Label of a count shown out of a known total (its complement is derivable)."""
    return protect({"in": int(count), "out": int(total) - int(count)}, policy)["in"]


def protect_measured(count: int, total: int, policy: Policy) -> str | None:
    """Label of "patients with a value" out of all patients: the rest is a MISSING cell."""
    return protect({"measured": int(count), MISSING: int(total) - int(count)}, policy)["measured"]


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
