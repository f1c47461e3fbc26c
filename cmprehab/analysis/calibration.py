"""What the synthetic cohort is calibrated to, below the report layer: the generator
(`cmprehab.synth`) builds to these definitions and the fidelity report
(`cmprehab.report.fidelity`) checks the cohort against them.

* the generator's MCID thresholds (`calibration_mcid_*` rows of data/published.csv), never
  the reader's study parameters;
* the follow-on paper's univariable risk ratios (Bondesson et al. 2023) and how this schema
  expresses each: the measure whose 1-year MCID stands in for its outcome, and the exposed and
  reference groups (this project's assumption).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import targets as targets_file
from .predictors import LONG_PAIN_DAYS, SEVERE_NPRS, SHORT_PAIN_DAYS


def calibration_thresholds(targets: pd.DataFrame | None = None) -> dict[str, float]:
    """The generator's MCID thresholds (direction-adjusted improvement), from data/published.csv."""
    return {stem: rule.threshold for stem, rule in targets_file.calibration_rules(targets).items()}


@dataclass(frozen=True)
class RiskRatio:
    """A univariable risk ratio of the follow-on paper and how this schema expresses it."""
    key: str
    predictor: str        # as published (reference in brackets)
    outcome: str          # as published
    rr: float
    low: float            # published 95 % CI
    high: float
    measure: str | None   # stand-in outcome: reaching the MCID on this measure at 1 year; None: not expressible
    exposed: str = ""     # the exposure and reference groups in words
    reference: str = ""
    source: str = "F"


#: How this schema expresses each published risk ratio (this project's assumption): the measure
#: whose 1-year MCID stands in for the outcome (None: not expressible), the exposed and reference groups.
STAND_INS = {
    "pain_duration_health": ("eqvas", "pain duration < 1 year", "pain duration > 5 years"),
    "anxiety_health": ("eqvas", "anxiety_depression = 1", "anxiety_depression = 0"),
    "severe_pain_health": ("eqvas", f"NPRS at start ≥ {SEVERE_NPRS}", f"NPRS at start < {SEVERE_NPRS}"),
    "widespread_pain_reduction": ("nprs", "regional or generalized pain", "localized pain"),
    "moderate_pain_management": (None, "", ""),
    "severe_pain_management": (None, "", ""),
}


def _risk_ratios() -> list[RiskRatio]:
    """The published risk ratios (data/published.csv) with this project's stand-ins."""
    return [RiskRatio(r.key, r.predictor, r.outcome, r.rr, r.low, r.high, *STAND_INS[r.key], source=r.source)
            for r in targets_file.risk_ratios()]


RISK_RATIOS = _risk_ratios()


def exposure_groups(frame: pd.DataFrame, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Boolean arrays (exposed, reference) of a risk ratio; a patient with a missing value is in neither."""
    def values(column):
        return pd.Series(frame[column]).astype(object).to_numpy()
    if key == "pain_duration_health":
        days = pd.to_numeric(frame["pain_duration_days"]).to_numpy(dtype=float)
        return days < SHORT_PAIN_DAYS, days > LONG_PAIN_DAYS
    if key == "anxiety_health":
        anxious = pd.to_numeric(frame["anxiety_depression"]).to_numpy(dtype=float)
        return anxious == 1, anxious == 0
    if key == "severe_pain_health":
        nprs = pd.to_numeric(frame["nprs_start"]).to_numpy(dtype=float)
        return nprs >= SEVERE_NPRS, nprs < SEVERE_NPRS
    if key == "widespread_pain_reduction":
        distribution = values("pain_distribution")
        return np.isin(distribution, ["regional", "generalized"]), np.isin(distribution, ["localized"])
    raise KeyError(f"{key!r} cannot be expressed on this schema")
