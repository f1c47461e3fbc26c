"""How much the headline depends on the MCID threshold, and what changed in the same patients:
the tables of the sensitivity chapter, with disclosure control applied here (as in `tables`).

The computations are the analysis layer's (`analysis.thresholds`, `analysis.paired`).
"""
from __future__ import annotations

import pandas as pd

from .. import params as study
from ..analysis import paired as paired_analysis
from ..analysis import thresholds as threshold_analysis
from ..analysis.stats import mcid_reached
from ..instruments import INSTRUMENTS, LATER
from ..params import Params
from . import disclosure
from .disclosure import WITHHELD, Policy
from .tables import measured_label


def _shown_mcid_counts(cohort: pd.DataFrame, params: Params, policy: Policy) -> dict:
    """(stem, time) -> the count reaching this build's MCID, where the outcome table shows it."""
    shown = {}
    for stem in INSTRUMENTS:
        rule = params.mcid[stem]
        for time in LATER:
            if measured_label(cohort, f"{stem}_{time}", policy) is not None:
                continue
            reached = mcid_reached(cohort[f"{stem}_start"], cohort[f"{stem}_{time}"], stem, rule.threshold,
                                   rule.definition).dropna()
            k, n = int(reached.sum()), int(len(reached))
            if disclosure.protect_subset(k, n, policy) is None:
                shown[(stem, time, rule.definition)] = k
    return shown


def _spaced(frame: pd.DataFrame, fixed_counts: dict, policy: Policy) -> pd.Series:
    """Mask of the rows (one cumulative curve per measure, time and kind) that may be shown."""
    keep = pd.Series(False, index=frame.index)
    for (stem, time, kind), rows in frame.groupby(["stem", "timepoint", "kind"], sort=False):
        rows = rows.sort_values("threshold")
        n = int(rows["n"].iloc[0]) if len(rows) else 0
        fixed_k = fixed_counts.get((stem, time, kind))
        counts = list(rows["k"].astype(int)) + ([fixed_k] if fixed_k is not None else [])
        fixed = [False] * len(rows) + ([True] if fixed_k is not None else [])
        mask = disclosure.spaced_points(counts, n, fixed, policy)[: len(rows)]
        keep.loc[rows.index] = mask
    return keep


def literature(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """The share reaching each literature threshold (instrument records), at discharge and at
    1 year, with its CI. Under disclosure control a row is withheld when its patients are, or
    when its count would tell, beside another shown count of the same curve (this build's MCID
    included), how many patients lie between two thresholds when that is fewer than k."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    table = threshold_analysis.literature_shares(cohort, threshold_analysis.LITERATURE, params.confidence)
    table = table.assign(kind=table["definition"].map({"percent": "percent"}).fillna("absolute"))
    keep = _spaced(table.dropna(subset=["k"]), _shown_mcid_counts(cohort, params, policy), policy)
    rows = []
    for index, row in table.iterrows():
        shown = {"measure": row["measure"], "time": row["time"], "threshold": row["label"],
                 "source": row["source"]}
        n_label = measured_label(cohort, f"{row['stem']}_{row['timepoint']}", policy)
        if n_label is not None or not keep.get(index, False) and policy.active:
            shown.update({"reached": WITHHELD, "of": n_label or disclosure.released(int(row["n"]), policy), "%": WITHHELD,
                          "CI low": WITHHELD, "CI high": WITHHELD})
        else:
            shown.update(_released_share(row, params, policy))
        rows.append(shown)
    return pd.DataFrame(rows)


def _released_share(row, params: Params, policy: Policy) -> dict:
    """reached, of, % and CI of a row with counts k of n: as computed, or from the released counts."""
    if pd.isna(row["k"]) or not policy.active:
        return {"reached": int(row["k"]) if pd.notna(row["k"]) else row["k"], "of": int(row["n"]), "%": row["%"],
                "CI low": row["CI low"], "CI high": row["CI high"]}
    p = disclosure.share(int(row["k"]), int(row["n"]), policy, params.confidence)
    if p is None:
        return {"reached": disclosure.released(int(row["k"]), policy), "of": disclosure.released(int(row["n"]), policy),
                "%": WITHHELD, "CI low": WITHHELD, "CI high": WITHHELD}
    return {"reached": p.k, "of": p.n, "%": p.pct, "CI low": p.low, "CI high": p.high}


def curves(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None,
           kind: str = "absolute") -> pd.DataFrame:
    """The responder share across every threshold (`kind` "absolute" or "percent"), the points
    a figure may draw: under disclosure control only points spaced as `literature` explains,
    consistently with the literature table and this build's MCID."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    curve = threshold_analysis.threshold_curve(cohort, params.confidence)
    curve = curve[curve["kind"] == kind]
    fixed = _shown_mcid_counts(cohort, params, policy)
    lit = literature(cohort, params, policy)
    # The literature points that are shown are fixed too: the curve must not come closer to them.
    lit_table = threshold_analysis.literature_shares(cohort, threshold_analysis.LITERATURE, params.confidence)
    lit_table = lit_table.assign(kind=lit_table["definition"].map({"percent": "percent"}).fillna("absolute"))
    keep = pd.Series(True, index=curve.index)
    if policy.active:
        keep = pd.Series(False, index=curve.index)
        for (stem, time), rows in curve.groupby(["stem", "timepoint"], sort=False):
            if measured_label(cohort, f"{stem}_{time}", policy) is not None:
                continue
            shown_lit = lit_table[(lit_table["stem"] == stem) & (lit_table["timepoint"] == time)
                                  & (lit_table["kind"] == kind)]
            shown_lit = shown_lit[lit.loc[shown_lit.index, "%"].map(lambda v: not isinstance(v, str)).to_numpy(bool)]
            counts = list(rows["k"].astype(int)) + list(shown_lit["k"].astype(int))
            fixed_k = fixed.get((stem, time, kind))
            counts += [fixed_k] if fixed_k is not None else []
            flags = [False] * len(rows) + [True] * (len(counts) - len(rows))
            keep.loc[rows.index] = disclosure.spaced_points(counts, int(rows["n"].iloc[0]), flags, policy)[: len(rows)]
    curve = curve[keep.to_numpy()].reset_index(drop=True)
    if policy.active and len(curve):  # what is drawn is a share of the released counts
        released = pd.DataFrame([_released_share(row, params, policy) for row in curve.to_dict("records")],
                                index=curve.index)
        curve = curve.assign(k=released["reached"], n=released["of"],
                             **{c: pd.to_numeric(released[c], errors="coerce") for c in ("%", "CI low", "CI high")})
    return curve


#: The four paths from discharge to 1 year, in the order of the table.
PATTERNS = ("kept", "lost", "late response", "never")


def transitions(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """Responders at discharge by responders at 1 year, among patients with all three values:
    kept, lost, late response, never. The four counts partition those patients."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    table = threshold_analysis.responder_transitions(cohort, params.mcid, params.confidence)
    rows = []
    for stem, block in table.groupby("stem", sort=False):
        n3 = int(block["of"].iloc[0])
        n_label = disclosure.protect_measured(n3, len(cohort), policy)
        labels = disclosure.protect(dict(zip(block["pattern"], block["n"].astype(int))), policy)
        for row in block.to_dict("records"):
            label = n_label and WITHHELD or labels[row["pattern"]]
            rows.append({"measure": row["measure"], "pattern": row["pattern"], "at discharge": row["at discharge"],
                         "at 1 year": row["at 1 year"], "patients": disclosure.count(int(row["n"]), label, policy),
                         "of": disclosure.count(n3, n_label, policy),
                         "%": WITHHELD if label else disclosure.percent(int(row["n"]), n3, policy)})
    return pd.DataFrame(rows)


def paired(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """Change on the same patients: pairs, improved / unchanged / worse, median change with its
    Hodges–Lehmann estimate and CI, and the Wilcoxon test (zeros dropped; non-zero pairs shown)."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    table = paired_analysis.paired_change(cohort, params.confidence)
    rows = []
    for row in table.to_dict("records"):
        n_label = measured_label(cohort, f"{row['stem']}_{row['timepoint']}", policy)
        labels = disclosure.protect({k: int(row[k]) for k in ("improved", "unchanged", "worse")}, policy)
        few = n_label is not None or disclosure.too_few(int(row["pairs"]), policy)
        shown = {"measure": row["measure"], "time": row["time"], "pairs": disclosure.count(int(row["pairs"]), n_label, policy)}
        for key in ("improved", "unchanged", "worse"):
            shown[key] = WITHHELD if n_label else disclosure.count(int(row[key]), labels[key], policy)
        for key in ("median change", "HL change", "HL low", "HL high", "W", "p"):
            shown[key] = WITHHELD if few else row[key]
        if policy.active:  # W with r (or the pairs) gives the non-zero pairs back: withheld
            shown["W"] = WITHHELD
        # The non-zero pairs are the pairs minus the unchanged: hidden with them.
        shown["nonzero"] = (WITHHELD if few or labels["unchanged"]
                            else disclosure.released(int(row["nonzero"]), policy))
        rows.append(shown)
    return pd.DataFrame(rows).rename(columns={"HL change": "HL estimate", "nonzero": "non-zero pairs"})


def trajectories(cohort: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """Medians [Q1, Q3] at each time, on the same patients (all three values) and on all patients
    measured at each time: the difference shows what loss to follow-up does to a trend."""
    policy = disclosure.policy(cohort, policy)
    table = paired_analysis.trajectories(cohort)
    rows = []
    for row in table.to_dict("records"):
        n = int(row["n"])
        if row["patients"] == "measured at this time":
            label = measured_label(cohort, f"{row['stem']}_{row['timepoint']}", policy)
        else:
            label = disclosure.protect_measured(n, len(cohort), policy)
        few = disclosure.too_few(n, policy)
        rows.append({"measure": row["measure"], "patients": row["patients"], "time": row["time"],
                     "n": disclosure.count(n, label, policy),
                     **{key: WITHHELD if few else row[key] for key in ("median", "Q1", "Q3")}})
    return pd.DataFrame(rows)
