"""The follow-up and sensitivity chapters' tables: the analysis as computed on synthetic data,
and on confidential data nothing a reader could subtract their way to."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import attack
from cmprehab import params
from cmprehab.analysis import flow as flow_analysis
from cmprehab.instruments import INSTRUMENTS
from cmprehab.report import disclosure, follow_up, sensitivity
from cmprehab.report.disclosure import WITHHELD

K = params.DEFAULTS.disclosure.k


@pytest.fixture
def real(default_cohort):
    """Forty patients of the committed cohort without its fingerprint: real data to the book."""
    cohort = default_cohort.iloc[:40].copy().reset_index(drop=True)
    cohort.attrs = {}
    return cohort


def is_label(value) -> bool:
    return isinstance(value, str)


# --- participant flow ------------------------------------------------------------------------

def test_the_flow_shows_the_analysis_counts_on_synthetic_data(default_cohort):
    shown = follow_up.flow(default_cohort).set_index("stem")
    for key, counts in flow_analysis.flow(default_cohort).items():
        row = shown.loc[key]
        assert row["discharge"] == counts.discharge and row["one_year"] == counts.one_year
        assert row["not_discharge"] + row["discharge"] == row["with_start"] == counts.with_start
        assert row["one_year_only"] == counts.one_year_only


def test_no_box_of_the_flow_gives_a_hidden_count_away(real):
    real.loc[:2, "nprs_discharge"] = np.nan          # three patients measured at 1 year but not at discharge
    real.loc[3:, "nprs_discharge"] = real.loc[3:, "nprs_start"]
    counts = flow_analysis.measure_flow(real, "nprs")
    assert counts.one_year_only < K
    row = follow_up.flow(real).set_index("stem").loc["nprs"]
    assert row["one_year_only"] == f"<{K}"
    # Every shown total is consistent with at least two values of the hidden cell.
    shown = {box: row[box] for box in follow_up.BOXES if not is_label(row[box])}
    assert "one_year" not in shown or "discharge" not in shown or is_label(row["one_year_only"])


# --- attrition --------------------------------------------------------------------------------

def test_attrition_hides_small_groups_of_a_characteristic(real):
    measured = flow_analysis.measured_one_year_any(real)
    real["smoker"] = 0
    real.loc[real.index[measured][:2], "smoker"] = 1    # two smokers among the measured
    table = follow_up.attrition(real)
    row = table[table["Characteristic"].str.startswith("Smokers")].iloc[0]
    assert is_label(row["With 1-year data"]) and row["SMD"] == WITHHELD
    assert follow_up.imbalanced(table).query("Characteristic.str.startswith('Smokers')").empty


def test_attrition_names_imbalance_above_the_parameter(default_cohort):
    table = follow_up.attrition(default_cohort)
    flagged = follow_up.imbalanced(table, params.DEFAULTS)
    assert (flagged["SMD"].astype(float).abs() > params.DEFAULTS.follow_up.smd_flag).all()
    stricter = follow_up.imbalanced(table, params.DEFAULTS.updated({"follow_up.smd_flag": 0.3}))
    assert len(stricter) < len(flagged)


# --- missing data -----------------------------------------------------------------------------

def test_the_four_ways_keep_their_order_and_bounds(default_cohort):
    table = follow_up.missing_data(default_cohort, params.DEFAULTS)
    for measure, rows in table.groupby("measure"):
        share = rows.set_index("method")["%"]
        assert share["non-responder imputation"] <= share["complete cases"] <= share["best case"]
        assert share["non-responder imputation"] <= share["inverse probability weighting"] <= share["best case"]


def test_five_ways_with_multiple_imputation_and_the_weighted_n(default_cohort):
    table = follow_up.missing_data(default_cohort, params.DEFAULTS)
    for measure, rows in table.groupby("measure", sort=False):
        rows = rows.set_index("method")
        assert list(rows.index) == [*follow_up.METHOD_NOTES]
        share = rows["%"]
        assert share["non-responder imputation"] <= share[follow_up.MI] <= share["best case"]
        # the weighted row's n: the measured patients who carry it, as complete cases
        assert rows.loc[follow_up.IPW, "n"] == rows.loc["complete cases", "n"]


def test_confidential_data_show_no_single_weight_and_coarse_shares(default_cohort):
    # The committed cohort without its fingerprint: real data to the book.
    real = default_cohort.copy()
    real.attrs = {}
    policy = disclosure.policy(real)
    diagnostics = follow_up.ipw_diagnostics(real)
    assert (diagnostics[["smallest weight", "largest weight", "effective sample size"]] == WITHHELD).all().all()
    assert not diagnostics["weight, 50th percentile"].map(is_label).any()
    table = follow_up.missing_data(real).set_index(["measure", "method"])
    curve = follow_up.delta_curve(real)
    for stem, instrument in INSTRUMENTS.items():
        n = disclosure.released(int(real[f"{stem}_start"].notna().sum()), policy)  # the step shows n: as released
        step = 100 * policy.k / n
        for value in (table.loc[(instrument.short, follow_up.MI), "%"],
                      *curve[curve["stem"] == stem]["%"].sample(20, random_state=1)):
            assert value / step == pytest.approx(round(value / step), abs=1e-9)  # as k of n patients would be
        weighted = table.loc[(instrument.short, follow_up.IPW)]
        step = 100 * policy.k / weighted["n"]
        assert weighted["%"] / step == pytest.approx(round(weighted["%"] / step), abs=1e-9)


def test_weights_figure_draws_no_bin_of_fewer_than_k_patients(default_cohort):
    real = default_cohort.copy()
    real.attrs = {}
    fig = follow_up.weights_figure(real)
    heights = [bar.get_height() for ax in fig.axes for bar in ax.patches]
    assert heights and all(h == 0 or (h >= K and h % K == 0) for h in heights)
    assert not any(line.get_linestyle() == "--" for ax in fig.axes for line in ax.lines)  # no one patient's weight
    synthetic = follow_up.weights_figure(default_cohort)
    assert any(0 < bar.get_height() < K for ax in synthetic.axes for bar in ax.patches)
    import matplotlib.pyplot as plt

    plt.close(fig)
    plt.close(synthetic)


def test_balance_withholds_a_small_binary_cell(default_cohort):
    real = default_cohort.copy()
    real.attrs = {}
    real["smoker"] = 0
    measured = real["nprs_1y"].notna()
    real.loc[real.index[measured][:2], "smoker"] = 1    # two smokers among the measured
    real.loc[real.index[~measured][:6], "smoker"] = 1
    balance = follow_up.ipw_balance(real)
    smokers = balance[balance["model column"] == "smoker"]
    assert len(smokers) and (smokers["SMD before"] == WITHHELD).all()
    assert not (balance[balance["model column"] == "age"]["SMD before"] == WITHHELD).any()


def test_the_prose_quotes_the_tables(default_cohort):
    from cmprehab.report import results

    quoted = results.follow_up(default_cohort)
    tipping = follow_up.tipping(default_cohort, params.DEFAULTS)
    for row in tipping.to_dict("records"):
        assert row["measure"] in quoted["tipping"].text
        if row["direction"] != "none":
            assert f"{row['tipping delta']:g}" in quoted["tipping"].text and row["direction"] in quoted["tipping"].text
    # on synthetic data every estimate the generator made is marked where it stands
    assert quoted["tipping"].text.count("†") == len(tipping)
    assert "†" in quoted["mi_nprs"].text and "†" in quoted["ipw_ess"].text
    smokers = next(part for part in quoted["imbalanced"].text.split("; ") if part.startswith("Smokers"))
    assert "SMD -" in smokers  # fewer smokers measured: negative, measured - lost


def test_a_small_one_year_group_withholds_every_way_of_counting(real):
    real.loc[3:, "dri_1y"] = np.nan
    table = follow_up.missing_data(real)
    rows = table[table["measure"] == "DRI"]
    assert (rows["%"] == WITHHELD).all() and (rows["CI low"] == WITHHELD).all()
    assert not (table[table["measure"] == "NPRS"]["%"] == WITHHELD).any()


# --- thresholds ---------------------------------------------------------------------------------

def test_literature_rows_reproduce_the_mcid_share_at_the_same_threshold(default_cohort):
    table = sensitivity.literature(default_cohort, params.DEFAULTS)
    two = table[(table["measure"] == "NPRS") & (table["threshold"] == "2 points") & (table["time"] == "1 year")]
    from cmprehab.report import tables

    mcid = tables.mcid(default_cohort, params.DEFAULTS)
    row = mcid[(mcid["stem"] == "nprs") & (mcid["timepoint"] == "1y")].iloc[0]
    assert int(two["reached"].iloc[0]) == row["reached"] and int(two["of"].iloc[0]) == row["of"]


def shown_counts(real, kind):
    """(measure, time) -> every count a reader sees on one curve (one kind of threshold): its
    literature rows, its drawn points and the outcome table's MCID count."""
    lit = sensitivity.literature(real)
    lit = lit[lit["threshold"].str.endswith(" %") == (kind == "percent")]
    seen = {}
    for row in lit.itertuples():
        if not is_label(row.reached):
            seen.setdefault((row.measure, row.time), []).append(int(row.reached))
    for row in sensitivity.curves(real, kind=kind).itertuples():
        seen.setdefault((INSTRUMENTS[row.stem].short, row.time), []).append(int(row.k))
    if kind == "absolute":
        from cmprehab.report import tables

        for row in tables.mcid(real).itertuples():
            if not is_label(row.reached):
                seen.setdefault((row.measure, row.time), []).append(int(row.reached))
    return seen


@pytest.mark.parametrize("kind", ["absolute", "percent"])
def test_no_two_shown_points_of_a_curve_tell_a_small_count(real, kind):
    """Patients reaching a threshold include those reaching a higher one: two shown counts of the
    same curve tell how many lie between, which must be none or at least k."""
    found = shown_counts(real, kind)
    assert found, "nothing shown: the test would prove nothing"
    for (measure, time), counts in found.items():
        for a, b in itertools.combinations(sorted(set(counts)), 2):
            assert abs(a - b) >= K, (measure, time, a, b)
        assert all(c >= K for c in counts), (measure, time, counts)


def test_synthetic_curves_are_drawn_whole(default_cohort):
    curve = sensitivity.curves(default_cohort, params.DEFAULTS)
    nprs = curve[(curve["stem"] == "nprs") & (curve["timepoint"] == "1y")]
    assert nprs["threshold"].tolist() == list(range(1, 11))


# --- transitions and paired change -----------------------------------------------------------

def test_transitions_partition_the_patients_with_all_three_values(default_cohort):
    table = sensitivity.transitions(default_cohort, params.DEFAULTS)
    for measure, rows in table.groupby("measure"):
        assert rows["patients"].sum() == rows["of"].iloc[0]
        assert rows["pattern"].tolist() == list(sensitivity.PATTERNS)


def test_paired_change_hides_what_the_unchanged_would_give_away(real):
    table = sensitivity.paired(real)
    synthetic_rows = {(r["measure"], r["time"]): [r[k] for k in ("improved", "unchanged", "worse")]
                      for r in sensitivity.paired(real, policy=disclosure.SHOW_ALL).to_dict("records")}
    for row in table.to_dict("records"):
        labels = [row[k] for k in ("improved", "unchanged", "worse")]
        if is_label(row["unchanged"]):
            assert row["non-zero pairs"] == WITHHELD
        if not is_label(row["pairs"]):  # no hidden change follows from the others and the pairs
            truth = synthetic_rows[(row["measure"], row["time"])]
            found = attack.possible(labels, row["pairs"])
            for value, shown, options in zip(truth, labels, found):
                assert not 0 < value < K or len(options) >= 2, (row, truth)
    synthetic = sensitivity.paired(real.assign(), policy=disclosure.SHOW_ALL)
    assert (synthetic["improved"] + synthetic["unchanged"] + synthetic["worse"] == synthetic["pairs"]).all()
