"""Were the patients lost to follow-up different at the start? Baseline by 1-year data.

The baseline characteristics of the patients WITH 1-year data (a 1-year value, with its
start value, on any measure: `flow.measured_one_year_any`) beside those WITHOUT, with
standardized mean differences (SMD), computed by tableone (``groupby``, ``smd=True``).

One sign convention everywhere: an SMD is (measured - lost), positive when the value or the
share is higher in the patients WITH 1-year data. For a number, tableone's (mean with - mean
without) / sqrt((SD_with^2 + SD_without^2) / 2) with SDs of ddof = 1, also for the variables
summarised by a median (the SMD uses means and SDs all the same); for a 0/1 variable (smokers,
women, ...), (p_with - p_without) / sqrt((p_with (1 - p_with) + p_without (1 - p_without)) / 2)
over the non-missing values, signed (tableone reports it unsigned, which hid that fewer smokers
were measured); for a category of three or more levels, tableone's Yang & Dalton (2012)
multi-level SMD, which has no sign (>= 0). ``|SMD|`` > 0.1 is the usual sign of a meaningful
imbalance (Austin 2009); the caller passes the threshold. The table adds the programme
(sessions, programme length) to the baseline characteristics (:data:`ATTRITION_ROWS`): they
are the largest imbalances in the synthetic cohort.

Percentages are of the patients with a value in that group (missing values are left out
and counted in the "missing" columns). A characteristic without any value gets one row
saying so ("no values"); a group without any value of a characteristic gets "no values"
in its cell and the SMD is NaN; when a whole group is empty (nobody lost, or nobody
measured) its cells say "no patients" and every SMD is NaN. No disclosure control is
applied here.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from contextlib import contextmanager

import pandas as pd

from .. import config
from ..memo import per_cohort
from .derive import derive
from .flow import measured_one_year_any

__all__ = ["ATTRITION_ROWS", "CHARACTERISTICS", "NO_PATIENTS", "NO_VALUES", "attrition_table", "imbalanced"]

#: The baseline characteristics (the paper's Table 2), defined once: the attrition table compares
#: them, and the baseline table (`BASELINE_ROWS` in the report layer) adds the age range to them.
#: (column of `derive(cohort)`, label, kind: "mean", "median", "yes" (0/1), "female", "levels").
CHARACTERISTICS: list[tuple[str, str, str]] = [
    ("age", "Age, years", "mean"),
    ("sex", "Women", "female"),
    ("bmi", "BMI, kg/m²", "mean"),
    ("smoker", "Smokers", "yes"),
    ("pain_duration_days", "Pain duration, days", "median"),
    ("pain_distribution", "Pain distribution", "levels"),
    ("main_pain_location", "Main pain location", "levels"),
    ("nprs_start", "Pain, NPRS 0–10", "median"),
    ("dri_start", "Disability, DRI 0–100", "median"),
    ("eqvas_start", "Overall health, EQ-VAS 0–100", "median"),
    ("low_pain_management", "Low ability to reduce pain (0–2 of 6)", "yes"),
    ("physically_active", "Physically active ≥ 150 min/week", "yes"),
    ("anxiety_depression", "Anxious or depressed", "yes"),
    ("n_goals", "Rehabilitation goals set at start", "median"),
]

#: What the attrition table compares: the baseline characteristics and the programme each patient had.
ATTRITION_ROWS: list[tuple[str, str, str]] = [
    *CHARACTERISTICS,
    ("n_sessions", "Sessions", "median"),
    ("program_months", "Programme length, months", "median"),
]

NO_VALUES = "no values"
NO_PATIENTS = "no patients"
WITH, WITHOUT = "with", "without"
COLUMNS = ["variable", "characteristic", "level", WITH, WITHOUT, "SMD", "missing with", "missing without"]
_SUFFIX = {"mean": "mean (SD)", "median": "median [Q1,Q3]", "yes": "n (%)", "female": "n (%)", "levels": "n (%)"}
_KINDS = set(_SUFFIX)


def _levels(data: pd.DataFrame, column: str, kind: str) -> list[str]:
    """The levels shown for a characteristic ([""] for a number)."""
    if kind == "yes":
        return ["Yes"]
    if kind == "female":
        return [config.CATEGORY_LABELS["female"]]
    if kind == "levels":
        return [config.CATEGORY_LABELS.get(c, str(c)) for c in data[column].cat.categories]
    return [""]


def _tableone_frame(data: pd.DataFrame, rows: Sequence[tuple[str, str, str]]):
    """tableone's input (labelled columns, categories relabelled) and its options."""
    frame, order, limit = pd.DataFrame(index=data.index), {}, {}
    for column, label, kind in rows:
        values = data[column]
        if kind == "yes":
            values = pd.Categorical(values.map({1.0: "Yes", 0.0: "No", 1: "Yes", 0: "No"}), categories=["Yes", "No"])
            order[label], limit[label] = ["Yes", "No"], 1
        elif kind == "female":
            values = values.cat.rename_categories(config.CATEGORY_LABELS)
            order[label], limit[label] = [config.CATEGORY_LABELS[c] for c in ("female", "male")], 1
        elif kind == "levels":
            values = values.cat.rename_categories(lambda c: config.CATEGORY_LABELS.get(c, str(c)))
        frame[label] = values
    return frame, order, limit


def plain_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its Categorical columns as plain text (NaN stays missing), for tableone.

    tableone 0.9.6 turns every categorical cell into text one at a time; on a Categorical each
    cell goes through pandas' element access, which made an attrition table of 10^5 patients
    take about 10 s. The levels' order still reaches it through the `order` option.
    """
    return frame.astype({column: object for column in frame.columns
                         if isinstance(frame[column].dtype, pd.CategoricalDtype)})


@contextmanager
def numpy_strings():
    """A context in which text is stored in NumPy object arrays (pandas 2's way), for tableone.

    pandas 3 stores text as its own string arrays; tableone's cell-by-cell loops over them go
    through pandas' element access, 18 million calls for an attrition table of 10^6 patients.
    Only tableone runs inside; what it returns is read cell by cell into this package's tables.
    pandas 3 deprecates the option (pandas 4 drops it), which it says once per use: not repeated.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*future.infer_string", category=DeprecationWarning)
        with pd.option_context("future.infer_string", False):
            yield


def _run_tableone(frame: pd.DataFrame, rows, order, limit, groupby: str | None):
    from tableone import TableOne

    labels = [label for _, label, _ in rows]
    kinds = {label: kind for _, label, kind in rows}
    with warnings.catch_warnings():
        # tableone 0.9.6 on pandas 3 warns about its own internals (Pandas4Warning), about a level
        # nobody has (put back by attrition_table), and numpy about a group without values of a
        # characteristic (that cell is replaced by "no values").
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings("ignore", "Order value not found", UserWarning)
        options = dict(
            columns=labels, categorical=[c for c in labels if kinds[c] in ("yes", "female", "levels")],
            nonnormal=[c for c in labels if kinds[c] == "median"], order=dict(order), limit=limit,
            missing=False, include_null=False, pval=False,
            decimals={c: (1 if kinds[c] == "mean" else 0) for c in labels if kinds[c] in ("mean", "median")})
        if groupby is not None:
            options.update(groupby=groupby, smd=True, overall=False)
            options["order"][groupby] = [WITHOUT, WITH]  # SMD columns are (second - first): with - without
        with numpy_strings():
            return TableOne(plain_categories(frame), **options)


def _cells(table, column_for: dict[str, str]) -> dict[tuple[str, str], dict[str, str]]:
    """{(row label, level): {group: cell}} from a TableOne's display table."""
    flat = table.tableone.copy()
    flat.columns = [c[-1] if isinstance(c, tuple) else c for c in flat.columns]
    cells = {}
    for (label, level), row in flat.iterrows():
        cells[(str(label), str(level))] = {group: str(row[name]) for group, name in column_for.items()}
    return cells


@per_cohort
def attrition_table(cohort: pd.DataFrame, rows: Sequence[tuple[str, str, str]] = ATTRITION_ROWS,
                    measured: pd.Series | None = None) -> pd.DataFrame:
    """Baseline characteristics of the patients with and without 1-year data, with SMDs.

    `rows`: (column of ``derive(cohort)``, label, kind) for each characteristic (default
    :data:`ATTRITION_ROWS`). `measured`: who counts as "with" (boolean, indexed like the
    cohort); default: a 1-year value on any measure (`flow.measured_one_year_any`).

    Returns one row per shown level: variable (column name; "" for the n row),
    characteristic (tableone's label with its statistic, e.g. "Age, years, mean (SD)"),
    level ("" for numbers; "Yes" for 0/1 variables, "Women" for sex, every level of a
    category), with, without (tableone's text: "42.5 (13.0)", "125 (70.2)"), SMD (float,
    on the first row of each characteristic, NaN elsewhere; measured - lost, see the module
    docstring), missing with, missing
    without (patients without a value, per group, on every row of the characteristic).
    The first row is the group sizes (characteristic "n").
    """
    for column, _, kind in rows:
        if kind not in _KINDS:
            raise ValueError(f"{column}: kind must be one of {sorted(_KINDS)}, not {kind!r}")
    data = derive(cohort)
    measured = (measured_one_year_any(cohort) if measured is None
                else measured.reindex(data.index, fill_value=False).astype(bool))
    group = pd.Series(WITHOUT, index=data.index).where(~measured.astype(bool), WITH)
    sizes = {WITH: int((group == WITH).sum()), WITHOUT: int((group == WITHOUT).sum())}
    present = [row for row in rows if data[row[0]].notna().any()]
    frame, order, limit = _tableone_frame(data, present)

    cells, smd = {}, {}
    if present and sizes[WITH] and sizes[WITHOUT]:
        frame["_group"] = pd.Categorical(group, categories=[WITHOUT, WITH])
        table = _run_tableone(frame, present, order, limit, "_group")
        cells = _cells(table, {WITH: WITH, WITHOUT: WITHOUT})
        smd = {label: float(value) for label, value in table.smd_table.iloc[:, 0].items()}
        for column, label, kind in present:  # tableone's SMD of a 0/1 variable has no sign: give it one
            if kind in ("yes", "female"):
                smd[label] = signed_binary_smd(_indicator(data[column], kind), group == WITH)
    elif present and len(data):  # one group is everybody: its summary is the overall one
        full = WITH if sizes[WITH] else WITHOUT
        cells = {key: {full: value["Overall"]}
                 for key, value in _cells(_run_tableone(frame, present, order, limit, None),
                                          {"Overall": "Overall"}).items()}

    out = [{"variable": "", "characteristic": "n", "level": "", WITH: str(sizes[WITH]),
            WITHOUT: str(sizes[WITHOUT]), "SMD": math.nan, "missing with": 0, "missing without": 0}]
    for column, label, kind in rows:
        values = data[column]
        missing = {g: int(values[group == g].isna().sum()) for g in (WITH, WITHOUT)}
        valid = {g: sizes[g] - missing[g] for g in (WITH, WITHOUT)}
        name = f"{label}, {_SUFFIX[kind]}"
        for i, level in enumerate(_levels(data, column, kind)):
            row = {"variable": column, "characteristic": name, "level": level}
            for g in (WITH, WITHOUT):
                if sizes[g] == 0:
                    row[g] = NO_PATIENTS
                elif valid[g] == 0:
                    row[g] = NO_VALUES
                else:  # a level nobody in either group has is left out by tableone: 0 of the valid values
                    row[g] = cells.get((name, level), {}).get(g, "0 (0.0)")
            both = all(valid[g] > 0 for g in (WITH, WITHOUT))
            row["SMD"] = smd.get(label, math.nan) if i == 0 and both else math.nan
            row["missing with"], row["missing without"] = missing[WITH], missing[WITHOUT]
            out.append(row)
    return pd.DataFrame(out, columns=COLUMNS)


def _indicator(values: pd.Series, kind: str) -> pd.Series:
    """1.0 for the level a 0/1 row shows ("Yes", "Women"), 0.0 otherwise, NaN when missing."""
    if kind == "female":
        return (values.astype(object) == "female").astype(float).where(values.notna())
    return values.astype("Float64").astype(float)


def signed_binary_smd(indicator: pd.Series, measured: pd.Series) -> float:
    """SMD of a 0/1 variable, measured - lost: (p1 - p0) / sqrt((p1 (1 - p1) + p0 (1 - p0)) / 2).

    Missing values are left out; NaN when a group has no value, 0 when the shares are equal,
    NaN when they differ but neither group varies (all 1 against all 0: no finite SMD).
    """
    measured = measured.astype(bool)
    with_values, without_values = indicator[measured].dropna(), indicator[~measured].dropna()
    if with_values.empty or without_values.empty:
        return math.nan
    p1, p0 = float(with_values.mean()), float(without_values.mean())
    pooled = math.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    if pooled == 0:
        return 0.0 if p1 == p0 else math.nan
    return (p1 - p0) / pooled


def imbalanced(table: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The characteristics of an :func:`attrition_table` whose ``|SMD|`` exceeds `threshold`.

    Columns: variable, characteristic, SMD (as in the table: signed, measured - lost, for numbers
    and 0/1 variables; >= 0 for categories of three or more levels), ``|SMD|``; sorted by ``|SMD|``, largest first. Characteristics without an SMD
    (NaN) are left out. Empty (with these columns) when none exceeds the threshold.
    """
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0, got {threshold!r}")
    rows = table[table["SMD"].notna()][["variable", "characteristic", "SMD"]].copy()
    rows["SMD"] = rows["SMD"].astype(float)
    rows["|SMD|"] = rows["SMD"].abs()
    rows = rows[rows["|SMD|"] > threshold]
    return rows.sort_values("|SMD|", ascending=False, kind="stable").reset_index(drop=True)
