"""Every table of the book, built from the cohort in one place.

Tables hold aggregates only (counts, percentages, quantiles), never a patient
row, so that disclosure rules (for example small-cell suppression) can later be
applied here once for every page.
"""
from __future__ import annotations

import warnings

import pandas as pd

from . import config
from .analysis import derive
from .stats import mcid_summary, median_iqr, proportion_of, wilcoxon_change

#: Table 1 rows: column, label, kind ("mean", "median", "range", "yes" for 0/1, "levels").
TABLE1_ROWS = [
    ("age", "Age, years", "mean"),
    ("age_range", "Age, years", "range"),
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


def table1(cohort: pd.DataFrame):
    """Baseline characteristics with tableone: n and missing per variable, valid-n percentages."""
    from tableone import TableOne

    data = derive(cohort)
    data["age_range"] = data["age"]
    frame, labels, order, limit = pd.DataFrame(index=data.index), {}, {}, {}
    for column, label, kind in TABLE1_ROWS:
        values = data[column]
        if kind == "yes":
            values = pd.Categorical(values.map({1.0: "Yes", 0.0: "No"}), categories=["Yes", "No"])
            order[label], limit[label] = ["Yes", "No"], 1
        elif kind == "female":  # one row: the women
            values = values.cat.rename_categories(config.CATEGORY_LABELS)
            order[label], limit[label] = [config.CATEGORY_LABELS[c] for c in ("female", "male")], 1
        elif kind == "levels":
            values = values.cat.rename_categories(config.CATEGORY_LABELS)
        key = label if kind != "range" else label.replace("Age", "Age range")
        frame[key] = values
        labels[column] = key
    columns = list(frame.columns)
    kinds = {labels[c]: k for c, _, k in TABLE1_ROWS}
    with warnings.catch_warnings():
        # tableone 0.9.6 on pandas 3 warns about its own internals (Pandas4Warning).
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return TableOne(
            frame, columns=columns,
            categorical=[c for c in columns if kinds[c] in ("yes", "female", "levels")],
            nonnormal=[c for c in columns if kinds[c] == "median"],
            min_max=[c for c in columns if kinds[c] == "range"],
            order=order, limit=limit, missing=True, include_null=False,
            decimals={c: (1 if kinds[c] in ("mean",) else 0) for c in columns if kinds[c] not in ("yes", "female", "levels")},
        )


def interventions(cohort: pd.DataFrame) -> pd.DataFrame:
    """The ten intervention categories, in the published order: n, %, Wilson CI."""
    rows = []
    for column, label in config.INTERVENTIONS.items():
        p = proportion_of(cohort[column])
        rows.append({"category": label, "n": p.k, "of": p.n, "%": p.pct, "CI low": p.low, "CI high": p.high})
    return pd.DataFrame(rows)


def interventions_per_patient(cohort: pd.DataFrame) -> pd.DataFrame:
    """How many patients received 1, 2, ... of the ten categories."""
    counts = derive(cohort)["n_interventions"].value_counts().sort_index()
    return pd.DataFrame({"categories received": counts.index, "patients": counts.to_numpy(),
                         "%": 100 * counts.to_numpy() / len(cohort)})


def program(cohort: pd.DataFrame) -> pd.DataFrame:
    """Sessions and program length: n, median [Q1, Q3]."""
    data = derive(cohort)
    rows = []
    for column, label in (("n_sessions", "Sessions"), ("program_months", "Program length, months"),
                          ("n_interventions", "Intervention categories received")):
        median, q1, q3 = median_iqr(data[column])
        rows.append({"measure": label, "n": int(data[column].notna().sum()), "median": median, "Q1": q1, "Q3": q3})
    return pd.DataFrame(rows).set_index("measure")


def outcomes_over_time(cohort: pd.DataFrame) -> pd.DataFrame:
    """NPRS, DRI and EQ-VAS at start, discharge and 1 year: n, median [Q1, Q3]."""
    rows = []
    for stem, spec in config.OUTCOMES.items():
        for time, time_label in config.TIMEPOINTS.items():
            values = cohort[f"{stem}_{time}"]
            median, q1, q3 = median_iqr(values)
            rows.append({"measure": spec["short"], "time": time_label, "n": int(values.notna().sum()),
                         "median": median, "Q1": q1, "Q3": q3})
    return pd.DataFrame(rows)


def mcid(cohort: pd.DataFrame, thresholds: dict[str, float] | None = None) -> pd.DataFrame:
    """Share reaching the MCID at discharge and at 1 year: k / N (both values present), %, Wilson CI."""
    thresholds = thresholds or {}
    rows = []
    for stem, spec in config.OUTCOMES.items():
        threshold = thresholds.get(stem, config.MCID[stem]["threshold"])
        for time in ("discharge", "1y"):
            p = mcid_summary(cohort[f"{stem}_start"], cohort[f"{stem}_{time}"], stem, threshold)
            rows.append({"measure": spec["short"], "stem": stem, "time": config.TIMEPOINTS[time], "timepoint": time,
                         "MCID": threshold, "reached": p.k, "of": p.n, "%": p.pct, "CI low": p.low, "CI high": p.high})
    return pd.DataFrame(rows)


def change_tests(cohort: pd.DataFrame) -> pd.DataFrame:
    """Change from start (paired Wilcoxon signed-rank test, matched-pairs rank-biserial effect size)."""
    rows = []
    for stem, spec in config.OUTCOMES.items():
        for time in ("discharge", "1y"):
            w = wilcoxon_change(cohort[f"{stem}_start"], cohort[f"{stem}_{time}"])
            rows.append({"measure": spec["short"], "time": config.TIMEPOINTS[time], "pairs": w.n_pairs,
                         "median at start": w.median_start, "median later": w.median_later,
                         "median change": w.median_change, "W": w.statistic, "p": w.p_value,
                         "rank-biserial r": w.rank_biserial})
    return pd.DataFrame(rows)


def follow_up(cohort: pd.DataFrame) -> pd.DataFrame:
    """How many patients have each outcome at each time point (denominators)."""
    rows = {spec["short"]: [int(cohort[f"{stem}_{t}"].notna().sum()) for t in config.TIMEPOINTS]
            for stem, spec in config.OUTCOMES.items()}
    table = pd.DataFrame(rows, index=list(config.TIMEPOINTS.values())).T
    table.index.name = "measure"
    return table


def outcome_measures() -> pd.DataFrame:
    """The three outcome measures: scale, which direction is better, and the MCID in force."""
    return pd.DataFrame([
        {"measure": spec["label"], "scale": f"{spec['lo']}–{spec['hi']}",
         "better": "lower" if spec["higher_is_worse"] else "higher",
         "MCID (improvement of at least)": f"{config.MCID[stem]['threshold']:g}",
         "MCID source": config.MCID[stem]["source"]}
        for stem, spec in config.OUTCOMES.items()])


def describe_share(low_pct: float, high_pct: float) -> str:
    """Words for a range of shares, so the conclusion follows the numbers, not the other way round."""
    if 40 <= low_pct and high_pct <= 60:
        return "about half of the patients, as the poster concluded"
    if high_pct < 40:
        return "fewer than the poster's 'about half' of the patients"
    if low_pct > 60:
        return "more than the poster's 'about half' of the patients"
    return "a share that varies by measure around the poster's 'about half'"


def table1_frame(cohort: pd.DataFrame) -> pd.DataFrame:
    """Table 1 as a flat frame (characteristic, level, missing, all patients) for display and CSV."""
    frame = table1(cohort).tableone.reset_index()
    frame.columns = ["Characteristic", "Level", "Missing", f"All patients (n = {len(cohort)})"]
    frame = frame[frame["Characteristic"] != "n"]
    # tableone's min_max shows "mean [min,max]"; the published table gives the range alone.
    is_range = frame["Characteristic"].str.startswith("Age range")
    ages = cohort["age"].dropna()
    frame.loc[is_range, "Characteristic"] = "Age range, years, minimum–maximum"
    frame.loc[is_range, frame.columns[-1]] = f"{ages.min():.0f}–{ages.max():.0f}"
    frame["Characteristic"] = frame["Characteristic"].where(~frame["Characteristic"].duplicated(), "")
    frame["Level"] = frame["Level"].where(frame["Level"] != "Yes", "")
    return frame.reset_index(drop=True)


def headline(cohort: pd.DataFrame) -> dict:
    """The study at a glance, as plain Python values: what the pages glue and the tests check."""
    data = derive(cohort)
    women = proportion_of(data["sex"].astype(object).eq("female"))
    numbers = {"n_patients": len(cohort), "women_pct": float(women.pct),
               "age_mean": float(data["age"].mean()), "age_sd": float(data["age"].std()),
               "sessions_median": float(median_iqr(data["n_sessions"])[0]),
               "program_months_median": float(median_iqr(data["program_months"])[0]),
               "n_discharge": int(data[[f"{s}_discharge" for s in config.OUTCOMES]].notna().any(axis=1).sum()),
               "n_1y": int(data[[f"{s}_1y" for s in config.OUTCOMES]].notna().any(axis=1).sum())}
    for row in mcid(cohort).to_dict("records"):
        prefix = f"mcid_{row['stem']}_{row['timepoint']}"
        numbers.update({f"{prefix}_k": int(row["reached"]), f"{prefix}_n": int(row["of"]),
                        f"{prefix}_pct": float(row["%"]), f"{prefix}_low": float(row["CI low"]),
                        f"{prefix}_high": float(row["CI high"])})
    return numbers
