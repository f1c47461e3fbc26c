"""Every table of the book, built from the cohort in one place.

Tables hold aggregates only (counts, percentages, quantiles), never a patient
row. Disclosure control (`cmprehab.disclosure`) is applied here, once for every
page, download and figure: on confidential data a withheld cell holds its label
("<5" or "withheld") instead of a number, and a figure leaves it out.
"""
from __future__ import annotations

import warnings

import pandas as pd

from .. import config
from .. import params as study
from ..analysis.attrition import CHARACTERISTICS, numpy_strings, plain_categories
from ..analysis.derive import derive
from ..analysis.stats import mcid_reached, median_iqr, wilcoxon_change
from ..data.schema import FIELD_BY_NAME
from ..instruments import INSTRUMENTS, LATER, TIMEPOINTS
from ..params import Params
from . import disclosure
from .disclosure import WITHHELD, Policy

#: Rows of the baseline table (the paper's Table 2): column, label, kind ("mean", "median", "range", "yes" for 0/1, "levels").
#: Pain duration is shown in years (days / config.DAYS_PER_YEAR, `derive`), as the prose and the figure give it.
PAIN_DURATION_ROW = ("pain_duration_years", "Pain duration, years", "median")
BASELINE_ROWS = [CHARACTERISTICS[0], ("age_range", "Age, years", "range"),
                 *(PAIN_DURATION_ROW if row[0] == "pain_duration_days" else row for row in CHARACTERISTICS[1:])]


#: How tableone names each kind of row, used for a variable that has no value at all.
_SUFFIX = {"mean": "mean (SD)", "median": "median [Q1,Q3]", "range": "minimum–maximum",
           "yes": "n (%)", "female": "n (%)", "levels": "n (%)"}
#: Levels counted for each kind of categorical row (1.0 = "yes" of a 0/1 variable).
_LEVELS = {"yes": [1.0, 0.0], "female": ["female", "male"]}
#: Derived baseline rows and the column they come from (whether it may be empty).
_SOURCE = {"age_range": "age", "low_pain_management": "pain_management", "pain_duration_years": "pain_duration_days"}
NO_VALUES = "no values in this file"


def _row_key(label: str, kind: str) -> str:
    return label.replace("Age", "Age range") if kind == "range" else label


def baseline_tableone(cohort: pd.DataFrame, rows: list[tuple[str, str, str]] | None = None):
    """Baseline characteristics with tableone: n and missing per variable, valid-n percentages.

    `rows` defaults to every BASELINE_ROWS entry; tableone cannot summarise a variable
    without any value, so `baseline_table` passes only those that have one.
    """
    from tableone import TableOne

    data = derive(cohort)
    data["age_range"] = data["age"]
    frame, labels, order, limit = pd.DataFrame(index=data.index), {}, {}, {}
    for column, label, kind in rows or BASELINE_ROWS:
        values = data[column]
        if kind == "yes":
            values = pd.Categorical(values.map({1.0: "Yes", 0.0: "No"}), categories=["Yes", "No"])
            order[label], limit[label] = ["Yes", "No"], 1
        elif kind == "female":  # one row: the women
            values = values.cat.rename_categories(config.CATEGORY_LABELS)
            order[label], limit[label] = [config.CATEGORY_LABELS[c] for c in ("female", "male")], 1
        elif kind == "levels":
            values = values.cat.rename_categories(config.CATEGORY_LABELS)
        key = _row_key(label, kind)
        frame[key] = values
        labels[column] = key
    columns = list(frame.columns)
    kinds = {labels[c]: k for c, _, k in rows or BASELINE_ROWS}
    with warnings.catch_warnings(), numpy_strings():
        # tableone 0.9.6 on pandas 3 warns about its own internals (Pandas4Warning).
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        # tableone leaves out (and warns about) a level nobody has; _every_level puts it back.
        warnings.filterwarnings("ignore", "Order value not found", UserWarning)
        return TableOne(
            plain_categories(frame), columns=columns,
            categorical=[c for c in columns if kinds[c] in ("yes", "female", "levels")],
            nonnormal=[c for c in columns if kinds[c] == "median"],
            min_max=[c for c in columns if kinds[c] == "range"],
            order=order, limit=limit, missing=True, include_null=False,
            # years of pain to one decimal (2.8, as published); other medians are whole scale points
            decimals={c: (1 if kinds[c] in ("mean",) or c == PAIN_DURATION_ROW[1] else 0)
                      for c in columns if kinds[c] not in ("yes", "female", "levels")},
        )


def _share_cells(k: int, n: int, label: str | None, confidence: float, policy: Policy) -> dict:
    """n, %, CI of k out of n, from the released counts (`disclosure.share`); or the count's label
    and the rest withheld."""
    p = None if label is not None else disclosure.share(k, n, policy, confidence)
    if p is None:
        return {"n": disclosure.count(k, label, policy), "%": WITHHELD, "CI low": WITHHELD, "CI high": WITHHELD}
    return {"n": p.k, "%": p.pct, "CI low": p.low, "CI high": p.high}


def interventions(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """The ten intervention categories, in the published order: n, %, Wilson CI (of all patients)."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    rows = []
    for column, label in config.INTERVENTIONS.items():
        values = cohort[column].dropna()
        k, n = int(values.sum()), int(len(values))
        cells = _share_cells(k, n, disclosure.protect_subset(k, n, policy), params.confidence, policy)
        rows.append({"category": label, "n": cells["n"], "of": disclosure.released(n, policy),
                     **{c: cells[c] for c in ("%", "CI low", "CI high")}})
    return pd.DataFrame(rows)


def interventions_per_patient(cohort: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """How many patients received 0, 1, ... 10 of the ten categories (every row, zeros included)."""
    policy = disclosure.policy(cohort, policy)
    received = derive(cohort)["n_interventions"]
    counts = {n: int((received == n).sum()) for n in range(len(config.INTERVENTIONS) + 1)}
    labels = disclosure.protect(counts, policy)
    return pd.DataFrame({"categories received": list(counts),
                         "patients": [disclosure.count(n, labels[c], policy) for c, n in counts.items()],
                         "%": [disclosure.shown(disclosure.percent(n, len(cohort), policy), labels[c] and WITHHELD)
                               for c, n in counts.items()]})


def _quantile_cells(values: pd.Series, label: str | None, policy: Policy) -> dict:
    """n, median, Q1, Q3 of the non-missing values: n shown or labelled; summaries of fewer than k withheld."""
    n = int(values.notna().sum())
    if disclosure.too_few(n, policy):
        return {"n": label, "median": WITHHELD, "Q1": WITHHELD, "Q3": WITHHELD}
    median, q1, q3 = median_iqr(values)
    return {"n": disclosure.count(n, label, policy), "median": median, "Q1": q1, "Q3": q3}


def program(cohort: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """Sessions and program length: n, median [Q1, Q3]."""
    policy = disclosure.policy(cohort, policy)
    data = derive(cohort)
    rows = []
    for column, label in (("n_sessions", "Sessions"), ("program_months", "Program length, months"),
                          ("n_interventions", "Intervention categories received")):
        n = int(data[column].notna().sum())
        rows.append({"measure": label,
                     **_quantile_cells(data[column], disclosure.protect_measured(n, len(data), policy), policy)})
    return pd.DataFrame(rows).set_index("measure")


def measured_label(cohort: pd.DataFrame, column: str, policy: Policy) -> str | None:
    """The disclosure label of "patients with a value in `column`" (its complement is derivable from n)."""
    return disclosure.protect_measured(int(cohort[column].notna().sum()), len(cohort), policy)


def outcomes_over_time(cohort: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """NPRS, DRI and EQ-VAS at start, discharge and 1 year: n, median [Q1, Q3]."""
    policy = disclosure.policy(cohort, policy)
    rows = []
    for stem, instrument in INSTRUMENTS.items():
        for time, point in TIMEPOINTS.items():
            column = f"{stem}_{time}"
            rows.append({"measure": instrument.short, "time": point.label,
                         **_quantile_cells(cohort[column], measured_label(cohort, column, policy), policy)})
    return pd.DataFrame(rows)


def mcid(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """Share reaching the MCID at discharge and at 1 year: k of n (both values present), %, Wilson CI.

    The MCID of each instrument (threshold and definition) comes from the study parameters.
    Under disclosure control a row whose n is withheld is withheld whole; otherwise
    "reached" and "not reached" form a partition of n.
    """
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    rows = []
    for stem, instrument in INSTRUMENTS.items():
        rule = params.mcid[stem]
        for time in LATER:
            reached = mcid_reached(cohort[f"{stem}_start"], cohort[f"{stem}_{time}"], stem, rule.threshold,
                                   rule.definition).dropna()
            k, n = int(reached.sum()), int(len(reached))
            row = {"measure": instrument.short, "stem": stem, "time": TIMEPOINTS[time].label, "timepoint": time,
                   "MCID": rule.describe(instrument.unit)}
            n_label = measured_label(cohort, f"{stem}_{time}", policy)
            if n_label is not None:
                row.update({"reached": WITHHELD, "of": n_label, "%": WITHHELD, "CI low": WITHHELD,
                            "CI high": WITHHELD})
            else:
                cells = _share_cells(k, n, disclosure.protect_subset(k, n, policy), params.confidence, policy)
                row.update({"reached": cells["n"], "of": disclosure.released(n, policy),
                            **{c: cells[c] for c in ("%", "CI low", "CI high")}})
            rows.append(row)
    return pd.DataFrame(rows)


def change_tests(cohort: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """Change from start (paired Wilcoxon signed-rank test, matched-pairs rank-biserial effect size)."""
    policy = disclosure.policy(cohort, policy)
    rows = []
    for stem, instrument in INSTRUMENTS.items():
        for time in LATER:
            w = wilcoxon_change(cohort[f"{stem}_start"], cohort[f"{stem}_{time}"])
            # W is withheld on confidential data: with r it gives the number of nonzero changes back.
            row = {"measure": instrument.short, "time": TIMEPOINTS[time].label,
                   "pairs": disclosure.released(w.n_pairs, policy),
                   "median at start": w.median_start, "median later": w.median_later,
                   "median change": w.median_change, "W": WITHHELD if policy.active else w.statistic,
                   "p": w.p_value, "rank-biserial r": w.rank_biserial}
            label = measured_label(cohort, f"{stem}_{time}", policy)
            if label is not None:
                row = {**{key: WITHHELD for key in row}, "measure": row["measure"], "time": row["time"],
                       "pairs": label}
            rows.append(row)
    return pd.DataFrame(rows)


def follow_up(cohort: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """How many patients have each outcome at each time point (denominators)."""
    policy = disclosure.policy(cohort, policy)
    rows = {instrument.short: [disclosure.count(int(cohort[f"{stem}_{t}"].notna().sum()),
                                                measured_label(cohort, f"{stem}_{t}", policy), policy)
                               for t in TIMEPOINTS]
            for stem, instrument in INSTRUMENTS.items()}
    table = pd.DataFrame(rows, index=[t.label for t in TIMEPOINTS.values()]).T
    table.index.name = "measure"
    return table


def outcome_measures(params: Params | None = None) -> pd.DataFrame:
    """The three outcome measures: scale, which direction is better, and the MCID in force with its basis."""
    params = params or study.current()
    rows = []
    for stem, instrument in INSTRUMENTS.items():
        rule, default = params.mcid[stem], study.DEFAULTS.mcid[stem]
        basis = instrument.mcid_basis(rule.threshold, rule.definition)[0]
        if rule != default:
            basis += f"; set by this build's study parameters (default {default.describe(instrument.unit)})"
        rows.append({"measure": instrument.label, "scale": instrument.scale, "better": instrument.better,
                     "MCID (improvement of at least)": rule.describe(instrument.unit), "MCID basis": basis})
    return pd.DataFrame(rows)


def describe_share(intervals: list[tuple[float, float]]) -> str:
    """Words for several shares, judged by their confidence intervals (low, high, in %), so the
    conclusion follows the numbers: "about half" only where every interval includes 50 %."""
    if not intervals:
        return "not available: no share could be computed or shown"
    if all(low <= 50 <= high for low, high in intervals):
        return "consistent with the poster's 'about half' of the patients measured: every confidence interval includes 50 %"
    if all(high < 50 for _, high in intervals):
        return "fewer than half of the patients measured: every confidence interval lies below 50 %"
    if all(low > 50 for low, _ in intervals):
        return "more than half of the patients measured: every confidence interval lies above 50 %"
    return "a share that differs by measure: some confidence intervals include 50 %, others do not"


def baseline_table(cohort: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """The baseline table (the paper's Table 2) as a flat frame (characteristic, level, missing, all patients) for display and CSV.

    A variable without any value gets one row saying so. Under disclosure control,
    each variable's levels and missing values form one partition (`disclosure.protect`),
    the age range becomes the 5th–95th percentile, and the structurally empty
    missing counts of required columns are left blank.
    """
    policy = disclosure.policy(cohort, policy)
    data = derive(cohort)
    data["age_range"] = data["age"]
    present = [row for row in BASELINE_ROWS if data[row[0]].notna().any()]
    value = f"All patients (n = {disclosure.released(len(cohort), policy)})"
    frame = baseline_tableone(cohort, present).tableone.reset_index() if present else pd.DataFrame()
    frame.columns = ["Characteristic", "Level", "Missing", value][: len(frame.columns)]
    pieces = []
    for column, label, kind in BASELINE_ROWS:
        key = _row_key(label, kind)
        rows = frame[frame["Characteristic"].str.startswith(key + ",")].copy() if len(frame) else frame
        if rows.empty:
            rows = pd.DataFrame([{"Characteristic": f"{key}, {_SUFFIX[kind]}", "Level": "",
                                  "Missing": len(data), value: NO_VALUES}])
        elif kind == "range":  # tableone shows "mean [min,max]"; the published table gives the range alone
            low, high, what = disclosure.value_range(data["age"], policy)
            rows["Characteristic"] = f"Age range, years, {what}"
            rows[value] = f"{low:.0f}–{high:.0f}"
        elif kind in _LEVELS or kind == "levels":
            rows = _every_level(rows, column, kind, value)
        rows["Missing"] = [int(data[column].isna().sum())] + [""] * (len(rows) - 1)
        if policy.active and rows[value].iloc[0] != NO_VALUES:  # "no values" tells nothing of a patient
            rows = _protect_baseline_rows(rows, data, column, kind, value, policy)
        pieces.append(rows)
    frame = pd.concat(pieces, ignore_index=True)
    frame["Characteristic"] = frame["Characteristic"].where(~frame["Characteristic"].duplicated(), "")
    frame["Level"] = frame["Level"].where(frame["Level"] != "Yes", "")
    return frame


def may_be_empty(column: str) -> bool:
    """Whether a (possibly derived) column may hold missing values by the schema."""
    return not FIELD_BY_NAME[_SOURCE.get(column, column)].required


def variable_labels(data: pd.DataFrame, column: str, policy: Policy) -> dict:
    """Disclosure labels of one categorical or 0/1 variable: its levels and its missing cell.

    The one partition every table, figure and audit row uses for this variable.
    """
    levels = config.CATEGORIES.get(column) or _LEVELS["yes"]
    return disclosure.protect(disclosure.level_counts(data[column], levels, may_be_empty(column)), policy)


def _every_level(rows: pd.DataFrame, column: str, kind: str, value: str) -> pd.DataFrame:
    """The rows a categorical variable shows (all its levels; "Yes" or "Women" alone), zeros included.

    tableone leaves out a level nobody has, and with limit=1 would show "No" when nobody says yes.
    """
    wanted = {"yes": ["Yes"], "female": [config.CATEGORY_LABELS["female"]]}.get(
        kind, [config.CATEGORY_LABELS[c] for c in config.CATEGORIES.get(column, [])])
    found = rows.set_index("Level")
    name = rows["Characteristic"].iloc[0]
    return pd.DataFrame([{"Characteristic": name, "Level": level,
                          value: found.loc[level, value] if level in found.index else "0 (0.0)"}
                         for level in wanted])


def _protect_baseline_rows(rows: pd.DataFrame, data: pd.DataFrame, column: str, kind: str, value: str,
                         policy: Policy) -> pd.DataFrame:
    """One variable's rows of the baseline table with its small cells replaced by their labels."""
    rows = rows.astype(object)
    values = data[column]
    empty_allowed = may_be_empty(column)
    if kind in ("yes", "female", "levels"):
        labels = variable_labels(data, column, policy)
        counts = disclosure.level_counts(values, config.CATEGORIES.get(column) or _LEVELS["yes"], empty_allowed)
        shown_level = {"Yes": 1.0, **{config.CATEGORY_LABELS[c]: c for c in labels if isinstance(c, str)
                                      and c in config.CATEGORY_LABELS}}
        # tableone's "n (%)" again, from the released counts: % of those with a value, as tableone gives it.
        valid = disclosure.released(int(values.notna().sum()), policy)
        for index, level in rows["Level"].items():
            key = shown_level.get(level)
            n = disclosure.count(counts[key], labels.get(key), policy)
            rows.loc[index, value] = (f"{n} ({100 * n / valid:.1f})" if isinstance(n, int) and isinstance(valid, int)
                                      and valid else n if isinstance(n, str) else WITHHELD)
    else:
        valid = int(values.notna().sum())
        labels = disclosure.protect({"valid": valid, disclosure.MISSING: len(values) - valid}, policy)
        if disclosure.too_few(valid, policy):
            rows[value] = WITHHELD
    # A required column's missing count is zero by the schema, not a result: left blank.
    missing = (disclosure.count(int(values.isna().sum()), labels.get(disclosure.MISSING), policy)
               if empty_allowed else "")
    rows["Missing"] = pd.Series([missing] + [""] * (len(rows) - 1), index=rows.index, dtype=object)
    return rows


def cooccurrence_display(table: pd.DataFrame) -> pd.DataFrame:
    """The co-occurrence matrix (`who_benefits.cooccurrence`) as a readable table: each row named
    by its number and category, the columns by the same numbers (ten full names across would not
    fit a page), as the heat map numbers them."""
    out = table.copy()
    out.columns = [str(i) for i in range(1, len(table.columns) + 1)]
    out.index = pd.Index([f"{i}. {label}" for i, label in enumerate(table.index, start=1)], name="Category")
    return out
