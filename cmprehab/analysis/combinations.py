"""How the ten intervention categories were combined (the `iv_*` columns, 0/1 per patient).

Every function takes a cohort as `cmprehab.data.cohort.load_cohort` returns it and counts
patients; percentages are of all patients in the cohort given (the published Table 1 is of
the whole population, n = 274). No disclosure control is applied here: small counts are
returned as they are and the report layer suppresses them on real data.

`outcome_by_dose` is the exception: it relates how much rehabilitation a patient received (sessions,
categories) to reaching the MCID, among the patients with both values of a measure.

A missing intervention value is refused (ValueError) rather than guessed: the schema requires
every `iv_*` column, so a gap means the frame did not come from the validated loader.
"""
from __future__ import annotations

import math

import pandas as pd

from collections.abc import Mapping

from .. import config
from ..instruments import INSTRUMENTS, TIMEPOINTS
from .stats import Proportion, mcid_reached, proportion

__all__ = [
    "CATEGORY_COLUMNS",
    "POSTER_FOUR",
    "categories_per_patient",
    "combination_label",
    "cooccurrence",
    "DOSE_GROUPS",
    "indicators",
    "outcome_by_dose",
    "share_with_all",
    "top_combinations",
]

#: The ten category columns, in the published order (Table 1).
CATEGORY_COLUMNS: tuple[str, ...] = tuple(config.INTERVENTIONS)

#: The four categories the poster's conclusion names as the programme: education, sensorimotor
#: training, physical activity advice and interventions for structures and functions.
POSTER_FOUR: tuple[str, ...] = ("iv_education", "iv_sensorimotor", "iv_activity_advice",
                                "iv_structures_functions")


def indicators(cohort: pd.DataFrame, columns: tuple[str, ...] = CATEGORY_COLUMNS) -> pd.DataFrame:
    """Boolean frame (patients × `columns`): True where the patient received the category.

    Raises ValueError when a column is absent, holds a missing value, or holds anything but 0/1.
    """
    absent = [c for c in columns if c not in cohort.columns]
    if absent:
        raise ValueError(f"the cohort has no column(s) {', '.join(absent)}")
    values = cohort[list(columns)].apply(pd.to_numeric, errors="coerce").astype("float64")
    gaps = [c for c in columns if values[c].isna().any()]
    if gaps:
        raise ValueError(f"missing or non-numeric value(s) in {', '.join(gaps)}: every intervention "
                         "column must be 0 or 1 for every patient")
    bad = [c for c in columns if not values[c].isin([0.0, 1.0]).all()]
    if bad:
        raise ValueError(f"value(s) other than 0/1 in {', '.join(bad)}")
    return values.eq(1.0)


def cooccurrence(cohort: pd.DataFrame, percent: bool = False) -> pd.DataFrame:
    """Patients who received both category i (row) and category j (column).

    A 10 × 10 symmetric frame indexed and columned by the `iv_*` names (labels in
    `config.INTERVENTIONS`). The diagonal is the category on its own account: every patient
    who received it, whatever else they received (so it equals the published Table 1 share).
    Counts as int; with `percent=True`, percent of all patients in the cohort (NaN for an
    empty cohort).
    """
    flags = indicators(cohort).astype("int64")
    counts = flags.T @ flags  # (i, j) = patients with both; (i, i) = patients with i
    counts.index.name = counts.columns.name = None
    if not percent:
        return counts
    n = len(flags)
    return counts.astype("float64") * 100.0 / n if n else counts.astype("float64") * math.nan


def combination_label(columns: tuple[str, ...]) -> str:
    """The readable name of an exact combination: labels joined by ' + ' (published order)."""
    return " + ".join(config.INTERVENTIONS[c] for c in columns) if columns else "none of the ten"


def top_combinations(cohort: pd.DataFrame, top: int | None = 10) -> pd.DataFrame:
    """The most frequent exact combinations (a patient counts once, under exactly what they received).

    Columns: `combination` (readable label, see `combination_label`), `categories` (tuple of
    `iv_*` names, published order), `n_categories`, `n`, `pct` (percent of all patients).
    Sorted by `n` descending, ties by fewer categories, then by label, so the order is
    reproducible. `top=None` returns every combination that occurs.
    """
    flags = indicators(cohort)
    n = len(flags)
    keys = [tuple(c for c, got in zip(CATEGORY_COLUMNS, row) if got) for row in flags.itertuples(index=False)]
    counts = pd.Series(keys, dtype=object).value_counts(sort=False)
    out = pd.DataFrame({
        "combination": [combination_label(k) for k in counts.index],
        "categories": list(counts.index),
        "n_categories": [len(k) for k in counts.index],
        "n": counts.to_numpy(dtype="int64"),
    })
    out["pct"] = out["n"] * 100.0 / n if n else math.nan
    out = out.sort_values(["n", "n_categories", "combination"], ascending=[False, True, True], kind="stable")
    out = out.reset_index(drop=True)
    return out if top is None else out.head(top)


def categories_per_patient(cohort: pd.DataFrame) -> pd.DataFrame:
    """Distribution of the number of categories a patient received (0 to 10, every value listed).

    Columns: `n_categories`, `n`, `pct` (percent of all patients), `cumulative_pct` (percent
    with at most that many). The count is the one `analysis.derive` calls `n_interventions`.
    """
    per_patient = indicators(cohort).sum(axis=1)
    n = len(per_patient)
    out = pd.DataFrame({"n_categories": range(len(CATEGORY_COLUMNS) + 1)})
    out["n"] = out["n_categories"].map(per_patient.value_counts()).fillna(0).astype("int64")
    out["pct"] = out["n"] * 100.0 / n if n else math.nan
    out["cumulative_pct"] = out["n"].cumsum() * 100.0 / n if n else math.nan
    return out


def share_with_all(cohort: pd.DataFrame, confidence: float,
                   categories: tuple[str, ...] = POSTER_FOUR) -> Proportion:
    """Patients who received every one of `categories` (others may come on top), with a Wilson CI.

    By default the four categories of the poster's conclusion (`POSTER_FOUR`). Returns
    `stats.Proportion` (k, n, pct and its interval in percent; NaN for an empty cohort).
    """
    if not categories:
        raise ValueError("name at least one category")
    every = indicators(cohort, tuple(categories)).all(axis=1)
    return proportion(int(every.sum()), int(len(every)), confidence)


#: The dose groups of `outcome_by_dose`: column -> (label of the dose, [(group label, lowest, highest)]).
#: Fixed bands, not quantiles of the data (a cut at a quantile would move with each cohort): sessions
#: around the published median of 9, categories around the usual 4 to 5.
DOSE_GROUPS: dict[str, tuple[str, list[tuple[str, float, float]]]] = {
    "n_sessions": ("Sessions", [("1–5", 1, 5), ("6–9", 6, 9), ("10–14", 10, 14), ("15 or more", 15, math.inf)]),
    "n_interventions": ("Intervention categories", [("0–3", 0, 3), ("4", 4, 4), ("5", 5, 5),
                                                    ("6 or more", 6, math.inf)]),
}


def outcome_by_dose(cohort: pd.DataFrame, mcid: Mapping, confidence: float, time: str = "1y") -> pd.DataFrame:
    """The share reaching the MCID at `time` by how much rehabilitation a patient received: by the
    number of sessions and by the number of intervention categories (`DOSE_GROUPS`).

    A description, not an effect of dose: patients who improved slowly or had more problems may have
    been given more sessions and more kinds of intervention (confounding by indication), and those who
    improved early may have been discharged sooner.

    One row per dose, group and measure. Columns: dose ("Sessions", "Intervention categories"), group,
    measure, stem, time, k (reached the MCID), n (patients of the group with both values), %, CI low,
    CI high (Wilson, in %; NaN for an empty group). A patient without a sessions count is left out of
    the sessions rows.
    """
    if time not in TIMEPOINTS or time == "start":
        raise ValueError(f"time must be a later time point, not {time!r}")
    doses = {"n_sessions": pd.to_numeric(cohort["n_sessions"], errors="coerce"),
             "n_interventions": indicators(cohort).sum(axis=1)}
    rows = []
    for column, (dose, groups) in DOSE_GROUPS.items():
        amount = doses[column]
        for stem, instrument in INSTRUMENTS.items():
            rule = mcid[stem]
            reached = mcid_reached(cohort[f"{stem}_start"], cohort[f"{stem}_{time}"], stem, rule.threshold,
                                   rule.definition)
            for label, low, high in groups:
                flags = reached[amount.between(low, high)].dropna()
                p = proportion(int(flags.sum()), int(len(flags)), confidence)
                rows.append({"dose": dose, "group": label, "measure": instrument.short, "stem": stem,
                             "time": TIMEPOINTS[time].label, "k": p.k, "n": p.n, "%": p.pct, "CI low": p.low,
                             "CI high": p.high})
    return pd.DataFrame(rows, columns=["dose", "group", "measure", "stem", "time", "k", "n", "%", "CI low",
                                       "CI high"])
