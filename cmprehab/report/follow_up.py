"""Who was followed up, who was lost, and what the lost could change: the tables of the
follow-up chapter, with disclosure control applied here (as in `tables`).

The computations are the analysis layer's (`analysis.flow`, `analysis.attrition`,
`analysis.missing`); this module decides what a page may show of them.
"""
from __future__ import annotations

import math

import pandas as pd

from .. import params as study
from ..analysis import attrition as attrition_analysis
from ..analysis import flow as flow_analysis
from ..analysis import missing as missing_analysis
from ..analysis.derive import derive
from ..instruments import INSTRUMENTS
from ..params import Params
from . import disclosure
from .disclosure import WITHHELD, Policy
from .tables import measured_label

#: The boxes of the flow diagram and table, in reading order, with their labels.
BOXES = {"included": "Included", "with_start": "With a start value", "discharge": "Measured at discharge",
         "not_discharge": "Not measured at discharge", "one_year": "Measured at 1 year",
         "one_year_only": "of whom not measured at discharge", "not_one_year": "Not measured at 1 year"}
#: The cells that partition the included patients; every box is a total of some of them.
_CELLS = ("no_start", "both", "discharge_only", "one_year_only", "neither")
_TOTALS = {"with_start": {"both", "discharge_only", "one_year_only", "neither"},
           "discharge": {"both", "discharge_only"}, "one_year": {"both", "one_year_only"}}
#: Totals a reader can work out as the difference of two shown ones.
_DIFFERENCES = {"not_discharge": ("with_start", "discharge", {"one_year_only", "neither"}),
                "not_one_year": ("with_start", "one_year", {"discharge_only", "neither"})}


def _any_label(cohort: pd.DataFrame, time: str, policy: Policy) -> str | None:
    n = int(cohort[[f"{stem}_{time}" for stem in INSTRUMENTS]].notna().any(axis=1).sum())
    return disclosure.protect_measured(n, len(cohort), policy)


def flow(cohort: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """The participant flow (STROBE 13a–c) per measure and for any measure: one row each, one column
    per box (`BOXES`), counts or disclosure labels.

    Under disclosure control the boxes' totals that other tables show (patients measured at
    each time) keep the labels those tables give them, and the cells they are made of are
    protected so that no box minus another reveals a small count (`disclosure.protect_lines`).
    """
    policy = disclosure.policy(cohort, policy)
    rows = []
    for key, counts in flow_analysis.flow(cohort).items():
        counts.check()  # the boxes add up, or the analysis is wrong: stop rather than publish
        cells = {name: getattr(counts, name) for name in _CELLS}
        if key == "any":
            shown = {"with_start": disclosure.protect_measured(counts.with_start, counts.included, policy),
                     "discharge": _any_label(cohort, "discharge", policy),
                     "one_year": _any_label(cohort, "1y", policy)}
        else:
            shown = {"with_start": measured_label(cohort, f"{key}_start", policy),
                     "discharge": measured_label(cohort, f"{key}_discharge", policy),
                     "one_year": measured_label(cohort, f"{key}_1y", policy)}
        lines = [list(_CELLS)] + [sorted(_TOTALS[box]) for box, label in shown.items() if label is None]
        lines += [sorted(cells_) for a, b, cells_ in _DIFFERENCES.values() if shown[a] is None and shown[b] is None]
        labels = disclosure.protect_lines(cells, lines, policy, zero_ok={"no_start"})
        row = {"measure": "Any measure" if key == "any" else INSTRUMENTS[key].short, "stem": key,
               "included": disclosure.released(counts.included, policy)}
        for box in ("with_start", "discharge", "one_year"):
            row[box] = disclosure.count(getattr(counts, box), shown[box], policy)
        row["one_year_only"] = disclosure.count(counts.one_year_only, labels["one_year_only"], policy)
        # A difference of two shown totals, released as a count of its own; of a withheld one, withheld.
        row["not_discharge"] = (disclosure.released(counts.not_discharge, policy)
                                if shown["with_start"] is None and shown["discharge"] is None else WITHHELD)
        row["not_one_year"] = (disclosure.released(counts.not_one_year, policy)
                               if shown["with_start"] is None and shown["one_year"] is None else WITHHELD)
        rows.append(row)
    return pd.DataFrame(rows)[["measure", "stem", *BOXES]]


def attrition(cohort: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """Baseline characteristics and programme of patients with and without 1-year data, with
    standardized mean differences (measured - lost; `analysis.attrition`). Under disclosure control the levels of each characteristic
    and the two groups form a two-way table whose margins are shown elsewhere; its small
    cells are hidden (`disclosure.protect_grid`), and so is the SMD of a characteristic with
    a hidden cell or a group of fewer than k patients."""
    policy = disclosure.policy(cohort, policy)
    measured = flow_analysis.measured_one_year_any(cohort)
    table = attrition_analysis.attrition_table(cohort)  # its default groups: `measured`
    out = table[["characteristic", "level", "with", "without", "SMD"]].astype(object).copy()
    out.columns = ["Characteristic", "Level", "With 1-year data", "Without 1-year data", "SMD"]
    if not policy.active:
        return out
    groups = {"With 1-year data": measured, "Without 1-year data": ~measured}
    # The group sizes: the measured (shown on other pages too) and the lost, a partition of all patients.
    sizes = disclosure.protect({"with": int(measured.sum()), disclosure.MISSING: int((~measured).sum())}, policy)
    group_label = sizes["with"] or sizes[disclosure.MISSING]
    data = derive(cohort)  # the programme rows (program_months) are derived columns
    for variable, rows in table.groupby("variable", sort=False):
        index = rows.index
        if variable == "":  # the row of group sizes
            for name, key in zip(groups, ("with", disclosure.MISSING)):
                out.loc[index, name] = disclosure.count(int(groups[name].sum()), sizes[key], policy)
            continue
        values = data[variable] if variable in data.columns else None
        hidden = _protect_characteristic(out, rows, values, groups, policy)
        if hidden or group_label is not None:
            out.loc[index, "SMD"] = WITHHELD
    return out


def _protect_characteristic(out, rows, values, groups, policy) -> bool:
    """Hide the small cells of one characteristic's rows in `out`; True when any cell was hidden."""
    if values is None:
        return False
    sizes = {name: int(mask.sum()) for name, mask in groups.items()}
    levels = [level for level in rows["level"] if level]
    if not levels:  # a continuous characteristic: a summary of fewer than k patients is withheld
        hidden = False
        for name, mask in groups.items():
            if disclosure.too_few(int(values[mask].notna().sum()), policy):
                out.loc[rows.index, name] = WITHHELD
                hidden = True
        return hidden
    # Every level of the variable, shown or not ("Men" beside "Women", "No" beside "Yes"): a level the
    # table leaves out is still the group minus the others.
    every = _every_level(values, levels)
    codes = _level_codes(values, every)
    counts = pd.DataFrame({name: [int((codes[mask] == level).sum()) for level in every]
                           + [int(codes[mask].isna().sum())] for name, mask in groups.items()},
                          index=[*every, disclosure.MISSING])
    if counts.loc[disclosure.MISSING].sum() == 0:
        counts = counts.drop(index=disclosure.MISSING)
    labels = disclosure.protect_grid(counts, policy)
    hidden = bool(labels.notna().to_numpy().any())
    for level, i in zip(levels, rows.index):
        for name, mask in groups.items():
            if labels.loc[level, name] is not None:
                out.loc[i, name] = labels.loc[level, name]
            else:  # tableone's "n (%)" again, from the released counts (% of those with a value)
                n = disclosure.released(int(counts.loc[level, name]), policy)
                valid = disclosure.released(int(codes[mask].notna().sum()), policy)
                out.loc[i, name] = f"{n} ({100 * n / valid:.1f})" if isinstance(valid, int) and valid else WITHHELD
    return hidden or any(sizes[name] < policy.k for name in sizes)


def _every_level(values: pd.Series, shown: list[str]) -> list[str]:
    """The levels of a characteristic: its categories (as the table labels them), or Yes and No."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        from .. import config

        return [config.CATEGORY_LABELS.get(c, c) for c in values.cat.categories]
    return ["Yes", "No"] if set(shown) <= {"Yes", "No"} else list(shown)


def _level_codes(values: pd.Series, levels: list[str]) -> pd.Series:
    """Each patient's level as the table labels it ("Yes" for a 0/1 variable's 1, "No" otherwise)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        from .. import config

        return values.astype(object).map(lambda v: config.CATEGORY_LABELS.get(v, v) if isinstance(v, str) else None)
    if set(levels) <= {"Yes", "No"}:
        return values.map({1.0: "Yes", 0.0: "No"})
    return pd.Series(None, index=values.index, dtype=object)


def imbalanced(attrition_table: pd.DataFrame, params: Params | None = None) -> pd.DataFrame:
    """Characteristics whose shown ``|SMD|`` exceeds the study parameter follow_up.smd_flag, largest first."""
    params = params or study.current()
    shown = attrition_table[attrition_table["Characteristic"].ne("") & attrition_table["SMD"].map(
        lambda v: isinstance(v, float) and not math.isnan(v))]
    shown = shown.assign(size=shown["SMD"].astype(float).abs())
    return shown[shown["size"] > params.follow_up.smd_flag].sort_values("size", ascending=False)[
        ["Characteristic", "SMD"]].reset_index(drop=True)


#: What each way of counting the lost assumes, in words.
METHOD_NOTES = {
    "complete cases": "the patients with both values; the lost are left out",
    "non-responder imputation": "every patient with a start value; the lost counted as not improved",
    "best case": "every patient with a start value; the lost counted as improved",
    "inverse probability weighting": "the measured, weighted by how unlikely their measurement was",
}


def missing_data(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """The 1-year share reaching the MCID under four ways of counting the patients lost to
    follow-up (complete cases, non-responder imputation, best case, inverse probability
    weighting on the covariates of the study parameters plus the measure's start value).

    Under disclosure control the four rows of a measure share one fate: if the complete-case
    count or its denominator is withheld, so is everything the other rows would reveal of it.
    """
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    covariates = (*params.follow_up.ipw_covariates, "{stem}_start")
    table = missing_analysis.responder_sensitivity(cohort, params.mcid, params.confidence, covariates=covariates)
    rows = []
    for stem, block in table.groupby("stem", sort=False):
        complete = block[block["method"] == "complete cases"].iloc[0]
        n_label = measured_label(cohort, f"{stem}_1y", policy)
        k_label = None if n_label else disclosure.protect_subset(int(complete["k"]), int(complete["n"]), policy)
        withheld = n_label or k_label
        for row in block.to_dict("records"):
            shown = {"measure": row["measure"], "method": row["method"], "patients": METHOD_NOTES[row["method"]]}
            counted = row["method"] != "inverse probability weighting"  # k of n patients; the weighted one is not
            share = (disclosure.share(int(row["k"]), int(row["n"]), policy, params.confidence)
                     if counted and policy.active and not withheld else None)
            if withheld or (counted and policy.active and share is None):
                shown.update({"n": n_label or WITHHELD, "%": WITHHELD, "CI low": WITHHELD, "CI high": WITHHELD})
            elif share is not None:  # from the released counts
                shown.update({"n": share.n, "%": share.pct, "CI low": share.low, "CI high": share.high})
            else:
                shown.update({"n": disclosure.released(int(row["n"]), policy), "%": row["%"],
                              "CI low": row["CI low"], "CI high": row["CI high"]})
            rows.append(shown)
    return pd.DataFrame(rows)


def model_note(cohort: pd.DataFrame, params: Params | None = None) -> str:
    """How the weights were made, in words without counts (the analysis's own note has counts)."""
    params = params or study.current()
    covariates = ", ".join(params.follow_up.ipw_covariates)
    return (f"a logistic model of being measured at 1 year on {covariates} and the measure's start value, fitted "
            "on the patients with a start value and every covariate; stabilised weights; the interval from a "
            "robust (sandwich) variance that treats the weights as known")
