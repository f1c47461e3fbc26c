"""The published numbers of the study (data/published.csv): one row per number, with its source.

Each target row names a variable, a statistic and, where needed, a level (a category,
the value 1 of a 0/1 variable, or the time point of an MCID share). Rows marked
`assumption` were never published: they are this project's choices for the synthetic
cohort, among them the MCID under which it reproduces the published discharge shares.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import config
from ..instruments import INSTRUMENTS
from ..params import McidRule

#: Cohort size of the published study; counts in the targets are out of this many patients.
COHORT_N = 274


def load_targets() -> pd.DataFrame:
    targets = pd.read_csv(config.PUBLISHED_TARGETS, dtype={"level": str}, keep_default_na=False,
                          na_values={"valid_n": [""]})
    targets["assumption"] = targets["assumption"].eq("yes")
    return targets


def value(key: str) -> float:
    """One published (or assumed) number by its key, for the prose."""
    targets = load_targets().set_index("key")
    if key not in targets.index:
        raise KeyError(f"{key!r} is not a key of {config.PUBLISHED_TARGETS.name}")
    return float(targets.loc[key, "value"])


def calibration_rules(targets: pd.DataFrame | None = None) -> dict[str, McidRule]:
    """The MCID under which the synthetic cohort reproduces the published discharge shares."""
    targets = load_targets() if targets is None else targets
    rows = targets[targets["statistic"] == "calibration"].set_index("variable")["value"]
    missing = [stem for stem in INSTRUMENTS if stem not in rows.index]
    if missing:
        raise ValueError(f"{config.PUBLISHED_TARGETS.name} has no calibration row for {', '.join(missing)}")
    return {stem: McidRule(threshold=float(rows[stem])) for stem in INSTRUMENTS}


@dataclass(frozen=True)
class PublishedRiskRatio:
    """A univariable risk ratio of the follow-on paper, as published, with its 95 % CI."""
    key: str
    predictor: str   # as published (the reference group in brackets)
    outcome: str     # as published
    rr: float
    low: float
    high: float
    source: str


def risk_ratios(targets: pd.DataFrame | None = None) -> list[PublishedRiskRatio]:
    """The follow-on paper's risk ratios (rows `rr_<key>`, `rr_<key>_low`, `rr_<key>_high`)."""
    targets = load_targets() if targets is None else targets
    rows = targets[targets["statistic"].str.startswith("risk_ratio")]
    out = []
    for key, group in rows.groupby("variable", sort=False):
        value = group.set_index("statistic")["value"]
        predictor, outcome = group["label"].iloc[0].split(":")[0].split(" → ")
        out.append(PublishedRiskRatio(key, predictor, outcome, float(value["risk_ratio"]),
                                      float(value["risk_ratio_low"]), float(value["risk_ratio_high"]),
                                      group["source"].iloc[0]))
    return out
