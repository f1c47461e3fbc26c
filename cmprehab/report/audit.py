"""The reproduction audit: every published number beside what the current data yields.

The published numbers come from `data.targets`; MCID shares follow the study parameters,
and disclosure control hides on confidential data what the tables hide.
"""
from __future__ import annotations

import math

import pandas as pd

from .. import config
from ..memo import per_cohort
from .. import params as study
from ..analysis.derive import derive
from ..analysis.stats import mcid_summary, median_iqr, round_half_up
from ..data.targets import calibration_rules, load_targets
from ..instruments import INSTRUMENTS
from ..params import McidRule, Params
from . import disclosure, tables
from .disclosure import Policy

STATUS_MATCH, STATUS_DIFF, STATUS_ASSUMED = "matches", "differs", "not published (assumption)"
#: Facts of the design (such as the inclusion years) that a patient file cannot yield.
STATUS_REPORTED = "reported (not in the data)"
#: A result of the follow-on paper: compared, with this project's stand-ins, in the fidelity report.
STATUS_FOLLOW_ON = "follow-on paper (see the fidelity report)"
#: Computed, but not shown: disclosure control on confidential data (see cmprehab.disclosure).
STATUS_WITHHELD = "withheld (disclosure control)"


def assumptions(params: Params | None = None) -> pd.DataFrame:
    """What this project assumed: the MCID in force (study parameters) and the unpublished targets."""
    params = params or study.current()
    rows = [{"what": f"MCID, {instrument.short}", "value": params.mcid[stem].describe(instrument.unit),
             "where": f"params.yml (mcid.{stem})",
             "basis": instrument.mcid_basis(params.mcid[stem].threshold, params.mcid[stem].definition)[0]}
            for stem, instrument in INSTRUMENTS.items()]
    targets = load_targets()
    rows += [{"what": t.label, "value": f"{t.value:g}", "where": f"data/published.csv ({t.key})",
              "basis": ("the generator's calibration, not the report's MCID" if t.statistic == "calibration"
                        else "not published; chosen for the synthetic cohort")}
             for t in targets[targets["assumption"]].itertuples(index=False)]
    return pd.DataFrame(rows)


def _level_mask(series: pd.Series, level: str) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype) or series.dtype == object or pd.api.types.is_string_dtype(series):
        return series.astype(object) == level
    return series == float(level)


def compute(data: pd.DataFrame, variable: str, statistic: str, level: str = "",
            params: Params | None = None) -> float:
    """One statistic of the derived cohort `data` (see `analysis.derive`); MCID shares under `params`."""
    if statistic == "mcid_pct":
        params = params or study.current()
        rule = params.mcid[variable]
        return mcid_summary(data[f"{variable}_start"], data[f"{variable}_{level}"], variable, rule.threshold,
                            params.confidence, rule.definition).pct
    series = data[variable]
    valid = series.dropna()
    if statistic == "count":
        return float(len(valid))
    if statistic in ("n", "pct"):
        k = float(_level_mask(valid, level).sum())
        return k if statistic == "n" else (100 * k / len(valid) if len(valid) else math.nan)
    numbers = valid.astype(float)
    if statistic in ("median", "q1", "q3"):
        median, q1, q3 = median_iqr(numbers)
        return {"median": median, "q1": q1, "q3": q3}[statistic]
    if statistic == "mean":
        return float(numbers.mean())
    if statistic == "sd":
        return float(numbers.std(ddof=1))
    if statistic == "min":
        return float(numbers.min())
    if statistic == "max":
        return float(numbers.max())
    raise ValueError(f"unknown statistic {statistic!r} in {config.PUBLISHED_TARGETS.name}")


def withheld_label(data: pd.DataFrame, variable: str, statistic: str, level: str, policy: Policy,
                   mcid_table: pd.DataFrame) -> str | None:
    """What disclosure control shows instead of this statistic, or None when it may be shown.

    The labels come from the same partitions as the tables (`tables.variable_labels`,
    `tables.measured_label`, `tables.mcid`), so the audit never reveals what a table hides.
    """
    if not policy.active:
        return None
    if statistic in ("min", "max"):
        return disclosure.WITHHELD  # a single patient's value
    if statistic == "mcid_pct":
        row = mcid_table[(mcid_table["stem"] == variable) & (mcid_table["timepoint"] == level)].iloc[0]
        return row["%"] if isinstance(row["%"], str) else None
    if statistic == "count" and variable == "patient_id":
        return None
    categorical = variable in config.CATEGORIES or set(data[variable].dropna().unique()) <= {0.0, 1.0}
    if statistic == "count":  # released rounded, as the tables show it
        return None if categorical else tables.measured_label(data, variable, policy)
    if statistic in ("n", "pct"):
        label = tables.variable_labels(data, variable, policy)[level if variable in config.CATEGORIES else float(level)]
        return label if statistic == "n" or label is None else disclosure.WITHHELD
    return disclosure.WITHHELD if disclosure.too_few(int(data[variable].notna().sum()), policy) else None


#: Statistics that are counts of patients or shares of them: released rounded on confidential data.
RELEASED = ("count", "n", "pct", "mcid_pct")
ROUNDED_NOTE = "counts rounded to a multiple of k (disclosure control)"


def released_statistic(data: pd.DataFrame, target, policy: Policy, mcid_table: pd.DataFrame) -> float:
    """A count as released (`disclosure.released`), or a share of released counts, on confidential data."""
    if target.statistic == "mcid_pct":
        row = mcid_table[(mcid_table["stem"] == target.variable) & (mcid_table["timepoint"] == target.level)]
        return float(row["%"].iloc[0])
    valid = data[target.variable].dropna()
    total = len(data) if target.variable == "patient_id" else len(valid)
    if target.statistic == "count":
        return float(disclosure.released(total, policy))
    k = int(_level_mask(valid, target.level).sum())
    if target.statistic == "n":
        return float(disclosure.released(k, policy))
    share = disclosure.percent(k, len(valid), policy)
    return math.nan if isinstance(share, str) else float(share)


def formatted(audit_table: pd.DataFrame) -> pd.DataFrame:
    """The audit for reading: values at their published decimals, as text (withheld ones as their label)."""
    def show(value, decimals):
        return "" if pd.isna(value) else f"{value:.{decimals}f}"
    out = audit_table[["label", "published", "computed", "source", "status", "note"]].copy()
    out["published"] = [show(v, d) for v, d in zip(audit_table["published"], audit_table["decimals"])]
    out["computed"] = [label if isinstance(label, str) else show(v, d) for v, d, label in
                       zip(audit_table["computed"], audit_table["decimals"], audit_table["shown as"])]
    return out


def parameter_note(variable: str, params: Params, calibration: dict[str, McidRule]) -> str:
    """Why an MCID share is computed under another rule than the one that reproduces the publication."""
    rule, calibrated = params.mcid[variable], calibration[variable]
    if rule == calibrated:
        return ""
    unit = INSTRUMENTS[variable].unit
    return (f"study parameter mcid.{variable} is {rule.describe(unit)} in this build; the published share "
            f"was reproduced at {calibrated.describe(unit)}")


@per_cohort
def audit(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """Every published target beside the value the cohort yields, at the published precision.

    MCID shares follow the study parameters; where a parameter differs from the rule under
    which the publication was reproduced, the row's note names it. Under disclosure control
    a value the tables would hide is not compared either: its status says it was withheld,
    and "shown as" holds its label.
    """
    params = params or study.current()
    policy = disclosure.policy(cohort) if policy is None else policy
    data = derive(cohort)
    mcid_table = tables.mcid(cohort, params=params, policy=policy)
    targets = load_targets()
    calibration = calibration_rules(targets)
    rows = []
    for t in targets.itertuples(index=False):
        row = {"key": t.key, "section": t.section, "label": t.label, "published": t.value,
               "computed": math.nan, "decimals": int(t.decimals), "source": t.source, "shown as": None, "note": ""}
        if t.statistic in ("reported", "calibration") or t.statistic.startswith("risk_ratio"):
            # reported: a design fact no patient file yields; calibration: a setting of the
            # synthetic-cohort generator (an assumption), not a statistic of the data; risk ratios:
            # the follow-on paper, compared with this project's stand-in outcomes in the fidelity report.
            status = {"reported": STATUS_REPORTED, "calibration": STATUS_ASSUMED}.get(t.statistic, STATUS_FOLLOW_ON)
            rows.append({**row, "status": status})
            continue
        if t.statistic == "mcid_pct":
            row["note"] = parameter_note(t.variable, params, calibration)
        label = withheld_label(data, t.variable, t.statistic, t.level, policy, mcid_table)
        if label is not None:
            rows.append({**row, "shown as": label, "status": STATUS_WITHHELD})
            continue
        if policy.active and t.statistic in RELEASED:
            # Confidential data: counts as released (rounded) and shares of them, compared with the
            # published value released alike; an exact count could undo the rounding of the others.
            computed, published = released_statistic(data, t, policy, mcid_table), t.value
            if t.statistic in ("count", "n"):
                published = disclosure.released(int(t.value), policy)
            rounded = round_half_up(computed, int(t.decimals))
            matched = rounded == (published if t.statistic in ("count", "n") else t.value)
            row["note"] = (row["note"] + "; " if row["note"] else "") + ROUNDED_NOTE
        else:
            rounded = round_half_up(compute(data, t.variable, t.statistic, t.level, params), int(t.decimals))
            matched = rounded == t.value
        status = STATUS_ASSUMED if t.assumption else STATUS_MATCH if matched else STATUS_DIFF
        rows.append({**row, "computed": rounded, "status": status})
    return pd.DataFrame(rows)
