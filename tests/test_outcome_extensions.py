"""The outcomes page's additions (issue 18, items 7, 9, 10, 11; issue 19's MCID explorer): one anchor per
MCID, deterioration, composite responders, outcome by dose, the Pratt p-value and the explorer's data.
Each estimate is checked against a computation of its own (numpy, statsmodels, scipy), and on
confidential data against the disclosure rules."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportion_confint

from cmprehab import config, params
from cmprehab.analysis import combinations as C
from cmprehab.analysis import thresholds as T
from cmprehab.instruments import ANCHORS, INSTRUMENTS, LATER
from cmprehab.report import sensitivity
from cmprehab.report.disclosure import WITHHELD
from cohort_builders import outcomes

CONFIDENCE = 0.95
K = params.DEFAULTS.disclosure.k
MCID = params.DEFAULTS.mcid
NA = np.nan


def wilson(k: int, n: int) -> tuple[float, float]:
    low, high = proportion_confint(k, n, alpha=1 - CONFIDENCE, method="wilson")
    return 100 * low, 100 * high


def gain(cohort: pd.DataFrame, stem: str, time: str) -> pd.Series:
    """Direction-adjusted improvement, computed here from the scale's direction."""
    sign = 1 if INSTRUMENTS[stem].higher_is_better else -1
    return (sign * (cohort[f"{stem}_{time}"] - cohort[f"{stem}_start"])).round(6)


@pytest.fixture
def real(default_cohort):
    """Sixty patients of the committed cohort without its fingerprint: confidential data to the book."""
    cohort = default_cohort.iloc[:60].copy().reset_index(drop=True)
    cohort.attrs = {}
    return cohort


# --- one meaning of MCID -------------------------------------------------------------------------

def test_every_literature_threshold_names_an_anchor_and_its_source_says_it():
    for instrument in INSTRUMENTS.values():
        for threshold in instrument.literature:
            assert threshold.anchor in ANCHORS
            assert threshold.source.endswith(ANCHORS[threshold.anchor])


def test_the_default_mcids_carry_the_anchors_the_literature_gives_them():
    assert sensitivity.mcid_anchor("nprs", params.DEFAULTS) == ANCHORS["much improved"]   # Farrar's 2 points
    assert sensitivity.mcid_anchor("eqvas", params.DEFAULTS) == ANCHORS["minimal"]         # Pickard's 10 mm
    assert "assumption" in sensitivity.mcid_anchor("dri", params.DEFAULTS)
    minimal = params.DEFAULTS.model_copy(update={"mcid": {**MCID, "nprs": params.McidRule(threshold=1)}})
    assert sensitivity.mcid_anchor("nprs", minimal) == ANCHORS["minimal"]


def test_the_headline_side_by_side_is_the_share_at_each_anchor(default_cohort):
    table = sensitivity.headline_by_anchor(default_cohort, params.DEFAULTS).set_index(["measure", "time"])
    for time, label in (("discharge", "Discharge"), ("1y", "1 year")):
        g = gain(default_cohort, "nprs", time).dropna()
        row = table.loc[("NPRS", label)]
        for anchor, points in (("minimal", 1), ("much improved", 2)):
            k = int((g >= points).sum())
            assert row[f"{anchor}: %"] == pytest.approx(100 * k / len(g))
            assert (row[f"{anchor}: CI low"], row[f"{anchor}: CI high"]) == pytest.approx(wilson(k, len(g)))
    assert table.loc[("DRI", "1 year"), "much improved: threshold"] == sensitivity.NONE_PUBLISHED


def test_a_range_of_literature_shares_names_the_anchors_it_mixes(default_cohort):
    table = sensitivity.literature(default_cohort, params.DEFAULTS)
    nprs = table[(table["measure"] == "NPRS") & (table["time"] == "1 year")]
    assert sensitivity.anchors_of(nprs) == ("minimal improvement, much improved (moderate) and substantial "
                                            "improvement thresholds")
    only_minimal = nprs[nprs["anchor"] == "minimal"]
    assert sensitivity.anchors_of(only_minimal) == "minimal improvement thresholds"


# --- deterioration -------------------------------------------------------------------------------

def test_worsened_by_hand():
    # NPRS 5 -> 7 (worse by 2), 5 -> 6 (1), 0 -> 1 (from 0), 8 -> 2 (better), one missing.
    cohort = outcomes(nprs_start=[5, 5, 0, 8, 4], nprs_1y=[7, 6, 1, 2, NA])
    assert list(T.worsened(cohort["nprs_start"], cohort["nprs_1y"], "nprs", 2)) == [True, False, False, False, pd.NA]
    assert list(T.worsened(cohort["nprs_start"], cohort["nprs_1y"], "nprs", 40, "percent").iloc[:4]) == [
        True, False, True, False]  # 40 %, 20 %, any worsening from 0
    eq = outcomes(eqvas_start=[60, 60], eqvas_1y=[50, 70])  # higher is better: 60 -> 50 is worse by 10
    assert list(T.worsened(eq["eqvas_start"], eq["eqvas_1y"], "eqvas", 10)) == [True, False]


def test_deterioration_against_numpy_and_statsmodels(default_cohort):
    table = T.deterioration(default_cohort, MCID, CONFIDENCE)
    for row in table.to_dict("records"):
        if row["criterion"] == "SDC" and INSTRUMENTS[row["stem"]].detectable is None:
            assert math.isnan(row["k"]) and row["threshold"] == "none published"
            continue
        value = MCID[row["stem"]].threshold if row["criterion"] == "MCID" else INSTRUMENTS[row["stem"]].detectable.value
        g = gain(default_cohort, row["stem"], row["timepoint"]).dropna()
        k = int((-g >= value).sum())
        assert (row["k"], row["n"]) == (k, len(g))
        assert (row["CI low"], row["CI high"]) == pytest.approx(wilson(k, len(g)))
    assert table["k"].notna().any() and (table["criterion"] == "SDC").any()


def test_deterioration_on_confidential_data_shows_no_small_count(real):
    table = sensitivity.deterioration(real)
    computed = T.deterioration(real, params.current().mcid, CONFIDENCE)
    for shown, row in zip(table.to_dict("records"), computed.to_dict("records")):
        if not math.isnan(row["k"]) and row["k"] < K:
            assert shown["patients"] == f"<{K}" and shown["%"] == WITHHELD
        if isinstance(shown["patients"], int):
            assert shown["patients"] % K == 0


# --- composite responders ------------------------------------------------------------------------

def test_composite_responders_against_numpy(default_cohort):
    table = T.composite_responders(default_cohort, MCID, CONFIDENCE).set_index(["timepoint", "criterion"])
    for time in LATER:
        gains = pd.DataFrame({stem: gain(default_cohort, stem, time) for stem in INSTRUMENTS}).dropna()
        reached = np.column_stack([gains[stem].to_numpy() >= MCID[stem].threshold for stem in INSTRUMENTS])
        for criterion, k in (("at least one", int(reached.any(axis=1).sum())), ("all", int(reached.all(axis=1).sum()))):
            row = table.loc[(time, criterion)]
            assert (row["k"], row["n"]) == (k, len(gains))
            assert (row["CI low"], row["CI high"]) == pytest.approx(wilson(k, len(gains)))


def test_composite_needs_every_measure():
    # Patient 2 has no DRI at 1 year: out of the denominator, not counted as a non-responder.
    cohort = outcomes(nprs_start=[8, 8, 8], nprs_1y=[2, 8, 2], dri_start=[50, 50, 50], dri_1y=[30, 50, NA],
                      eqvas_start=[40, 40, 40], eqvas_1y=[60, 40, 60])
    table = T.composite_responders(cohort, MCID, CONFIDENCE, times=["1y"]).set_index("criterion")
    assert table.loc["all", "n"] == 2 and table.loc["all", "k"] == 1 and table.loc["at least one", "k"] == 1


def test_composite_on_confidential_data_hides_at_least_one_when_none_is_small(real):
    # Every patient but three reaches an MCID on some measure at 1 year: "none" < k gives "at least one" away.
    cohort = real.copy()
    measured = cohort[[f"{s}_{t}" for s in INSTRUMENTS for t in ("start", "1y")]].notna().all(axis=1)
    rows = cohort.index[measured]
    cohort.loc[rows, "nprs_1y"] = (cohort.loc[rows, "nprs_start"] - 3).clip(lower=0)
    cohort.loc[rows[:3], ["nprs_start", "nprs_1y", "dri_1y", "eqvas_1y"]] = [5, 5, 99.0, 0]
    cohort.loc[rows[:3], ["dri_start", "eqvas_start"]] = [50.0, 50]
    computed = T.composite_responders(cohort, MCID, CONFIDENCE).set_index(["timepoint", "criterion"])
    assert computed.loc[("1y", "at least one"), "none"] == 3
    shown = sensitivity.composite(cohort).set_index(["time", "MCID reached on"])
    assert shown.loc[("1 year", "at least one of the three"), "patients"] == WITHHELD


# --- outcome by dose -----------------------------------------------------------------------------

def test_outcome_by_dose_against_pandas(default_cohort):
    table = C.outcome_by_dose(default_cohort, MCID, CONFIDENCE)
    sessions = pd.cut(default_cohort["n_sessions"], [0, 5, 9, 14, np.inf], labels=["1–5", "6–9", "10–14", "15 or more"])
    categories = default_cohort[list(C.CATEGORY_COLUMNS)].sum(axis=1)
    categories = pd.cut(categories, [-1, 3, 4, 5, np.inf], labels=["0–3", "4", "5", "6 or more"])
    for dose, groups in (("Sessions", sessions), ("Intervention categories", categories)):
        for stem in INSTRUMENTS:
            reached = (gain(default_cohort, stem, "1y") >= MCID[stem].threshold).where(
                default_cohort[f"{stem}_1y"].notna() & default_cohort[f"{stem}_start"].notna())
            expected = reached.groupby(groups, observed=False).agg(["sum", "count"])
            rows = table[(table["dose"] == dose) & (table["stem"] == stem)].set_index("group")
            for group, (k, n) in expected.iterrows():
                assert (rows.loc[group, "k"], rows.loc[group, "n"]) == (int(k), int(n))
                assert (rows.loc[group, "CI low"], rows.loc[group, "CI high"]) == pytest.approx(wilson(int(k), int(n)))
    assert table.groupby(["dose", "stem"])["n"].sum().eq(178).all()


def test_outcome_by_dose_on_confidential_data_shows_no_small_group(real):
    real["n_sessions"] = 20
    real.loc[real.index[real["nprs_1y"].notna()][:3], "n_sessions"] = 12   # three measured patients with 10–14
    table = sensitivity.dose(real)
    computed = C.outcome_by_dose(real, params.current().mcid, CONFIDENCE)
    for row in computed.to_dict("records"):
        shown = table[(table["dose"] == row["dose"]) & (table["group"] == row["group"])].iloc[0]
        if 0 < row["n"] < K:
            assert shown[f"{row['measure']} n"] == f"<{K}" and shown[f"{row['measure']} %"] == WITHHELD
        if min(row["k"], row["n"] - row["k"]) < K:
            assert shown[f"{row['measure']} %"] == WITHHELD
    assert (computed["n"].between(1, K - 1)).any()


# --- Pratt beside Wilcoxon -----------------------------------------------------------------------

def test_the_change_table_shows_pratts_p_beside_wilcoxons(default_cohort):
    table = sensitivity.change_with_pratt(default_cohort)
    assert list(table.columns).index("p (Pratt)") == list(table.columns).index("p") + 1
    for row, (stem, time) in zip(table.to_dict("records"), [(s, t) for s in INSTRUMENTS for t in LATER]):
        d = (default_cohort[f"{stem}_{time}"] - default_cohort[f"{stem}_start"]).dropna().round(6)
        # abs=0: these p-values are far below approx's default absolute tolerance of 1e-12
        assert row["p (Pratt)"] == pytest.approx(scipy_stats.wilcoxon(d, zero_method="pratt").pvalue, rel=1e-9, abs=0)
        assert row["p"] == pytest.approx(scipy_stats.wilcoxon(d, zero_method="wilcox").pvalue, rel=1e-9, abs=0)
    assert (table["p"] != table["p (Pratt)"]).any()  # the NPRS has zero changes: the two conventions differ


# --- the MCID explorer's data --------------------------------------------------------------------

def test_the_explorer_holds_every_threshold_with_the_curves_share(default_cohort):
    data = sensitivity.explorer_data(default_cohort, params.DEFAULTS)
    json.dumps(data, allow_nan=False)
    curves = {(c["stem"], c["time"], c["kind"]): c for c in data["curves"]}
    assert len(curves) == len(INSTRUMENTS) * len(LATER) * 2
    nprs = curves[("nprs", "1 year", "absolute")]
    g = gain(default_cohort, "nprs", "1y").dropna()
    for threshold, k, pct in zip(nprs["thresholds"], nprs["k"], nprs["pct"]):
        assert k == int((g >= threshold).sum()) and pct == round(100 * k / len(g), 1)
    assert nprs["mcid"] == nprs["default"] == 2 and {m["value"] for m in nprs["literature"]} == {1, 2}
    assert curves[("nprs", "1 year", "percent")]["mcid"] is None


def test_the_explorer_on_confidential_data_holds_only_released_points(real):
    data = sensitivity.explorer_data(real)
    assert data["controlled"]
    for entry in data["curves"]:
        shown = [(k, p) for k, p in zip(entry["k"], entry["pct"]) if k is not None]
        assert len(shown) < len(entry["thresholds"])  # spaced points only
        for k, pct in shown:
            assert k % K == 0 and entry["n"] % K == 0 and pct == round(100 * k / entry["n"], 1)
        distinct = sorted({k for k, _ in shown})
        assert all(b - a >= K for a, b in zip(distinct, distinct[1:]))


def test_the_explorer_json_cannot_end_its_script_element(default_cohort, monkeypatch):
    monkeypatch.setattr(sensitivity, "explorer_data", lambda *a, **k: {"x": "</script><b>"})
    html = sensitivity.explorer_html(default_cohort)
    scripts = BeautifulSoup(html, "html.parser").find_all("script")
    assert [s.get("id") for s in scripts] == ["mcid-explorer-data", None]  # the data, then the inlined code
    assert json.loads(scripts[0].string) == {"x": "</script><b>"}
    assert "mcid-explorer" in scripts[1].string


def test_params_yml_names_the_anchor_the_records_give_each_default():
    """The comments of params.yml say which anchor each default MCID stands for: they must agree with
    the instrument records (an edited threshold or record makes this fail until the comment follows)."""
    import re

    text = (config.ROOT / "params.yml").read_text(encoding="utf-8")
    for stem in INSTRUMENTS:
        comment = re.search(rf"^  {stem}:\s+# anchor: ([^(;]+)", text, re.MULTILINE)
        assert comment, stem
        said, anchor = comment.group(1).strip(), sensitivity.mcid_anchor(stem, params.DEFAULTS)
        assert (said == "none published") == anchor.startswith("no published anchor"), (stem, said, anchor)
        if said != "none published":
            assert anchor.startswith(said), (stem, said, anchor)


# --- awkward cohorts -----------------------------------------------------------------------------

def _emptied(cohort: pd.DataFrame, columns) -> pd.DataFrame:
    out = cohort.copy()
    out[list(columns)] = np.nan
    return out


EDGES = {
    "no 1-year values": lambda c: _emptied(c, [f"{s}_1y" for s in INSTRUMENTS]),
    "no NPRS at all": lambda c: _emptied(c, [f"nprs_{t}" for t in ("start", "discharge", "1y")]),
    "no outcome at all": lambda c: _emptied(c, [f"{s}_{t}" for s in INSTRUMENTS for t in ("start", "discharge", "1y")]),
    "the smallest allowed cohort": lambda c: c.iloc[:params.DEFAULTS.disclosure.min_patients].reset_index(drop=True),
}


@pytest.mark.parametrize("mode", ["synthetic", "real"])
@pytest.mark.parametrize("edge", list(EDGES))
def test_every_addition_copes_with_an_awkward_cohort(default_cohort, edge, mode):
    """Every quoted value has a text (never 'nan'), every table builds and the explorer's JSON is valid."""
    from dataclasses import replace

    cohort = EDGES[edge](default_cohort)
    if mode == "real":
        cohort.attrs = {**cohort.attrs, "fingerprint": replace(default_cohort.attrs["fingerprint"], synthetic=False,
                                                                seed=None, n=None)}
    for page in (sensitivity.outcome_results, sensitivity.sensitivity_results, sensitivity.anchors_page):
        for result in page(cohort).values():
            assert result.text and "nan" not in result.text.lower().split(), (page.__name__, result)
    for make in (sensitivity.headline_by_anchor, sensitivity.deterioration, sensitivity.composite, sensitivity.dose,
                 sensitivity.change_with_pratt):
        table = make(cohort)
        assert len(table), make.__name__
    json.loads(BeautifulSoup(sensitivity.explorer_html(cohort), "html.parser").find("script").string)
