"""Who was followed up, who was lost, and what the lost could change: the tables of the
follow-up chapter, with disclosure control applied here (as in `tables`).

The computations are the analysis layer's (`analysis.flow`, `analysis.attrition`,
`analysis.missing`, `analysis.imputation`); this module decides what a page may show of them,
draws the chapter's own figures (the weights, the tipping point) with `figures`' conventions,
and quotes its numbers for the prose (`quote`).
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import params as study
from ..analysis import attrition as attrition_analysis
from ..analysis import flow as flow_analysis
from ..analysis import imputation as imputation_analysis
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


def imbalanced_text(flagged: pd.DataFrame, mark=lambda text, unpublished: text) -> str:
    """The imbalanced characteristics in words, largest first: "Sessions (SMD +0.68)"; a category of
    three or more levels has no sign ("Main pain location (SMD 0.19, unsigned)"). `mark` flags each
    SMD as not published (`results.Page.mark`)."""
    unsigned = {label for _, label, kind in attrition_analysis.ATTRITION_ROWS if kind == "levels"}
    parts = []
    for row in flagged.itertuples():
        label = row.Characteristic.rsplit(", ", 1)[0]
        value = mark(f"{row.SMD:.2f}", True) + ", unsigned" if label in unsigned else mark(f"{row.SMD:+.2f}", True)
        parts.append(f"{label} (SMD {value})")
    return "; ".join(parts) or "none"


#: What each way of counting the lost assumes, in words.
METHOD_NOTES = {
    "complete cases": "the patients with both values; the lost are left out",
    "non-responder imputation": "every patient with a start value; the lost counted as not improved",
    "best case": "every patient with a start value; the lost counted as improved",
    "inverse probability weighting": "the measured, weighted by how unlikely their measurement was",
    "multiple imputation": "every patient with a start value; the lost patients' values imputed",
}
MI = "multiple imputation"
IPW = "inverse probability weighting"


def ipw_covariates(params: Params) -> tuple[str, ...]:
    """The IPW model's covariates: the study parameters' and the measure's start and discharge values."""
    return (*params.follow_up.ipw_covariates, "{stem}_start", "{stem}_discharge")


def coarse(pct: float, n: int, policy: Policy) -> float:
    """A share computed from more than counts (imputed, weighted) at the precision of released counts:
    on confidential data rounded to a multiple of 100 k / n percent, n as released (`released`: the
    exact n would show through the step), as k of n patients would be."""
    if not policy.active or not isinstance(pct, float) or math.isnan(pct) or not n:
        return pct
    shown = disclosure.released(int(n), policy)
    if isinstance(shown, str) or not shown:
        return pct
    step = 100 * policy.k / shown
    return float(min(100.0, max(0.0, step * round(pct / step))))


def missing_data(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """The 1-year share reaching the MCID under four ways of counting the patients lost to
    follow-up (complete cases, non-responder imputation, best case, inverse probability
    weighting on the covariates of the study parameters plus the measure's start value).

    Under disclosure control the four rows of a measure share one fate: if the complete-case
    count or its denominator is withheld, so is everything the other rows would reveal of it.
    """
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    table = missing_analysis.responder_sensitivity(cohort, params.mcid, params.confidence,
                                                   covariates=ipw_covariates(params))
    imputed = imputation_analysis.mi_share(cohort, params.mcid, params.confidence).set_index("stem")
    mi_rows = [{"measure": row["measure"], "stem": stem, "method": MI, "k": math.nan, "n": int(row["n"]),
                "%": coarse(row["%"], int(row["n"]), policy), "CI low": coarse(row["CI low"], int(row["n"]), policy),
                "CI high": coarse(row["CI high"], int(row["n"]), policy)} for stem, row in imputed.iterrows()]
    table = pd.concat([table, pd.DataFrame(mi_rows)], ignore_index=True)
    table["order"] = table["stem"].map({stem: i for i, stem in enumerate(INSTRUMENTS)})
    table = table.sort_values("order", kind="stable").drop(columns="order")
    rows = []
    for stem, block in table.groupby("stem", sort=False):
        complete = block[block["method"] == "complete cases"].iloc[0]
        n_label = measured_label(cohort, f"{stem}_1y", policy)
        k_label = None if n_label else disclosure.protect_subset(int(complete["k"]), int(complete["n"]), policy)
        withheld = n_label or k_label
        for row in block.to_dict("records"):
            shown = {"measure": row["measure"], "method": row["method"], "patients": METHOD_NOTES[row["method"]]}
            counted = row["method"] not in (IPW, MI)  # k of n patients; the weighted and imputed ones are not
            share = (disclosure.share(int(row["k"]), int(row["n"]), policy, params.confidence)
                     if counted and policy.active and not withheld else None)
            if withheld or (counted and policy.active and share is None):
                shown.update({"n": n_label or WITHHELD, "%": WITHHELD, "CI low": WITHHELD, "CI high": WITHHELD})
            elif share is not None:  # from the released counts
                shown.update({"n": share.n, "%": share.pct, "CI low": share.low, "CI high": share.high})
            else:  # weighted or imputed: on confidential data at the precision of released counts
                n = int(row["n"])
                shown.update({"n": disclosure.released(n, policy), "%": coarse(row["%"], n, policy),
                              "CI low": coarse(row["CI low"], n, policy), "CI high": coarse(row["CI high"], n, policy)})
            rows.append(shown)
    return pd.DataFrame(rows)


def model_note(cohort: pd.DataFrame, params: Params | None = None) -> str:
    """How the weights were made, in words without counts (the analysis's own note has counts)."""
    params = params or study.current()
    covariates = ", ".join(params.follow_up.ipw_covariates)
    return (f"a logistic model of being measured at 1 year on {covariates} and the measure's start and discharge "
            "values, fitted on the patients with a start value and every baseline covariate (a patient without a "
            "discharge value stays in the model, with that value set to the mean and an indicator of its absence); "
            "stabilised weights; the interval from a robust (sandwich) variance that treats the weights as known")


# --- the weights: distribution, effective sample size, balance, trimming --------------------------

#: Percentiles of the weights shown on every cohort (on confidential data instead of minimum and maximum).
WEIGHT_PERCENTILES = (5, 50, 95)


def _fits(cohort: pd.DataFrame, params: Params, trim=None) -> dict:
    return missing_analysis.ipw_fits(cohort, params.mcid, params.confidence, covariates=ipw_covariates(params),
                                     trim=trim)


def ipw_diagnostics(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """Per measure: the weights' spread, Kish's effective sample size, the largest absolute SMD before and after
    weighting, and the weighted share untrimmed and with the weights trimmed at the 1st and 99th percentiles.

    On confidential data the smallest and largest weight (one patient's) and the effective sample size
    (with the weights it would pin down the measured count) are withheld; the percentiles stay, and the
    shares are at the precision of released counts (`coarse`)."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    plain, cut = _fits(cohort, params), _fits(cohort, params, trim=missing_analysis.TRIM_PERCENTILES)
    low, high = missing_analysis.TRIM_PERCENTILES
    rows = []
    for stem, fit in plain.items():
        row = {"measure": INSTRUMENTS[stem].short, "patients weighted": disclosure.released(fit.n_measured, policy)}
        weights = fit.weights if fit.weights is not None else pd.Series(dtype=float)
        few = disclosure.too_few(len(weights), policy)
        row["smallest weight"] = WITHHELD if policy.active else fit.weights_min
        for q in WEIGHT_PERCENTILES:
            row[f"weight, {q}th percentile"] = (WITHHELD if few else float(weights.quantile(q / 100))
                                                if len(weights) else math.nan)
        row["largest weight"] = WITHHELD if policy.active else fit.weights_max
        row["effective sample size"] = WITHHELD if policy.active else fit.ess
        before = fit.balance["SMD before"].abs().max() if fit.balance is not None else math.nan
        after = fit.balance["SMD after"].abs().max() if fit.balance is not None else math.nan
        row["largest absolute SMD before"], row["largest absolute SMD after"] = float(before), float(after)
        n = fit.n_measured
        row["weighted %"] = WITHHELD if few else coarse(fit.share, n, policy)
        row[f"weighted %, trimmed at {low:g}/{high:g}th"] = WITHHELD if few else coarse(cut[stem].share, n, policy)
        rows.append(row)
    return pd.DataFrame(rows)


def ipw_balance(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """Balance of each column of the IPW model: SMD (measured - everyone with a start value) before and
    after weighting, per measure, and whether the weighted one is within ± the flag (0.1).

    On confidential data a 0/1 column's SMDs are withheld when fewer than k of the measured, or of the
    lost, have either value (the SMD of a group's share would give that small count away)."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    data = derive(cohort)
    rows = []
    for stem, fit in _fits(cohort, params).items():
        if fit.balance is None:
            continue
        measured = data[f"{stem}_1y"].notna() & data[f"{stem}_start"].notna()
        lost = data[f"{stem}_1y"].isna() & data[f"{stem}_start"].notna()
        for item in fit.balance.to_dict("records"):
            before, after = item["SMD before"], item["SMD after"]
            if policy.active and _small_binary_cell(data, stem, item["column"], measured, lost, policy):
                before = after = WITHHELD
            ok = "" if isinstance(after, str) or math.isnan(after) else (
                "yes" if abs(after) <= params.follow_up.smd_flag else "no")
            rows.append({"measure": INSTRUMENTS[stem].short, "model column": item["column"], "SMD before": before,
                         "SMD after weighting": after, f"within ±{params.follow_up.smd_flag:g}": ok})
    return pd.DataFrame(rows, columns=["measure", "model column", "SMD before", "SMD after weighting",
                                       f"within ±{params.follow_up.smd_flag:g}"])


def _small_binary_cell(data, stem, column, measured, lost, policy) -> bool:
    """Whether a 0/1 model column has fewer than k patients with one of its values in a group."""
    name, _, level = column.partition("=")
    if column.startswith("no "):
        values = data[column[3:]].isna().astype(float)
    elif level:
        values = (data[name].astype(object) == level).astype(float)
    elif name in data and set(pd.unique(data[name].dropna())) <= {0, 1}:
        values = data[name].astype(float)
    else:
        return False
    return any(0 < int(values[group].sum()) < policy.k or 0 < int((1 - values[group]).sum()) < policy.k
               for group in (measured, lost))


def weights_figure(cohort: pd.DataFrame, params: Params | None = None) -> plt.Figure:
    """Histogram of the stabilised weights of each measure's measured patients, the 1st and 99th
    percentiles (the trimming) dashed. Fixed bins on a log scale; under disclosure control bins of
    fewer than k patients are not drawn, the others at their released heights, and no percentile line
    (one patient's weight) is drawn."""
    from matplotlib.ticker import MaxNLocator

    from .. import config
    from .figures import TEXT_SIZE, WIDTH

    params, policy = params or study.current(), disclosure.policy(cohort)
    fits = _fits(cohort, params)
    bins = 2.0 ** np.arange(-3, 6.01, 0.25)  # 0.125 to 64, four bins per doubling; outside: first/last bin
    fig, axes = plt.subplots(len(fits), 1, figsize=(WIDTH, 2.0 * len(fits) + 0.8), sharex=True)
    for ax, (stem, fit), colour in zip(np.atleast_1d(axes), fits.items(), config.PALETTE):
        ax.set_xscale("log", base=2)
        ax.set_title(INSTRUMENTS[stem].short, fontsize=TEXT_SIZE + 1, loc="left")
        ax.set_ylabel("Patients", fontsize=TEXT_SIZE + 0.5)
        if fit.weights is None or not len(fit.weights):
            ax.text(0.5, 0.5, "no weights (model not fitted)", transform=ax.transAxes, ha="center",
                    fontsize=TEXT_SIZE)
            continue
        counts, edges = np.histogram(np.clip(fit.weights, bins[0], bins[-1]), bins=bins)
        keep = disclosure.visible_bins(counts, policy)
        heights = np.array([disclosure.released(int(n), policy) if k else 0 for n, k in zip(counts, keep)])
        ax.bar(edges[:-1][keep], heights[keep], width=np.diff(edges)[keep], align="edge", color=colour,
               edgecolor="white")
        top = max(1, float(heights.max())) * 1.15
        ax.set_ylim(0, top)  # ticks only inside the panel: no label beside the next panel's
        ax.set_yticks([t for t in MaxNLocator(nbins=3, integer=True).tick_values(0, top) if t <= top])
        if not policy.active:
            for q in missing_analysis.TRIM_PERCENTILES:
                ax.axvline(float(np.percentile(fit.weights, q)), color="black", linestyle="--", linewidth=1)
    axes = np.atleast_1d(axes)
    axes[-1].set_xlim(bins[0], bins[-1])
    axes[-1].set_xticks([0.25, 0.5, 1, 2, 4, 8, 16, 32], ["¼", "½", "1", "2", "4", "8", "16", "32"])
    axes[-1].set_xlabel("Stabilised weight P(measured) / p (log scale)", fontsize=TEXT_SIZE + 0.5)
    fig.tight_layout()
    return fig


# --- multiple imputation and the tipping point ------------------------------------------------------

def tipping(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """Per measure: the pooled 1-year share under multiple imputation, and how much worse (or better) the
    lost would have to be, in the measure's units, for it to cross 50 % (`analysis.imputation`).

    On confidential data the curve's shares are at the precision of released counts (`coarse`) before the
    crossing is looked for; a measure with fewer than k measured or lost patients is withheld."""
    curve = delta_curve(cohort, params, policy)
    return imputation_analysis.tipping_point(curve.dropna(subset=["%"]) if len(curve) else curve)


def delta_curve(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """The pooled share as the lost patients' imputed values are shifted (`imputation.delta_curve`),
    with the non-responder and best-case bounds of each measure; disclosure control as in `tipping`."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    curve = imputation_analysis.delta_curve(cohort, params.mcid, params.confidence)
    parts = []
    for stem, block in curve.groupby("stem", sort=False):
        has_start = cohort[f"{stem}_start"].notna()
        n, measured = int(has_start.sum()), int((has_start & cohort[f"{stem}_1y"].notna()).sum())
        block = block.copy()
        if disclosure.too_few(measured, policy) or disclosure.too_few(n - measured, policy):
            block[["%", "CI low", "CI high"]] = math.nan
        else:
            for column in ("%", "CI low", "CI high"):
                block[column] = [coarse(float(v), n, policy) for v in block[column]]
        parts.append(block)
    return pd.concat(parts, ignore_index=True) if parts else curve


def tipping_figure(cohort: pd.DataFrame, params: Params | None = None) -> plt.Figure:
    """The pooled 1-year share (multiple imputation) as the lost patients are assumed worse (right) or
    better (left) than imputed, one panel per measure, with its confidence band; the non-responder and
    best-case shares dashed, 50 % dotted, the tipping point marked."""
    from .. import config
    from .figures import TEXT_SIZE, WIDTH

    params = params or study.current()
    curve = delta_curve(cohort, params)
    points = imputation_analysis.tipping_point(curve.dropna(subset=["%"])).set_index("stem") if curve["%"].notna().any() \
        else pd.DataFrame()
    bounds = missing_data(cohort, params).set_index(["measure", "method"])
    stems = list(dict.fromkeys(curve["stem"]))
    fig, axes = plt.subplots(len(stems), 1, figsize=(WIDTH, 2.3 * len(stems) + 0.8))
    for ax, stem in zip(np.atleast_1d(axes), stems):
        instrument = INSTRUMENTS[stem]
        block = curve[curve["stem"] == stem].sort_values("delta")
        colour = config.PALETTE[0]
        ax.fill_between(block["delta"], block["CI low"], block["CI high"], color=colour, alpha=0.2, linewidth=0,
                        step="post")
        ax.step(block["delta"], block["%"], where="post", color=colour, label="multiple imputation, shifted")
        for method, style in (("non-responder imputation", (0, (5, 2))), ("best case", (0, (4, 1.5, 1, 1.5)))):
            value = bounds.loc[(instrument.short, method), "%"] if (instrument.short, method) in bounds.index else None
            if isinstance(value, float) and not math.isnan(value):
                ax.axhline(value, color="0.35", linestyle=style, linewidth=1.1, label=method)
        ax.axhline(50, color="grey", linestyle=":", linewidth=0.9)
        if stem in points.index and points.loc[stem, "direction"] != "none":
            sign = 1 if points.loc[stem, "direction"] == "worse" else -1
            ax.axvline(sign * points.loc[stem, "tipping delta"], color=config.PALETTE[5], linewidth=1.3,
                       label="tipping point (50 %)")
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_ylim(0, 100)
        ax.set_xlim(block["delta"].min(), block["delta"].max())
        ax.set_ylabel("Reached MCID, %", fontsize=TEXT_SIZE + 0.5)
        ax.set_xlabel(f"{instrument.short}: lost patients' 1-year value shifted, {instrument.unit} "
                      "(right: worse)", fontsize=TEXT_SIZE + 0.5)
    fig.tight_layout()
    first, last = np.atleast_1d(axes)[0], np.atleast_1d(axes)[-1]
    handles, labels = first.get_legend_handles_labels()
    if handles:  # below the last panel's axis label, a fixed distance in points (as figures.missing_data)
        from matplotlib.transforms import ScaledTranslation

        below = last.get_window_extent().y0 - last.xaxis.label.get_window_extent(fig.canvas.get_renderer()).y0
        offset = ScaledTranslation(0, -(below / fig.dpi + 4 / 72), fig.dpi_scale_trans)
        last.legend(handles, labels, frameon=False, fontsize=TEXT_SIZE, loc="upper center", ncols=2,
                    bbox_to_anchor=(0.5, 0), bbox_transform=last.transAxes + offset)
        fig.tight_layout()
    return fig


# --- the numbers the chapter's prose quotes ----------------------------------------------------------

def _range_text(values: list[float], fmt: str, unit: str = "") -> str | None:
    """'28–38 %' (lowest–highest) or one value when they round alike; None when there is none."""
    numbers = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
    if not numbers:
        return None
    low, high = f"{min(numbers):{fmt}}", f"{max(numbers):{fmt}}"
    return f"{low}{unit}" if low == high else f"{low}–{high}{unit}"


def quote(page, cohort: pd.DataFrame, params: Params | None = None) -> None:
    """Add the follow-up chapter's numbers on imputation, the tipping point and the weights to a
    `results.Page` (every one computed; on synthetic data each marked as the generator's)."""
    from .results import NOT_AVAILABLE

    params = params or study.current()
    policy = page.policy
    source = "follow_up"

    def ranged(name: str, values, fmt: str, unit: str, what: str) -> None:
        text = _range_text(list(values), fmt, unit)
        page.add(name, None if text is None else min(v for v in values if isinstance(v, (int, float))
                                                       and not math.isnan(v)),
                 NOT_AVAILABLE if text is None else page.mark(text, True), f"{source}.{what}")

    missing = missing_data(cohort, params, policy)
    imputed = missing[missing["method"] == MI]
    ranged("mi_range", disclosure.numeric(imputed["%"]).dropna(), ".0f", " %", "missing_data")
    for row in imputed.to_dict("records"):
        stem = next(s for s, i in INSTRUMENTS.items() if i.short == row["measure"])
        page.share(f"mi_{stem}", row, f"{source}.missing_data", unpublished=True)
    page.count("mi_m", imputation_analysis.M, "analysis.imputation.M")

    phrases = []
    for row in tipping(cohort, params, policy).to_dict("records"):
        instrument = INSTRUMENTS[row["stem"]]
        if row["direction"] == "none" or math.isnan(row["tipping delta"]):
            phrase = f"{row['measure']}: no shift within the scale moves the share across 50 %"
        else:
            size = f"{row['tipping delta']:g} {instrument.unit.removesuffix('s') if row['tipping delta'] == 1 else instrument.unit}"
            phrase = (f"{row['measure']}: {size} worse than imputed for the share ({row['share at 0']:.0f} %) "
                      "to fall below 50 %" if row["direction"] == "worse" else
                      f"{row['measure']}: {size} better than imputed for the share ({row['share at 0']:.0f} %) "
                      "to reach 50 %")
        phrases.append(page.mark(phrase, True))
    page.add("tipping", None, "; ".join(phrases) or NOT_AVAILABLE, f"{source}.tipping")

    diagnostics = ipw_diagnostics(cohort, params, policy)
    ess = [v for v in diagnostics["effective sample size"] if not isinstance(v, str)]
    weighted = [v for v in diagnostics["patients weighted"] if not isinstance(v, str)]
    if ess and weighted and not policy.active:
        page.add("ipw_ess", min(ess), page.mark(f"{_range_text(ess, '.0f')} of the {_range_text(weighted, 'd')} "
                                                "measured patients", True), f"{source}.ipw_diagnostics")
        page.add("ipw_weights_max", min(diagnostics["largest weight"]),
                 page.mark(_range_text(list(diagnostics["largest weight"]), ".1f"), True), f"{source}.ipw_diagnostics")
    else:
        page.add("ipw_ess", None, f"{WITHHELD} (disclosure control)" if policy.active else NOT_AVAILABLE,
                 f"{source}.ipw_diagnostics")
        page.add("ipw_weights_max", None, f"{WITHHELD} (disclosure control)" if policy.active else NOT_AVAILABLE,
                 f"{source}.ipw_diagnostics")
    low, high = missing_analysis.TRIM_PERCENTILES
    trimmed_column = f"weighted %, trimmed at {low:g}/{high:g}th"
    ranged("ipw_trimmed_range", disclosure.numeric(diagnostics[trimmed_column]).dropna(), ".0f", " %",
           "ipw_diagnostics")
    page.text("trim_percentiles", f"{low:g}st and {high:g}th" if low == 1 else f"{low:g}th and {high:g}th",
              "analysis.missing.TRIM_PERCENTILES")

    balance = ipw_balance(cohort, params, policy)
    after = disclosure.numeric(balance["SMD after weighting"]).dropna() if len(balance) else pd.Series(dtype=float)
    over = int((after.abs() > params.follow_up.smd_flag).sum())
    page.count("balance_over", over, f"{source}.ipw_balance", unpublished=True)
    page.count("balance_total", len(after), f"{source}.ipw_balance")
    ranged("balance_after_max", list(diagnostics["largest absolute SMD after"]), ".2f", "", "ipw_diagnostics")
    if not len(after):
        verdict = "no model was fitted"
    elif over == 0:
        verdict = "every column is within the target after weighting, as a sound model should make it"
    else:
        verdict = ("the model does not make the measured patients resemble everyone with a start value, so the "
                   "weighted share is an uncertain correction, no firmer than the other rows of the table")
    page.text("balance_verdict", verdict, f"{source}.ipw_balance")
