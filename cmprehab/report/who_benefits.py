"""Who benefits and what was combined: the tables of the chapter on baseline predictors and of
the interventions chapter's combinations, with disclosure control applied here.

The computations are the analysis layer's (`analysis.predictors`, `analysis.combinations`).
"""
from __future__ import annotations

import pandas as pd

from .. import config
from .. import params as study
from ..analysis import combinations as combination_analysis
from ..analysis import predictors as predictor_analysis
from ..instruments import INSTRUMENTS
from ..params import Params
from . import disclosure
from .disclosure import WITHHELD, Policy


# --- combinations ---------------------------------------------------------------------------------

def cooccurrence(cohort: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """Patients who received both categories (rows, columns in the published order; the diagonal:
    every patient who received the category). Under disclosure control a pair count is hidden when
    it, or what it leaves of either category (received one but not the other), is below k."""
    policy = disclosure.policy(cohort, policy)
    counts = combination_analysis.cooccurrence(cohort)
    labels = {column: label for column, label in config.INTERVENTIONS.items()}
    out = counts.astype(object).copy()
    for i in counts.index:
        for j in counts.columns:
            n_ij, n_i, n_j = int(counts.loc[i, j]), int(counts.loc[i, i]), int(counts.loc[j, j])
            label = disclosure.protect_subset(n_i, len(cohort), policy) if i == j else (
                disclosure.protect_subset(n_ij, n_i, policy) or disclosure.protect_subset(n_ij, n_j, policy))
            out.loc[i, j] = disclosure.count(n_ij, label, policy)
    out.index = [labels[c] for c in counts.index]
    out.columns = [labels[c] for c in counts.columns]
    return out


def top_combinations(cohort: pd.DataFrame, top: int = 10, policy: Policy | None = None) -> pd.DataFrame:
    """The most frequent exact combinations of categories, with n and % of all patients, and one
    row for every other combination together. Under disclosure control these rows partition the
    patients; a combination of fewer than k patients is left among the others. `members` holds
    each combination's columns (for the chart; not a column to show)."""
    policy = disclosure.policy(cohort, policy)
    every = combination_analysis.top_combinations(cohort, top=None)
    if policy.active:
        every = every[every["n"] >= policy.k]
    shown = every.head(top)
    rest = len(cohort) - int(shown["n"].sum())
    cells = {**{row.combination: int(row.n) for row in shown.itertuples()}, "every other combination": rest}
    labels = disclosure.protect(cells, policy) if rest else {key: None for key in cells}
    rows = [{"combination": name, "categories": int(n_categories), "patients": disclosure.count(n, labels[name], policy),
             "%": WITHHELD if labels[name] else disclosure.percent(n, len(cohort), policy), "members": members}
            for name, n, n_categories, members in zip(shown["combination"], shown["n"], shown["n_categories"],
                                                      shown["categories"])]
    if rest:
        rows.append({"combination": "every other combination", "categories": "",
                     "patients": disclosure.count(rest, labels["every other combination"], policy),
                     "%": WITHHELD if labels["every other combination"] else disclosure.percent(rest, len(cohort), policy),
                     "members": ()})
    return pd.DataFrame(rows)


def all_four(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> dict:
    """The share who received all four categories the poster's conclusion names, with its CI."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    p = combination_analysis.share_with_all(cohort, params.confidence)
    label = disclosure.protect_subset(p.k, p.n, policy)
    shown = None if label else disclosure.share(p.k, p.n, policy, params.confidence)
    if shown is None:
        return {"n": disclosure.count(p.k, label, policy), "of": disclosure.released(p.n, policy), "%": WITHHELD,
                "CI low": WITHHELD, "CI high": WITHHELD}
    return {"n": shown.k, "of": shown.n, "%": shown.pct, "CI low": shown.low, "CI high": shown.high}


# --- predictors -----------------------------------------------------------------------------------

def _cells_too_small(row: dict, policy: Policy) -> bool:
    """Whether a risk ratio rests on a cell of fewer than k patients (so its counts would show it)."""
    if not policy.active:
        return False
    cells = [row["events"], row["n"] - row["events"]]
    if pd.notna(row.get("n_level")):
        cells += [row["events_level"], row["n_level"] - row["events_level"],
                  row["events_reference"], row["n_reference"] - row["events_reference"]]
    return any(pd.notna(c) and c < policy.k for c in cells)


def risk_ratios(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None,
                model: str = predictor_analysis.MODEL_UNIVARIABLE) -> pd.DataFrame:
    """Risk ratios (modified Poisson, robust CI) of reaching the MCID at 1 year by each baseline
    predictor: `model` "univariable" (one model per predictor) or "adjusted" (the predictors of the
    study parameter predictors.adjusted_for together). Under disclosure control an estimate that
    rests on a cell (events or non-events in a level or its reference) of fewer than k patients is
    withheld with its counts."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    table = predictor_analysis.predictor_risk_ratios(cohort, params.mcid, params.confidence,
                                                     adjusted_for=params.predictors.adjusted_for)
    table = table[table["model"] == model]
    rows = []
    for row in table.to_dict("records"):
        predictor = predictor_analysis.PREDICTORS[row["predictor"]]
        hidden = _cells_too_small(row, policy)
        shown = {"outcome": INSTRUMENTS[row["measure"]].short, "predictor": predictor.label,
                 "level": _level(row["level"]), "reference": _level(row["reference"]),
                 "patients": WITHHELD if hidden else disclosure.released(int(row["n"]), policy),
                 "reached": WITHHELD if hidden else disclosure.released(int(row["events"]), policy)}
        for key, name in (("rr", "RR"), ("low", "CI low"), ("high", "CI high"), ("p", "p")):
            shown[name] = WITHHELD if hidden else row[key]
        rows.append(shown)
    return pd.DataFrame(rows)


def _level(value) -> str:
    """A level as readers know it (category labels), or '' for none."""
    if not isinstance(value, str):
        return ""
    return config.CATEGORY_LABELS.get(value, value)


def beside_published(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None
                     ) -> pd.DataFrame:
    """Each published risk ratio of the follow-on paper beside this build's estimate of it, with the
    stand-in outcome (this project's assumption); not expressible ones say why."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    # The univariable rows of the same call as `risk_ratios` (computed once per page: cmprehab.memo).
    estimates = predictor_analysis.predictor_risk_ratios(cohort, params.mcid, params.confidence,
                                                         adjusted_for=params.predictors.adjusted_for)
    estimates = estimates[estimates["model"] == predictor_analysis.MODEL_UNIVARIABLE].reset_index(drop=True)
    table = predictor_analysis.beside_published(estimates)
    by_level = estimates.set_index(["measure", "predictor", "level"])
    rows = []
    for row in table.to_dict("records"):
        published = f"{row['published_rr']:.2f} ({row['published_low']:.2f}–{row['published_high']:.2f})"
        shown = {"predictor (reference)": row["published_predictor"], "published outcome": row["published_outcome"],
                 "published RR (95 % CI)": published, "stand-in outcome": row["stand_in"] or "not expressible"}
        key = (row["measure"], row["predictor"], row["level"])
        hidden = pd.notna(row["rr"]) and key in by_level.index and _cells_too_small(
            {**by_level.loc[key].to_dict()}, policy)
        if pd.isna(row["rr"]):
            shown.update({"RR": "", "CI low": "", "CI high": "", "inside the published CI": "n/a"})
        elif hidden:
            shown.update({"RR": WITHHELD, "CI low": WITHHELD, "CI high": WITHHELD, "inside the published CI": WITHHELD})
        else:
            shown.update({"RR": row["rr"], "CI low": row["low"], "CI high": row["high"],
                          "inside the published CI": "yes" if row["within_published_ci"] else "no"})
        rows.append(shown)
    return pd.DataFrame(rows)
