"""The published targets (data/published.csv) and the audit of a cohort against them.

Every number comes from the targets file; nothing published is restated here.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cmprehab.instruments import INSTRUMENTS
from cmprehab import config, params
from cmprehab.data import targets
from cmprehab.report import audit as reproduction
from cmprehab.analysis.derive import derive
from cmprehab.analysis.stats import round_half_up

TARGETS = targets.load_targets()
#: Statistics `reproduction.compute` knows, plus "reported" (a design fact no patient file can yield).
COMPUTED = {"count", "n", "pct", "median", "q1", "q3", "mean", "sd", "min", "max", "mcid_pct"}
REPORTED = "reported"
#: A setting of the synthetic-cohort generator (an assumption), shown in the audit without a computed value.
CALIBRATION = "calibration"
#: The follow-on paper's risk ratios and their CI bounds, compared in the fidelity report.
RISK_RATIO = {"risk_ratio", "risk_ratio_low", "risk_ratio_high"}


@pytest.fixture(scope="module")
def derived(default_cohort):
    return derive(default_cohort)


@pytest.fixture(scope="module")
def audit(default_cohort):
    return reproduction.audit(default_cohort)


# --------------------------------------------------------------------------
# The targets file itself
# --------------------------------------------------------------------------

def test_targets_file_is_well_formed(derived):
    assert TARGETS["key"].is_unique, TARGETS.loc[TARGETS["key"].duplicated(), "key"].tolist()
    assert set(TARGETS["statistic"]) <= COMPUTED | {REPORTED, CALIBRATION} | RISK_RATIO
    assert TARGETS["label"].str.strip().ne("").all()
    assert TARGETS["source"].str.strip().ne("").all()
    assert TARGETS["value"].notna().all()
    tags = {"P", "A", "T1", "T2", "F", "L", "X"}  # see STUDY.md
    for t in TARGETS.itertuples(index=False):
        assert set(t.source.split(";")) <= tags, t.key
        # An assumption is exactly a row whose source is X (not published).
        assert t.assumption == (t.source == "X"), t.key
        assert round_half_up(t.value, int(t.decimals)) == t.value, f"{t.key}: more decimals than stated"
        if t.statistic == REPORTED:
            continue
        if t.statistic == CALIBRATION:
            assert t.variable in INSTRUMENTS and t.assumption, t.key
            continue
        if t.statistic in RISK_RATIO:
            assert t.source == "F" and t.section == "follow-on", t.key
            continue
        if t.statistic == "mcid_pct":
            assert t.variable in INSTRUMENTS and t.level in ("discharge", "1y"), t.key
            assert {f"{t.variable}_start", f"{t.variable}_{t.level}"} <= set(derived.columns), t.key
        else:
            assert t.variable in derived.columns, t.key
        if t.statistic in ("n", "pct"):
            levels = config.CATEGORIES.get(t.variable, ["1"])
            assert t.level in levels, f"{t.key}: level {t.level!r} not one of {levels}"


def test_valid_n_agrees_with_the_published_count():
    counts = TARGETS[TARGETS["statistic"] == "count"].set_index("variable")["value"]
    with_valid = TARGETS[TARGETS["valid_n"].notna()]
    assert not with_valid.empty
    for t in with_valid.itertuples(index=False):
        assert counts[t.variable] == t.valid_n, t.key


def test_published_percentages_agree_with_published_counts():
    """Each published % is its published n over its denominator (valid n, else the cohort)."""
    rows = TARGETS.set_index(["variable", "level", "statistic"])
    cohort_n = TARGETS.set_index("key").loc["cohort_n", "value"]
    pairs = 0
    for t in TARGETS[TARGETS["statistic"] == "pct"].itertuples(index=False):
        if (t.variable, t.level, "n") not in rows.index:
            continue
        n = rows.loc[(t.variable, t.level, "n"), "value"]
        denominator = t.valid_n if not math.isnan(t.valid_n) else cohort_n
        assert round_half_up(100 * n / denominator, int(t.decimals)) == t.value, t.key
        pairs += 1
    assert pairs > 0


# --------------------------------------------------------------------------
# The default (synthetic) cohort reproduces every target
# --------------------------------------------------------------------------

def by_hand(data: pd.DataFrame, variable: str, statistic: str, level: str) -> float:
    """The statistic computed directly with numpy/pandas, independently of reproduction.compute."""
    if statistic == "mcid_pct":
        threshold = params.current().mcid[variable].threshold
        direction = 1 if INSTRUMENTS[variable].higher_is_better else -1
        start, later = data[f"{variable}_start"], data[f"{variable}_{level}"]
        both = start.notna() & later.notna()
        improvement = direction * (later[both] - start[both])
        return 100 * float(np.mean(improvement >= threshold - 1e-9))
    series = data[variable].dropna()
    if statistic == "count":
        return float(len(series))
    if statistic in ("n", "pct"):
        hits = series == (level if isinstance(series.dtype, pd.CategoricalDtype) else float(level))
        return float(hits.sum()) if statistic == "n" else 100 * float(hits.mean())
    values = series.to_numpy(dtype=float)
    return {"median": lambda: np.percentile(values, 50), "q1": lambda: np.percentile(values, 25),
            "q3": lambda: np.percentile(values, 75), "mean": lambda: values.mean(),
            "sd": lambda: values.std(ddof=1), "min": lambda: values.min(),
            "max": lambda: values.max()}[statistic]()


@pytest.mark.parametrize("target", [t._asdict() for t in TARGETS.itertuples(index=False)],
                         ids=TARGETS["key"].tolist())
def test_default_cohort_reproduces_the_target(target, derived, audit):
    row = audit.set_index("key").loc[target["key"]]
    if target["statistic"] == REPORTED:
        assert row["status"] == reproduction.STATUS_REPORTED
        return
    if target["statistic"] == CALIBRATION:
        assert row["status"] == reproduction.STATUS_ASSUMED and math.isnan(row["computed"])
        return
    if target["statistic"] in RISK_RATIO:
        assert row["status"] == reproduction.STATUS_FOLLOW_ON and math.isnan(row["computed"])
        return
    value = reproduction.compute(derived, target["variable"], target["statistic"], target["level"])
    assert value == pytest.approx(by_hand(derived, target["variable"], target["statistic"], target["level"]))
    # Assumptions too: the generator is calibrated to them, so they must hold on the synthetic file.
    assert round_half_up(value, int(target["decimals"])) == target["value"], (
        f"{target['key']}: computed {value!r}, published {target['value']!r}")
    expected = reproduction.STATUS_ASSUMED if target["assumption"] else reproduction.STATUS_MATCH
    assert row["status"] == expected


def test_audit_reports_no_differences_on_the_default_cohort(audit):
    assert audit["key"].tolist() == TARGETS["key"].tolist()
    assert (audit["status"] == reproduction.STATUS_DIFF).sum() == 0, audit[audit["status"] == reproduction.STATUS_DIFF]
    assert (audit["status"] == reproduction.STATUS_MATCH).sum() == (
        ~TARGETS["assumption"] & TARGETS["statistic"].ne(REPORTED) & ~TARGETS["statistic"].isin(RISK_RATIO)).sum()
    assert (audit["status"] == reproduction.STATUS_FOLLOW_ON).sum() == TARGETS["statistic"].isin(RISK_RATIO).sum()
    assert (audit["status"] == reproduction.STATUS_ASSUMED).sum() == TARGETS["assumption"].sum()


def test_audit_detects_an_altered_cohort(default_cohort):
    altered = default_cohort.copy()
    women = altered.index[altered["sex"] == "female"][:10]
    altered.loc[women, "sex"] = "male"
    result = reproduction.audit(altered).set_index("key")
    differs = set(result.index[result["status"] == reproduction.STATUS_DIFF])
    assert differs == {"women_n", "women_pct"}
    women_n = TARGETS.set_index("key").loc["women_n", "value"]
    assert result.loc["women_n", "computed"] == women_n - len(women)
    # The input is not modified by the audit.
    assert (default_cohort["sex"] == "female").sum() == women_n


def test_audit_detects_a_shifted_outcome(default_cohort):
    altered = default_cohort.copy()
    altered["nprs_discharge"] = altered["nprs_start"].where(altered["nprs_discharge"].notna())  # nobody improves
    result = reproduction.audit(altered).set_index("key")
    assert result.loc["nprs_mcid_discharge_pct", "status"] == reproduction.STATUS_DIFF
    assert result.loc["nprs_mcid_discharge_pct", "computed"] == 0


def test_a_changed_mcid_differs_in_the_audit_with_its_reason_and_nothing_else_does(default_cohort, monkeypatch):
    monkeypatch.setenv(params.SET_ENV_VAR, "mcid.nprs.threshold=1")
    result = reproduction.audit(default_cohort).set_index("key")
    assert list(result.index[result["status"] == reproduction.STATUS_DIFF]) == ["nprs_mcid_discharge_pct"]
    note = result.loc["nprs_mcid_discharge_pct", "note"]
    assert "mcid.nprs" in note and "1 point " in note


def test_compute_rejects_an_unknown_statistic(derived):
    with pytest.raises(ValueError, match="unknown statistic"):
        reproduction.compute(derived, "age", "mode")


def test_the_follow_on_risk_ratios_come_from_the_targets_file():
    ratios = {r.key: r for r in targets.risk_ratios()}
    assert len(ratios) == len(TARGETS[TARGETS["statistic"] == "risk_ratio"])
    for r in ratios.values():
        assert r.low <= r.rr <= r.high and r.source == "F" and r.predictor and r.outcome
    rows = TARGETS.set_index("key")
    assert ratios["anxiety_health"].rr == rows.loc["rr_anxiety_health", "value"]
    assert ratios["anxiety_health"].high == rows.loc["rr_anxiety_health_high", "value"]
