"""Tests of cmprehab.analysis.flow: participant flow counts on hand-built cohorts."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from cmprehab.analysis import flow as F
from cmprehab.instruments import INSTRUMENTS, TIMEPOINTS
from cohort_builders import outcomes

pytestmark = pytest.mark.filterwarnings("error")

NA = np.nan


# Eight patients on the NPRS: start, discharge, 1 year.
#   0: S D Y   both            4: S . .   neither
#   1: S D Y   both            5: . . .   no start
#   2: S D .   discharge only  6: S . Y   1 year only
#   3: S D .   discharge only  7: S . .   neither
HAND = outcomes(
    nprs_start=[7, 6, 5, 8, 4, NA, 9, 3],
    nprs_discharge=[5, 6, 5, 7, NA, NA, NA, NA],
    nprs_1y=[4, 5, NA, NA, NA, NA, 8, NA],
    # DRI: only patient 0 has values (start and 1 year); EQ-VAS: patient 5 has a start and discharge value.
    dri_start=[40, NA, NA, NA, NA, NA, NA, NA],
    dri_1y=[30, NA, NA, NA, NA, NA, NA, NA],
    eqvas_start=[NA, NA, NA, NA, NA, 50, NA, NA],
    eqvas_discharge=[NA, NA, NA, NA, NA, 60, NA, NA],
)


def test_measure_flow_by_hand():
    f = F.measure_flow(HAND, "nprs")
    assert f == F.Flow(measure="nprs", included=8, with_start=7, no_start=1, discharge=4, one_year=3, both=2,
                       discharge_only=2, one_year_only=1, neither=2, not_discharge=3, not_one_year=4,
                       later_without_start=0)


def test_a_measure_with_few_values():
    f = F.measure_flow(HAND, "dri")
    assert (f.with_start, f.discharge, f.one_year, f.both, f.one_year_only, f.not_discharge) == (1, 0, 1, 0, 1, 1)
    assert f.no_start == 7


def test_any_measure_flow_by_hand():
    # Patient 5 has no NPRS start but an EQ-VAS start and discharge value: "any" counts him.
    f = F.any_measure_flow(HAND)
    assert (f.included, f.with_start, f.no_start) == (8, 8, 0)
    assert (f.discharge, f.one_year, f.both) == (5, 3, 2)
    assert (f.discharge_only, f.one_year_only, f.neither) == (3, 1, 2)
    assert (f.not_discharge, f.not_one_year) == (3, 5)


def test_any_both_may_come_from_different_measures():
    # Discharge on the NPRS only, 1 year on the DRI only: "both" for any measure, on no single measure.
    cohort = outcomes(nprs_start=[5], nprs_discharge=[4], dri_start=[40], dri_1y=[30])
    assert F.measure_flow(cohort, "nprs").both == 0 and F.measure_flow(cohort, "dri").both == 0
    assert F.any_measure_flow(cohort).both == 1


def test_a_later_value_without_its_start_is_counted_apart():
    # The schema forbids it; if it happens anyway it must not be counted as measured, nor vanish.
    cohort = outcomes(nprs_start=[NA, 5, NA], nprs_discharge=[4, NA, NA], nprs_1y=[NA, 4, 3])
    f = F.measure_flow(cohort, "nprs")
    assert (f.with_start, f.discharge, f.one_year, f.later_without_start) == (1, 0, 1, 2)
    assert F.any_measure_flow(cohort).later_without_start == 2


def test_nobody_measured_at_one_year():
    cohort = outcomes(nprs_start=[5, 6], nprs_discharge=[4, NA])
    f = F.measure_flow(cohort, "nprs")
    assert (f.one_year, f.both, f.one_year_only, f.not_one_year) == (0, 0, 0, 2)


def test_empty_cohort():
    f = F.measure_flow(outcomes(nprs_start=[]), "nprs")
    assert all(getattr(f, field.name) == 0 for field in dataclasses.fields(f) if field.name != "measure")
    assert F.flow_table(outcomes(nprs_start=[])).shape == (4, 14)


def test_check_names_every_broken_rule():
    good = F.measure_flow(HAND, "nprs")
    assert good.problems() == [] and good.check() is good
    bad = dataclasses.replace(good, both=3)  # both + 1-year-only no longer adds up, nor the partition
    problems = bad.problems()
    assert any("1 year = both + 1 year only" in p for p in problems)
    assert any("discharge = both + discharge only" in p for p in problems)
    with pytest.raises(ValueError, match="does not add up"):
        bad.check()
    assert any("negative" in p for p in dataclasses.replace(good, no_start=-1).problems())


def test_unknown_measure():
    with pytest.raises(KeyError):
        F.measure_flow(HAND, "vas")


def test_flow_table_by_hand():
    table = F.flow_table(HAND)
    assert list(table["measure"]) == ["NPRS", "DRI", "EQ-VAS", "Any measure"]
    assert list(table["stem"]) == ["nprs", "dri", "eqvas", "any"]
    assert list(table.columns[2:]) == [f.name for f in dataclasses.fields(F.Flow) if f.name != "measure"]
    assert table.set_index("stem").loc["nprs", "not_one_year"] == 4
    assert all(str(table[c].dtype) == "int64" for c in table.columns[2:])


def test_committed_cohort(default_cohort):
    table = F.flow_table(default_cohort).set_index("stem")
    assert (table["included"] == len(default_cohort)).all()
    for stem in INSTRUMENTS:
        row = table.loc[stem]
        assert row["with_start"] == default_cohort[f"{stem}_start"].notna().sum()
        assert row["one_year"] == default_cohort[f"{stem}_1y"].notna().sum()  # schema: a later value has its start
        assert row["discharge"] == default_cohort[f"{stem}_discharge"].notna().sum()
        assert row["later_without_start"] == 0
    assert table.loc["nprs", "one_year"] == 178  # the poster's n at 1 year
    assert table.loc["any", "one_year"] == int(F.measured_one_year_any(default_cohort).sum())
    assert (table[["one_year", "discharge"]].max(axis=1) <= table["with_start"]).all()
    for f in F.flow(default_cohort).values():
        f.check()
