"""Paired change on the same patients: trajectories, and improved / unchanged / worse.

Medians of everyone measured at each time point compare different groups of patients
(those lost after discharge may differ from those who stayed). The functions here
compare each patient with themselves:

- :func:`trajectories`: start, discharge and 1 year on the patients with all three
  values of a measure, beside the medians of everyone measured at each time point;
- :func:`paired_change`: per measure and later time point, on the patients with both
  values: how many improved, stayed the same or got worse; the median change with the
  Hodges-Lehmann estimate and its confidence interval; the Wilcoxon signed-rank test.

Missing values are NaN; a patient enters a paired summary only with both (or all three)
values. No disclosure control is applied here.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from ..instruments import INSTRUMENTS, LATER, TIMEPOINTS
from ..instruments import stems as instrument_stems
from .stats import hodges_lehmann, improvement, median_iqr, signed_rank_test, wilcoxon_change

__all__ = ["COMPLETE", "MEASURED", "PAIRED_COLUMNS", "paired_change", "trajectories"]

#: The two groups of patients `trajectories` summarises.
COMPLETE = "all three values"
MEASURED = "measured at this time"


def trajectories(cohort: pd.DataFrame, *, stems: Iterable[str] | None = None) -> pd.DataFrame:
    """Each measure at start, discharge and 1 year: on the same patients, and on everyone measured.

    One row per measure, time point and group. Columns: measure, stem, time (label),
    timepoint (key), patients (``COMPLETE`` = "all three values": the patients with a
    start, a discharge and a 1-year value of this measure, the same n at every time;
    ``MEASURED`` = "measured at this time": everyone with a value at that time point),
    n, median, Q1, Q3 (pandas' linear quantiles, as
    :func:`stats.median_iqr <cmprehab.analysis.stats.median_iqr>`). With n = 0 the median and
    quartiles are NaN.
    """
    rows = []
    for stem in instrument_stems(stems):
        instrument = INSTRUMENTS[stem]
        columns = [f"{stem}_{time}" for time in TIMEPOINTS]
        complete = cohort[columns].dropna()
        for group, frame in ((COMPLETE, complete), (MEASURED, cohort)):
            for time, point in TIMEPOINTS.items():
                values = frame[f"{stem}_{time}"].dropna()
                median, q1, q3 = median_iqr(values)
                rows.append({"measure": instrument.short, "stem": stem, "time": point.label, "timepoint": time,
                             "patients": group, "n": int(len(values)), "median": median, "Q1": q1, "Q3": q3})
    return pd.DataFrame(rows, columns=["measure", "stem", "time", "timepoint", "patients", "n", "median", "Q1",
                                       "Q3"])


#: The columns of `paired_change`, in order.
PAIRED_COLUMNS = ["measure", "stem", "time", "timepoint", "better", "pairs", "improved", "unchanged", "worse",
                  "median start", "median later", "median change", "HL change", "HL low", "HL high", "HL method",
                  "HL coverage", "nonzero", "W", "p", "p (Pratt)", "rank-biserial r"]


def _pratt_p(differences: np.ndarray) -> float:
    """Two-sided signed-rank p-value with Pratt's zero handling (zeros ranked, then dropped)."""
    if np.count_nonzero(differences) == 0:
        return math.nan
    return signed_rank_test(differences, "pratt")[1]


def paired_change(cohort: pd.DataFrame, confidence: float, *, stems: Iterable[str] | None = None,
                  times: Sequence[str] = LATER) -> pd.DataFrame:
    """Change from the start on the patients with both values, per measure and later time point.

    Columns:

    - measure, stem, time (label), timepoint (key), better ("lower" or "higher": which
      direction is an improvement on this scale);
    - pairs: patients with both values (the denominator of everything in the row);
    - improved, unchanged, worse: by the sign of the direction-adjusted change after
      rounding it to the scale's recorded decimals (0 for NPRS and EQ-VAS, 1 for DRI), so
      "unchanged" is a change of exactly 0 on the scale; they add up to pairs;
    - median start, median later, median change: medians over the pairs; the change is
      later - start, in the scale's units (negative is better on NPRS and DRI);
    - HL change, HL low, HL high: the Hodges-Lehmann estimate of later - start and its
      `confidence` interval from the signed-rank distribution
      (:func:`stats.hodges_lehmann <cmprehab.analysis.stats.hodges_lehmann>`: exact for up to
      25 pairs, else the continuity-corrected normal approximation; all pairs, zeros included);
      HL method ("exact"/"normal"), HL coverage (the interval's achieved coverage);
    - nonzero: pairs whose change is not 0 (the ones the Wilcoxon test ranks);
    - W, p: the two-sided Wilcoxon signed-rank test of
      :func:`stats.wilcoxon_change <cmprehab.analysis.stats.wilcoxon_change>`, which drops zero
      changes (Wilcoxon's "wilcox" method; exact p for small samples without ties or zeros,
      else the normal approximation with the tie correction);
    - p (Pratt): the same test with Pratt's zero handling (zeros ranked, then dropped), for
      comparison; rank-biserial r: matched-pairs rank-biserial correlation (positive when
      later values are higher).

    With no pairs every median, estimate and test is NaN; with every change 0, W, p,
    p (Pratt) and r are NaN while the medians and the HL estimate are 0.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    rows = []
    for stem in instrument_stems(stems):
        instrument = INSTRUMENTS[stem]
        for time in times:
            pairs = cohort[[f"{stem}_start", f"{stem}_{time}"]].dropna()
            start, later = pairs[f"{stem}_start"], pairs[f"{stem}_{time}"]
            # The test's own differences: later - start rounded to six decimals (floating-point noise).
            w = wilcoxon_change(start, later)
            diff = (later - start).round(6).to_numpy()
            better = np.round(instrument.direction * (later - start).to_numpy(), instrument.decimals)
            hl = hodges_lehmann(diff, confidence)
            rows.append({
                "measure": instrument.short, "stem": stem, "time": TIMEPOINTS[time].label, "timepoint": time,
                "better": instrument.better, "pairs": w.n_pairs,
                "improved": int((better > 0).sum()), "unchanged": int((better == 0).sum()),
                "worse": int((better < 0).sum()),
                "median start": w.median_start, "median later": w.median_later, "median change": w.median_change,
                "HL change": hl.estimate, "HL low": hl.low, "HL high": hl.high, "HL method": hl.method,
                "HL coverage": hl.achieved,
                "nonzero": w.n_nonzero, "W": w.statistic, "p": w.p_value, "p (Pratt)": _pratt_p(diff),
                "rank-biserial r": w.rank_biserial,
            })
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


def improvement_by_start(cohort: pd.DataFrame, time: str = "1y") -> pd.DataFrame:
    """How the improvement goes with the start value, per measure (Spearman's rho, patients with both
    values): patients who start worse improving more is what regression to the mean alone would give.

    Columns: measure, stem, time, n, rho (positive: the worse the start, the larger the improvement), p.
    """
    rows = []
    for stem, instrument in INSTRUMENTS.items():
        start, later = cohort[f"{stem}_start"], cohort[f"{stem}_{time}"]
        both = start.notna() & later.notna()
        gain = improvement(start[both], later[both], stem)
        # "Worse at the start" is a higher value where lower is better, a lower one where higher is.
        worse = -instrument.direction * start[both].astype(float)
        rho, p = (scipy_stats.spearmanr(worse, gain) if both.sum() >= 3 and gain.nunique() > 1 and worse.nunique() > 1
                  else (math.nan, math.nan))
        rows.append({"measure": instrument.short, "stem": stem, "time": TIMEPOINTS[time].label, "n": int(both.sum()),
                     "rho": float(rho), "p": float(p)})
    return pd.DataFrame(rows)
