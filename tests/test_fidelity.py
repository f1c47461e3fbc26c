"""The fidelity report: every row met on the committed cohort, and failures flagged on broken ones."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmprehab.instruments import INSTRUMENTS
from cmprehab import config, params
from cmprehab.analysis import calibration
from cmprehab.report import fidelity

KINDS = {fidelity.KIND_EXACT, fidelity.KIND_APPROXIMATE, fidelity.KIND_INVENTED, fidelity.KIND_NOT_EXPRESSIBLE}
THRESHOLDS = calibration.calibration_thresholds()


@pytest.fixture(scope="module")
def report(default_cohort):
    return fidelity.fidelity_report(default_cohort)


def row(report: pd.DataFrame, starts: str) -> pd.Series:
    (index,) = report.index[report["criterion"].str.startswith(starts)]
    return report.loc[index]


def failed(cohort: pd.DataFrame) -> set[str]:
    report = fidelity.fidelity_report(cohort)
    return set(report.loc[report["met"] == False, "criterion"])  # noqa: E712 - <NA> is not a failure


def improvement(cohort, stem, time):
    return INSTRUMENTS[stem].direction * (cohort[f"{stem}_{time}"] - cohort[f"{stem}_start"])


def with_improvement(cohort, stem, time, gain):
    """The cohort with the later values set so that the improvement is `gain` (a Series)."""
    out = cohort.copy()
    instrument = INSTRUMENTS[stem]
    later = (cohort[f"{stem}_start"] + instrument.direction * gain).clip(instrument.lo, instrument.hi)
    out[f"{stem}_{time}"] = later.round(instrument.decimals).where(cohort[f"{stem}_{time}"].notna())
    return out


# --------------------------------------------------------------------------
# The committed cohort
# --------------------------------------------------------------------------

def test_every_row_is_met_on_the_committed_cohort(report):
    applicable = report[report["met"].notna()]
    assert applicable["met"].all(), applicable.loc[~applicable["met"], ["criterion", "target", "measured"]].to_string()


def test_only_unexpressible_results_are_not_applicable(report):
    na = report[report["met"].isna()]
    assert set(na["kind"]) == {fidelity.KIND_NOT_EXPRESSIBLE}
    assert len(na) == sum(spec.measure is None for spec in calibration.RISK_RATIOS) == 2
    assert na["criterion"].str.contains("improved pain management").all()


def test_report_layout(report):
    assert list(report.columns) == ["criterion", "kind", "source", "target", "measured", "met"]
    assert set(report["kind"]) == KINDS
    assert report["criterion"].is_unique
    assert (report["target"].str.len() > 0).all() and (report["measured"].str.len() > 0).all()
    # Each expressible risk ratio names its stand-in outcome and its groups.
    for spec in calibration.RISK_RATIOS:
        r = row(report, f"Risk ratio: {spec.predictor}")
        assert r["source"] == "F" and f"{spec.rr:.2f}" in r["target"]
        if spec.measure:
            assert fidelity.STAND_IN_OUTCOMES[spec.measure] in r["target"]
            assert spec.exposed in r["target"] and spec.reference in r["target"]


def test_published_row_counts_every_computable_published_number(report):
    measured = row(report, "Every published number")["measured"]
    assert measured == "68 of 68 match"


def test_report_uses_the_calibration_thresholds_not_the_readers(default_cohort, report, monkeypatch):
    monkeypatch.setenv(params.SET_ENV_VAR, "mcid.nprs.threshold=5 mcid.dri.threshold=13 mcid.eqvas.threshold=13")
    assert params.current().mcid["dri"].threshold == 13  # the reader's parameters did change
    pd.testing.assert_frame_equal(fidelity.fidelity_report(default_cohort), report)


def test_report_follows_the_calibration_rows(default_cohort):
    other = {**THRESHOLDS, "dri": THRESHOLDS["dri"] + 5}
    again = fidelity.fidelity_report(default_cohort, thresholds=other)
    assert not row(again, "Every published number")["met"]  # the DRI share at discharge moves
    assert not row(again, "Unpublished targets")["met"]     # and the assumed 1-year share
    assert "(15)" in row(again, "DRI improvement at discharge")["criterion"]


def test_risk_ratio_by_hand(default_cohort):
    spec = next(s for s in calibration.RISK_RATIOS if s.key == "anxiety_health")
    both = default_cohort[["eqvas_start", "eqvas_1y", "anxiety_depression"]].dropna()
    hit = (both["eqvas_1y"] - both["eqvas_start"]) >= THRESHOLDS["eqvas"]
    anxious = both["anxiety_depression"] == 1
    expected = hit[anxious].mean() / hit[~anxious].mean()
    assert fidelity.risk_ratio(default_cohort, spec).rr == pytest.approx(expected)


# --------------------------------------------------------------------------
# Deliberately broken cohorts are flagged
# --------------------------------------------------------------------------

def test_a_gap_just_below_the_threshold_is_flagged(default_cohort):
    gain = improvement(default_cohort, "nprs", "discharge")
    gapped = with_improvement(default_cohort, "nprs", "discharge", gain.where(gain != 1, 0))  # 1 below -> no change
    assert "NPRS improvement at discharge: continuous across the MCID (2)" in failed(gapped)


def test_a_pile_just_above_the_threshold_is_flagged(default_cohort):
    # The old generator's shape: responders start at the threshold, non-responders stay well below it.
    gain = improvement(default_cohort, "dri", "1y")
    piled = gain.where(gain >= 10, gain.clip(upper=2.0))
    broken = with_improvement(default_cohort, "dri", "1y", piled)
    assert "DRI improvement at 1 year: continuous across the MCID (10)" in failed(broken)


def test_nobody_worsening_is_flagged(default_cohort):
    gain = improvement(default_cohort, "eqvas", "1y")
    broken = with_improvement(default_cohort, "eqvas", "1y", gain.clip(lower=-9))
    assert "EQ-VAS: worsened by at least the MCID (10)" in failed(broken)


def test_uncorrelated_changes_are_flagged(default_cohort):
    rng = np.random.default_rng(0)
    broken = default_cohort.copy()
    for time in ("discharge", "1y"):
        gain = improvement(default_cohort, "dri", time)
        measured = gain.dropna()
        shuffled = pd.Series(rng.permutation(measured.to_numpy()), index=measured.index)
        broken = with_improvement(broken, "dri", time, shuffled.reindex(gain.index))
    found = failed(broken)
    assert "Change in NPRS and change in DRI go together" in found
    assert "DRI: a patient's change at discharge predicts the change at 1 year" in found


@pytest.mark.parametrize("column,make,criterion", [
    ("program_days", lambda c: c.index[c["n_sessions"] == 1][0], "Coherent rows: A patient with one session"),
    ("n_sessions", lambda c: c.index[c["n_sessions"] > 1][0], "Coherent rows: At most one session a day"),
    ("pain_duration_days", lambda c: c.index[0], "Coherent rows: Pain began after birth"),
])
def test_an_impossible_row_is_flagged(default_cohort, column, make, criterion):
    broken = default_cohort.copy()
    i = make(broken)
    if column == "program_days":
        broken.loc[i, "program_days"] = 30
    elif column == "n_sessions":
        broken.loc[i, "n_sessions"] = broken.loc[i, "program_days"] + 2
    else:
        broken.loc[i, "pain_duration_days"] = round((broken.loc[i, "age"] + 2) * config.DAYS_PER_YEAR)
    assert any(f.startswith(criterion) for f in failed(broken))


def test_childhood_onset_is_flagged(default_cohort):
    broken = default_cohort.copy()
    for i in broken.index[:2]:  # pain since age 5: coherent, but 2 of 274 is not "well under 1 %"
        broken.loc[i, "pain_duration_days"] = round((broken.loc[i, "age"] - 5) * config.DAYS_PER_YEAR)
    assert "Pain began before age 12" in failed(broken)


def test_implausible_tails_are_flagged(default_cohort):
    broken = default_cohort.copy()
    broken["n_sessions"] = broken["n_sessions"] * 3
    broken["program_days"] = broken["program_days"] * 3  # keep the rows coherent
    found = failed(broken)
    assert "Sessions: upper tail" in found and "Program length: upper tail" in found


def test_a_reversed_risk_ratio_is_flagged(default_cohort):
    broken = default_cohort.copy()
    broken["anxiety_depression"] = 1 - broken["anxiety_depression"]
    found = failed(broken)
    assert "Risk ratio: Anxiety/depression (vs none) → improved overall health" in found
    assert "Every published number (baseline, interventions, design, discharge MCID shares)" in found


def test_loss_to_follow_up_at_random_is_flagged(default_cohort):
    rng = np.random.default_rng(1)
    broken = default_cohort.copy()
    columns = [f"{stem}_1y" for stem in INSTRUMENTS]
    broken[columns] = default_cohort[columns].to_numpy()[rng.permutation(len(broken))]
    assert "Loss to follow-up at 1 year depends on baseline characteristics" in failed(broken)


def test_an_altered_published_count_is_flagged(default_cohort):
    broken = default_cohort.copy()
    broken.loc[broken.index[broken["smoker"] == 1][:3], "smoker"] = 0
    r = row(fidelity.fidelity_report(broken), "Every published number")
    assert not r["met"] and "smokers_n" in r["measured"]


def test_markdown_shows_met_as_words(default_cohort, report):
    text = fidelity.markdown(report)
    assert text.count("\n") == len(report) + 2
    assert "| yes |" in text and "| n/a |" in text and "| no |" not in text
    broken = default_cohort.copy()
    broken["anxiety_depression"] = 1 - broken["anxiety_depression"]
    assert "| no |" in fidelity.markdown(fidelity.fidelity_report(broken))


def test_cli_prints_the_report_for_the_default_file(run_cli):
    result = run_cli("cmprehab.report.fidelity", process=True)
    assert result.returncode == 0, result.stderr
    assert "| criterion | kind | source | target | measured | met |" in result.stdout
    assert "0 not met" in result.stdout
