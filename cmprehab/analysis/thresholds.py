"""How much the responder share depends on the MCID threshold.

Three views, each per outcome measure and for discharge and 1 year:

- :func:`threshold_curve`: the share of responders at every threshold of a grid, absolute
  (in the scale's units) and in percent of the start value, with Wilson intervals (a band);
- :func:`literature_shares`: the share at each threshold published in the literature
  (or derived from the data, such as half the baseline SD), passed in by the caller;
- :func:`responder_transitions`: responders at discharge by responders at 1 year;
- :func:`deterioration`: the share that got *worse* by at least a threshold (the MCID in
  force, or the smallest detectable change where the literature gives one);
- :func:`composite_responders`: the share reaching the MCID on at least one and on all of
  the measures, among the patients with every measure at the start and the later time point.

A responder is a patient whose direction-adjusted improvement reaches the threshold,
exactly as :func:`cmprehab.analysis.stats.mcid_reached` decides it (improvement rounded
to six decimals; "percent" divides by the start value, and any gain from a start value
of 0 counts as reaching every percent threshold). The denominator of a share is the
patients with both values (start and the later time point); patients missing either
value are left out (see `missing.py` for what the lost patients could change).
No disclosure control is applied here.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from ..instruments import INSTRUMENTS, LATER, TIMEPOINTS, LiteratureMcid
from ..instruments import stems as instrument_stems
from ..params import McidRule
from .stats import improvement, mcid_reached, proportion

__all__ = ["LITERATURE", "LiteratureThreshold", "TRANSITIONS", "composite_responders", "deterioration", "gains",
           "literature_shares", "responder_transitions", "threshold_curve", "threshold_grid", "worsened"]

#: Decimals of the comparison with a threshold, as in stats.mcid_reached (floating-point noise).
_DECIMALS = 6


def gains(start: pd.Series, later: pd.Series, stem: str, definition: str) -> np.ndarray:
    """The improvements of the patients with both values, as `mcid_reached` compares them.

    "absolute": the direction-adjusted change in the scale's units; "percent": 100 x that
    change / start value, with +inf for any gain from a start value of 0 and 0 for no
    gain from 0. Rounded to six decimals; patients missing either value are dropped.
    A patient reaches a threshold t > 0 exactly when its gain is >= t.
    """
    raw = improvement(start, later, stem)
    keep = raw.notna()
    raw = raw[keep].to_numpy()
    if definition == "absolute":
        gain = raw
    elif definition == "percent":
        base = start.astype("Float64").astype("float64")[keep].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = np.where(base != 0, 100 * raw / base, np.where(raw > 0, np.inf, 0.0))
    else:
        raise ValueError(f"definition must be 'absolute' or 'percent', not {definition!r}")
    return np.round(gain, _DECIMALS)


def threshold_grid(stem: str, kind: str, percent_step: float = 1.0) -> np.ndarray:
    """Every threshold of the curve: positive thresholds only, as an MCID is positive.

    "absolute": one recording step of the scale (1 point for NPRS, 0.1 mm for DRI, 1 mm for
    EQ-VAS: 10 ** -decimals) up to the whole scale range (hi - lo), every step; since every
    improvement lies on this grid, the curve is the complementary empirical distribution
    function of the improvement at every value it can take.
    "percent": `percent_step` up to 100 %, every step.
    """
    instrument = INSTRUMENTS[stem]
    if kind == "absolute":
        step = 10.0 ** -instrument.decimals
        count = int(round((instrument.hi - instrument.lo) / step))
        return np.round(np.arange(1, count + 1) * step, instrument.decimals)
    if kind == "percent":
        if not 0 < percent_step <= 100:
            raise ValueError(f"percent_step must be in (0, 100], got {percent_step!r}")
        count = int(math.floor(100 / percent_step + 1e-9))
        return np.round(np.arange(1, count + 1) * percent_step, 9)
    raise ValueError(f"kind must be 'absolute' or 'percent', not {kind!r}")


def threshold_curve(cohort: pd.DataFrame, confidence: float, *, stems: Iterable[str] | None = None,
                    times: Sequence[str] = LATER, percent_step: float = 1.0) -> pd.DataFrame:
    """Share of responders at every threshold of :func:`threshold_grid`, with Wilson intervals.

    One row per measure, time point, kind ("absolute", "percent") and threshold. Columns:
    measure, stem, time (label), timepoint (key), kind, threshold, unit ("points", "mm" or
    "%"), k (responders), n (patients with both values), % (100 k / n), CI low, CI high
    (Wilson, in %, at `confidence`). When nobody has both values, n = 0 and %, CI are NaN.
    k falls (weakly) as the threshold grows; k at a threshold equals
    ``mcid_reached(..., threshold, kind).sum()``.
    """
    rows = []
    share = lru_cache(maxsize=None)(lambda k, n: proportion(k, n, confidence))  # many thresholds share a k
    for stem in instrument_stems(stems):
        instrument = INSTRUMENTS[stem]
        for time in times:
            start, later = cohort[f"{stem}_start"], cohort[f"{stem}_{time}"]
            for kind in ("absolute", "percent"):
                ordered = np.sort(gains(start, later, stem, kind))
                n = int(ordered.size)
                grid = threshold_grid(stem, kind, percent_step)
                # responders at t: gains >= t, counted on the sorted gains
                ks = n - np.searchsorted(ordered, grid, side="left")
                unit = "%" if kind == "percent" else instrument.unit
                for threshold, k in zip(grid, ks):
                    p = share(int(k), n)
                    rows.append({"measure": instrument.short, "stem": stem, "time": TIMEPOINTS[time].label,
                                 "timepoint": time, "kind": kind, "threshold": float(threshold), "unit": unit,
                                 "k": p.k, "n": p.n, "%": p.pct, "CI low": p.low, "CI high": p.high})
    return pd.DataFrame(rows, columns=["measure", "stem", "time", "timepoint", "kind", "threshold", "unit",
                                       "k", "n", "%", "CI low", "CI high"])


# --------------------------------------------------------------------------
# Literature thresholds
# --------------------------------------------------------------------------

#: A literature threshold: one record type, defined with the instruments (their single home).
LiteratureThreshold = LiteratureMcid

#: Each instrument's literature thresholds, from its record in `cmprehab.instruments`.
LITERATURE: dict[str, tuple[LiteratureMcid, ...]] = {stem: i.literature for stem, i in INSTRUMENTS.items()}


def literature_shares(cohort: pd.DataFrame, thresholds: Mapping[str, Sequence[LiteratureThreshold]],
                      confidence: float, *, times: Sequence[str] = LATER) -> pd.DataFrame:
    """The responder share at each threshold in `thresholds` (keyed by instrument stem).

    One row per measure, threshold and time point. Columns: measure, stem, time, timepoint,
    definition ("absolute", "percent", "sd"), anchor (minimal, much improved or substantial:
    `instruments.ANCHORS`), value (as given), threshold (what is compared
    with the improvement: in the scale's units for "absolute" and "sd", in % for "percent"),
    label (e.g. "2 points", "30 %", "0.5 SD = 10.2 mm"), basis ("published" or, for "sd",
    the SD, its n and "computed from these data"), source, cite, k, n (patients with both
    values), %, CI low, CI high (Wilson, in %).

    "sd" thresholds: the sample SD (ddof = 1) of the start values of every patient with
    one, whether or not measured later, times `value`; it is not rounded to the scale's
    grid, so 8.73 mm on the DRI's 0.1 mm grid acts as 8.8 mm. With fewer than two start
    values the SD is undefined: threshold, k, % and CI are NaN.
    """
    rows = []
    for stem, items in thresholds.items():
        instrument = INSTRUMENTS[instrument_stems([stem])[0]]
        start_values = cohort[f"{stem}_start"].dropna()
        sd = float(start_values.std(ddof=1)) if len(start_values) >= 2 else math.nan
        for item in items:
            definition = "percent" if item.definition == "percent" else "absolute"
            if item.definition == "sd":
                threshold = item.value * sd
                label = (f"{item.value:g} SD = {threshold:.{instrument.decimals + 1}f} {instrument.unit}"
                         if not math.isnan(threshold) else f"{item.value:g} SD (fewer than two start values)")
                basis = (f"{item.value:g} x SD of the start values (SD = {sd:.2f} {instrument.unit}, "
                         f"n = {len(start_values)}), computed from these data")
            else:
                threshold = float(item.value)
                unit = "point" if instrument.unit == "points" and threshold == 1 else instrument.unit
                label = f"{item.value:g} %" if definition == "percent" else f"{item.value:g} {unit}"
                basis = "published"
            for time in times:
                start, later = cohort[f"{stem}_start"], cohort[f"{stem}_{time}"]
                row = {"measure": instrument.short, "stem": stem, "time": TIMEPOINTS[time].label,
                       "timepoint": time, "definition": item.definition, "anchor": item.anchor,
                       "value": float(item.value),
                       "threshold": threshold, "label": label, "basis": basis, "source": item.source,
                       "cite": item.cite}
                if math.isnan(threshold):
                    row.update(_share_columns(None, int((start.notna() & later.notna()).sum()), confidence))
                else:
                    reached = mcid_reached(start, later, stem, threshold, definition).dropna()
                    row.update(_share_columns(reached, len(reached), confidence))
                rows.append(row)
    return pd.DataFrame(rows, columns=["measure", "stem", "time", "timepoint", "definition", "anchor", "value",
                                       "threshold", "label", "basis", "source", "cite", "k", "n", "%", "CI low",
                                       "CI high"])


# --------------------------------------------------------------------------
# Responders at discharge by responders at 1 year
# --------------------------------------------------------------------------

#: The four patterns: name -> (responder at discharge, responder at 1 year).
TRANSITIONS = {"kept": (True, True), "lost": (True, False), "late response": (False, True),
               "never": (False, False)}


def responder_transitions(cohort: pd.DataFrame, mcid: Mapping[str, McidRule], confidence: float, *,
                          stems: Iterable[str] | None = None) -> pd.DataFrame:
    """Responders at discharge by responders at 1 year, among patients with all three values.

    Per measure, the patients with a start, a discharge and a 1-year value (`of`), split
    into kept (responder at both), lost (at discharge only), late response (at 1 year
    only) and never. Columns: measure, stem, MCID (the rule in words), pattern, at
    discharge ("yes"/"no"), at 1 year ("yes"/"no"), n, of, % (100 n / of), CI low, CI high
    (Wilson, in %). The four n add up to `of`; with of = 0 every % and CI is NaN.
    """
    rows = []
    for stem in instrument_stems(stems):
        instrument, rule = INSTRUMENTS[stem], mcid[stem]
        complete = cohort[[f"{stem}_start", f"{stem}_discharge", f"{stem}_1y"]].dropna()
        at = {time: mcid_reached(complete[f"{stem}_start"], complete[f"{stem}_{time}"], stem, rule.threshold,
                                 rule.definition).astype(bool) for time in LATER}
        of = int(len(complete))
        for pattern, (discharge, one_year) in TRANSITIONS.items():
            k = int(((at["discharge"] == discharge) & (at["1y"] == one_year)).sum())
            p = proportion(k, of, confidence)
            rows.append({"measure": instrument.short, "stem": stem, "MCID": rule.describe(instrument.unit),
                         "pattern": pattern, "at discharge": "yes" if discharge else "no",
                         "at 1 year": "yes" if one_year else "no", "n": p.k, "of": of, "%": p.pct,
                         "CI low": p.low, "CI high": p.high})
    return pd.DataFrame(rows, columns=["measure", "stem", "MCID", "pattern", "at discharge", "at 1 year", "n", "of",
                                       "%", "CI low", "CI high"])


# --------------------------------------------------------------------------
# Deterioration
# --------------------------------------------------------------------------

def worsened(start, later, stem: str, threshold: float, definition: str = "absolute") -> pd.Series:
    """Whether each patient got worse by at least `threshold` (nullable boolean; <NA> where a value is
    missing): the mirror image of `stats.mcid_reached`. "absolute": the direction-adjusted worsening
    (start - later where higher is better) >= threshold, in the scale's units; "percent": 100 x the
    worsening / start value >= threshold, where any worsening from a start of 0 counts. Rounded to six
    decimals before the comparison, as `mcid_reached`."""
    if not threshold > 0:
        raise ValueError(f"a threshold must be positive, got {threshold!r}")
    loss = -improvement(start, later, stem)
    if definition == "percent":
        base = pd.Series(start).astype("Float64").astype("float64")
        from_zero = pd.Series(np.where(loss > 0, np.inf, 0.0), index=loss.index)
        loss = (100 * loss / base.where(base != 0)).where(base != 0, from_zero).mask(loss.isna())
    elif definition != "absolute":
        raise ValueError(f"definition must be 'absolute' or 'percent', not {definition!r}")
    return (loss.round(_DECIMALS) >= float(threshold)).astype("boolean").mask(loss.isna())


def deterioration(cohort: pd.DataFrame, mcid: Mapping[str, McidRule], confidence: float, *,
                  stems: Iterable[str] | None = None, times: Sequence[str] = LATER) -> pd.DataFrame:
    """The share of patients who got worse by at least the MCID in force, and by at least the smallest
    detectable change (SDC) where the literature gives one (`Instrument.detectable`), per measure and
    later time point, among the patients with both values.

    One row per measure, time point and threshold ("MCID", "SDC"). Columns: measure, stem, time,
    timepoint, criterion ("MCID" or "SDC"), threshold (in words, e.g. "2 points", "30 %"), source (the
    SDC's source; for the MCID, its basis), k (worse by at least the threshold), n (both values),
    %, CI low, CI high (Wilson, in %). An instrument without a published SDC has a row with
    threshold "none published" and k, %, CI NaN.
    """
    rows = []
    for stem in instrument_stems(stems):
        instrument, rule = INSTRUMENTS[stem], mcid[stem]
        criteria = [("MCID", rule.threshold, rule.definition, rule.describe(instrument.unit),
                     instrument.mcid_basis(rule.threshold, rule.definition)[0])]
        sdc = instrument.detectable
        criteria.append(("SDC", sdc.value, "absolute",
                         f"{sdc.value:g} {instrument.unit.removesuffix('s') if sdc.value == 1 else instrument.unit}",
                         sdc.source) if sdc else ("SDC", None, None, "none published", "no published SDC found"))
        for time in times:
            start, later = cohort[f"{stem}_start"], cohort[f"{stem}_{time}"]
            n = int((start.notna() & later.notna()).sum())
            for criterion, value, definition, words, source in criteria:
                row = {"measure": instrument.short, "stem": stem, "time": TIMEPOINTS[time].label, "timepoint": time,
                       "criterion": criterion, "threshold": words, "source": source}
                if value is None:
                    row.update(_share_columns(None, n, confidence))
                else:
                    flags = worsened(start, later, stem, value, definition).dropna()
                    row.update(_share_columns(flags, len(flags), confidence))
                rows.append(row)
    return pd.DataFrame(rows, columns=["measure", "stem", "time", "timepoint", "criterion", "threshold", "source",
                                       "k", "n", "%", "CI low", "CI high"])


# --------------------------------------------------------------------------
# Composite responders
# --------------------------------------------------------------------------

#: The composite criteria: at least one measure, every measure.
COMPOSITES = ("at least one", "all")


def composite_responders(cohort: pd.DataFrame, mcid: Mapping[str, McidRule], confidence: float, *,
                         stems: Iterable[str] | None = None, times: Sequence[str] = LATER) -> pd.DataFrame:
    """The share reaching the MCID on at least one and on all of the measures, per later time point.

    The denominator is the patients with a start and a later value of *every* measure (so that "none"
    is known, not guessed). One row per time point and criterion ("at least one", "all"). Columns:
    time, timepoint, criterion, measures (how many measures), k, n, %, CI low, CI high (Wilson, in %);
    also none (patients reaching it on no measure: n - k of "at least one").
    """
    chosen = instrument_stems(stems)
    rows = []
    for time in times:
        columns = [f"{stem}_{point}" for stem in chosen for point in ("start", time)]
        complete = cohort[columns].dropna()
        flags = pd.DataFrame({stem: mcid_reached(complete[f"{stem}_start"], complete[f"{stem}_{time}"], stem,
                                                 mcid[stem].threshold, mcid[stem].definition).astype(bool)
                              for stem in chosen}, index=complete.index)
        n = int(len(complete))
        for criterion, reached in (("at least one", flags.any(axis=1)), ("all", flags.all(axis=1))):
            p = proportion(int(reached.sum()), n, confidence)
            rows.append({"time": TIMEPOINTS[time].label, "timepoint": time, "criterion": criterion,
                         "measures": len(chosen), "k": p.k, "n": n, "%": p.pct, "CI low": p.low,
                         "CI high": p.high, "none": n - int(flags.any(axis=1).sum())})
    return pd.DataFrame(rows, columns=["time", "timepoint", "criterion", "measures", "k", "n", "%", "CI low",
                                       "CI high", "none"])


def _share_columns(flags: pd.Series | None, n: int, confidence: float) -> dict:
    """The share columns of a row: k, n, % and its Wilson CI of the yes/no `flags` of `n` patients,
    or n alone (the rest NaN) where no threshold could be applied (`flags` None)."""
    if flags is None:
        return {"k": math.nan, "n": n, "%": math.nan, "CI low": math.nan, "CI high": math.nan}
    p = proportion(int(flags.sum()), int(n), confidence)
    return {"k": p.k, "n": p.n, "%": p.pct, "CI low": p.low, "CI high": p.high}
