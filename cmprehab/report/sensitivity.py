"""How much the headline depends on the MCID threshold, and what changed in the same patients:
the tables of the sensitivity chapter, and the outcomes page's headline by anchor, deterioration,
composite responders and outcome by dose, with disclosure control applied here (as in `tables`).
`explorer_data` is what the MCID explorer (book_static/mcid_explorer.js) shows; `outcome_results`
and `sensitivity_results` are the numbers the two pages' prose quotes (`results.Page`).

The computations are the analysis layer's (`analysis.thresholds`, `analysis.paired`,
`analysis.combinations`).
"""
from __future__ import annotations

import json

import pandas as pd

from .. import config
from .. import params as study
from ..analysis import combinations as combination_analysis
from ..analysis import paired as paired_analysis
from ..analysis import thresholds as threshold_analysis
from ..analysis.stats import mcid_reached
from ..instruments import ANCHORS, INSTRUMENTS, LATER, TIMEPOINTS
from ..params import Params
from . import disclosure
from .disclosure import WITHHELD, Policy
from .tables import change_tests, measured_label


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
                 "anchor": row["anchor"], "source": row["source"]}
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
        for key in ("median change", "HL change", "HL low", "HL high", "W", "p", "p (Pratt)"):
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


# --------------------------------------------------------------------------
# The outcomes page: headline by anchor, deterioration, composite responders, dose
# --------------------------------------------------------------------------

#: The anchors the outcomes page sets side by side.
HEADLINE_ANCHORS = ("minimal", "much improved")
#: In a cell where the literature gives no threshold of an anchor.
NONE_PUBLISHED = "none published"


def headline_by_anchor(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """The share reaching the MCID at the minimal and at the much-improved threshold of each measure
    (`Instrument.anchored`), at discharge and at 1 year, side by side: one row per measure and time,
    columns per anchor (threshold, reached, of, %, CI). The cells are the literature table's rows
    (`literature`), so both tables show the same counts under the same disclosure control; a measure
    with no threshold of an anchor reads "none published"."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    table = threshold_analysis.literature_shares(cohort, threshold_analysis.LITERATURE, params.confidence)
    shown = literature(cohort, params, policy)  # row for row the same order as `table`
    rows = []
    for stem, instrument in INSTRUMENTS.items():
        for time in LATER:
            row = {"measure": instrument.short, "time": TIMEPOINTS[time].label}
            for anchor in HEADLINE_ANCHORS:
                chosen = instrument.anchored(anchor)
                cells = {"threshold": NONE_PUBLISHED, "%": NONE_PUBLISHED, "CI low": NONE_PUBLISHED,
                         "CI high": NONE_PUBLISHED}
                if chosen is not None:
                    match = table[(table["stem"] == stem) & (table["timepoint"] == time)
                                  & (table["value"] == chosen.value) & (table["definition"] == chosen.definition)]
                    line = shown.loc[match.index[0]]
                    cells = {"threshold": line["threshold"], **{c: line[c] for c in ("%", "CI low", "CI high")}}
                name = "minimal" if anchor == "minimal" else "much improved"
                row.update({f"{name}: {key}" if key != "%" else f"{name}: %": value for key, value in cells.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def anchors_of(table: pd.DataFrame) -> str:
    """The anchors a set of literature rows mixes, in words: 'minimal, much improved (moderate) and
    substantial improvement thresholds' (the rows of `literature`)."""
    present = [ANCHORS[a] for a in ANCHORS if a in set(table["anchor"])]
    if not present:
        return "no threshold"
    words = present[0] if len(present) == 1 else ", ".join(present[:-1]) + " and " + present[-1]
    return f"{words} threshold{'s' if len(table) > 1 else ''}"


def _share_row(k: int, n: int, n_label: str | None, label: str | None, params: Params, policy: Policy) -> dict:
    """k, n, % and CI of k of n as shown: the n's label hides the row, the k's label hides the share."""
    if n_label is not None:
        return {"patients": WITHHELD, "of": n_label, "%": WITHHELD, "CI low": WITHHELD, "CI high": WITHHELD}
    p = None if label is not None else disclosure.share(k, n, policy, params.confidence)
    if p is None:
        return {"patients": disclosure.count(k, label, policy), "of": disclosure.released(n, policy),
                "%": WITHHELD, "CI low": WITHHELD, "CI high": WITHHELD}
    return {"patients": p.k, "of": p.n, "%": p.pct, "CI low": p.low, "CI high": p.high}


def deterioration(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """Patients who got worse by at least the MCID in force, and by at least the smallest detectable
    change where the literature gives one, at discharge and at 1 year: patients, of (both values), %
    and Wilson CI. Under disclosure control the two counts of one measure and time are shown only
    when they differ by zero or by at least k (`disclosure.spaced_points`)."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    table = threshold_analysis.deterioration(cohort, params.mcid, params.confidence)
    rows = []
    for (stem, time), block in table.groupby(["stem", "timepoint"], sort=False):
        n_label = measured_label(cohort, f"{stem}_{time}", policy)
        computed = block.dropna(subset=["k"])
        n = int(block["n"].iloc[0])
        spaced = dict(zip(computed.index, disclosure.spaced_points(computed["k"].astype(int), n,
                                                                   [False] * len(computed), policy)))
        for index, row in block.iterrows():
            # the thresholds' sources are the Methods page's (MCID) and the prose's citation (SDC)
            shown = {"measure": row["measure"], "time": row["time"], "worse by at least": row["criterion"],
                     "threshold": row["threshold"]}
            if pd.isna(row["k"]):
                shown.update({"patients": NONE_PUBLISHED, "of": disclosure.count(n, n_label, policy),
                              "%": NONE_PUBLISHED, "CI low": NONE_PUBLISHED, "CI high": NONE_PUBLISHED})
            else:
                k = int(row["k"])
                label = disclosure.protect_subset(k, n, policy) or (None if spaced[index] else WITHHELD)
                shown.update(_share_row(k, n, n_label, label, params, policy))
            rows.append(shown)
    return pd.DataFrame(rows)


def composite(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """Patients reaching the MCID on at least one and on all three measures, at discharge and at 1 year,
    among the patients with every measure at the start and then: patients, of, % and Wilson CI. Under
    disclosure control none, some and all form a partition of those patients (`disclosure.protect`)."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    table = threshold_analysis.composite_responders(cohort, params.mcid, params.confidence)
    rows = []
    for time, block in table.groupby("timepoint", sort=False):
        block = block.set_index("criterion")
        n, every, one = int(block.loc["all", "n"]), int(block.loc["all", "k"]), int(block.loc["at least one", "k"])
        complete = cohort[[f"{stem}_{point}" for stem in INSTRUMENTS for point in ("start", time)]].notna().all(axis=1)
        n_label = disclosure.protect_measured(n, len(cohort), policy)
        labels = disclosure.protect({"none": n - one, "some": one - every, "all": every}, policy)
        for criterion, k, label in (("at least one", one, labels["none"] and WITHHELD), ("all", every, labels["all"])):
            rows.append({"time": block.loc[criterion, "time"], "MCID reached on": f"{criterion} of the three",
                         **_share_row(k, n, n_label, label, params, policy)})
        assert int(complete.sum()) == n
    return pd.DataFrame(rows)


def dose(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None,
         time: str = "1y") -> pd.DataFrame:
    """The share reaching the MCID at `time` by sessions and by intervention categories received
    (`combinations.outcome_by_dose`): one row per dose and group, one block of columns per measure
    (n of the group with both values, %, CI). Under disclosure control each measure's groups by reached
    and not reached form a grid whose margins are shown (`disclosure.protect_grid`)."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)
    table = combination_analysis.outcome_by_dose(cohort, params.mcid, params.confidence, time)
    out = {}
    for (dose_name, stem), block in table.groupby(["dose", "stem"], sort=False):
        block = block.set_index("group")
        counts = pd.DataFrame({"reached": block["k"].astype(int), "not": (block["n"] - block["k"]).astype(int)})
        labels = disclosure.protect_grid(counts, policy)
        measure = INSTRUMENTS[stem].short
        hidden_measure = measured_label(cohort, f"{stem}_{time}", policy)
        for group, row in block.iterrows():
            key = (dose_name, group)
            out.setdefault(key, {"dose": dose_name, "group": group})
            n, k = int(row["n"]), int(row["k"])
            # a group of fewer than k is "<k" through `released`; its share is withheld by the grid's labels
            cells = _share_row(k, n, hidden_measure, labels.loc[group, "reached"] or
                               (WITHHELD if labels.loc[group, "not"] else None), params, policy)
            out[key].update({f"{measure} n": cells["of"], f"{measure} %": cells["%"],
                             f"{measure} CI low": cells["CI low"], f"{measure} CI high": cells["CI high"]})
    return pd.DataFrame(list(out.values()))


def change_with_pratt(cohort: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """The outcomes page's change table (`tables.change_tests`) with the signed-rank p-value under
    Pratt's handling of zero changes beside Wilcoxon's (zeros dropped): with many unchanged pairs the
    two can differ, and neither convention is the only right one."""
    policy = disclosure.policy(cohort, policy)
    table = change_tests(cohort, policy)
    pratt = paired_analysis.paired_change(cohort, 0.95)["p (Pratt)"].to_numpy()  # same measure/time order
    shown = [WITHHELD if isinstance(p, str) else value for p, value in zip(table["p"], pratt)]
    return table.assign(**{"p (Pratt)": shown})[[*table.columns[:table.columns.get_loc("p") + 1], "p (Pratt)",
                                                 *table.columns[table.columns.get_loc("p") + 1:]]]


# --------------------------------------------------------------------------
# The MCID explorer
# --------------------------------------------------------------------------

def explorer_data(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> dict:
    """What the MCID explorer shows: for each measure, time point and kind of threshold ("absolute",
    "percent"), the share reaching every threshold of the grid with its CI (the threshold curves of
    `curves`, so under disclosure control only the points a figure may draw, from the released counts;
    a threshold without one is null), the literature thresholds with their anchors, and this build's
    MCID and the default. Plain JSON-able values, shares rounded to 0.1 %."""
    params, policy = params or study.current(), disclosure.policy(cohort, policy)

    def r1(value):
        return None if value is None or isinstance(value, str) or pd.isna(value) else round(float(value), 1)

    measures = []
    for kind in ("absolute", "percent"):
        shown = curves(cohort, params, policy, kind)
        for stem, instrument in INSTRUMENTS.items():
            grid = threshold_analysis.threshold_grid(stem, kind)
            rule, default = params.mcid[stem], study.DEFAULTS.mcid[stem]
            unit = "%" if kind == "percent" else instrument.unit
            literature_marks = [{"value": float(t.value), "anchor": ANCHORS[t.anchor], "source": t.source}
                                for t in instrument.literature
                                if (t.definition == "percent") == (kind == "percent") and t.definition != "sd"]
            for time in LATER:
                rows = shown[(shown["stem"] == stem) & (shown["timepoint"] == time)].set_index("threshold")
                entry = {"stem": stem, "measure": instrument.short, "label": instrument.label,
                         "time": TIMEPOINTS[time].label, "kind": kind, "unit": unit,
                         "decimals": instrument.decimals if kind == "absolute" else 0,
                         "n": int(rows["n"].iloc[0]) if len(rows) else None,
                         "thresholds": [float(t) for t in grid], "k": [], "pct": [], "low": [], "high": [],
                         "literature": literature_marks,
                         "mcid": float(rule.threshold) if rule.definition == kind else None,
                         "default": float(default.threshold) if default.definition == kind else None}
                for threshold in grid:
                    row = rows.loc[float(threshold)] if float(threshold) in rows.index else None
                    entry["k"].append(None if row is None else int(row["k"]))
                    for key, column in (("pct", "%"), ("low", "CI low"), ("high", "CI high")):
                        entry[key].append(None if row is None else r1(row[column]))
                measures.append(entry)
    fingerprint = cohort.attrs.get("fingerprint")
    synthetic = bool(getattr(fingerprint, "synthetic", False))
    note = ("† Not published by the study: on this synthetic cohort the shares are invented by the generator."
            if synthetic else "")
    if policy.active:
        note = ("Confidential data: shares are shown only at the thresholds disclosure control releases, "
                "from counts rounded to a multiple of k.")
    return {"confidence": params.ci_label, "controlled": policy.active, "synthetic": synthetic and not policy.active,
            "note": note, "curves": measures}


#: The explorer's script, book_static/mcid_explorer.js (plain JavaScript, no library), inlined into the
#: page so that it works offline and from any folder the site is copied to.
#:
#: :meta hide-value:
EXPLORER_SCRIPT = config.ROOT / "book_static" / "mcid_explorer.js"

#: The explorer's layout, scoped to its own classes; the printed page keeps only the shown share.
_EXPLORER_STYLE = """
.mcid-explorer fieldset { border: 1px solid currentColor; border-radius: 4px; padding: 0.5em 1em; margin: 0; }
.mcid-explorer legend { font-weight: 600; padding: 0 0.3em; }
.mcid-explorer-field { margin: 0.4em 0; }
.mcid-explorer-field label { display: block; }
.mcid-explorer-slider-field input[type=range] { width: 100%; margin: 0.3em 0 0; }
.mcid-explorer-track { position: relative; height: 0.8em; margin: 0 8px; }
.mcid-explorer-tick { position: absolute; top: 0; width: 2px; height: 0.8em; background: currentColor; opacity: 0.55; }
.mcid-explorer-tick.mcid { opacity: 1; width: 3px; }
.mcid-explorer-result { display: block; font-weight: 600; margin: 0.5em 0; }
.mcid-explorer-marks { margin: 0.2em 0; }
@media print { .mcid-explorer fieldset, .mcid-explorer-marks { display: none; } }
"""


def explorer_html(cohort: pd.DataFrame, params: Params | None = None, policy: Policy | None = None) -> str:
    """The explorer for the page: a container, its data as JSON in a <script type="application/json">
    (`explorer_data`), and the script that builds the labelled slider from it (`EXPLORER_SCRIPT`,
    inlined), with a note for readers without JavaScript."""
    payload = json.dumps(explorer_data(cohort, params, policy), separators=(",", ":"), allow_nan=False)
    payload = payload.replace("</", "<\\/")  # nothing in the JSON can end the script element
    script = EXPLORER_SCRIPT.read_text(encoding="utf-8")
    if "</script" in script.lower():
        raise ValueError(f"{EXPLORER_SCRIPT}: the script must not contain '</script' (it is inlined)")
    return (f'<style>{_EXPLORER_STYLE}</style>\n'
            '<div class="mcid-explorer" id="mcid-explorer" data-ready="no">'
            '<noscript>The explorer needs JavaScript; the same shares are in the figures and the table below.'
            '</noscript></div>\n'
            f'<script type="application/json" id="mcid-explorer-data">{payload}</script>\n'
            f'<script>{script}</script>\n')



# --------------------------------------------------------------------------
# The numbers the pages' prose quotes
# --------------------------------------------------------------------------

def mcid_anchor(stem: str, params: Params | None = None) -> str:
    """The anchor of the MCID in force, in words: 'much improved (moderate)', 'minimal improvement', or
    'no published anchor (this project's assumption)' when it equals no reported threshold."""
    params = params or study.current()
    rule = params.mcid[stem]
    anchor = INSTRUMENTS[stem].mcid_anchor(rule.threshold, rule.definition)
    return ANCHORS[anchor] if anchor else "no published anchor (this project's assumption)"


def anchor_values(stem: str, anchor: str) -> str:
    """The literature thresholds of `anchor` for a measure, in words: '1 point or 15 %' (percentages
    of the start value), or 'none published'."""
    instrument = INSTRUMENTS[stem]
    words = []
    for t in instrument.literature:
        if t.anchor != anchor:
            continue
        if t.definition == "percent":
            words.append(f"{t.value:g} %")
        elif t.definition == "sd":
            words.append(f"{t.value:g} SD of the start values")
        else:
            words.append(f"{t.value:g} {instrument.unit.removesuffix('s') if t.value == 1 else instrument.unit}")
    return " or ".join(words) if words else NONE_PUBLISHED


def anchor_results(page, params: Params | None = None) -> None:
    """The anchor of each MCID in force (`mcid_{stem}_anchor`), and the literature thresholds of each
    anchor (`{stem}_{anchor}_values`, anchor "minimal", "much", "substantial"), for the Methods page
    and the glossary."""
    params = params or study.current()
    for stem in INSTRUMENTS:
        page.text(f"mcid_{stem}_anchor", mcid_anchor(stem, params), "sensitivity.mcid_anchor")
        for anchor in ANCHORS:
            page.text(f"{stem}_{anchor.split()[0]}_values", anchor_values(stem, anchor), "sensitivity.anchor_values")


def _quote_share(page, name: str, row, source: str) -> None:
    """A share with its CI (`Page.share`), or 'none published' where the literature gives no threshold."""
    if isinstance(row["%"], str) and row["%"] == NONE_PUBLISHED:
        page.add(name, None, "no published threshold", source)
    else:
        page.share(name, row, source, unpublished=True)


def outcome_results(cohort: pd.DataFrame) -> dict:
    """The outcomes page's numbers beyond the headline (`results.outcomes`): the share at the minimal
    and at the much-improved threshold, deterioration, composite responders and the anchors in force."""
    from .results import Page  # results imports this module

    page, params = Page(cohort, outcome_results), study.current()
    anchor_results(page, params)
    headline = headline_by_anchor(cohort, params)
    for (stem, instrument), time in ((item, time) for item in INSTRUMENTS.items() for time in LATER):
        row = headline[(headline["measure"] == instrument.short) & (headline["time"] == TIMEPOINTS[time].label)]
        row = row.iloc[0]
        for anchor, key in (("minimal", "minimal"), ("much improved", "much")):
            if time == LATER[0]:
                chosen = instrument.anchored(anchor)
                page.text(f"{key}_{stem}_threshold", row[f"{anchor}: threshold"] if chosen else "none published",
                          "instruments.Instrument.anchored")
            _quote_share(page, f"{key}_{stem}_{time}", {"%": row[f"{anchor}: %"], "CI low": row[f"{anchor}: CI low"],
                                                         "CI high": row[f"{anchor}: CI high"]},
                         "sensitivity.headline_by_anchor")
    worse = deterioration(cohort, params)
    for row in worse.to_dict("records"):
        stem = next(s for s, i in INSTRUMENTS.items() if i.short == row["measure"])
        time = next(t for t, point in TIMEPOINTS.items() if point.label == row["time"])
        if row["worse by at least"] == "MCID":
            page.share(f"worse_{stem}_{time}", row, "sensitivity.deterioration", unpublished=True)
        elif row["%"] != NONE_PUBLISHED:
            page.share(f"worse_sdc_{stem}_{time}", row, "sensitivity.deterioration", unpublished=True)
    with_sdc = [i for i in INSTRUMENTS.values() if i.detectable]
    without = [i.short for i in INSTRUMENTS.values() if not i.detectable]
    page.text("sdc_known", " and ".join(f"the {i.short} ({i.detectable.value:g} {i.unit})"
                                     for i in with_sdc) or "none", "instruments.Instrument.detectable")
    page.text("sdc_unknown", (" and ".join(without) if without else "none"), "instruments.Instrument.detectable")
    table = composite(cohort, params)
    for row in table.to_dict("records"):
        time = next(t for t, point in TIMEPOINTS.items() if point.label == row["time"])
        key = "any" if row["MCID reached on"].startswith("at least one") else "all"
        page.share(f"{key}_{time}", row, "sensitivity.composite", unpublished=True)
        page.patients(f"{key}_{time}_n", row["of"], "sensitivity.composite", unpublished=True)
    return page.results


def sensitivity_results(cohort: pd.DataFrame) -> dict:
    """The sensitivity page's numbers beyond `results.sensitivity`: which anchors each measure's
    literature range mixes."""
    from .results import Page  # results imports this module

    page = Page(cohort, sensitivity_results)
    table = literature(cohort)
    for stem, instrument in INSTRUMENTS.items():
        rows = table[(table["measure"] == instrument.short) & (table["time"] == "1 year")]
        page.text(f"literature_{stem}_anchors", anchors_of(rows), "sensitivity.anchors_of")
    anchor_results(page)
    return page.results


def anchors_page(cohort: pd.DataFrame | None = None) -> dict:
    """The anchor of each MCID in force, for the Methods page and the glossary, the number of
    imputed data sets the Methods page names (`analysis.imputation.M`) and the events per
    coefficient below which it calls an adjusted estimate unstable; the cohort is not used."""
    from ..analysis import imputation, predictors
    from .results import Page  # results imports this module

    page = Page(None, anchors_page)
    anchor_results(page)
    page.count("mi_m", imputation.M, "analysis.imputation.M")
    page.count("epv_min", predictors.EVENTS_PER_COEFFICIENT_MIN, "analysis.predictors.EVENTS_PER_COEFFICIENT_MIN")
    return page.results
