"""Participant flow (STROBE items 13a–c): how many patients were included, measured and lost.

For each outcome measure, and for "any measure", the counts that a flow diagram shows:

=========================  ==================================================================
included                   every row of the cohort (one row per patient)
with_start                 patients with a start value
discharge                  measured at discharge, counted only with their start value
one_year                   measured at 1 year, counted only with their start value
both                       measured at discharge and at 1 year (with start)
discharge_only             measured at discharge but not at 1 year (with start)
one_year_only              measured at 1 year but not at discharge (with start)
neither                    start value only: measured neither at discharge nor at 1 year
not_discharge              with start, not measured at discharge (= one_year_only + neither)
not_one_year               with start, not measured at 1 year, i.e. lost to the primary
                           outcome (= discharge_only + neither)
no_start                   included without a start value
later_without_start        a discharge or 1-year value without its start value (the schema
                           forbids it; counted so that such a row cannot vanish unseen)
=========================  ==================================================================

A later value without its start value cannot give a change, so it is not counted as
"measured" anywhere; `later_without_start` says how many rows that concerns (0 on any
cohort that passed validation).

"Any measure": a patient counts as with a start value when any measure has one, as
measured at discharge (or 1 year) when any measure has a value there together with its
own start value. "both" is then "measured at discharge on some measure and at 1 year on
some measure" (not necessarily the same one).

Missing values are NaN; a value is "measured" when it is not NaN. No disclosure control
is applied here (the report layer does it).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from ..instruments import INSTRUMENTS

__all__ = ["ANY", "Flow", "any_measure_flow", "flow", "flow_table", "measure_flow", "measured_one_year_any"]

#: The key of the "any measure" flow.
ANY = "any"
ANY_LABEL = "Any measure"


@dataclass(frozen=True)
class Flow:
    """The boxes of one flow diagram (see the module docstring for each count)."""

    measure: str  # instrument stem, or "any"
    included: int
    with_start: int
    no_start: int
    discharge: int
    one_year: int
    both: int
    discharge_only: int
    one_year_only: int
    neither: int
    not_discharge: int
    not_one_year: int
    later_without_start: int

    def problems(self) -> list[str]:
        """The rules the boxes must keep, in words, for each one they break ([] when they add up)."""
        rules = [
            ("included = with start + no start", self.included, self.with_start + self.no_start),
            ("with start = discharge + not at discharge", self.with_start, self.discharge + self.not_discharge),
            ("with start = 1 year + not at 1 year", self.with_start, self.one_year + self.not_one_year),
            ("1 year = both + 1 year only", self.one_year, self.both + self.one_year_only),
            ("discharge = both + discharge only", self.discharge, self.both + self.discharge_only),
            ("not at discharge = 1 year only + neither", self.not_discharge, self.one_year_only + self.neither),
            ("not at 1 year = discharge only + neither", self.not_one_year, self.discharge_only + self.neither),
            ("with start = both + discharge only + 1 year only + neither", self.with_start,
             self.both + self.discharge_only + self.one_year_only + self.neither),
        ]
        out = [f"{self.measure}: {rule} fails ({left} != {right})" for rule, left, right in rules if left != right]
        out += [f"{self.measure}: {f.name} is negative ({getattr(self, f.name)})"
                for f in fields(self) if f.name != "measure" and getattr(self, f.name) < 0]
        return out

    def check(self) -> "Flow":
        """Itself, after checking that the boxes add up; raises ValueError naming every broken rule."""
        problems = self.problems()
        if problems:
            raise ValueError("participant flow does not add up:\n  " + "\n  ".join(problems))
        return self


def _flow(key: str, start: pd.Series, discharge: pd.Series, one_year: pd.Series,
          later_without_start: int) -> Flow:
    """A Flow from three boolean Series: has a start value / a discharge pair / a 1-year pair."""
    d, y = discharge & start, one_year & start  # a later value counts only with its start value

    def n(mask: pd.Series) -> int:
        return int(mask.sum())

    return Flow(
        measure=key, included=int(len(start)), with_start=n(start), no_start=n(~start),
        discharge=n(d), one_year=n(y), both=n(d & y), discharge_only=n(d & ~y), one_year_only=n(y & ~d),
        neither=n(start & ~d & ~y), not_discharge=n(start & ~d), not_one_year=n(start & ~y),
        later_without_start=later_without_start,
    ).check()


def measure_flow(cohort: pd.DataFrame, stem: str) -> Flow:
    """The flow of one outcome measure (`stem`: "nprs", "dri" or "eqvas"), checked to add up.

    Denominator of every box: the patients of `cohort` (all rows). Reads the columns
    `<stem>_start`, `<stem>_discharge` and `<stem>_1y`.
    """
    if stem not in INSTRUMENTS:
        raise KeyError(f"unknown instrument {stem!r}; known: {sorted(INSTRUMENTS)}")
    start = cohort[f"{stem}_start"].notna()
    discharge, one_year = cohort[f"{stem}_discharge"].notna(), cohort[f"{stem}_1y"].notna()
    orphans = int(((discharge | one_year) & ~start).sum())
    return _flow(stem, start, discharge, one_year, orphans)


def _pairs(cohort: pd.DataFrame, time: str) -> pd.Series:
    """Whether each patient has, on any measure, a value at `time` together with its start value."""
    masks = [cohort[f"{s}_{time}"].notna() & cohort[f"{s}_start"].notna() for s in INSTRUMENTS]
    return pd.Series(np.logical_or.reduce(masks), index=cohort.index)


def any_measure_flow(cohort: pd.DataFrame) -> Flow:
    """The flow over the three measures together (see the module docstring), checked to add up."""
    start = pd.Series(np.logical_or.reduce([cohort[f"{s}_start"].notna() for s in INSTRUMENTS]), index=cohort.index)
    # A patient with a later value lacking its start value on some measure (schema violation).
    orphan = np.logical_or.reduce([(cohort[f"{s}_discharge"].notna() | cohort[f"{s}_1y"].notna())
                                   & cohort[f"{s}_start"].isna() for s in INSTRUMENTS])
    return _flow(ANY, start, _pairs(cohort, "discharge"), _pairs(cohort, "1y"), int(orphan.sum()))


def measured_one_year_any(cohort: pd.DataFrame) -> pd.Series:
    """Boolean Series: the patient has a 1-year value on any measure (with its start value)."""
    return _pairs(cohort, "1y")


def flow(cohort: pd.DataFrame) -> dict[str, Flow]:
    """The flow of every measure and of "any measure", keyed by stem and "any"."""
    return {**{stem: measure_flow(cohort, stem) for stem in INSTRUMENTS}, ANY: any_measure_flow(cohort)}


def flow_table(cohort: pd.DataFrame) -> pd.DataFrame:
    """Every flow as one DataFrame: one row per measure (NPRS, DRI, EQ-VAS, Any measure).

    Columns: measure (short label), stem ("nprs", ..., "any"), then the counts of
    :class:`Flow` in its field order (int64). Every row is checked to add up.
    """
    rows = []
    for key, f in flow(cohort).items():
        row = asdict(f)
        del row["measure"]
        rows.append({"measure": INSTRUMENTS[key].short if key in INSTRUMENTS else ANY_LABEL, "stem": key, **row})
    return pd.DataFrame(rows)
