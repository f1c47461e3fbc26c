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


def synthetic(cohort: pd.DataFrame) -> bool:
    """Whether the cohort is the generator's synthetic file (its estimates are then the generator's)."""
    return bool(getattr(cohort.attrs.get("fingerprint"), "synthetic", False))


def calibrated(measure: str, predictor: str, level: str) -> bool:
    """Whether a univariable estimate is one the generator was calibrated to (a published risk ratio's
    stand-in); every other estimate on synthetic data is made by the generator, not reproduced."""
    return any(spec is not None and (spec.measure, spec.predictor, spec.level) == (measure, predictor, level)
               for spec in predictor_analysis.PUBLISHED_STAND_INS.values())


def _marked(value, mark: bool, decimals: int = 2):
    """A number as the table shows it, with the dagger of "made by the generator" when `mark`."""
    from .results import DAGGER  # results imports this module
    if not mark or isinstance(value, str) or pd.isna(value):
        return value
    return f"{value:.{decimals}f}{DAGGER}"


def risk_ratios(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None,
                model: str = predictor_analysis.MODEL_UNIVARIABLE, marked: bool = False) -> pd.DataFrame:
    """Risk ratios (modified Poisson, robust CI) of reaching the MCID at 1 year by each baseline
    predictor: `model` "univariable" (one model per predictor) or "adjusted" (the predictors of the
    study parameter predictors.adjusted_for together), with the Benjamini-Hochberg q of each p (its
    family: every p of the same kind of model, all outcomes). Under disclosure control an estimate
    that rests on a cell (events or non-events in a level or its reference) of fewer than k patients
    is withheld with its counts.

    marked: the table as a page shows it. On synthetic data every RR the generator was not
    calibrated to reads "2.01†" (made by the generator, where it stands); on real data no mark.
    The adjusted model then also shows the log-binomial RR beside each modified Poisson one.
    """
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    table = predictor_analysis.predictor_risk_ratios(cohort, params.mcid, params.confidence,
                                                     adjusted_for=params.predictors.adjusted_for)
    table = table[table["model"] == model]
    binomial = {}
    if marked and model == predictor_analysis.MODEL_ADJUSTED:
        check = predictor_analysis.adjusted_model_check(cohort, params.mcid, params.confidence,
                                                        list(params.predictors.adjusted_for))
        binomial = {(r["measure"], r["predictor"], r["level"]): r["rr_log_binomial"] for r in check.to_dict("records")}
    generator = marked and synthetic(cohort)
    rows = []
    for row in table.to_dict("records"):
        predictor = predictor_analysis.PREDICTORS[row["predictor"]]
        hidden = _cells_too_small(row, policy)
        mark = generator and not (model == predictor_analysis.MODEL_UNIVARIABLE
                                  and calibrated(row["measure"], row["predictor"], row["level"]))
        shown = {"outcome": INSTRUMENTS[row["measure"]].short, "predictor": predictor.label,
                 "level": _level(row["level"]), "reference": _level(row["reference"]),
                 "patients": WITHHELD if hidden else disclosure.released(int(row["n"]), policy),
                 "reached": WITHHELD if hidden else disclosure.released(int(row["events"]), policy)}
        for key, name in (("rr", "RR"), ("low", "CI low"), ("high", "CI high"), ("p", "p"), ("q", "q (BH)")):
            shown[name] = WITHHELD if hidden else row[key]
        if marked:
            shown["RR"] = _marked(shown["RR"], mark)
            if binomial:
                key = (row["measure"], row["predictor"], row["level"])
                shown["RR, log-binomial"] = WITHHELD if hidden else _marked(binomial.get(key, float("nan")), mark)
        rows.append(shown)
    return pd.DataFrame(rows)


def adjusted_check(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """Per outcome, what the adjusted model can bear: patients, the less frequent outcome, coefficients,
    events per coefficient, patients with a predicted risk above 1, and the log-binomial check.
    Counts of patients are released (disclosure control); the events per coefficient come from the
    released counts, so they give no exact count back."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    summary = predictor_analysis.adjusted_summary(predictor_analysis.adjusted_model_check(
        cohort, params.mcid, params.confidence, list(params.predictors.adjusted_for)))
    rows = []
    for row in summary.to_dict("records"):
        fewer = min(row["events"], row["non_events"])
        shown_fewer = disclosure.count(fewer, disclosure.protect_subset(fewer, row["n"], policy), policy)
        above = row["risk_above_one"]
        rows.append({
            "outcome": INSTRUMENTS[row["measure"]].short,
            "patients": disclosure.released(int(row["n"]), policy),
            "less frequent outcome": shown_fewer,
            "coefficients": int(row["coefficients"]),
            "events per coefficient": (shown_fewer / row["coefficients"] if not isinstance(shown_fewer, str)
                                       and row["coefficients"] else WITHHELD),
            "predicted risk above 1 (patients)": disclosure.count(
                above, disclosure.protect_subset(above, row["n"], policy) if above else None, policy),
            "log-binomial fit": ("converged" if row["log_binomial_converged"]
                                 else "did not converge inside the parameter space"),
            "largest difference of log RR": row["max_abs_log_rr_difference"],
        })
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
        absolute = ("risk in the group, %", "risk in the reference, %", "risk difference, points")
        if pd.isna(row["rr"]):
            shown.update({"RR": "", "CI low": "", "CI high": "", "inside the published CI": "n/a",
                          **dict.fromkeys(absolute, "")})
        elif hidden:
            shown.update({"RR": WITHHELD, "CI low": WITHHELD, "CI high": WITHHELD, "inside the published CI": WITHHELD,
                          **dict.fromkeys(absolute, WITHHELD)})
        else:
            shown.update({"RR": row["rr"], "CI low": row["low"], "CI high": row["high"],
                          "inside the published CI": "yes" if row["within_published_ci"] else "no"})
            # The risk ratio as absolute risks (STROBE 16c): shares of the released counts.
            level = by_level.loc[key]
            group = disclosure.percent(int(level["events_level"]), int(level["n_level"]), policy)
            reference = disclosure.percent(int(level["events_reference"]), int(level["n_reference"]), policy)
            difference = (WITHHELD if isinstance(group, str) or isinstance(reference, str) else group - reference)
            # The generator was calibrated to the ratios, not to these risks: on synthetic data it made them.
            mark = synthetic(cohort)
            shown.update(zip(absolute, (_marked(v, mark, 0) for v in (group, reference, difference))))
        rows.append(shown)
    return pd.DataFrame(rows)


def oldham(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None,
           marked: bool = False) -> pd.DataFrame:
    """Oldham's correlation of the 1-year improvement with the mean of the start and 1-year values, per
    outcome (`analysis.predictors.oldham`): whether the worse improved more beyond regression to the
    mean. A correlation of fewer than k patients is withheld (disclosure control). marked: as a page
    shows it, r reading "0.16†" on synthetic data (the generator's relation)."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    table = predictor_analysis.oldham(cohort, "1y", params.confidence)
    rows = []
    for row in table.to_dict("records"):
        hidden = disclosure.too_few(row["n"], policy)
        shown = {"outcome": row["measure"], "patients": disclosure.released(int(row["n"]), policy),
                 **{name: WITHHELD if hidden else row[key] for key, name in
                    (("r", "r"), ("low", "CI low"), ("high", "CI high"), ("p", "p"))}}
        if marked:  # on synthetic data the relation is the generator's, where it stands
            shown["r"] = _marked(shown["r"], synthetic(cohort))
        rows.append(shown)
    return pd.DataFrame(rows)


def caption(table: str) -> str:
    """The caption of each table of the predictors page (the confidence level from the study parameters)."""
    from .book import unpublished  # book imports results, which imports this module
    ci = study.current().ci_label
    captions = {
        "beside": "The follow-on paper's risk ratios beside this build's estimates, with the stand-in outcome used for "
                  "each, and as absolute risks: the share reaching the stand-in outcome in the group and in its "
                  "reference, and their difference in percentage points.",
        "univariable": f"Univariable risk ratios (modified Poisson, robust {ci}) of reaching the MCID at one year: "
                       "patients in the model, of them reaching the MCID, RR, CI, p and the Benjamini–Hochberg q "
                       "(every univariable test one family).",
        "adjusted": f"Adjusted risk ratios (modified Poisson, robust {ci}): the predictors of predictors.adjusted_for "
                    "in one model per outcome, on the patients with every one of them, with the Benjamini–Hochberg "
                    "q (every adjusted test one family) and the risk ratio of the same model fitted as a "
                    "log-binomial GLM, where that fit converged.",
        "check": "What the adjusted model can bear, per outcome: its patients, the less frequent of reaching and not "
                 "reaching the MCID, its coefficients and the events per coefficient; the patients it predicts a "
                 "risk above 1 for; and whether the log-binomial fit converged, with the largest difference of "
                 "a log risk ratio between the two fits.",
        "oldham": f"Oldham's method: the correlation (Pearson's r, {ci}) of the improvement at one year with the mean "
                  "of the start and the 1-year value, per outcome; positive: the patients who were worse improved "
                  "more.",
    }
    return unpublished(captions[table])
